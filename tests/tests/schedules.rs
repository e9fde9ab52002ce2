//! End-to-end: schedules on etcd with real coordinator and worker processes. A leader killed
//! with SIGKILL while a schedule fires every two seconds: the standby takes over and the fires
//! form one unbroken sequence, each with exactly one job. A backfill runs one job per business
//! date, each copying that date's rows; pause and resume stop and restart firing.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use sluice_e2e::postgres::PgDatabase;
use sluice_e2e::{job_client, sluice_binary, Cluster};
use sluice_proto::v1 as pb;
use sluice_proto::v1::schedule_service_client::ScheduleServiceClient;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

async fn schedule_client(url: &str) -> ScheduleServiceClient<Channel> {
    ScheduleServiceClient::connect(url.to_string())
        .await
        .expect("connect to the schedule API")
}

async fn get_schedule(url: &str, name: &str) -> pb::Schedule {
    schedule_client(url)
        .await
        .get(pb::GetScheduleRequest {
            workspace: String::new(),
            name: name.to_string(),
        })
        .await
        .expect("get schedule")
        .into_inner()
}

fn millis(timestamp: Option<&prost_types::Timestamp>) -> i64 {
    let timestamp = timestamp.expect("a timestamp");
    timestamp.seconds * 1000 + i64::from(timestamp.nanos) / 1_000_000
}

fn ended(state: i32) -> bool {
    matches!(
        pb::JobState::try_from(state),
        Ok(pb::JobState::Succeeded | pb::JobState::Failed | pb::JobState::Cancelled)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_failover_neither_skips_nor_doubles_a_fire() {
    let mut cluster = Cluster::start().await;
    cluster.leader_ttl = "3s".to_string();
    let first = cluster.add_coordinator().await;
    let second = cluster.add_coordinator().await;
    cluster.add_worker(2);
    let work = tempfile::tempdir().unwrap();
    let spec = format!(
        "source: {{connection: {{type: generator, rows: 50}}}}\n\
         sink: {{connection: {{type: sqlite, path: \"{}/fire_$[yyyymmddhh24miss].db\"}}, table: t, create_table: true}}\n",
        work.path().display()
    );
    let created = schedule_client(&first)
        .await
        .create(pb::CreateScheduleRequest {
            schedule: Some(pb::Schedule {
                name: "every-two-seconds".into(),
                cron: "*/2 * * * * *".into(),
                spec,
                overlap: pb::OverlapPolicy::Queue as i32,
                ..Default::default()
            }),
        })
        .await
        .expect("create schedule")
        .into_inner();
    let created_at = millis(created.created_at.as_ref());
    tokio::time::sleep(Duration::from_secs(7)).await;

    println!("killing the leader (coordinator-1)");
    cluster.coordinators[0].signal("KILL");
    let killed_at = chrono::Utc::now().timestamp_millis();
    // The lease (3 s) expires, coordinator-2 is elected and makes up the fires it missed.
    tokio::time::sleep(Duration::from_secs(9)).await;
    schedule_client(&second)
        .await
        .pause(pb::PauseScheduleRequest {
            workspace: String::new(),
            name: "every-two-seconds".into(),
        })
        .await
        .expect("pause");

    // Wait until the queue is drained and the last job has ended.
    let mut jobs = job_client(&second, Duration::from_secs(20)).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    let schedule = loop {
        let schedule = get_schedule(&second, "every-two-seconds").await;
        let last_ended = match schedule.runs.last() {
            Some(run) => jobs
                .get(pb::GetJobRequest {
                    job_id: run.job_id.clone(),
                    include_shards: false,
                })
                .await
                .is_ok_and(|job| ended(job.into_inner().state)),
            None => false,
        };
        if schedule.queued_fires.is_empty() && last_ended {
            break schedule;
        }
        if Instant::now() > deadline {
            cluster.dump_logs();
            panic!("the schedule's queue did not drain: {schedule:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    let cycles: Vec<i64> = schedule
        .runs
        .iter()
        .map(|run| millis(run.cycle_time.as_ref()))
        .collect();
    println!(
        "cycles (ms after creation): {:?}",
        cycles.iter().map(|c| c - created_at).collect::<Vec<_>>()
    );
    for run in &schedule.runs {
        assert_eq!(run.outcome, "submitted", "{run:?}");
    }
    let distinct: BTreeSet<i64> = cycles.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        cycles.len(),
        "a fire was handled twice: {cycles:?}"
    );
    assert!(
        cycles.windows(2).all(|pair| pair[1] - pair[0] == 2000),
        "a fire was skipped: {cycles:?}"
    );
    assert!(
        cycles[0] - created_at <= 2000,
        "the first fire is the first after creation"
    );
    assert!(
        cycles.last().copied().unwrap_or_default() > killed_at + 4000,
        "fires continued after the failover: {cycles:?} killed at {killed_at}"
    );

    // Each fire has exactly one job, which succeeded and wrote its own file.
    let job_ids: BTreeSet<String> = schedule.runs.iter().map(|run| run.job_id.clone()).collect();
    assert_eq!(job_ids.len(), cycles.len());
    let listed: Vec<pb::Job> = jobs
        .list(pb::ListJobsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list jobs")
        .into_inner()
        .jobs;
    assert_eq!(listed.len(), cycles.len(), "one job per fire, no others");
    for job in &listed {
        assert!(job_ids.contains(&job.id), "job {} is not a fire's", job.id);
        assert_eq!(job.state, pb::JobState::Succeeded as i32, "{job:?}");
    }
    let files = std::fs::read_dir(work.path()).unwrap().count();
    assert_eq!(files, cycles.len(), "one sqlite file per fire");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_runs_one_job_per_business_date_and_pause_stops_fires() {
    let database = PgDatabase::create().await;
    database
        .client()
        .await
        .batch_execute(
            "CREATE TABLE events (id bigint PRIMARY KEY, day date NOT NULL, payload text);
             INSERT INTO events SELECT g, DATE '2025-02-25' + (g % 6), 'event ' || g FROM generate_series(1, 1200) g;",
        )
        .await
        .expect("source table");
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    cluster.add_worker(2);
    let work = tempfile::tempdir().unwrap();
    let connection = database.connection_yaml();
    let spec_path = work.path().join("daily.yaml");
    std::fs::write(
        &spec_path,
        format!(
            "source: {{connection: {connection}, table: events, where: \"day = '${{yyyy-mm-dd}}'\"}}\n\
             sink: {{connection: {connection}, table: daily_$bizdate, create_table: true}}\n"
        ),
    )
    .unwrap();
    let sluice = |arguments: &[&str]| {
        let output = Command::new(sluice_binary())
            .arg("--coordinator")
            .arg(&url)
            .args(arguments)
            .output()
            .expect("run sluice");
        println!(
            "$ sluice {}\n{}{}",
            arguments.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    };
    let spec = spec_path.display().to_string();
    // 02:30 in Shanghai: never during the test, so only the backfill submits jobs.
    let created = sluice(&[
        "schedule",
        "create",
        "daily",
        "--file",
        &spec,
        "--cron",
        "30 2 * * *",
        "--time-zone",
        "Asia/Shanghai",
        "--overlap",
        "queue",
    ]);
    assert!(created.status.success());
    let bad = sluice(&[
        "schedule",
        "create",
        "broken",
        "--file",
        &spec,
        "--cron",
        "every day",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("schedule.cron"));

    let backfill = sluice(&[
        "schedule",
        "backfill",
        "daily",
        "--from",
        "2025-02-26",
        "--to",
        "2025-03-01",
        "--parallelism",
        "2",
    ]);
    assert!(backfill.status.success());
    let mut jobs = job_client(&url, Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    let schedule = loop {
        let schedule = get_schedule(&url, "daily").await;
        let status = schedule.backfill.clone().expect("backfill status");
        let mut all_ended = status.pending.is_empty();
        for date in &status.submitted {
            let job = jobs
                .get(pb::GetJobRequest {
                    job_id: date.job_id.clone(),
                    include_shards: false,
                })
                .await
                .map(|job| job.into_inner());
            all_ended &= job.is_ok_and(|job| ended(job.state));
        }
        if all_ended {
            break schedule;
        }
        assert!(
            Instant::now() < deadline,
            "backfill did not finish: {schedule:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let status = schedule.backfill.expect("backfill status");
    let dates: Vec<&str> = status
        .submitted
        .iter()
        .map(|date| date.date.as_str())
        .collect();
    assert_eq!(
        dates,
        vec!["2025-02-26", "2025-02-27", "2025-02-28", "2025-03-01"]
    );
    for date in &status.submitted {
        let job = jobs
            .get(pb::GetJobRequest {
                job_id: date.job_id.clone(),
                include_shards: false,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(job.state, pb::JobState::Succeeded as i32, "{job:?}");
        let table = format!("daily_{}", date.date.replace('-', ""));
        let copied = database
            .text_rows(&format!("SELECT count(*)::text || '/' || count(*) FILTER (WHERE day = '{}')::text FROM {table}", date.date))
            .await;
        assert_eq!(copied, vec!["200/200".to_string()], "{table}");
    }
    assert!(schedule.runs.is_empty(), "no cron fire during the test");

    let paused = sluice(&["--output", "json", "schedule", "pause", "daily"]);
    let view: serde_json::Value = serde_json::from_slice(&paused.stdout).unwrap();
    assert_eq!(view["paused"], true);
    assert!(view["next_fire_time"].is_null());
    let resumed = sluice(&["--output", "json", "schedule", "resume", "daily"]);
    let view: serde_json::Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(view["paused"], false);
    assert!(
        view["next_fire_time"]
            .as_str()
            .is_some_and(|time| time.ends_with("18:30:00 UTC")),
        "{view}"
    );
    database.drop_database().await;
}
