//! `sluice job ...`

use crate::cli::{JobCommand, JobStateFilter, OutputFormat};
use crate::client::{self, status_error};
use crate::output::{self, group, job_state_name};
use crate::{progress, spec_file};
use sluice_proto::v1 as pb;
use std::process::ExitCode;

fn exit_for(job: &pb::Job) -> ExitCode {
    if job.state == pb::JobState::Succeeded as i32 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn finished(job: &pb::Job, output_format: OutputFormat) -> ExitCode {
    match output_format {
        OutputFormat::Json => output::print_json(&output::job_json(job)),
        OutputFormat::Text => progress::print_summary(job),
    }
    exit_for(job)
}

/// Runs a `sluice job` subcommand.
pub async fn job(
    command: JobCommand,
    coordinators: &[String],
    output_format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    if let JobCommand::Preview { file, rows, params } = &command {
        return super::preview::preview(file, *rows, &params.context()?, output_format).await;
    }
    let mut jobs = client::jobs(coordinators).await?;
    match command {
        JobCommand::Preview { .. } => Ok(ExitCode::SUCCESS),
        JobCommand::Submit(args) => {
            let (spec, format) = spec_file::read(&args.file)?;
            let job_id = jobs
                .submit(pb::SubmitJobRequest {
                    workspace: args.workspace,
                    environment: args.env,
                    spec,
                    format: format as i32,
                    params: args.params.values()?.into_iter().collect(),
                    cycle_time: Some(sluice_proto::convert::timestamp(
                        args.params.cycle_time()?.timestamp_millis(),
                    )),
                    time_zone: args.params.time_zone.clone(),
                })
                .await
                .map_err(status_error)?
                .into_inner()
                .job_id;
            if !args.wait {
                match output_format {
                    OutputFormat::Json => {
                        output::print_json(&serde_json::json!({ "job_id": job_id }))
                    }
                    OutputFormat::Text => println!("{job_id}"),
                }
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!("submitted job {job_id}");
            let job = progress::watch(
                &mut jobs,
                coordinators,
                &job_id,
                output_format == OutputFormat::Json,
            )
            .await?;
            Ok(finished(&job, output_format))
        }
        JobCommand::Watch { id } => {
            let job = progress::watch(
                &mut jobs,
                coordinators,
                &id,
                output_format == OutputFormat::Json,
            )
            .await?;
            Ok(finished(&job, output_format))
        }
        JobCommand::Dirty { id, limit } => {
            let mut records = Vec::new();
            let mut page_token = String::new();
            let mut total = 0;
            while records.len() < limit as usize {
                let page = jobs
                    .list_dirty_records(pb::ListDirtyRecordsRequest {
                        job_id: id.clone(),
                        page_size: (limit as usize - records.len()).min(1000) as u32,
                        page_token,
                    })
                    .await
                    .map_err(status_error)?
                    .into_inner();
                total = page.total;
                records.extend(page.records);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            match output_format {
                OutputFormat::Json => output::print_json(&serde_json::json!({
                    "job_id": id,
                    "total": total,
                    "records": records.iter().map(|record| serde_json::json!({
                        "shard_id": record.shard_id,
                        "attempt": record.attempt,
                        "stage": record.stage,
                        "column": record.column,
                        "error": record.error,
                        "row": serde_json::from_str::<serde_json::Value>(&record.row)
                            .unwrap_or_else(|_| serde_json::Value::String(record.row.clone())),
                    })).collect::<Vec<_>>(),
                })),
                OutputFormat::Text => {
                    println!(
                        "{} dirty records stored for job {id} (showing {})",
                        total,
                        records.len()
                    );
                    for record in &records {
                        println!(
                            "shard {} attempt {} {} {}: {}\n    {}",
                            record.shard_id,
                            record.attempt,
                            record.stage,
                            record.column,
                            record.error,
                            record.row
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Get { id, shards } => {
            let job = jobs
                .get(pb::GetJobRequest {
                    job_id: id,
                    include_shards: shards,
                })
                .await
                .map_err(status_error)?
                .into_inner();
            match output_format {
                OutputFormat::Json => output::print_json(&output::job_json(&job)),
                OutputFormat::Text => println!("{}", output::job_text(&job)),
            }
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::List(args) => {
            let state = args
                .state
                .map_or(pb::JobState::Unspecified, |filter| match filter {
                    JobStateFilter::Planning => pb::JobState::Planning,
                    JobStateFilter::Running => pb::JobState::Running,
                    JobStateFilter::Finalizing => pb::JobState::Finalizing,
                    JobStateFilter::Succeeded => pb::JobState::Succeeded,
                    JobStateFilter::Failed => pb::JobState::Failed,
                    JobStateFilter::Cancelled => pb::JobState::Cancelled,
                });
            let response = jobs
                .list(pb::ListJobsRequest {
                    workspace: args.workspace.unwrap_or_default(),
                    state: state as i32,
                    page_size: args.limit,
                    page_token: args.page_token.unwrap_or_default(),
                })
                .await
                .map_err(status_error)?
                .into_inner();
            match output_format {
                OutputFormat::Json => output::print_json(&serde_json::json!({
                    "jobs": response.jobs.iter().map(output::job_json).collect::<Vec<_>>(),
                    "next_page_token": response.next_page_token,
                })),
                OutputFormat::Text => {
                    println!(
                        "{:<36}  {:<10} {:>14}  {:<23}  SOURCE -> SINK",
                        "ID", "STATE", "ROWS", "CREATED"
                    );
                    for job in &response.jobs {
                        let rows = job.counters.as_ref().map_or(0, |c| c.rows_written);
                        println!(
                            "{:<36}  {:<10} {:>14}  {:<23}  {} -> {}",
                            job.id,
                            job_state_name(job.state),
                            group(rows),
                            output::time_text(job.created_at.as_ref()),
                            job.source,
                            job.sink
                        );
                    }
                    if !response.next_page_token.is_empty() {
                        println!("(more: --page-token {})", response.next_page_token);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        JobCommand::Cancel { id } => {
            let job = jobs
                .cancel(pb::CancelJobRequest { job_id: id })
                .await
                .map_err(status_error)?
                .into_inner();
            match output_format {
                OutputFormat::Json => output::print_json(&output::job_json(&job)),
                OutputFormat::Text => println!("job {} {}", job.id, job_state_name(job.state)),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
