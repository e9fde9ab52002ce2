//! Column mapping and incremental sync, end to end against the machine's PostgreSQL and
//! MariaDB through etcd + a coordinator + two worker processes:
//!
//! - by name: PostgreSQL -> MariaDB with columns reordered, renamed and dropped, SQL
//!   expressions evaluated by PostgreSQL, a constant, a NULL and a cast (values that do not
//!   cast are dirty records); `sluice job preview` shows the mapped rows; by position into a
//!   PostgreSQL table whose column names the planner fills in;
//! - an incompatible mapping (text into integer, timestamp into boolean) fails at planning
//!   naming both columns and both types, with nothing written (not even `pre_sql`);
//! - incremental: MariaDB -> PostgreSQL with `source.incremental` and a `where`; the first run
//!   copies every row (the target does not exist yet), the second exactly the newer rows (not
//!   the one whose column equals the largest copied value), compared by row count and checksum.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use sluice_e2e::mysql::MyDatabase;
use sluice_e2e::postgres::PgDatabase;
use sluice_e2e::{job_client, sluice_cli, source_digest, submit, wait_for_end, Cluster};
use sluice_proto::v1 as pb;
use std::time::Duration;

const PEOPLE: i64 = 4_000;

async fn cluster() -> Cluster {
    let mut cluster = Cluster::start().await;
    cluster.add_coordinator().await;
    cluster.add_worker(2);
    cluster.add_worker(2);
    cluster.wait_for_workers(2).await;
    cluster
}

async fn run(cluster: &Cluster, what: &str, spec: &str) -> pb::Job {
    let mut client = job_client(&cluster.coordinator_urls[0], Duration::from_secs(10)).await;
    let job_id = submit(&mut client, spec).await;
    let job = wait_for_end(&mut client, &job_id, Duration::from_secs(120)).await;
    let counters = job.counters.unwrap_or_default();
    println!(
        "{what}: job {job_id} state {} shards {} read {} written {} dirty {} error {:?}",
        job.state,
        job.shards_total,
        counters.rows_read,
        counters.rows_written,
        counters.dirty_records,
        job.error
    );
    job
}

fn assert_succeeded(cluster: &Cluster, what: &str, job: &pb::Job) {
    if job.state != pb::JobState::Succeeded as i32 {
        cluster.dump_logs();
    }
    assert_eq!(
        job.state,
        pb::JobState::Succeeded as i32,
        "{what} failed: {}",
        job.error
    );
}

/// `age_text` of person `id`: a number, except every 500th row ("n/a", which does not cast).
fn age_text(id: i64) -> String {
    if id % 500 == 7 {
        "n/a".to_string()
    } else {
        (18 + id % 60).to_string()
    }
}

async fn people_source() -> PgDatabase {
    let database = PgDatabase::create().await;
    database
        .client()
        .await
        .batch_execute(&format!(
            "CREATE TABLE people (id bigint PRIMARY KEY, first text, last text, city text, age_text text,
               secret text, born date);
             INSERT INTO people SELECT g, 'First' || g, 'Last' || g, CASE WHEN g % 3 = 0 THEN 'oslo' ELSE 'lima' END,
               CASE WHEN g % 500 = 7 THEN 'n/a' ELSE (18 + g % 60)::text END, 'password' || g,
               DATE '1980-01-01' + g::int
             FROM generate_series(1, {PEOPLE}) g;
             ANALYZE people"
        ))
        .await
        .unwrap();
    database
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapping_by_name_and_by_position() {
    let pg = people_source().await;
    let my = MyDatabase::create().await;
    my.execute(
        "CREATE TABLE people_out (person_id BIGINT PRIMARY KEY, city_upper VARCHAR(16), born DATE,
           full_name VARCHAR(100), region VARCHAR(8), note TEXT, age INT, batch INT)",
    )
    .await;
    let cluster = cluster().await;
    // Target order differs from the entries' order (by name), `secret` is dropped.
    let spec = format!(
        "source: {{connection: {}, table: people, split_pk: id}}\n\
         sink: {{connection: {}, table: people_out}}\n\
         mapping:\n  by: name\n  columns:\n\
         \x20   - {{source: id, target: person_id}}\n\
         \x20   - {{expr: \"first || ' ' || last\", target: full_name}}\n\
         \x20   - {{source: age_text, target: age, cast: int32}}\n\
         \x20   - {{expr: upper(city), target: city_upper}}\n\
         \x20   - {{value: eu, target: region}}\n\
         \x20   - {{null: true, target: note}}\n\
         \x20   - {{source: born}}\n\
         \x20   - {{value: 7, target: batch}}\n\
         settings: {{parallelism: 4, shard_rows: 1000}}\n",
        pg.connection_yaml(),
        my.connection_yaml()
    );

    // The preview shows mapped rows and writes nothing.
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("mapping.yaml");
    std::fs::write(&file, &spec).unwrap();
    let preview = sluice_cli(
        &cluster.coordinator_urls[0],
        &["job", "preview", file.to_str().unwrap(), "--rows", "3"],
    );
    assert!(preview.status.success());
    let preview_text = String::from_utf8_lossy(&preview.stdout);
    let header = preview_text.lines().next().unwrap_or_default();
    let names: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        names,
        vec![
            "person_id",
            "full_name",
            "age",
            "city_upper",
            "region",
            "note",
            "born",
            "batch"
        ],
        "{preview_text}"
    );
    assert!(
        preview_text.contains("First1 Last1") && preview_text.contains("LIMA"),
        "{preview_text}"
    );
    assert!(preview_text.contains("nothing written"), "{preview_text}");
    assert!(my.text_rows("SELECT * FROM people_out").await.is_empty());

    let job = run(&cluster, "by name", &spec).await;
    assert_succeeded(&cluster, "by name", &job);
    assert!(job.shards_total >= 4, "{} shards", job.shards_total);
    let bad_ages = (1..=PEOPLE).filter(|id| age_text(*id) == "n/a").count() as u64;
    let counters = job.counters.unwrap_or_default();
    assert_eq!(
        counters.dirty_records, bad_ages,
        "ages that do not cast are dirty"
    );
    assert_eq!(counters.rows_written, PEOPLE as u64 - bad_ages);

    let expected: Vec<Vec<Option<String>>> = (1..=PEOPLE)
        .filter(|id| age_text(*id) != "n/a")
        .map(|id| {
            let born =
                chrono::NaiveDate::from_ymd_opt(1980, 1, 1).unwrap() + chrono::Duration::days(id);
            vec![
                Some(id.to_string()),
                Some(if id % 3 == 0 { "OSLO" } else { "LIMA" }.to_string()),
                Some(born.format("%Y-%m-%d").to_string()),
                Some(format!("First{id} Last{id}")),
                Some("eu".to_string()),
                None,
                Some(age_text(id)),
                Some("7".to_string()),
            ]
        })
        .collect();
    let written = my
        .text_rows("SELECT * FROM people_out ORDER BY person_id")
        .await;
    assert_eq!(written.len(), expected.len());
    assert_eq!(written, expected, "mapped rows");

    // By position: entry i goes to column i of the existing table, whatever its names.
    pg.client()
        .await
        .batch_execute("CREATE TABLE by_position (a bigint, b text, c text)")
        .await
        .unwrap();
    let spec = format!(
        "source: {{connection: {0}, table: people, split_pk: id}}\n\
         sink: {{connection: {0}, table: by_position}}\n\
         mapping:\n  by: position\n  columns: [{{source: id}}, {{source: city}}, {{expr: lower(last)}}]\n\
         settings: {{parallelism: 2, shard_rows: 1000}}\n",
        pg.connection_yaml()
    );
    let job = run(&cluster, "by position", &spec).await;
    assert_succeeded(&cluster, "by position", &job);
    let rows = pg
        .text_rows("SELECT a || '|' || b || '|' || c FROM by_position ORDER BY a")
        .await;
    assert_eq!(rows.len(), PEOPLE as usize);
    assert_eq!(rows[2], "3|oslo|last3");

    my.drop_database().await;
    pg.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incompatible_mapping_is_refused_before_anything_is_written() {
    let pg = PgDatabase::create().await;
    pg.client()
        .await
        .batch_execute(
            "CREATE TABLE src (id bigint PRIMARY KEY, age_text text, seen timestamp);
             INSERT INTO src SELECT g, g::text, TIMESTAMP '2024-01-01' + g * INTERVAL '1 hour' FROM generate_series(1, 500) g;
             CREATE TABLE dst (id bigint PRIMARY KEY, age integer, active boolean);
             CREATE TABLE pre_sql_ran (n int)",
        )
        .await
        .unwrap();
    let cluster = cluster().await;
    let connection = pg.connection_yaml();
    let spec = format!(
        "source: {{connection: {connection}, table: src, split_pk: id}}\n\
         sink: {{connection: {connection}, table: dst, pre_sql: [\"INSERT INTO pre_sql_ran VALUES (1)\"]}}\n\
         mapping:\n  columns: [{{source: id}}, {{source: age_text, target: age}}, {{source: seen, target: active}}]\n"
    );
    // Submit itself refuses it: it waits for the plan, which finds the incompatible pairs.
    let mut client = job_client(&cluster.coordinator_urls[0], Duration::from_secs(10)).await;
    let refusal = client
        .submit(pb::SubmitJobRequest {
            spec: spec.clone(),
            ..Default::default()
        })
        .await
        .expect_err("Submit refuses an incompatible mapping");
    println!("incompatible: {refusal:?}");
    assert_eq!(refusal.code(), tonic::Code::FailedPrecondition);
    for part in [
        "mapping.columns[1]: source column age_text (text (Utf8)) cannot be written to target column age (integer (Int32))",
        "mapping.columns[2]: source column seen (timestamp (Timestamp",
        "target column active (boolean (Boolean))",
        "nothing was written",
    ] {
        assert!(
            refusal.message().contains(part),
            "refusal lacks {part:?}: {}",
            refusal.message()
        );
    }
    // The refused job is kept, failed, with no shard.
    let jobs = client
        .list(pb::ListJobsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .jobs;
    let refused: Vec<&pb::Job> = jobs
        .iter()
        .filter(|job| job.error.starts_with("refused at planning: "))
        .collect();
    assert_eq!(refused.len(), 1, "{jobs:?}");
    assert_eq!(refused[0].state, pb::JobState::Failed as i32);
    assert_eq!(refused[0].shards_total, 0, "no shard ran");
    let counts = pg
        .text_rows("SELECT (SELECT count(*) FROM dst) || '/' || (SELECT count(*) FROM pre_sql_ran)")
        .await;
    assert_eq!(counts, vec!["0/0"], "nothing written, pre_sql not run");

    // With explicit casts the same columns go through.
    let spec = format!(
        "source: {{connection: {connection}, table: src, split_pk: id}}\n\
         sink: {{connection: {connection}, table: dst}}\n\
         mapping:\n  columns: [{{source: id}}, {{source: age_text, target: age, cast: int32}}, {{expr: \"seen > TIMESTAMP '2024-01-10'\", target: active}}]\n"
    );
    let job = run(&cluster, "with casts", &spec).await;
    assert_succeeded(&cluster, "with casts", &job);
    let summary = pg
        .text_rows(
            "SELECT count(*) || '/' || sum(age) || '/' || count(*) FILTER (WHERE active) FROM dst",
        )
        .await;
    // Hours 1..500 after 2024-01-01 00:00: rows 217.. are after 2024-01-10 00:00.
    assert_eq!(summary, vec![format!("500/{}/284", 500 * 501 / 2)]);
    pg.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_copies_only_rows_newer_than_the_target() {
    let my = MyDatabase::create().await;
    my.execute(
        "CREATE TABLE events (id BIGINT PRIMARY KEY, updated_at DATETIME(6) NOT NULL, kind VARCHAR(8), payload VARCHAR(64))",
    )
    .await;
    let insert = |from: i64, to: i64| {
        format!(
            "INSERT INTO events SELECT seq, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND, \
             IF(seq % 10 = 0, 'skip', 'keep'), CONCAT('payload ', seq) FROM seq_{from}_to_{to}"
        )
    };
    my.execute(&insert(1, 3000)).await;
    let pg = PgDatabase::create().await;
    let cluster = cluster().await;
    let spec = format!(
        "source: {{connection: {}, table: events, split_pk: id, where: \"kind = 'keep'\", incremental: {{column: updated_at}}}}\n\
         sink: {{connection: {}, table: events_copy, create_table: true}}\n\
         settings: {{parallelism: 4, shard_rows: 1000}}\n",
        my.connection_yaml(),
        pg.connection_yaml()
    );
    let first = run(&cluster, "first run", &spec).await;
    assert_succeeded(&cluster, "first run", &first);
    assert_eq!(first.counters.unwrap_or_default().rows_written, 2_700);

    // Newer rows, one row whose updated_at equals the largest copied one (strictly greater:
    // it is not copied), and an old row (not copied either).
    my.execute(&insert(3001, 3500)).await;
    my.execute(
        "INSERT INTO events VALUES (9001, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL 2999 SECOND, 'keep', 'same time'),
         (9002, TIMESTAMP '2023-06-01 00:00:00', 'keep', 'old')",
    )
    .await;
    let second = run(&cluster, "second run", &spec).await;
    assert_succeeded(&cluster, "second run", &second);
    assert_eq!(
        second.counters.unwrap_or_default().rows_written,
        450,
        "exactly the newer rows"
    );

    let expected = source_digest(&format!(
        "{{connection: {}, table: events, where: \"kind = 'keep' AND id < 9000\"}}",
        my.connection_yaml()
    ))
    .await;
    let copied = source_digest(&format!(
        "{{connection: {}, table: events_copy}}",
        pg.connection_yaml()
    ))
    .await;
    assert_eq!(copied.rows, 3_150);
    assert_eq!(
        copied, expected,
        "row count and checksum of source and target"
    );
    my.drop_database().await;
    pg.drop_database().await;
}
