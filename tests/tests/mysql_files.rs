//! End-to-end through etcd + one coordinator + two worker processes, against the machine's
//! MariaDB and PostgreSQL and a moto S3 server the test starts:
//!
//! - MariaDB -> PostgreSQL and PostgreSQL -> MariaDB: a table of the common types (integers
//!   signed and unsigned at their limits, decimals up to 65 digits, float and double, unicode
//!   text with empty strings apart from NULLs, binary, date, datetime / timestamp, time, json,
//!   booleans), 20,004 rows over at least 16 shards that both workers take;
//! - PostgreSQL -> Parquet on S3 -> PostgreSQL: the every-type fixture of `postgres.rs` (less its
//!   interval column, which Parquet cannot hold) plus 20,000 generated rows;
//! - CSV -> MariaDB: sling's `test1.csv` read in place from `shared/fixtures`.
//!
//! Each compares source and destination by row count, an order-independent checksum of every
//! column (`TableDigest`, what `sluice compare` prints) and exact values.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use sluice_e2e::moto::Moto;
use sluice_e2e::mysql::MyDatabase;
use sluice_e2e::postgres::PgDatabase;
use sluice_e2e::{job_client, sluice_binary, source_digest, submit, wait_for_end, Cluster};
use sluice_proto::v1 as pb;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

/// A cluster of one coordinator and two 2-slot workers, both registered.
async fn cluster() -> Cluster {
    let mut cluster = Cluster::start().await;
    cluster.add_coordinator().await;
    cluster.add_worker(2);
    cluster.add_worker(2);
    cluster.wait_for_workers(2).await;
    cluster
}

/// Runs `spec` on the cluster and asserts that it succeeded without dirty records.
async fn run_job(cluster: &Cluster, what: &str, spec: &str) -> pb::Job {
    let mut client = job_client(&cluster.coordinator_urls[0], Duration::from_secs(10)).await;
    let job_id = submit(&mut client, spec).await;
    let job = wait_for_end(&mut client, &job_id, Duration::from_secs(300)).await;
    let counters = job.counters.unwrap_or_default();
    println!(
        "{what}: job {job_id} state {} shards {} rows read {} written {} dirty {} error {:?}",
        job.state,
        job.shards_total,
        counters.rows_read,
        counters.rows_written,
        counters.dirty_records,
        job.error
    );
    if job.state != pb::JobState::Succeeded as i32 {
        cluster.dump_logs();
    }
    assert_eq!(
        job.state,
        pb::JobState::Succeeded as i32,
        "{what} failed: {}\nspec:\n{spec}",
        job.error
    );
    assert_eq!(counters.dirty_records, 0, "{what}: dirty records");
    job
}

/// Asserts that the job ran at least `shards` shards and that both workers took some.
fn assert_spread(job: &pb::Job, shards: u32) {
    assert!(
        job.shards_total >= shards,
        "{} shards, expected at least {shards}",
        job.shards_total
    );
    let workers: BTreeSet<&str> = job
        .shards
        .iter()
        .map(|shard| shard.worker_id.as_str())
        .collect();
    assert_eq!(workers.len(), 2, "both workers ran shards: {workers:?}");
}

/// Rows of the MariaDB table: limits, empty values, NULLs, then 20,000 generated rows.
const MARIADB_MIXED: &str = "CREATE TABLE mixed (
  id BIGINT NOT NULL PRIMARY KEY, flag TINYINT(1),
  i8 TINYINT, u8 TINYINT UNSIGNED, i16 SMALLINT, u16 SMALLINT UNSIGNED, i32 INT, u32 INT UNSIGNED,
  i64 BIGINT, u64 BIGINT UNSIGNED, amount DECIMAL(18,4), wide DECIMAL(65,30), f32 FLOAT, f64 DOUBLE,
  name VARCHAR(100), note TEXT, raw VARBINARY(64), data BLOB, day DATE, wall DATETIME(6),
  instant TIMESTAMP(6) NULL DEFAULT NULL, moment TIME(6), doc JSON
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO mixed VALUES
 (1, 1, 127, 255, 32767, 65535, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
  99999999999999.9999, 99999999999999999999999999999999999.999999999999999999999999999999,
  3.40282e38, 1.7976931348623157e308, '数据集成 🚀 café', 'quote '' backslash \\ newline\nand tab\t end',
  X'00FF10', X'DEADBEEF00', '9999-12-31', '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999',
  '23:59:59.999999', '{\"k\": \"ü 😀\", \"n\": [1, 2.5, null]}'),
 (2, 0, -128, 0, -32768, 0, -2147483648, 0, -9223372036854775808, 0,
  -99999999999999.9999, -99999999999999999999999999999999999.999999999999999999999999999999,
  -3.40282e38, -1.7976931348623157e308, '', '', X'', X'', '1000-01-01', '1000-01-01 00:00:00',
  '1970-01-01 00:00:01', '00:00:00', '{}'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 1, -1, 7, -2, 8, -3, 9, -4, 10, 0.0001, 0.000000000000000000000000000001, 1.5, 0.1,
  'x', ' ', X'5C', X'00', '2024-02-29', '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56.123456',
  '12:34:56.000001', '[]');
INSERT INTO mixed
SELECT s, s % 2, s % 255 - 127, s % 256, s % 65536 - 32768, s % 65536, s * 100003 - 1000000000,
  s * 200000, IF(s % 2 = 0, 1, -1) * s * 1000000007, 18446744073709551615 - s, s / 7,
  CAST(CONCAT(s, '.', REPEAT('3', 30)) AS DECIMAL(65,30)), s / 3, s / 7e0,
  CONCAT('név ', s, ' 😀'), CASE s % 3 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE REPEAT('long text ', s % 50) END,
  UNHEX(LPAD(HEX(s), 8, '0')), IF(s % 4 = 0, NULL, UNHEX(MD5(s))), '2000-01-01' + INTERVAL s DAY,
  '1999-12-31 23:59:59.999999' + INTERVAL s MINUTE, '2020-02-29 12:00:00' + INTERVAL s * 1000003 MICROSECOND,
  CAST(CONCAT(s % 24, ':', (s * 7) % 60, ':', (s * 13) % 60, '.', LPAD(s % 1000000, 6, '0')) AS TIME(6)),
  JSON_OBJECT('g', s, 'tag', CONCAT('t', s % 7))
FROM (SELECT CAST(seq AS SIGNED) AS s FROM seq_100_to_20099) g;
ANALYZE TABLE mixed";

/// Columns of the MariaDB table as PostgreSQL receives them: `bigint unsigned` becomes
/// `numeric(20,0)` there (a documented conversion), so the checksum reads it as a decimal on
/// both sides.
const MARIADB_AS_PG: &str = "SELECT id, flag, i8, u8, i16, u16, i32, u32, i64, \
  CAST(u64 AS DECIMAL(20,0)) AS u64, amount, wide, f32, f64, name, note, raw, data, day, wall, \
  instant, moment, doc FROM mixed";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_to_postgres_keeps_every_common_type() {
    let my = MyDatabase::create().await;
    my.execute(MARIADB_MIXED).await;
    let pg = PgDatabase::create().await;
    let cluster = cluster().await;

    let job = run_job(
        &cluster,
        "MariaDB -> PostgreSQL",
        &format!(
            "source: {{connection: {}, table: mixed, split_pk: id}}\n\
             sink: {{connection: {}, table: mixed, create_table: true}}\n\
             settings: {{parallelism: 4, shard_rows: 2000, batch_rows: 1000}}\n",
            my.connection_yaml(),
            pg.connection_yaml()
        ),
    )
    .await;
    assert_spread(&job, 16);
    assert_eq!(job.counters.as_ref().unwrap().rows_written, 20_004);

    // Row count and checksum of every column.
    let source = source_digest(&format!(
        "{{connection: {}, query: \"{MARIADB_AS_PG}\"}}",
        my.connection_yaml()
    ))
    .await;
    let copied = source_digest(&format!(
        "{{connection: {}, table: mixed}}",
        pg.connection_yaml()
    ))
    .await;
    println!("MariaDB    {source}\nPostgreSQL {copied}");
    assert_eq!(source.rows, 20_004);
    assert_eq!(copied, source);

    // The types PostgreSQL got. MariaDB's `json` is a `longtext` (with a `json_valid` check)
    // on the wire and in information_schema, so it is read as plain text and lands as `text`
    // (MySQL 8's `json` would become `jsonb`): a documented limit of the MySQL connector.
    let types = pg
        .text_rows(
            "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) \
             FROM pg_attribute WHERE attrelid = 'mixed'::regclass AND attnum > 0 AND NOT attisdropped",
        )
        .await;
    assert_eq!(
        types[0],
        "id bigint, flag boolean, i8 smallint, u8 smallint, i16 smallint, u16 integer, i32 integer, \
         u32 bigint, i64 bigint, u64 numeric(20,0), amount numeric(18,4), wide numeric(65,30), f32 real, \
         f64 double precision, name text, note text, raw bytea, data bytea, day date, \
         wall timestamp without time zone, instant timestamp with time zone, moment time without time zone, \
         doc text"
    );

    // Exact values (booleans as PostgreSQL's text, `t`/`f`): the limits, empty strings and
    // bytes apart from NULLs, all-NULL rows.
    let exact = |id: i64| {
        format!(
            "SELECT concat_ws(' | ', flag, i8, u8, i16, u16, i32, u32, i64, u64, amount, wide, \
             f32 = '3.40282e38'::real, f64 = 1.7976931348623157e308::float8, '[' || name || ']', '[' || note || ']', \
             encode(raw, 'hex'), encode(data, 'hex'), day, wall, instant AT TIME ZONE 'UTC', moment, doc::text) \
             FROM mixed WHERE id = {id}"
        )
    };
    assert_eq!(
        pg.text_rows(&exact(1)).await,
        ["t | 127 | 255 | 32767 | 65535 | 2147483647 | 4294967295 | 9223372036854775807 | \
          18446744073709551615 | 99999999999999.9999 | \
          99999999999999999999999999999999999.999999999999999999999999999999 | t | t | \
          [数据集成 🚀 café] | [quote ' backslash \\ newline\nand tab\t end] | 00ff10 | deadbeef00 | \
          9999-12-31 | 9999-12-31 23:59:59.999999 | 2038-01-19 03:14:07.999999 | 23:59:59.999999 | \
          {\"k\": \"ü 😀\", \"n\": [1, 2.5, null]}"]
    );
    assert_eq!(
        pg.text_rows(&exact(2)).await,
        ["f | -128 | 0 | -32768 | 0 | -2147483648 | 0 | -9223372036854775808 | 0 | \
          -99999999999999.9999 | -99999999999999999999999999999999999.999999999999999999999999999999 | \
          f | f | [] | [] |  |  | 1000-01-01 | 1000-01-01 00:00:00 | 1970-01-01 00:00:01 | \
          00:00:00 | {}"]
    );
    assert_eq!(
        pg.text_rows(
            "SELECT num_nulls(flag, i8, u8, i16, u16, i32, u32, i64, u64, amount, wide, f32, f64, name, \
             note, raw, data, day, wall, instant, moment, doc)::text FROM mixed WHERE id = 3"
        )
        .await,
        ["22"]
    );
    assert_eq!(
        pg.text_rows("SELECT concat_ws(' | ', '[' || note || ']', encode(raw, 'hex'), f32, f64, wide, moment) FROM mixed WHERE id = 4")
            .await,
        ["[ ] | 5c | 1.5 | 0.1 | 0.000000000000000000000000000001 | 12:34:56.000001"]
    );
    // Empty strings and NULLs are counted apart on both sides.
    let in_mariadb = my
        .text_rows(
            "SELECT CONCAT_WS(' ', SUM(CHAR_LENGTH(note) = 0), SUM(note IS NULL), \
             SUM(LENGTH(data) = 0), SUM(data IS NULL)) FROM mixed",
        )
        .await;
    let in_postgres = pg
        .text_rows(
            "SELECT concat_ws(' ', count(*) FILTER (WHERE length(note) = 0), count(*) FILTER (WHERE note IS NULL), \
             count(*) FILTER (WHERE length(data) = 0), count(*) FILTER (WHERE data IS NULL)) FROM mixed",
        )
        .await;
    assert_eq!(in_mariadb[0][0].as_deref(), Some(in_postgres[0].as_str()));
    // From the generation rules: notes are NULL when s % 3 = 0, empty when s % 3 = 1 or when
    // they repeat a text 0 times; data is NULL when s % 4 = 0; rows 2 and 3 add one of each.
    let generated = 100..20_100_i64;
    let empty_notes = 1 + generated
        .clone()
        .filter(|s| s % 3 == 1 || (s % 3 == 2 && s % 50 == 0))
        .count();
    let null_notes = 1 + generated.clone().filter(|s| s % 3 == 0).count();
    let null_data = 1 + generated.filter(|s| s % 4 == 0).count();
    assert_eq!(
        in_postgres[0],
        format!("{empty_notes} {null_notes} 1 {null_data}")
    );

    drop(cluster);
    my.drop_database().await;
    pg.drop_database().await;
}

/// Rows of the PostgreSQL table: limits, empty values, NULLs, then 20,000 generated rows.
/// `u32` and `u64` only hold values that fit MariaDB's unsigned columns.
const PG_MIXED: &str = "CREATE TABLE mixed (
  id bigint PRIMARY KEY, flag boolean, i16 smallint, i32 integer, i64 bigint, u32 bigint, u64 numeric(20,0),
  amount numeric(18,4), wide numeric(65,30), f32 real, f64 double precision, name varchar(100), note text,
  raw bytea, day date, wall timestamp, instant timestamptz, moment time, doc jsonb);
INSERT INTO mixed VALUES
 (1, true, 32767, 2147483647, 9223372036854775807, 4294967295, 18446744073709551615, 99999999999999.9999,
  99999999999999999999999999999999999.999999999999999999999999999999, 3.40282e38, 1.7976931348623157e308,
  '数据集成 🚀 café', 'quote '' backslash \\ newline\nand tab\t end', '\\x00ff10', '9999-12-31',
  '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999+00', '23:59:59.999999',
  '{\"k\": \"ü 😀\", \"n\": [1, 2.5, null]}'),
 (2, false, -32768, -2147483648, -9223372036854775808, 0, 0, -99999999999999.9999,
  -99999999999999999999999999999999999.999999999999999999999999999999, -3.40282e38, -1.7976931348623157e308,
  '', '', '\\x', '1000-01-01', '1000-01-01 00:00:00', '1970-01-01 00:00:01+00', '00:00:00', '{}'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, true, -2, -3, -4, 9, 10, 0.0001, 0.000000000000000000000000000001, 1.5, 0.1, 'x', ' ', '\\x5c',
  '2024-02-29', '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56.123456+05:30', '12:34:56.000001', '[]');
INSERT INTO mixed
SELECT g, g % 2 = 0, (g % 65536 - 32768)::smallint, g * 100003 - 1000000000,
  CASE WHEN g % 2 = 0 THEN 1 ELSE -1 END * g * 1000000007, g * 200000, 18446744073709551615 - g,
  round(g / 7.0, 4), (g || '.' || repeat('3', 30))::numeric(65,30), g / 3.0, g / 7.0::float8,
  'név ' || g || ' 😀', CASE g % 3 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE repeat('long text ', (g % 50)::int) END,
  decode(lpad(to_hex(g), 8, '0'), 'hex'), DATE '2000-01-01' + g::int,
  TIMESTAMP '1999-12-31 23:59:59.999999' + g * INTERVAL '1 minute',
  TIMESTAMPTZ '2020-02-29 12:00:00+00' + g * INTERVAL '1.000003 second',
  TIME '00:00:00' + (g * 37 % 86400) * INTERVAL '1 second' + (g % 1000000) * INTERVAL '1 microsecond',
  jsonb_build_object('g', g, 'tag', 't' || g % 7)
FROM generate_series(100::bigint, 20099) g;
ANALYZE mixed";

/// A MariaDB target made beforehand, with unsigned columns and a `timestamp(6)`.
const MARIADB_TARGET: &str = "CREATE TABLE mixed (
  id BIGINT NOT NULL PRIMARY KEY, flag TINYINT(1), i16 SMALLINT, i32 INT, i64 BIGINT, u32 INT UNSIGNED,
  u64 BIGINT UNSIGNED, amount DECIMAL(18,4), wide DECIMAL(65,30), f32 FLOAT, f64 DOUBLE, name VARCHAR(100),
  note TEXT, raw VARBINARY(64), day DATE, wall DATETIME(6), instant TIMESTAMP(6) NULL DEFAULT NULL,
  moment TIME(6), doc JSON
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_mariadb_keeps_every_common_type() {
    let pg = PgDatabase::create().await;
    pg.client()
        .await
        .batch_execute(PG_MIXED)
        .await
        .expect("PostgreSQL source table");
    let my = MyDatabase::create().await;
    my.execute(MARIADB_TARGET).await;
    let cluster = cluster().await;

    // Into the table made beforehand (unsigned columns), then into one the sink creates.
    for (table, create) in [("mixed", false), ("mixed_created", true)] {
        let job = run_job(
            &cluster,
            &format!("PostgreSQL -> MariaDB {table}"),
            &format!(
                "source: {{connection: {}, table: mixed, split_pk: id}}\n\
                 sink: {{connection: {}, table: {table}, create_table: {create}}}\n\
                 settings: {{parallelism: 4, shard_rows: 2000, batch_rows: 1000}}\n",
                pg.connection_yaml(),
                my.connection_yaml()
            ),
        )
        .await;
        assert_spread(&job, 16);
        assert_eq!(job.counters.as_ref().unwrap().rows_written, 20_004);
    }

    let source = source_digest(&format!(
        "{{connection: {}, table: mixed}}",
        pg.connection_yaml()
    ))
    .await;
    let created = source_digest(&format!(
        "{{connection: {}, table: mixed_created}}",
        my.connection_yaml()
    ))
    .await;
    // The unsigned bigint reads back as UInt64; compare it as the decimal PostgreSQL has.
    let made_before = source_digest(&format!(
        "{{connection: {}, query: \"SELECT id, flag, i16, i32, i64, u32, CAST(u64 AS DECIMAL(20,0)) AS u64, \
         amount, wide, f32, f64, name, note, raw, day, wall, instant, moment, doc FROM mixed\"}}",
        my.connection_yaml()
    ))
    .await;
    println!("PostgreSQL {source}\nMariaDB    {made_before} (made before)\nMariaDB    {created} (created)");
    assert_eq!(source.rows, 20_004);
    assert_eq!(made_before, source);
    assert_eq!(created, source);

    let created_types: Vec<String> = my
        .column_types("mixed_created")
        .await
        .into_iter()
        .map(|(name, declared)| format!("{name} {declared}"))
        .collect();
    assert_eq!(
        created_types.join(", "),
        "id bigint(20), flag tinyint(1), i16 smallint(6), i32 int(11), i64 bigint(20), u32 bigint(20), \
         u64 decimal(20,0), amount decimal(18,4), wide decimal(65,30), f32 float, f64 double, name longtext, \
         note longtext, raw longblob, day date, wall datetime(6), instant datetime(6), moment time(6), doc longtext"
    );

    // From the generation rules: notes are NULL when g % 3 = 0 (the only NULLs of generated
    // rows), empty when g % 3 = 1 or when they repeat a text 0 times; rows 2 and 3 add one each.
    let generated = 100..20_100_i64;
    let empty_notes = 1 + generated
        .clone()
        .filter(|g| g % 3 == 1 || (g % 3 == 2 && g % 50 == 0))
        .count();
    let null_notes = 1 + generated.filter(|g| g % 3 == 0).count();
    let expected_counts = format!("{empty_notes} {null_notes} {null_notes}");

    // Exact values in both MariaDB tables.
    for table in ["mixed", "mixed_created"] {
        let exact = |id: i64| {
            format!(
                "SELECT CONCAT_WS(' | ', flag, i16, i32, i64, u32, u64, amount, wide, f32 = CAST(3.40282e38 AS FLOAT), \
                 f64 = 1.7976931348623157e308, CONCAT('[', name, ']'), CONCAT('[', note, ']'), HEX(raw), day, wall, instant, moment, doc) \
                 FROM {table} WHERE id = {id}"
            )
        };
        let row = |id: i64| {
            let query = exact(id);
            let my = &my;
            async move { my.text_rows(&query).await[0][0].clone().unwrap() }
        };
        assert_eq!(
            row(1).await,
            "1 | 32767 | 2147483647 | 9223372036854775807 | 4294967295 | 18446744073709551615 | \
             99999999999999.9999 | 99999999999999999999999999999999999.999999999999999999999999999999 | 1 | 1 | \
             [数据集成 🚀 café] | [quote ' backslash \\ newline\nand tab\t end] | 00FF10 | 9999-12-31 | \
             9999-12-31 23:59:59.999999 | 2038-01-19 03:14:07.999999 | 23:59:59.999999 | \
             {\"k\": \"ü 😀\", \"n\": [1, 2.5, null]}",
            "{table} id 1"
        );
        assert_eq!(
            row(2).await,
            "0 | -32768 | -2147483648 | -9223372036854775808 | 0 | 0 | -99999999999999.9999 | \
             -99999999999999999999999999999999999.999999999999999999999999999999 | 0 | 0 | [] | [] |  | \
             1000-01-01 | 1000-01-01 00:00:00.000000 | 1970-01-01 00:00:01.000000 | 00:00:00.000000 | {}",
            "{table} id 2"
        );
        assert_eq!(
            row(4).await,
            "1 | -2 | -3 | -4 | 9 | 10 | 0.0001 | 0.000000000000000000000000000001 | 0 | 0 | [x] | [ ] | 5C | \
             2024-02-29 | 2024-02-29 12:34:56.123456 | 2024-02-29 07:04:56.123456 | 12:34:56.000001 | []",
            "{table} id 4"
        );
        assert_eq!(
            my.text_rows(&format!(
                "SELECT CONCAT_WS(' ', SUM(CHAR_LENGTH(note) = 0), SUM(note IS NULL), \
                 SUM(CONCAT(flag, i16, i32, i64, u32, u64, amount, wide, f32, f64, name, note, raw, day, wall, \
                 instant, moment, doc) IS NULL)) FROM {table}"
            ))
            .await[0][0]
                .as_deref(),
            Some(expected_counts.as_str()),
            "{table}: empty strings and NULLs"
        );
    }

    drop(cluster);
    my.drop_database().await;
    pg.drop_database().await;
}

const PG_ALL_TYPES: &str = include_str!("../fixtures/pg_all_types.sql");

/// Every column of the fixture but `iv` (interval: Parquet has no month-day-nano interval and
/// the file sink refuses it when the job is prepared).
const PARQUET_COLUMNS: &str =
    "id, i2, i4, i8, n, n2, nu, r, d, b, t, vc, c, by, dt, tm, ts, tstz, u, j, jb, ai, at, an, ats";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_parquet_on_s3_to_postgres_is_exact() {
    let pg = PgDatabase::create().await;
    pg.client()
        .await
        .batch_execute(PG_ALL_TYPES)
        .await
        .expect("load the every-type table");
    pg.client()
        .await
        .batch_execute(
            "INSERT INTO src (id, i2, i4, n, n2, r, d, b, t, by, dt, tm, ts, tstz, u, jb, ai, at)
             SELECT g, (g % 1000)::smallint, g, g * 1.5, g / 3.0, g / 7.0, g / 9.0, g % 2 = 0, 'row ' || g || ' ü',
               decode(md5(g::text), 'hex'), DATE '2000-01-01' + g, TIME '00:00:00' + g * INTERVAL '1.5 second',
               TIMESTAMP '2001-02-03 04:05:06.789' + g * INTERVAL '1 minute',
               TIMESTAMPTZ '2020-01-01 00:00:00+00' + g * INTERVAL '1 second', md5(g::text)::uuid,
               jsonb_build_object('g', g), ARRAY[g, -g], ARRAY['a' || g, NULL]
             FROM generate_series(100, 20099) g;
             ANALYZE src",
        )
        .await
        .expect("generated rows");
    let cluster = cluster().await;
    let moto = Moto::start(cluster.logs.path());
    moto.create_bucket("lake");
    let s3 = moto.connection_yaml("lake", "exports", ", format: parquet, row_group_rows: 1000");
    let columns = format!("[{PARQUET_COLUMNS}]");

    let to_s3 = run_job(
        &cluster,
        "PostgreSQL -> Parquet on S3",
        &format!(
            "source: {{connection: {}, table: src, columns: {columns}, split_pk: id}}\n\
             sink: {{connection: {s3}, table: src}}\n\
             settings: {{parallelism: 4, shard_rows: 2000, batch_rows: 1000}}\n",
            pg.connection_yaml()
        ),
    )
    .await;
    assert_spread(&to_s3, 8);
    let keys = moto.list_keys("lake", "exports/src/");
    let parts = keys
        .iter()
        .filter(|key| key.starts_with("exports/src/part-") && key.ends_with(".parquet"))
        .count();
    let markers = keys
        .iter()
        .filter(|key| key.starts_with("exports/src/_sluice_commits/"))
        .count();
    println!("objects: {parts} parts, {markers} commit markers: {keys:?}");
    assert_eq!(markers, to_s3.shards_total as usize, "one marker per shard");
    assert!(
        (8..=to_s3.shards_total as usize).contains(&parts),
        "at most one part per shard, no leftovers: {keys:?}"
    );

    let back = run_job(
        &cluster,
        "Parquet on S3 -> PostgreSQL",
        &format!(
            "source: {{connection: {s3}, table: src}}\n\
             sink: {{connection: {}, table: back, create_table: true}}\n\
             settings: {{parallelism: 4, shard_rows: 2000, batch_rows: 1000}}\n",
            pg.connection_yaml()
        ),
    )
    .await;
    assert_spread(&back, 8);

    // Checksums: the PostgreSQL table, the Parquet files, the copy.
    let original = source_digest(&format!(
        "{{connection: {}, table: src, columns: {columns}}}",
        pg.connection_yaml()
    ))
    .await;
    let in_s3 = source_digest(&format!("{{connection: {s3}, table: src}}")).await;
    let copied = source_digest(&format!(
        "{{connection: {}, table: back}}",
        pg.connection_yaml()
    ))
    .await;
    println!("PostgreSQL {original}\nParquet    {in_s3}\ncopy       {copied}");
    assert_eq!(original.rows, 20_005);
    assert_eq!(in_s3, original);
    assert_eq!(copied, original);

    // Every value as PostgreSQL renders it, and every column type.
    let rows =
        |table: &str| format!("SELECT ROW({PARQUET_COLUMNS})::text FROM {table} ORDER BY id");
    let expected = pg.text_rows(&rows("src")).await;
    assert_eq!(expected.len(), 20_005);
    assert_eq!(pg.text_rows(&rows("back")).await, expected);
    let types = |table: &str| {
        format!(
            "SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) \
             FROM pg_attribute WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped \
             AND attname <> 'iv'"
        )
    };
    assert_eq!(
        pg.text_rows(&types("back")).await,
        pg.text_rows(&types("src")).await
    );

    drop(cluster);
    pg.drop_database().await;
}

/// The shared fixtures folder: `shared/fixtures` beside the checkout (`SLUICE_FIXTURES`
/// overrides it).
fn fixtures() -> PathBuf {
    let folder = std::env::var("SLUICE_FIXTURES").map_or_else(
        |_| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../shared/fixtures"
            ))
        },
        PathBuf::from,
    );
    assert!(
        folder.join("SOURCES.md").exists(),
        "fixtures not found at {}: the tests read the project's shared/fixtures folder beside the \
         checkout (or set SLUICE_FIXTURES)",
        folder.display()
    );
    folder
}

/// Splits CSV text (RFC 4180: `"` quotes, `""` inside quotes, newlines inside quotes) into
/// records of fields.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, other) => field.push(other),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, other) => field.push(other),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_fixture_loads_into_mariadb_exactly() {
    let file = fixtures().join("csv/sling/test1.csv");
    let my = MyDatabase::create().await;
    let cluster = cluster().await;
    let spec = format!(
        "source: {{connection: {{type: file, path: {:?}}}}}\n\
         sink: {{connection: {}, table: people, create_table: true, keys: [id]}}\n\
         settings: {{parallelism: 2}}\n",
        file.display().to_string(),
        my.connection_yaml()
    );
    let job = run_job(&cluster, "CSV -> MariaDB", &spec).await;
    assert_eq!(job.counters.as_ref().unwrap().rows_written, 1000);

    // `sluice compare` (the binary) reads both ends: same rows, same checksum.
    let spec_dir = tempfile::tempdir().unwrap();
    let spec_file = spec_dir.path().join("csv_to_mariadb.yaml");
    std::fs::write(&spec_file, &spec).unwrap();
    let compare = std::process::Command::new(sluice_binary())
        .args(["--output", "json", "compare"])
        .arg(&spec_file)
        .output()
        .expect("run sluice compare");
    let report = String::from_utf8_lossy(&compare.stdout);
    println!(
        "sluice compare: {report}{}",
        String::from_utf8_lossy(&compare.stderr)
    );
    assert!(
        compare.status.success(),
        "sluice compare found a difference: {report}"
    );
    let report: serde_json::Value = serde_json::from_str(&report).expect("compare JSON");
    assert_eq!(report["source"]["rows"], 1000);
    assert_eq!(report["sink"], report["source"]);

    // The types the sink made from the inferred schema.
    let types: Vec<String> = my
        .column_types("people")
        .await
        .into_iter()
        .map(|(name, declared)| format!("{name} {declared}"))
        .collect();
    assert_eq!(
        types.join(", "),
        "id bigint(20), first_name longtext, last_name longtext, email longtext, target tinyint(1), \
         create_dt datetime(6), date date, rating double, code double, update_dt datetime(6)"
    );

    // Every value against the file parsed here: an empty field is NULL, booleans are 1/0,
    // timestamps gain microsecond digits, numbers compare as the same double.
    let text = std::fs::read_to_string(&file).unwrap();
    let records = parse_csv(&text);
    assert_eq!(records[0].len(), 10, "header: {:?}", records[0]);
    let expected: Vec<Vec<Option<String>>> = records[1..]
        .iter()
        .map(|record| {
            assert_eq!(record.len(), 10, "{record:?}");
            record
                .iter()
                .enumerate()
                .map(|(column, value)| {
                    if value.is_empty() {
                        return None;
                    }
                    Some(match column {
                        4 => match value.as_str() {
                            "true" => "1".to_string(),
                            "false" => "0".to_string(),
                            other => panic!("target {other:?}"),
                        },
                        5 | 9 => {
                            let (seconds, fraction) = value.split_once('.').unwrap_or((value, ""));
                            format!("{seconds}.{fraction:0<6}")
                        }
                        7 | 8 => format!("{:?}", value.parse::<f64>().unwrap()),
                        _ => value.clone(),
                    })
                })
                .collect()
        })
        .collect();
    let loaded: Vec<Vec<Option<String>>> = my
        .text_rows(
            "SELECT id, first_name, last_name, email, target, create_dt, `date`, rating, code, update_dt \
             FROM people ORDER BY id",
        )
        .await
        .into_iter()
        .map(|mut row| {
            for column in [7, 8] {
                row[column] = row[column]
                    .as_ref()
                    .map(|value| format!("{:?}", value.parse::<f64>().unwrap()));
            }
            row
        })
        .collect();
    assert_eq!(loaded.len(), 1000);
    for (index, (got, want)) in loaded.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "record {} of the file", index + 1);
    }
    assert_eq!(loaded[0][1].as_deref(), Some("AOCG,\"\n883"));
    assert_eq!(loaded[1][8].as_deref(), Some("2.1"));
    assert_eq!(
        loaded.iter().filter(|row| row[6].is_none()).count(),
        142,
        "empty dates are NULL"
    );

    drop(cluster);
    my.drop_database().await;
}
