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
