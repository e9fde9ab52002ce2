//! End-to-end: the dirty-data store. Rows the PostgreSQL sink refuses become dirty records:
//! the job commits the rest, and `sluice job dirty` lists every refused row in full (values,
//! column, stage, the database's error) from the cluster's data location, once each; with
//! `settings.dirty_table` the same records also land in a table of the sink's database
//! (PostgreSQL and MariaDB), committed with their shards: exactly the committed attempts'.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use sluice_e2e::mysql::MyDatabase;
use sluice_e2e::postgres::PgDatabase;
use sluice_e2e::{job_client, sluice_binary, sluice_cli, submit, wait_for_end, Cluster};
use sluice_proto::v1 as pb;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

/// A database whose `src` has `rows` rows, every `every`-th with a code too long for `dst`'s
/// varchar(5).
async fn source_with_long_codes(every: u32, rows: u32) -> PgDatabase {
    let database = PgDatabase::create().await;
    database
        .client()
        .await
        .batch_execute(&format!(
            "CREATE TABLE src (id bigint PRIMARY KEY, code text);
             INSERT INTO src SELECT g, CASE WHEN g % {every} = 0 THEN 'too-long-' || g ELSE 'c' || (g % 1000) END
             FROM generate_series(1, {rows}) g;
             CREATE TABLE dst (id bigint PRIMARY KEY, code varchar(5));"
        ))
        .await
        .expect("tables");
    database
}

/// Checks rows `(row_values, stage, error)` of a dirty table: each a refused row of
/// [`source_with_long_codes`] at the write stage with the database's "too long" error; returns
/// their ids.
fn refused_ids(rows: &[[String; 3]]) -> BTreeSet<i64> {
    let mut ids = BTreeSet::new();
    for row in rows {
        let values: serde_json::Value = serde_json::from_str(&row[0]).expect("row as JSON");
        let id = values["id"].as_i64().expect("id");
        assert_eq!(values["code"], format!("too-long-{id}"), "{row:?}");
        assert_eq!(row[1], "write", "{row:?}");
        assert!(row[2].contains("too long"), "{row:?}");
        ids.insert(id);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_rows_are_stored_in_full_and_listed_once() {
    // Every 50th row has a code too long for the target's varchar(5).
    let database = source_with_long_codes(50, 3000).await;
    let location = tempfile::tempdir().unwrap();
    let mut cluster = Cluster::start().await;
    cluster.data_location = Some(location.path().display().to_string());
    let url = cluster.add_coordinator().await;
    cluster.add_worker(2);
    cluster.add_worker(2);
    let connection = database.connection_yaml();
    let mut client = job_client(&url, Duration::from_secs(10)).await;
    let job_id = submit(
        &mut client,
        &format!(
            "source: {{connection: {connection}, table: src, split_pk: id}}\n\
             sink: {{connection: {connection}, table: dst}}\n\
             settings: {{parallelism: 4, shard_rows: 1000, batch_rows: 200}}\n"
        ),
    )
    .await;
    let job = wait_for_end(&mut client, &job_id, Duration::from_secs(120)).await;
    assert_eq!(job.state, pb::JobState::Succeeded as i32, "{job:?}");
    let counters = job.counters.unwrap_or_default();
    assert_eq!(counters.dirty_records, 60);
    assert_eq!(database.summary("dst").await.rows, 2940);

    let output = Command::new(sluice_binary())
        .args([
            "--coordinator",
            &url,
            "--output",
            "json",
            "job",
            "dirty",
            &job_id,
            "--limit",
            "1000",
        ])
        .output()
        .expect("run sluice");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed["total"], 60, "{listed}");
    let records = listed["records"].as_array().unwrap();
    let mut ids = BTreeSet::new();
    for record in records {
        assert_eq!(record["stage"], "write", "{record}");
        assert!(
            record["error"].as_str().unwrap().contains("too long"),
            "{record}"
        );
        let id = record["row"]["id"].as_i64().expect("row id");
        assert_eq!(record["row"]["code"], format!("too-long-{id}"), "{record}");
        ids.insert(id);
    }
    let expected: BTreeSet<i64> = (1..=3000).filter(|id| id % 50 == 0).collect();
    assert_eq!(ids, expected, "every refused row exactly once");

    // A page at a time.
    let mut pages = client
        .list_dirty_records(pb::ListDirtyRecordsRequest {
            job_id: job_id.clone(),
            page_size: 25,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pages.records.len(), 25);
    assert_eq!(pages.next_page_token, "25");
    pages = client
        .list_dirty_records(pb::ListDirtyRecordsRequest {
            job_id,
            page_size: 50,
            page_token: pages.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pages.records.len(), 35);
    assert!(pages.next_page_token.is_empty());
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dirty_records_land_in_a_table_of_the_sink_with_their_shards() {
    let source = source_with_long_codes(40, 2000).await;
    let maria = MyDatabase::create().await;
    maria
        .execute("CREATE TABLE dst (id BIGINT PRIMARY KEY, code VARCHAR(5)) ENGINE=InnoDB")
        .await;
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    cluster.add_worker(2);
    cluster.add_worker(2);
    let mut client = job_client(&url, Duration::from_secs(10)).await;
    let expected: BTreeSet<i64> = (1..=2000).filter(|id| id % 40 == 0).collect();
    for sink in [source.connection_yaml(), maria.connection_yaml()] {
        let job_id = submit(
            &mut client,
            &format!(
                "source: {{connection: {}, table: src, split_pk: id}}\n\
                 sink: {{connection: {sink}, table: dst}}\n\
                 settings: {{parallelism: 4, shard_rows: 1000, batch_rows: 100, dirty_table: sluice_dirty}}\n",
                source.connection_yaml()
            ),
        )
        .await;
        let job = wait_for_end(&mut client, &job_id, Duration::from_secs(120)).await;
        assert_eq!(job.state, pb::JobState::Succeeded as i32, "{job:?}");
        assert_eq!(job.counters.unwrap_or_default().dirty_records, 50);
        // Each stored record names its shard's committed attempt.
        let query = format!(
            "SELECT d.row_values, d.stage, d.error FROM sluice_dirty d \
             JOIN _sluice_commits c ON c.job_id = d.job_id AND c.shard_id = d.shard_id AND c.attempt = d.attempt \
             WHERE d.job_id = '{job_id}'"
        );
        let rows: Vec<[String; 3]> = if sink.contains("mariadb") {
            maria
                .text_rows(&query)
                .await
                .into_iter()
                .map(|row| {
                    let mut cells = row.into_iter().map(Option::unwrap_or_default);
                    std::array::from_fn(|_| cells.next().unwrap_or_default())
                })
                .collect()
        } else {
            source
                .client()
                .await
                .query(query.as_str(), &[])
                .await
                .expect("dirty table")
                .iter()
                .map(|row| std::array::from_fn(|index| row.get::<_, String>(index)))
                .collect()
        };
        let ids = refused_ids(&rows);
        assert_eq!(rows.len(), 50, "{sink}: one row per dirty record");
        assert_eq!(ids, expected, "{sink}: every refused row exactly once");
    }
    source.drop_database().await;
    maria.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dirty_records_land_in_a_table_of_a_named_data_source() {
    let source = source_with_long_codes(25, 1500).await;
    let store = MyDatabase::create().await;
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    cluster.add_worker(2);
    cluster.add_worker(2);
    let database_option = format!("database={}", store.name);
    assert!(sluice_cli(
        &url,
        &[
            "ds",
            "create",
            "dirtydb",
            "--type",
            "mariadb",
            "--option",
            "host=127.0.0.1",
            "--option",
            "port=3306",
            "--option",
            &database_option,
            "--option",
            "user=root",
        ],
    )
    .status
    .success());
    let mut client = job_client(&url, Duration::from_secs(10)).await;
    let job_id = submit(
        &mut client,
        &format!(
            "source: {{connection: {0}, table: src, split_pk: id}}\n\
             sink: {{connection: {0}, table: dst}}\n\
             settings: {{parallelism: 4, shard_rows: 1000, batch_rows: 100, dirty_data: {{datasource: dirtydb, table: job_dirty}}}}\n",
            source.connection_yaml()
        ),
    )
    .await;
    let job = wait_for_end(&mut client, &job_id, Duration::from_secs(120)).await;
    assert_eq!(job.state, pb::JobState::Succeeded as i32, "{job:?}");
    assert_eq!(job.counters.unwrap_or_default().dirty_records, 60);
    let rows: Vec<[String; 3]> = store
        .text_rows(&format!(
            "SELECT row_values, stage, error FROM job_dirty WHERE job_id = '{job_id}'"
        ))
        .await
        .into_iter()
        .map(|row| {
            let mut cells = row.into_iter().map(Option::unwrap_or_default);
            std::array::from_fn(|_| cells.next().unwrap_or_default())
        })
        .collect();
    let ids = refused_ids(&rows);
    let expected: BTreeSet<i64> = (1..=1500).filter(|id| id % 25 == 0).collect();
    assert_eq!(rows.len(), 60, "one row per dirty record");
    assert_eq!(ids, expected, "every refused row exactly once");

    // A data source the workspace does not have is refused at submit, naming the field.
    let refused = client
        .submit(pb::SubmitJobRequest {
            spec: format!(
                "source: {{connection: {0}, table: src}}\nsink: {{connection: {0}, table: dst}}\n\
                 settings: {{dirty_data: {{datasource: nowhere, table: t}}}}\n",
                source.connection_yaml()
            ),
            ..Default::default()
        })
        .await
        .expect_err("unknown data source");
    assert!(
        refused
            .message()
            .contains("settings.dirty_data.datasource: \"nowhere\" is not a data source"),
        "{}",
        refused.message()
    );
    source.drop_database().await;
    store.drop_database().await;
}
