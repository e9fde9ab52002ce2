//! `sluice schedule ...`

use crate::cli::{OutputFormat, OverlapArg, ScheduleCommand};
use crate::client::{self, status_error};
use crate::output::{self, time_text};
use crate::params::ParamArgs;
use crate::spec_file;
use serde_json::{json, Value};
use sluice_proto::v1 as pb;
use std::process::ExitCode;

fn schedule_json(schedule: &pb::Schedule) -> Value {
    json!({
        "workspace": schedule.workspace,
        "name": schedule.name,
        "cron": schedule.cron,
        "time_zone": schedule.time_zone,
        "environment": schedule.environment,
        "params": schedule.params,
        "overlap": if schedule.overlap == pb::OverlapPolicy::Queue as i32 { "queue" } else { "skip" },
        "paused": schedule.paused,
        "next_fire_time": schedule.next_fire_time.as_ref().map(|t| time_text(Some(t))),
        "queued_fires": schedule.queued_fires.iter().map(|t| time_text(Some(t))).collect::<Vec<_>>(),
        "runs": schedule.runs.iter().map(|run| json!({
            "cycle_time": time_text(run.cycle_time.as_ref()),
            "job_id": run.job_id,
            "outcome": run.outcome,
            "message": run.message,
        })).collect::<Vec<_>>(),
        "backfill": schedule.backfill.as_ref().map(|backfill| json!({
            "from_date": backfill.from_date,
            "to_date": backfill.to_date,
            "parallelism": backfill.parallelism,
            "pending": backfill.pending,
            "submitted": backfill.submitted.iter().map(|date| json!({
                "date": date.date, "job_id": date.job_id, "message": date.message,
            })).collect::<Vec<_>>(),
        })),
    })
}

fn schedule_text(schedule: &pb::Schedule) -> String {
    let mut lines = vec![
        format!("name        {}", schedule.name),
        format!(
            "workspace   {} ({})",
            schedule.workspace, schedule.environment
        ),
        format!("cron        {} ({})", schedule.cron, schedule.time_zone),
        format!(
            "state       {}",
            if schedule.paused { "paused" } else { "active" }
        ),
        format!(
            "next fire   {}",
            time_text(schedule.next_fire_time.as_ref())
        ),
    ];
    if !schedule.queued_fires.is_empty() {
        lines.push(format!("queued      {} fires", schedule.queued_fires.len()));
    }
    if let Some(backfill) = &schedule.backfill {
        lines.push(format!(
            "backfill    {} .. {}: {} submitted, {} pending",
            backfill.from_date,
            backfill.to_date,
            backfill.submitted.len(),
            backfill.pending.len()
        ));
    }
    for run in schedule.runs.iter().rev().take(10) {
        lines.push(format!(
            "  {}  {:<9} {}{}",
            time_text(run.cycle_time.as_ref()),
            run.outcome,
            run.job_id,
            run.message
        ));
    }
    lines.join("\n")
}

fn show(schedule: &pb::Schedule, output_format: OutputFormat) {
    match output_format {
        OutputFormat::Json => output::print_json(&schedule_json(schedule)),
        OutputFormat::Text => println!("{}", schedule_text(schedule)),
    }
}

/// Runs a `sluice schedule` subcommand.
pub async fn schedule(
    command: ScheduleCommand,
    coordinators: &[String],
    output_format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let mut client = client::schedules(coordinators).await?;
    let shown = match command {
        ScheduleCommand::Create(args) => {
            let (spec, format) = spec_file::read(&args.file)?;
            let params = ParamArgs {
                params: args.params,
                ..Default::default()
            }
            .values()?;
            client
                .create(pb::CreateScheduleRequest {
                    schedule: Some(pb::Schedule {
                        workspace: args.workspace,
                        name: args.name,
                        cron: args.cron,
                        time_zone: args.time_zone,
                        environment: args.env,
                        spec,
                        format: format as i32,
                        params: params.into_iter().collect(),
                        overlap: match args.overlap {
                            OverlapArg::Skip => pb::OverlapPolicy::Skip as i32,
                            OverlapArg::Queue => pb::OverlapPolicy::Queue as i32,
                        },
                        ..Default::default()
                    }),
                })
                .await
        }
        ScheduleCommand::Get(name) => {
            client
                .get(pb::GetScheduleRequest {
                    workspace: name.workspace,
                    name: name.name,
                })
                .await
        }
        ScheduleCommand::List { workspace } => {
            let schedules = client
                .list(pb::ListSchedulesRequest { workspace })
                .await
                .map_err(status_error)?
                .into_inner()
                .schedules;
            match output_format {
                OutputFormat::Json => {
                    output::print_json(&Value::Array(schedules.iter().map(schedule_json).collect()))
                }
                OutputFormat::Text => {
                    println!(
                        "{:<24} {:<20} {:<16} {:<8} NEXT FIRE",
                        "NAME", "CRON", "TIME ZONE", "STATE"
                    );
                    for schedule in &schedules {
                        println!(
                            "{:<24} {:<20} {:<16} {:<8} {}",
                            schedule.name,
                            schedule.cron,
                            schedule.time_zone,
                            if schedule.paused { "paused" } else { "active" },
                            time_text(schedule.next_fire_time.as_ref())
                        );
                    }
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        ScheduleCommand::Pause(name) => {
            client
                .pause(pb::PauseScheduleRequest {
                    workspace: name.workspace,
                    name: name.name,
                })
                .await
        }
        ScheduleCommand::Resume(name) => {
            client
                .resume(pb::ResumeScheduleRequest {
                    workspace: name.workspace,
                    name: name.name,
                })
                .await
        }
        ScheduleCommand::Backfill(args) => {
            client
                .backfill(pb::BackfillRequest {
                    workspace: args.workspace,
                    name: args.name,
                    from_date: args.from,
                    to_date: args.to,
                    parallelism: args.parallelism,
                })
                .await
        }
        ScheduleCommand::Delete(name) => {
            client
                .delete(pb::DeleteScheduleRequest {
                    workspace: name.workspace,
                    name: name.name.clone(),
                })
                .await
                .map_err(status_error)?;
            match output_format {
                OutputFormat::Json => output::print_json(&json!({ "deleted": name.name })),
                OutputFormat::Text => println!("deleted schedule {}", name.name),
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    show(&shown.map_err(status_error)?.into_inner(), output_format);
    Ok(ExitCode::SUCCESS)
}
