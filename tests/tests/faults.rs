//! End-to-end: a worker SIGKILLed in the middle of a job. Its shards go back to pending with a
//! higher attempt and are re-run by the surviving worker; the copy has every row exactly once.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use sluice_e2e::{generator_digest, job_client, sqlite_digest, submit, wait_for_end, Cluster};
use sluice_proto::v1 as pb;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_loses_and_duplicates_nothing() {
    const ROWS: u64 = 3_000_000;
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    cluster.add_worker(2);
    cluster.add_worker(2);
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("target.db");
    let spec = format!(
        "source: {{connection: {{type: generator, rows: {ROWS}, seed: 11}}, split_pk: id}}\nsink: {{connection: {{type: sqlite, path: {:?}}}, table: events, create_table: true}}\nsettings: {{parallelism: 4, shard_rows: 100000}}\n",
        target.display().to_string()
    );
    let mut client = job_client(&url, Duration::from_secs(10)).await;
    let job_id = submit(&mut client, &spec).await;
    // Kill worker-1 once it has shards in flight and some are committed.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = client
            .get(pb::GetJobRequest {
                job_id: job_id.clone(),
                include_shards: true,
            })
            .await
            .unwrap()
            .into_inner();
        let worker_one_running = job.shards.iter().any(|shard| {
            shard.worker_id == "worker-1"
                && (shard.state == pb::ShardState::Running as i32
                    || shard.state == pb::ShardState::Assigned as i32)
        });
        if job.shards_committed >= 3 && worker_one_running {
            println!(
                "killing worker-1 at {}/{} committed shards",
                job.shards_committed, job.shards_total
            );
            break;
        }
        assert!(
            job.state == pb::JobState::Running as i32 || job.state == pb::JobState::Planning as i32,
            "job ended before the kill: {job:?}"
        );
        assert!(Instant::now() < deadline, "job made no progress");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.workers[0].signal("KILL");
    let job = wait_for_end(&mut client, &job_id, Duration::from_secs(180)).await;
    if job.state != pb::JobState::Succeeded as i32 {
        cluster.dump_logs();
    }
    assert_eq!(job.state, pb::JobState::Succeeded as i32, "{}", job.error);
    assert!(job.retries >= 1, "the killed worker's shards were retried");
    let retried: Vec<(u32, u32, String)> = job
        .shards
        .iter()
        .filter(|shard| shard.attempt > 1)
        .map(|shard| (shard.shard_id, shard.attempt, shard.worker_id.clone()))
        .collect();
    println!("retried shards (id, attempt, worker): {retried:?}");
    assert!(retried.iter().all(|(_, _, worker)| worker == "worker-2"));
    let expected = generator_digest(ROWS, 11).await;
    let copied = sqlite_digest(&target, "events").await;
    println!("compared: generator {expected} / sqlite {copied}");
    assert_eq!(copied, expected);
}
