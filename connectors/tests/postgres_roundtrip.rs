//! PostgreSQL round trips through the Source/Sink traits: every supported type PG -> PG, and
//! PG -> SQLite -> PG for the types SQLite holds.

#[path = "postgres_support.rs"]
mod support;

use support::{count, run_job, spec, text_rows, TestDb};

const ALL_TYPES: &str = "CREATE TABLE src (
    id bigint PRIMARY KEY, i2 smallint, i4 integer, i8 bigint,
    n numeric(38,10), n2 numeric(50,5), nu numeric, r real, d double precision, b boolean,
    t text, vc varchar(20), c char(5), by bytea, dt date, tm time, ts timestamp, tstz timestamptz,
    iv interval, u uuid, j json, jb jsonb, ai integer[], at text[], an numeric(10,2)[], ats timestamptz[])";

const ROWS: &str = "INSERT INTO src VALUES
 (1, 32767, 2147483647, 9223372036854775807, 9999999999999999999999999999.9999999999,
  123456789012345678901234567890123456789012345.12345, 'NaN', 'Infinity', 'NaN', true,
  '数据集成 🚀 café', 'x', 'ab', '\\x00ff10', '5874897-12-31', '23:59:59.999999', '200000-01-01 00:00:00',
  '2024-02-29 12:34:56.789012+05:30', '1 year 2 mons -3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{\"a\": [1, 2]}', '{\"k\": \"ü\", \"n\": null}', '{1,NULL,-3}', '{\"a\",\"b c\",NULL,\"\"}', '{1.50,-2.25}',
  '{\"2024-01-01 00:00:00+00\"}'),
 (2, -32768, -2147483648, -9223372036854775808, -9999999999999999999999999999.9999999999,
  -0.00001, '-123.4500', '-Infinity', 1e-300, false,
  '', '', '', '\\x', '4713-01-01 BC', '00:00:00', '4713-01-01 00:00:00 BC',
  '1970-01-01 00:00:00+00', '-178000000 years', '00000000-0000-0000-0000-000000000000',
  '[]', '{}', '{}', '{}', '{}', '{}'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 0, 0, 0, 0, 0, 'Infinity', 3.4028235e38, -1.7976931348623157e308, true,
  'tab\there \"quoted\" and ''single''', 'line
break', 'z', '\\x5c', '2000-01-01', '12:00:00', '1999-12-31 23:59:59.999999', '2000-01-01 00:00:00.000001+00',
  '0 seconds', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'null', '[1, 2.5, \"x\"]', '{2147483647}', '{\"数据\"}',
  '{NULL}', '{NULL,\"2000-01-01 00:00:00+00\"}'),
 (5, 1, 1, 1, 0.0000000001, 0.00001, '0.000000000000000000000000000000000000000000001', 1.5, 0.1, false,
  'x', 'x', 'x', '\\x00', '1970-01-01', '00:00:00.000001', '1970-01-01 00:00:00', '1969-12-31 23:59:59.999999+00',
  '1 mon', '123e4567-e89b-12d3-a456-426614174000', '1', '1.0', '{-1,0,1}', '{\"\"}', '{0.01}', '{}')";

#[tokio::test]
async fn every_type_round_trips_pg_to_pg_exactly() {
    let db = TestDb::create().await;
    let client = db.client().await;
    client
        .batch_execute(ALL_TYPES)
        .await
        .expect("create source");
    client.batch_execute(ROWS).await.expect("insert rows");
    // A value Arrow cannot hold: an infinite date is a dirty record, not a silent change.
    client
        .batch_execute("INSERT INTO src (id, dt) VALUES (99, 'infinity')")
        .await
        .expect("insert unrepresentable row");
    let job = spec(&format!(
        "source: {{connection: {conn}, table: src, split_pk: id}}\n\
         sink: {{connection: {conn}, table: dst, create_table: true, keys: [id]}}\n\
         settings: {{parallelism: 1, batch_rows: 2}}\n",
        conn = db.connection_yaml()
    ));
    let shards = run_job(&job, "round-trip").await;
    let dirty: u64 = shards
        .iter()
        .map(|counters| counters.snapshot().dirty_records)
        .sum();
    let samples: Vec<_> = shards
        .iter()
        .flat_map(|counters| counters.take_dirty_samples())
        .collect();
    assert_eq!(
        dirty, 1,
        "the infinite date is the only dirty record: {samples:?}"
    );
    assert_eq!(samples[0].column, "dt");
    assert!(
        samples[0].reason.contains("infinity"),
        "{}",
        samples[0].reason
    );
    assert!(samples[0].row.contains("\"id\":99"), "{}", samples[0].row);

    let source_rows = text_rows(&client, "SELECT * FROM src WHERE id <> 99 ORDER BY id").await;
    let copied_rows = text_rows(&client, "SELECT * FROM dst ORDER BY id").await;
    assert_eq!(source_rows.len(), 5);
    assert_eq!(copied_rows, source_rows);
    let types = text_rows(
        &client,
        "SELECT string_agg(format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute \
         WHERE attrelid IN ('src'::regclass, 'dst'::regclass) AND attnum > 0 GROUP BY attrelid",
    )
    .await;
    assert_eq!(
        types[0], types[1],
        "create_table recreates the exact column types"
    );
    drop(client);
    db.drop_database().await;
}

#[tokio::test]
async fn pg_to_sqlite_to_pg_keeps_the_values_sqlite_can_hold() {
    let db = TestDb::create().await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE src (id bigint PRIMARY KEY, small integer, amount double precision, flag boolean, \
             name text, payload bytea, day date, at timestamptz);
             INSERT INTO src SELECT g, g - 500, g * 1.25, g % 2 = 0, 'row ' || g || ' ✓', decode(md5(g::text), 'hex'),
               DATE '2024-01-01' + g, TIMESTAMPTZ '2024-01-01 00:00:00+00' + g * INTERVAL '1.000001 second'
             FROM generate_series(1, 2000) g;
             INSERT INTO src VALUES (0, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
               (-1, -2147483648, 1e300, true, '', '\\x', '1900-02-28', '1901-01-01 00:00:00.5+00')",
        )
        .await
        .expect("source");
    let directory = tempfile::tempdir().expect("tempdir");
    let sqlite_path = directory.path().join("middle.db");
    let to_sqlite = spec(&format!(
        "source: {{connection: {conn}, table: src, split_pk: id}}\n\
         sink: {{connection: {{type: sqlite, path: \"{path}\"}}, table: middle, create_table: true}}\n\
         settings: {{parallelism: 2, batch_rows: 300}}\n",
        conn = db.connection_yaml(),
        path = sqlite_path.display()
    ));
    run_job(&to_sqlite, "to-sqlite").await;
    let back = spec(&format!(
        "source: {{connection: {{type: sqlite, path: \"{path}\"}}, table: middle, split_pk: id}}\n\
         sink: {{connection: {conn}, table: back, create_table: true}}\n\
         settings: {{parallelism: 2, batch_rows: 300}}\n",
        conn = db.connection_yaml(),
        path = sqlite_path.display()
    ));
    run_job(&back, "from-sqlite").await;
    assert_eq!(count(&client, "SELECT count(*) FROM back").await, 2002);
    let original = text_rows(&client, "SELECT * FROM src ORDER BY id").await;
    let returned = text_rows(&client, "SELECT * FROM back ORDER BY id").await;
    assert_eq!(returned, original);
    drop(client);
    db.drop_database().await;
}
