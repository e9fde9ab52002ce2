//! PostgreSQL round trips through the Source/Sink traits: every supported type PG -> PG, and
//! PG -> SQLite -> PG for the types SQLite holds.

#[path = "postgres_support.rs"]
mod support;

use support::{count, run_job, spec, text_rows, TestDb};

/// The every-type table and its rows (shared with the end-to-end tests).
const ALL_TYPES: &str = include_str!("../../tests/fixtures/pg_all_types.sql");

#[tokio::test]
async fn every_type_round_trips_pg_to_pg_exactly() {
    let db = TestDb::create().await;
    let client = db.client().await;
    client
        .batch_execute(ALL_TYPES)
        .await
        .expect("create source");
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
