//! `sluice run FILE`: one job on an in-process cluster.

use super::cluster::LocalCluster;
use crate::cli::{OutputFormat, RunArgs};
use crate::output;
use crate::{progress, spec_file};
use anyhow::Context;
use sluice_common::telemetry;
use sluice_proto::v1 as pb;
use std::process::ExitCode;

/// Runs the job and returns exit code 0 only if it succeeded.
pub async fn run(args: RunArgs, output_format: OutputFormat) -> anyhow::Result<ExitCode> {
    telemetry::init_tracing(if args.verbose { "info" } else { "warn" });
    // Check the spec before starting anything, so mistakes are reported at once.
    let params = args.params.context()?;
    spec_file::read_validated(&args.file, &params)?;
    let (text, format) = spec_file::read(&args.file)?;
    let temporary = tempfile::tempdir().context("cannot create a temporary directory")?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temporary.path().to_path_buf());
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let listen = "127.0.0.1:0".parse().context("loopback address")?;
    let cluster =
        LocalCluster::start(&data_dir, listen, args.workers, args.slots, None, None).await?;
    let request = pb::SubmitJobRequest {
        workspace: String::new(),
        environment: String::new(),
        spec: text,
        format: format as i32,
        params: args.params.values()?.into_iter().collect(),
        cycle_time: Some(sluice_proto::convert::timestamp(
            args.params.cycle_time()?.timestamp_millis(),
        )),
        time_zone: args.params.time_zone.clone(),
    };
    let outcome = submit_and_watch(&cluster.url, request).await;
    cluster.stop().await?;
    let job = outcome?;
    match output_format {
        OutputFormat::Json => output::print_json(&output::job_json(&job)),
        OutputFormat::Text => progress::print_summary(&job),
    }
    Ok(if job.state == pb::JobState::Succeeded as i32 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn submit_and_watch(url: &str, request: pb::SubmitJobRequest) -> anyhow::Result<pb::Job> {
    let mut client = crate::client::jobs(&[url.to_string()])
        .await
        .context("cannot reach the in-process coordinator")?;
    let job_id = client
        .submit(request)
        .await
        .map_err(crate::client::status_error)?
        .into_inner()
        .job_id;
    progress::watch(&mut client, &[], &job_id, false).await
}
