//! The chaos suite: real processes, real PostgreSQL, processes killed, paused and drained while
//! a job runs. Each scenario prints what it did and when, and compares source and target by row
//! count, distinct keys and an order-independent checksum of all columns.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use sluice_e2e::postgres::PgDatabase;
use sluice_e2e::{generator_digest, job_client, submit, Cluster};
use sluice_proto::v1 as pb;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

type Client = sluice_proto::v1::job_service_client::JobServiceClient<Channel>;

/// Creates `src` with `rows` rows of mixed types and an empty `dst` without keys (so a
/// duplicate would show).
async fn prepare(rows: u64) -> PgDatabase {
    let database = PgDatabase::create().await;
    database
        .client()
        .await
        .batch_execute(&format!(
            "CREATE TABLE src (id bigint PRIMARY KEY, account integer, amount numeric(12,2), name text,
               note text, created_at timestamptz, flag boolean);
             INSERT INTO src SELECT g, (g % 100000)::int, (g % 1000000) / 100.0, 'name-' || g,
               CASE WHEN g % 7 = 0 THEN NULL ELSE md5(g::text) END,
               TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * INTERVAL '1 second', g % 2 = 0
             FROM generate_series(1, {rows}) g;
             CREATE TABLE dst (LIKE src);
             ANALYZE src;"
        ))
        .await
        .expect("prepare tables");
    database
}

fn spec(database: &PgDatabase, shard_rows: u64, parallelism: u32) -> String {
    let connection = database.connection_yaml();
    format!(
        "source: {{connection: {connection}, table: src, split_pk: id}}\n\
         sink: {{connection: {connection}, table: dst}}\n\
         settings: {{parallelism: {parallelism}, shard_rows: {shard_rows}, max_attempts: 10}}\n"
    )
}

async fn job(client: &mut Client, job_id: &str) -> pb::Job {
    client
        .get(pb::GetJobRequest {
            job_id: job_id.to_string(),
            include_shards: true,
        })
        .await
        .unwrap()
        .into_inner()
}

/// Polls the job until at least `shards` shards committed; fails if it ends first or a
/// minute passes.
async fn wait_for_commits(client: &mut Client, job_id: &str, shards: u32) -> pb::Job {
    let started = Instant::now();
    loop {
        let current = job(client, job_id).await;
        if current.shards_committed >= shards {
            return current;
        }
        assert!(
            !ended(&current) && started.elapsed() < Duration::from_secs(60),
            "no progress: {current:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits for the job to end; past `timeout`, prints every process log and fails.
async fn wait_or_dump(
    client: &mut Client,
    job_id: &str,
    cluster: &Cluster,
    timeout: Duration,
) -> pb::Job {
    let deadline = Instant::now() + timeout;
    loop {
        let current = job(client, job_id).await;
        if ended(&current) {
            return current;
        }
        if Instant::now() >= deadline {
            cluster.dump_logs();
            panic!("job {job_id} did not end within {timeout:?}: {current:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Returns how many of the job's shards a worker ran last.
fn shards_run_by(job: &pb::Job, worker: &str) -> usize {
    job.shards.iter().filter(|s| s.worker_id == worker).count()
}

fn ended(job: &pb::Job) -> bool {
    matches!(
        pb::JobState::try_from(job.state),
        Ok(pb::JobState::Succeeded | pb::JobState::Failed | pb::JobState::Cancelled)
    )
}

async fn assert_identical(database: &PgDatabase, job: &pb::Job, cluster: &Cluster) {
    if job.state != pb::JobState::Succeeded as i32 {
        cluster.dump_logs();
    }
    assert_eq!(
        job.state,
        pb::JobState::Succeeded as i32,
        "job failed: {}",
        job.error
    );
    let source = database.summary("src").await;
    let target = database.summary("dst").await;
    println!("compared: source {source:?}\n          target {target:?}");
    assert_eq!(
        target.rows, target.distinct_ids,
        "duplicate keys in the target"
    );
    assert_eq!(target, source);
}

/// 1. Three workers; every ~1.5 s a random worker is SIGKILLed and a new one started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_killed_at_random_lose_and_duplicate_nothing() {
    let database = prepare(2_000_000).await;
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    for _ in 0..3 {
        cluster.add_worker(2);
    }
    let mut client = job_client(&url, Duration::from_secs(10)).await;
    let started = Instant::now();
    let job_id = submit(&mut client, &spec(&database, 50_000, 6)).await;
    let mut live: Vec<usize> = vec![0, 1, 2];
    let mut kills = 0;
    let mut seed: u64 = 0x5eed;
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let current = job(&mut client, &job_id).await;
        if ended(&current) || Instant::now() > deadline {
            break;
        }
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let victim = live.remove((seed >> 33) as usize % live.len());
        println!(
            "t={:.1}s: SIGKILL {} at {}/{} committed shards",
            started.elapsed().as_secs_f64(),
            cluster.worker_ids[victim],
            current.shards_committed,
            current.shards_total
        );
        cluster.workers[victim].signal("KILL");
        kills += 1;
        let new_worker = cluster.add_worker(2);
        println!(
            "t={:.1}s: started {new_worker}",
            started.elapsed().as_secs_f64()
        );
        live.push(cluster.workers.len() - 1);
    }
    let finished = wait_or_dump(&mut client, &job_id, &cluster, Duration::from_secs(240)).await;
    println!(
        "job ended after {:.1}s, {kills} workers killed, {} retries, {} shards",
        started.elapsed().as_secs_f64(),
        finished.retries,
        finished.shards_total
    );
    assert!(
        finished.shards_total >= 32,
        "{} shards",
        finished.shards_total
    );
    assert!(kills >= 1, "the job ended before any kill");
    assert_identical(&database, &finished, &cluster).await;
    drop(cluster);
    database.drop_database().await;
}

/// 3. A worker SIGSTOPped past the worker timeout, its shards reassigned, then SIGCONTed: its
/// late commits hit the commit markers and nothing is written twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_zombie_worker_writes_nothing_twice() {
    let database = prepare(2_000_000).await;
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    cluster.add_worker(2);
    cluster.add_worker(2);
    let mut client = job_client(&url, Duration::from_secs(10)).await;
    let job_id = submit(&mut client, &spec(&database, 50_000, 4)).await;
    let started = Instant::now();
    let zombie_shards: Vec<u32> = loop {
        let current = job(&mut client, &job_id).await;
        let running: Vec<u32> = current
            .shards
            .iter()
            .filter(|s| s.worker_id == "worker-1" && s.state == pb::ShardState::Running as i32)
            .map(|s| s.shard_id)
            .collect();
        if !running.is_empty() {
            break running;
        }
        assert!(
            !ended(&current) && started.elapsed() < Duration::from_secs(60),
            "worker-1 never ran a shard"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!(
        "t={:.1}s: SIGSTOP worker-1 while it runs shards {zombie_shards:?}",
        started.elapsed().as_secs_f64()
    );
    cluster.workers[0].signal("STOP");
    // Wait until the coordinator has declared it dead and handed its shards to worker-2.
    loop {
        let current = job(&mut client, &job_id).await;
        let shards = || zombie_shards.iter().map(|id| &current.shards[*id as usize]);
        // A shard whose commit report was already on its way when the pause landed is committed
        // under worker-1's own attempt: not a zombie's, nothing to reassign.
        let settled = shards().all(|shard| {
            (shard.attempt > 1 && shard.worker_id != "worker-1")
                || (shard.worker_id == "worker-1"
                    && shard.state == pb::ShardState::Committed as i32)
        });
        let reassigned = settled && shards().any(|shard| shard.attempt > 1);
        if reassigned {
            println!(
                "t={:.1}s: shards {zombie_shards:?} reassigned with higher attempts",
                started.elapsed().as_secs_f64()
            );
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            cluster.dump_logs();
            panic!("shards were never reassigned: {current:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!(
        "t={:.1}s: SIGCONT worker-1 (now a zombie with stale attempts)",
        started.elapsed().as_secs_f64()
    );
    cluster.workers[0].signal("CONT");
    let finished = wait_or_dump(&mut client, &job_id, &cluster, Duration::from_secs(180)).await;
    assert_identical(&database, &finished, &cluster).await;
    drop(cluster);
    database.drop_database().await;
}

/// 5. A job started on one worker gets help from two workers started mid-job; a worker
/// SIGTERMed mid-job drains (finishes its shards, takes no new ones) and exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_join_mid_job_and_a_drained_worker_exits_cleanly() {
    let database = prepare(2_000_000).await;
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    cluster.add_worker(2);
    let mut client = job_client(&url, Duration::from_secs(10)).await;
    let job_id = submit(&mut client, &spec(&database, 50_000, 6)).await;
    let started = Instant::now();
    let current = wait_for_commits(&mut client, &job_id, 2).await;
    println!(
        "t={:.1}s: {}/{} shards committed by worker-1 alone; adding two workers",
        started.elapsed().as_secs_f64(),
        current.shards_committed,
        current.shards_total
    );
    cluster.add_worker(2);
    cluster.add_worker(2);
    // Once the new workers are busy, drain worker-1.
    loop {
        let current = job(&mut client, &job_id).await;
        let helped = current
            .shards
            .iter()
            .any(|s| s.worker_id == "worker-2" || s.worker_id == "worker-3");
        if helped {
            break;
        }
        assert!(
            !ended(&current),
            "the job ended before the new workers got a shard"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "t={:.1}s: new workers took shards; SIGTERM worker-1 (drain)",
        started.elapsed().as_secs_f64()
    );
    cluster.workers[0].signal("TERM");
    let code = cluster.workers[0].wait_exit(Duration::from_secs(60));
    println!(
        "t={:.1}s: worker-1 exited with {code:?}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        code,
        Some(0),
        "a drained worker exits 0:\n{}",
        cluster.workers[0].log_text()
    );
    assert!(
        cluster.workers[0].log_text().contains("drain"),
        "the worker logged its drain"
    );
    let finished = wait_or_dump(&mut client, &job_id, &cluster, Duration::from_secs(180)).await;
    let per_worker = |name: &str| shards_run_by(&finished, name);
    println!(
        "shards per worker: worker-1 {}, worker-2 {}, worker-3 {}",
        per_worker("worker-1"),
        per_worker("worker-2"),
        per_worker("worker-3")
    );
    assert!(per_worker("worker-2") + per_worker("worker-3") > 0);
    assert_eq!(
        finished.retries, 0,
        "a drain hands nothing back: running shards finish"
    );
    assert_identical(&database, &finished, &cluster).await;
    drop(cluster);
    database.drop_database().await;
}

/// Returns a client of whichever coordinator leads, waiting up to `timeout`.
async fn leader_client(urls: &[String], timeout: Duration) -> (Client, String) {
    let deadline = Instant::now() + timeout;
    loop {
        for url in urls {
            let Ok(mut client) = Client::connect(url.clone()).await else {
                continue;
            };
            let probe = client
                .list(pb::ListJobsRequest {
                    page_size: 1,
                    ..Default::default()
                })
                .await;
            if probe.is_ok() {
                return (client, url.clone());
            }
        }
        assert!(
            Instant::now() < deadline,
            "no coordinator leads after {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// 2. Two coordinators; the leader is SIGKILLed mid-job. The standby takes over, loads jobs and
/// shards from etcd, workers reconnect and report what they still run (adopted); the job ends
/// without any restart by the user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_killed_mid_job_standby_takes_over() {
    let database = prepare(2_000_000).await;
    let mut cluster = Cluster::start().await;
    cluster.leader_ttl = "4s".to_string();
    let first = cluster.add_coordinator().await;
    let (mut client, leader) =
        leader_client(std::slice::from_ref(&first), Duration::from_secs(20)).await;
    assert_eq!(leader, first);
    let second = cluster.add_coordinator().await;
    for _ in 0..3 {
        cluster.add_worker(2);
    }
    let job_id = submit(&mut client, &spec(&database, 50_000, 6)).await;
    let started = Instant::now();
    let current = wait_for_commits(&mut client, &job_id, 8).await;
    println!(
        "t={:.1}s: SIGKILL the leader coordinator-1 at {}/{} committed shards",
        started.elapsed().as_secs_f64(),
        current.shards_committed,
        current.shards_total
    );
    cluster.coordinators[0].signal("KILL");
    let killed_at = Instant::now();
    let (mut client, leader) =
        leader_client(&[first.clone(), second.clone()], Duration::from_secs(30)).await;
    println!(
        "t={:.1}s: {leader} leads, {:.1}s after the kill",
        started.elapsed().as_secs_f64(),
        killed_at.elapsed().as_secs_f64()
    );
    assert_eq!(leader, second);
    let finished = wait_or_dump(&mut client, &job_id, &cluster, Duration::from_secs(180)).await;
    println!(
        "job ended after {:.1}s with {} retries",
        started.elapsed().as_secs_f64(),
        finished.retries
    );
    let log = cluster.coordinators[1].log_text();
    println!(
        "adopted shards: {}",
        log.matches("adopted a running shard").count()
    );
    assert_identical(&database, &finished, &cluster).await;
    drop(cluster);
    database.drop_database().await;
}

/// 4. etcd is stopped for 5 s mid-job and started again: the coordinator holds results it cannot
/// persist, hands out no new work meanwhile, then resumes; the job succeeds with nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_outage_mid_job_loses_nothing() {
    let database = prepare(2_000_000).await;
    let mut cluster = Cluster::start().await;
    cluster.leader_ttl = "10s".to_string();
    let url = cluster.add_coordinator().await;
    let (mut client, _) = leader_client(std::slice::from_ref(&url), Duration::from_secs(20)).await;
    cluster.add_worker(2);
    cluster.add_worker(2);
    let job_id = submit(&mut client, &spec(&database, 50_000, 4)).await;
    let started = Instant::now();
    let current = wait_for_commits(&mut client, &job_id, 5).await;
    println!(
        "t={:.1}s: stopping etcd at {}/{} committed shards",
        started.elapsed().as_secs_f64(),
        current.shards_committed,
        current.shards_total
    );
    cluster.etcd.stop();
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!(
        "t={:.1}s: starting etcd again",
        started.elapsed().as_secs_f64()
    );
    cluster.etcd.restart().await;
    let (mut client, _) = leader_client(std::slice::from_ref(&url), Duration::from_secs(30)).await;
    let finished = wait_or_dump(&mut client, &job_id, &cluster, Duration::from_secs(180)).await;
    println!(
        "job ended after {:.1}s with {} retries",
        started.elapsed().as_secs_f64(),
        finished.retries
    );
    assert_identical(&database, &finished, &cluster).await;
    drop(cluster);
    database.drop_database().await;
}

/// 6. Splitting running shards: a job of two long shards starts on one worker with one slot,
/// reading a paced source (the generator at a fixed rate per shard, like a remote database
/// over a thin link), so its speed only grows with parallel shards. Two workers join: their
/// free slots get the rest of the running shards (split at keys past the readers' positions),
/// the job speeds up, and at the end no shard runs alone for more than ~10% of the job. The
/// target must hold exactly the generated rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_shards_split_for_workers_that_join() {
    const ROWS: u64 = 1_200_000;
    const RATE: u64 = 40_000;
    let database = PgDatabase::create().await;
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    cluster.add_worker(1);
    let spec = format!(
        "source: {{connection: {{type: generator, rows: {ROWS}, rows_per_second: {RATE}}}, split_pk: id, split_bounds: [{}]}}\n\
         sink: {{connection: {}, table: events, create_table: true}}\n\
         settings: {{parallelism: 6}}\n",
        ROWS / 2,
        database.connection_yaml()
    );
    let mut client = job_client(&url, Duration::from_secs(10)).await;
    let job_id = submit(&mut client, &spec).await;
    let started = Instant::now();
    let rows_read = |job: &pb::Job| job.counters.as_ref().map_or(0, |c| c.rows_read);
    // Phase 1: one worker with one slot.
    let (first_at, first_rows) = loop {
        let current = job(&mut client, &job_id).await;
        assert!(!ended(&current), "ended early: {current:?}");
        if rows_read(&current) > 0 {
            break (Instant::now(), rows_read(&current));
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = job(&mut client, &job_id).await;
    assert_eq!(before.shards_total, 2, "no split while a shard is pending");
    let rate_alone = (rows_read(&before) - first_rows) as f64 / first_at.elapsed().as_secs_f64();
    println!(
        "t={:.1}s: one worker, one slot: {:.0} rows/s; adding two workers with two slots each",
        started.elapsed().as_secs_f64(),
        rate_alone
    );
    cluster.add_worker(2);
    cluster.add_worker(2);
    // Phase 2: the new slots get the pending shard and the rest of the running ones.
    let split_seen = loop {
        let current = job(&mut client, &job_id).await;
        if current.shards_total > 2 {
            break Instant::now();
        }
        assert!(
            !ended(&current),
            "the job ended before any split: {current:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!("t={:.1}s: first split", started.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let helped_from = job(&mut client, &job_id).await;
    let helped_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let helped_to = job(&mut client, &job_id).await;
    let rate_helped = (rows_read(&helped_to) - rows_read(&helped_from)) as f64
        / helped_at.elapsed().as_secs_f64();
    println!(
        "t={:.1}s: {} shards, {} running: {:.0} rows/s ({:.1}x); first split {:.1}s after the workers joined",
        started.elapsed().as_secs_f64(),
        helped_to.shards_total,
        helped_to.shards_running,
        rate_helped,
        rate_helped / rate_alone,
        split_seen.duration_since(first_at).as_secs_f64() - 3.0
    );
    // Phase 3: watch the end: when did fewer than two shards last run together?
    let mut last_together = Instant::now();
    let finished_at = loop {
        let current = job(&mut client, &job_id).await;
        if current.shards_total > 0 && current.shards_committed == current.shards_total {
            break Instant::now();
        }
        assert!(
            !ended(&current),
            "job ended without committing: {current:?}"
        );
        if current.shards_running >= 2 {
            last_together = Instant::now();
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "too slow: {current:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let finished = wait_or_dump(&mut client, &job_id, &cluster, Duration::from_secs(60)).await;
    let duration = finished_at.duration_since(started).as_secs_f64();
    let alone = finished_at.duration_since(last_together).as_secs_f64();
    let per_worker = |name: &str| shards_run_by(&finished, name);
    println!(
        "job took {duration:.1}s over {} shards (worker-1 {}, worker-2 {}, worker-3 {}); the last shard ran alone for {alone:.2}s ({:.1}%)",
        finished.shards_total,
        per_worker("worker-1"),
        per_worker("worker-2"),
        per_worker("worker-3"),
        alone * 100.0 / duration
    );
    if finished.state != pb::JobState::Succeeded as i32 {
        cluster.dump_logs();
    }
    assert_eq!(
        finished.state,
        pb::JobState::Succeeded as i32,
        "{}",
        finished.error
    );
    assert!(
        rate_helped > 2.0 * rate_alone,
        "two more workers (four slots) must more than double the speed: {rate_alone:.0} -> {rate_helped:.0} rows/s"
    );
    assert!(
        per_worker("worker-2") > 0 && per_worker("worker-3") > 0,
        "both new workers ran shards"
    );
    assert!(
        alone <= 0.1 * duration,
        "the last shard ran alone for {alone:.2}s of {duration:.1}s"
    );
    let expected = generator_digest(ROWS, 0).await;
    let copied = database.digest("events").await;
    println!("compared: generator {expected:?}\n          target    {copied:?}");
    assert_eq!(copied, expected);
    let distinct = database
        .text_rows("SELECT count(DISTINCT id)::text FROM events")
        .await;
    assert_eq!(distinct, vec![ROWS.to_string()], "no duplicate id");
    drop(cluster);
    database.drop_database().await;
}
