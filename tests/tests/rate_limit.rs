//! End-to-end: a job-wide rate limit held across the cluster. Three worker processes (a fourth
//! joins and the first drains away while the job runs) copy generated rows into PostgreSQL
//! under `settings.speed.records_per_second: N`; sampled every 250 ms, the rows written over
//! every 10-second window after the first stay within 10% of N, and every row arrives once.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use sluice_e2e::postgres::PgDatabase;
use sluice_e2e::{job_client, submit, Cluster};
use sluice_proto::v1 as pb;
use std::time::{Duration, Instant};

const LIMIT: f64 = 2000.0;
const ROWS: u64 = 90_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_records_per_second_limit_holds_across_workers_that_come_and_go() {
    let database = PgDatabase::create().await;
    let mut cluster = Cluster::start().await;
    cluster.worker_report_interval = "200ms".to_string();
    let url = cluster.add_coordinator().await;
    for _ in 0..3 {
        cluster.add_worker(2);
    }
    cluster.wait_for_workers(3).await;
    let mut client = job_client(&url, Duration::from_secs(10)).await;
    let spec = format!(
        "source: {{connection: {{type: generator, rows: {ROWS}, seed: 7}}}}\n\
         sink: {{connection: {}, table: paced, create_table: true}}\n\
         settings: {{parallelism: 6, shard_rows: 5000, batch_rows: 500, speed: {{records_per_second: {LIMIT}}}}}\n",
        database.connection_yaml()
    );
    let job_id = submit(&mut client, &spec).await;
    let started = Instant::now();
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let mut joined = false;
    let mut drained = false;
    let job = loop {
        let job = client
            .get(pb::GetJobRequest {
                job_id: job_id.clone(),
                include_shards: false,
            })
            .await
            .expect("get job")
            .into_inner();
        let elapsed = started.elapsed().as_secs_f64();
        let written = job.counters.as_ref().map_or(0, |c| c.rows_written);
        if job.state == pb::JobState::Running as i32 || !samples.is_empty() {
            samples.push((elapsed, written));
        }
        if !joined && elapsed > 15.0 {
            println!("a fourth worker joins at {elapsed:.1} s");
            cluster.add_worker(2);
            joined = true;
        }
        if !drained && elapsed > 25.0 {
            println!("worker-1 drains away at {elapsed:.1} s");
            cluster.workers[0].signal("TERM");
            drained = true;
        }
        if matches!(
            pb::JobState::try_from(job.state),
            Ok(pb::JobState::Succeeded | pb::JobState::Failed | pb::JobState::Cancelled)
        ) {
            break job;
        }
        assert!(
            started.elapsed() < Duration::from_secs(150),
            "job too slow: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(job.state, pb::JobState::Succeeded as i32, "{job:?}");
    let copied = database.summary("paced").await;
    assert_eq!(copied.rows, ROWS as i64);

    // Every 10-second window after the first, while at least a second of work remained.
    let first = samples[0].0;
    let mut windows = 0;
    let mut worst: f64 = 0.0;
    for (end_index, &(end_time, end_rows)) in samples.iter().enumerate() {
        if end_time < first + 20.0 || end_rows as f64 > ROWS as f64 - LIMIT {
            continue;
        }
        let Some(&(start_time, start_rows)) = samples[..end_index]
            .iter()
            .rev()
            .find(|(time, _)| *time <= end_time - 10.0)
        else {
            continue;
        };
        let rate = (end_rows - start_rows) as f64 / (end_time - start_time);
        worst = worst.max((rate - LIMIT).abs() / LIMIT);
        windows += 1;
        assert!(
            (rate - LIMIT).abs() <= LIMIT * 0.10,
            "window {start_time:.1}..{end_time:.1} s ran at {rate:.0} rows/s, limit {LIMIT}"
        );
    }
    let total_rate = ROWS as f64 / (samples.last().unwrap().0 - first);
    println!(
        "{windows} windows checked, worst deviation {:.1}%, overall {total_rate:.0} rows/s",
        worst * 100.0
    );
    assert!(windows >= 50, "too few windows: {windows}");
    assert!(total_rate <= LIMIT * 1.1, "overall {total_rate:.0} rows/s");
    database.drop_database().await;
}
