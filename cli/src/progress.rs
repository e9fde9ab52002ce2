//! Following a job: the progress bar while it runs and the summary when it ends.

use crate::output::{self, group, job_state_name};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sluice_proto::v1 as pb;
use sluice_proto::v1::job_service_client::JobServiceClient;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Watches a job until it ends, drawing a progress bar on a terminal (a line every few seconds
/// otherwise); returns the final job.
///
/// When the stream breaks because the coordinator stopped leading (or died), the watch is
/// resumed on whichever of `coordinators` leads next, for up to a minute.
pub async fn watch(
    client: &mut JobServiceClient<crate::client::AuthChannel>,
    coordinators: &[String],
    job_id: &str,
    quiet: bool,
) -> anyhow::Result<pb::Job> {
    let request = pb::WatchJobRequest {
        job_id: job_id.to_string(),
    };
    let mut stream = client
        .watch(request.clone())
        .await
        .map_err(crate::client::status_error)?
        .into_inner();
    let mut lost_since: Option<Instant> = None;
    let interactive = std::io::stderr().is_terminal() && !quiet;
    let bar = ProgressBar::with_draw_target(
        None,
        if interactive {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:30}] {human_pos}/{human_len} rows  {msg}  ETA {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut last_line = Instant::now();
    let mut last_job = None;
    loop {
        let message = match stream.message().await {
            Ok(Some(message)) => message,
            Ok(None) => break,
            Err(status) => {
                let failover = matches!(
                    status.code(),
                    tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal
                );
                let since = *lost_since.get_or_insert_with(Instant::now);
                if !failover || coordinators.is_empty() || since.elapsed() > Duration::from_secs(60)
                {
                    bar.abandon();
                    return Err(crate::client::status_error(status)
                        .context("lost the job's progress stream"));
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                if let Ok(mut next) = crate::client::jobs(coordinators).await {
                    if let Ok(response) = next.watch(request.clone()).await {
                        stream = response.into_inner();
                        *client = next;
                        lost_since = None;
                    }
                }
                continue;
            }
        };
        let Some(job) = message.job else { continue };
        let counters = job.counters.unwrap_or_default();
        if job.estimated_rows > 0 {
            bar.set_length(job.estimated_rows.max(counters.rows_written));
        }
        bar.set_position(counters.rows_written);
        let status = format!(
            "{:.1} MiB/s  shards {}/{}  {}",
            message.bytes_per_second / 1_048_576.0,
            job.shards_committed,
            job.shards_total,
            job_state_name(job.state)
        );
        bar.set_message(status.clone());
        if !interactive && !quiet && last_line.elapsed() >= Duration::from_secs(5) {
            eprintln!(
                "{} rows written, {:.0} rows/s, {status}",
                group(counters.rows_written),
                message.rows_per_second
            );
            last_line = Instant::now();
        }
        for sample in &message.dirty_samples {
            tracing::debug!(column = %sample.column, reason = %sample.reason, "dirty record");
        }
        last_job = Some(job);
    }
    bar.finish_and_clear();
    last_job.ok_or_else(|| anyhow::anyhow!("the coordinator sent no progress for job {job_id}"))
}

/// Prints the end-of-job summary: times, throughput and counters.
pub fn print_summary(job: &pb::Job) {
    let counters = job.counters.unwrap_or_default();
    let elapsed = match (
        job.started_at.as_ref().or(job.created_at.as_ref()),
        job.finished_at.as_ref(),
    ) {
        (Some(start), Some(end)) => {
            let seconds =
                (end.seconds - start.seconds) as f64 + f64::from(end.nanos - start.nanos) / 1e9;
            seconds.max(0.001)
        }
        _ => 0.0,
    };
    let rows_per_second = if elapsed > 0.0 {
        counters.rows_written as f64 / elapsed
    } else {
        0.0
    };
    let mib_per_second = if elapsed > 0.0 {
        counters.bytes_written as f64 / 1_048_576.0 / elapsed
    } else {
        0.0
    };
    println!(
        "job {} {}",
        job.id,
        job_state_name(job.state).to_uppercase()
    );
    println!("  source          {}", job.source);
    println!("  sink            {}", job.sink);
    println!(
        "  start           {}",
        output::time_text(job.started_at.as_ref().or(job.created_at.as_ref()))
    );
    println!(
        "  end             {}",
        output::time_text(job.finished_at.as_ref())
    );
    println!("  elapsed         {elapsed:.2} s");
    println!(
        "  throughput      {} rows/s, {mib_per_second:.1} MiB/s",
        group(rows_per_second as u64)
    );
    println!("  rows read       {}", group(counters.rows_read));
    println!("  rows written    {}", group(counters.rows_written));
    println!("  dirty records   {}", group(counters.dirty_records));
    for line in output::transformer_lines(job, "  transformer     ") {
        println!("{line}");
    }
    println!(
        "  shards          {} ({} retries)",
        job.shards_total, job.retries
    );
    if !job.error.is_empty() {
        println!("  error           {}", job.error);
    }
}
