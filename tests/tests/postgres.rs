//! End-to-end against the real PostgreSQL server, through etcd + a coordinator + two worker
//! processes: a table of every supported type (NULLs, extremes, unicode, empty values) copied
//! PG -> PG and PG -> SQLite -> PG, compared value by value as PostgreSQL renders them.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use sluice_e2e::postgres::PgDatabase;
use sluice_e2e::{job_client, submit, wait_for_end, Cluster};
use sluice_proto::v1 as pb;
use std::time::Duration;

const ALL_TYPES: &str = include_str!("../fixtures/pg_all_types.sql");

async fn run(cluster_url: &str, spec: &str) -> pb::Job {
    let mut client = job_client(cluster_url, Duration::from_secs(10)).await;
    let job_id = submit(&mut client, spec).await;
    let job = wait_for_end(&mut client, &job_id, Duration::from_secs(120)).await;
    println!(
        "job {job_id}: state {} error {:?} counters {:?}",
        job.state, job.error, job.counters
    );
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_survives_pg_to_pg_and_pg_to_sqlite_to_pg() {
    let database = PgDatabase::create().await;
    database
        .client()
        .await
        .batch_execute(ALL_TYPES)
        .await
        .expect("load the every-type table");
    // Enough rows for several shards on both workers: the fixture's rows plus generated ones.
    database
        .client()
        .await
        .batch_execute(
            "INSERT INTO src (id, i4, n, t, dt, tstz, u, ai) SELECT g, g, g * 1.5, 'row ' || g, DATE '2000-01-01' + g,
               TIMESTAMPTZ '2020-01-01 00:00:00+00' + g * INTERVAL '1 second', md5(g::text)::uuid, ARRAY[g, -g]
             FROM generate_series(100, 20099) g",
        )
        .await
        .expect("generated rows");
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    cluster.add_worker(2);
    cluster.add_worker(2);
    let connection = database.connection_yaml();

    // PG -> PG.
    let job = run(
        &url,
        &format!(
            "source: {{connection: {connection}, table: src, split_pk: id}}\n\
             sink: {{connection: {connection}, table: copy, create_table: true}}\n\
             settings: {{parallelism: 4, shard_rows: 2000, batch_rows: 1000}}\n"
        ),
    )
    .await;
    if job.state != pb::JobState::Succeeded as i32 {
        cluster.dump_logs();
    }
    assert_eq!(job.state, pb::JobState::Succeeded as i32, "{}", job.error);
    assert!(job.shards_total >= 8, "{} shards", job.shards_total);
    let workers: std::collections::BTreeSet<&str> = job
        .shards
        .iter()
        .map(|shard| shard.worker_id.as_str())
        .collect();
    assert_eq!(workers.len(), 2, "both workers ran shards: {workers:?}");
    let original = database
        .text_rows("SELECT src::text FROM src ORDER BY id")
        .await;
    let copied = database
        .text_rows("SELECT copy::text FROM copy ORDER BY id")
        .await;
    assert_eq!(original.len(), 20_005);
    assert_eq!(copied, original, "PG -> PG must keep every value");
    let types = database
        .text_rows(
            "SELECT string_agg(format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute \
             WHERE attrelid IN ('src'::regclass, 'copy'::regclass) AND attnum > 0 GROUP BY attrelid ORDER BY attrelid::regclass::text DESC",
        )
        .await;
    assert_eq!(
        types[0], types[1],
        "create_table recreates the column types"
    );
    println!(
        "PG -> PG: {} rows identical, types {}",
        copied.len(),
        types[0]
    );

    // PG -> SQLite -> PG.
    let middle_dir = tempfile::tempdir().unwrap();
    let middle = middle_dir.path().join("middle.db").display().to_string();
    let to_sqlite = run(
        &url,
        &format!(
            "source: {{connection: {connection}, table: src, split_pk: id}}\n\
             sink: {{connection: {{type: sqlite, path: {middle:?}}}, table: middle, create_table: true}}\n\
             settings: {{parallelism: 4, shard_rows: 2000}}\n"
        ),
    )
    .await;
    assert_eq!(
        to_sqlite.state,
        pb::JobState::Succeeded as i32,
        "PG -> SQLite: {}",
        to_sqlite.error
    );
    let back = run(
        &url,
        &format!(
            "source: {{connection: {{type: sqlite, path: {middle:?}}}, table: middle, split_pk: id}}\n\
             sink: {{connection: {connection}, table: back, create_table: true}}\n\
             settings: {{parallelism: 4, shard_rows: 2000}}\n"
        ),
    )
    .await;
    assert_eq!(
        back.state,
        pb::JobState::Succeeded as i32,
        "SQLite -> PG: {}",
        back.error
    );
    let returned = database
        .text_rows("SELECT back::text FROM back ORDER BY id")
        .await;
    assert_eq!(
        returned, original,
        "PG -> SQLite -> PG must keep every value"
    );
    println!("PG -> SQLite -> PG: {} rows identical", returned.len());
    drop(cluster);
    database.drop_database().await;
}
