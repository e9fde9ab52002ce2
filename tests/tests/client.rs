//! End-to-end: the `sluice` client commands against a real coordinator on etcd: data sources,
//! jobs that reference them by name, spec errors that name the field, listing, cancelling.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use sluice_e2e::{generator_digest, job_client, sluice_cli, sqlite_digest, wait_for_end, Cluster};
use sluice_proto::v1 as pb;
use std::process::Output;
use std::time::Duration;

fn sluice(url: &str, arguments: &[&str]) -> Output {
    sluice_cli(url, arguments)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_sources_jobs_errors_and_cancel_through_the_cli() {
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    cluster.add_worker(2);
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("warehouse.db");
    let target_text = target.display().to_string();

    // Data sources: create, refuse a duplicate and a bad option, get, list as JSON.
    let created = sluice(
        &url,
        &[
            "ds",
            "create",
            "warehouse",
            "--type",
            "sqlite",
            "--option",
            &format!("path={target_text}"),
            "--description",
            "the warehouse",
        ],
    );
    assert!(created.status.success());
    let duplicate = sluice(
        &url,
        &[
            "ds",
            "create",
            "warehouse",
            "--type",
            "sqlite",
            "--option",
            "path=/tmp/x.db",
        ],
    );
    assert!(!duplicate.status.success());
    assert!(
        stderr(&duplicate).contains("already exists"),
        "{}",
        stderr(&duplicate)
    );
    let bad_option = sluice(
        &url,
        &[
            "ds",
            "create",
            "other",
            "--type",
            "sqlite",
            "--option",
            "colour=red",
        ],
    );
    assert!(!bad_option.status.success());
    let message = stderr(&bad_option);
    assert!(
        message.contains("colour") && message.contains("path"),
        "names the bad option and the required one: {message}"
    );
    let bad_type = sluice(&url, &["ds", "create", "other", "--type", "oracle"]);
    assert!(
        stderr(&bad_type).contains("is not one of"),
        "{}",
        stderr(&bad_type)
    );
    let listed = sluice(&url, &["ds", "list", "--output", "json"]);
    let data_sources: serde_json::Value =
        serde_json::from_str(&stdout(&listed)).expect("json list");
    assert_eq!(data_sources.as_array().map(Vec::len), Some(1));
    assert_eq!(data_sources[0]["name"], "warehouse");
    assert_eq!(data_sources[0]["options"]["path"], target_text.as_str());

    // A job writing through the data source by name.
    let spec_path = work.path().join("job.yaml");
    std::fs::write(
        &spec_path,
        "source:\n  connection: {type: generator, rows: 200000, seed: 3}\n  split_pk: id\nsink:\n  datasource: warehouse\n  table: events\n  create_table: true\nsettings: {parallelism: 2, shard_rows: 20000}\n",
    )
    .unwrap();
    let submitted = sluice(
        &url,
        &["job", "submit", spec_path.to_str().unwrap(), "--wait"],
    );
    assert!(submitted.status.success(), "job by data source name failed");
    assert!(stdout(&submitted).contains("SUCCEEDED"));
    assert_eq!(
        sqlite_digest(&target, "events").await,
        generator_digest(200_000, 3).await
    );

    // Spec mistakes are refused at submit, naming the field and what is allowed.
    let bad_spec = work.path().join("bad.yaml");
    std::fs::write(
        &bad_spec,
        "source:\n  datasource: nosuch\n  split_pk: id\nsink:\n  datasource: warehouse\n  table: events\n  write_mode: upsrt\n",
    )
    .unwrap();
    let refused = sluice(&url, &["job", "submit", bad_spec.to_str().unwrap()]);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert!(
        message.contains("sink.write_mode: \"upsrt\" is not one of insert, upsert, truncate"),
        "{message}"
    );
    std::fs::write(
        &bad_spec,
        "source:\n  datasource: nosuch\nsink:\n  datasource: warehouse\n  table: events\n",
    )
    .unwrap();
    let unknown = sluice(&url, &["job", "submit", bad_spec.to_str().unwrap()]);
    let message = stderr(&unknown);
    assert!(
        message.contains("source.datasource") && message.contains("known: warehouse"),
        "{message}"
    );
    std::fs::write(&bad_spec, "source: {connection: {type: generator, rows: 10}}\nsink: {datasource: warehouse, table: t}\nsetings: {}\n").unwrap();
    let typo = sluice(&url, &["job", "submit", bad_spec.to_str().unwrap()]);
    assert!(
        stderr(&typo).contains("setings"),
        "unknown key named: {}",
        stderr(&typo)
    );

    // Cancel a long job: committed shards stay, the running ones roll back.
    std::fs::write(
        &spec_path,
        "source:\n  connection: {type: generator, rows: 20000000, seed: 5}\nsink:\n  datasource: warehouse\n  table: big\n  create_table: true\nsettings: {parallelism: 1, shard_rows: 100000}\n",
    )
    .unwrap();
    let submitted = sluice(
        &url,
        &[
            "job",
            "submit",
            spec_path.to_str().unwrap(),
            "--output",
            "json",
        ],
    );
    let job_id = serde_json::from_str::<serde_json::Value>(&stdout(&submitted)).unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut client = job_client(&url, Duration::from_secs(5)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let job = client
            .get(pb::GetJobRequest {
                job_id: job_id.clone(),
                include_shards: false,
            })
            .await
            .unwrap()
            .into_inner();
        if job.shards_committed >= 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no shard committed in time: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cancelled = sluice(&url, &["job", "cancel", &job_id]);
    assert!(
        stdout(&cancelled).contains("cancelled"),
        "{}",
        stdout(&cancelled)
    );
    let job = wait_for_end(&mut client, &job_id, Duration::from_secs(30)).await;
    assert_eq!(job.state, pb::JobState::Cancelled as i32);
    // Give the cancelled shard's writer time to roll back, then check that the table holds
    // exactly the committed shards: no partial shard.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let committed_rows: u64 = job
        .shards
        .iter()
        .filter(|shard| shard.state == pb::ShardState::Committed as i32)
        .map(|shard| shard.counters.as_ref().map_or(0, |c| c.rows_written))
        .sum();
    let in_table = sqlite_digest(&target, "big").await.rows;
    println!(
        "cancelled job: {committed_rows} rows in committed shards, {in_table} rows in the table"
    );
    assert!(committed_rows > 0);
    assert_eq!(
        in_table % 100_000,
        0,
        "only whole shards of 100000 rows may be in the table"
    );
    assert!(in_table >= committed_rows, "a committed shard is missing");
    assert!(
        in_table <= committed_rows + 100_000,
        "at most the shard committing at cancel time may have landed"
    );

    // Listing, filtered, as JSON.
    let listed = sluice(
        &url,
        &["job", "list", "--state", "succeeded", "--output", "json"],
    );
    let jobs: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(jobs["jobs"].as_array().map(Vec::len), Some(1));
    let all = sluice(&url, &["job", "list"]);
    assert!(stdout(&all).contains(&job_id));
    let got = sluice(
        &url,
        &["job", "get", &job_id, "--shards", "--output", "json"],
    );
    let detail: serde_json::Value = serde_json::from_str(&stdout(&got)).unwrap();
    assert_eq!(detail["state"], "cancelled");
    assert!(detail["shards"]
        .as_array()
        .is_some_and(|shards| !shards.is_empty()));

    // Deleting the data source.
    assert!(sluice(&url, &["ds", "delete", "warehouse"])
        .status
        .success());
    let gone = sluice(&url, &["ds", "get", "warehouse"]);
    assert!(stderr(&gone).contains("not found"));
}
