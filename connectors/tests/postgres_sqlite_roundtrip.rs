//! PostgreSQL -> SQLite -> PostgreSQL round trips of every type the PostgreSQL connector
//! supports, SQLite being the middle hop and both targets created by `create_table: true`.
//!
//! Values are compared through PostgreSQL's text output (`SELECT * ORDER BY id`), column types
//! through `format_type`. Both are identical: the SQLite sink declares each column with its
//! exact Arrow type and records the PostgreSQL type (`sluice.pg_type`) in `_sluice_columns`,
//! and the SQLite reader restores both.

#![allow(missing_docs)]

#[path = "postgres_support.rs"]
mod support;

use support::{run_job, spec, text_rows, TestDb};
use tokio_postgres::Client;

/// The every-type table and its rows (shared with the other round-trip and end-to-end tests).
const ALL_TYPES: &str = include_str!("../../tests/fixtures/pg_all_types.sql");

/// Returns the `format_type` of every column of `table`, in order.
async fn column_types(client: &Client, table: &str) -> Vec<Vec<Option<String>>> {
    text_rows(
        client,
        &format!(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        ),
    )
    .await
}

/// Copies PostgreSQL table `src` to SQLite table `middle` and back to PostgreSQL table `back`,
/// both targets created by the sinks; returns the SQLite file's directory (kept alive).
async fn pg_to_sqlite_to_pg(db: &TestDb) -> (tempfile::TempDir, std::path::PathBuf) {
    let directory = tempfile::tempdir().expect("tempdir");
    let sqlite_path = directory.path().join("middle.db");
    let to_sqlite = spec(&format!(
        "source: {{connection: {conn}, table: src, split_pk: id}}\n\
         sink: {{connection: {{type: sqlite, path: \"{path}\"}}, table: middle, create_table: true, keys: [id]}}\n\
         settings: {{parallelism: 2, batch_rows: 2}}\n",
        conn = db.connection_yaml(),
        path = sqlite_path.display()
    ));
    let shards = run_job(&to_sqlite, "to-sqlite").await;
    let dirty: u64 = shards
        .iter()
        .map(|counters| counters.snapshot().dirty_records)
        .sum();
    let samples: Vec<_> = shards
        .iter()
        .flat_map(|counters| counters.take_dirty_samples())
        .collect();
    assert_eq!(
        dirty, 0,
        "no value of the table is dirty on the way to SQLite: {samples:?}"
    );
    let back = spec(&format!(
        "source: {{connection: {{type: sqlite, path: \"{path}\"}}, table: middle, split_pk: id}}\n\
         sink: {{connection: {conn}, table: back, create_table: true, keys: [id]}}\n\
         settings: {{parallelism: 2, batch_rows: 2}}\n",
        conn = db.connection_yaml(),
        path = sqlite_path.display()
    ));
    run_job(&back, "from-sqlite").await;
    (directory, sqlite_path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_round_trips_pg_to_sqlite_to_pg_exactly() {
    let db = TestDb::create().await;
    let client = db.client().await;
    client
        .batch_execute(ALL_TYPES)
        .await
        .expect("create source");
    let (_directory, sqlite_path) = pg_to_sqlite_to_pg(&db).await;

    let original = text_rows(&client, "SELECT * FROM src ORDER BY id").await;
    let returned = text_rows(&client, "SELECT * FROM back ORDER BY id").await;
    assert_eq!(original.len(), 5);
    for (original_row, returned_row) in original.iter().zip(&returned) {
        assert_eq!(returned_row, original_row);
    }
    assert_eq!(returned.len(), original.len());
    // Every column comes back with its exact PostgreSQL type, typmods included.
    assert_eq!(
        column_types(&client, "back").await,
        column_types(&client, "src").await
    );

    // The middle hop declares types a reader of the file can understand on its own.
    let sqlite = rusqlite::Connection::open(&sqlite_path).expect("open sqlite");
    let declared: Vec<(String, String)> = sqlite
        .prepare("SELECT name, type FROM pragma_table_info('middle') ORDER BY cid")
        .expect("prepare")
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("declared types");
    let declared_of = |column: &str| {
        declared
            .iter()
            .find(|(name, _)| name == column)
            .map(|(_, declared)| declared.as_str())
    };
    assert_eq!(declared_of("i2"), Some("INTEGER_I16"));
    assert_eq!(declared_of("n"), Some("DECIMAL128_TEXT(38,10)"));
    assert_eq!(declared_of("n2"), Some("DECIMAL256_TEXT(50,5)"));
    assert_eq!(declared_of("nu"), Some("TEXT"));
    assert_eq!(declared_of("u"), Some("UUID_TEXT"));
    assert_eq!(declared_of("iv"), Some("MONTH_DAY_NANO_TEXT"));
    assert_eq!(declared_of("an"), Some("LIST_DECIMAL128_TEXT(10,2)"));
    assert_eq!(declared_of("ats"), Some("LIST_TIMESTAMPTZ_TEXT"));
    // Values kept as text keep their digits (TEXT affinity: no '1.50' -> 1.5).
    let stored: (String, String, String, String, String) = sqlite
        .query_row(
            "SELECT typeof(n), n, jb, an, iv FROM middle WHERE id = 1",
            [],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            },
        )
        .expect("stored values");
    assert_eq!(
        stored,
        (
            "text".to_string(),
            "9999999999999999999999999999.9999999999".to_string(),
            "{\"k\": \"ü\", \"n\": null}".to_string(),
            "[\"1.50\",\"-2.25\"]".to_string(),
            "P1Y2M-3DT4H5M6.789S".to_string()
        )
    );
    let json_five: String = sqlite
        .query_row("SELECT jb FROM middle WHERE id = 5", [], |row| row.get(0))
        .expect("jsonb of row 5");
    assert_eq!(json_five, "1.0");
    drop(client);
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn array_elements_of_every_kind_and_float_specials_round_trip() {
    // Scalar -0 is left out: a REAL column stores it as 0 (see `sqlite::types`); inside
    // arrays it is kept and tested.
    let db = TestDb::create().await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TYPE mood AS ENUM ('sad', 'happy');
             CREATE TABLE src (id integer PRIMARY KEY, f8 double precision, f4 real, nu numeric(80,3),
               ab boolean[], a2 smallint[], a8 bigint[], af4 real[], af8 double precision[], anu numeric[],
               awide numeric(60,2)[], avc varchar(3)[], aby bytea[], adt date[], atm time[], ats timestamp[],
               aiv interval[], au uuid[], aj json[], ajb jsonb[], mo mood, amo mood[]);
             INSERT INTO src VALUES
              (1, 1e308, -1.17549435e-38, 1.5, '{true,NULL,false}', '{-32768,32767}', '{-9223372036854775808,9223372036854775807}',
               '{NaN,-Infinity,3.4028235e38,1.1}', '{NaN,Infinity,-0,1e-300,0.1}', '{NaN,-Infinity,1.50,-0.000}',
               '{1234567890123456789012345678901234567890123456789012345678.99}', '{\"\",\"abc\",NULL}',
               '{\"\\\\x\",\"\\\\x00ff\",NULL}', '{\"4713-01-01 BC\",\"5874897-12-31\"}', '{24:00:00,00:00:00.000001}',
               '{\"294246-12-31 23:59:59.999999\",\"4713-01-01 00:00:00 BC\"}',
               '{\"1 year -1 mons 1 day -00:00:00.000001\",\"0\"}', '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,NULL}',
               ARRAY['{\"x\": 1}'::json, '[]'], ARRAY['{\"b\": 2, \"a\": 1}'::jsonb, 'null'], 'happy', '{sad,NULL}'),
              (2, 'NaN', 'NaN', -99999999999999999999999999999999999999999999999999999999999999999999999999999.999,
               '{}', '{NULL}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', NULL, '{}'),
              (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, NULL, NULL)",
        )
        .await
        .expect("source");
    let (_directory, _) = pg_to_sqlite_to_pg(&db).await;
    let original = text_rows(&client, "SELECT * FROM src ORDER BY id").await;
    let returned = text_rows(&client, "SELECT * FROM back ORDER BY id").await;
    assert_eq!(original.len(), 3);
    assert_eq!(returned, original);
    let original_types = column_types(&client, "src").await;
    let returned_types = column_types(&client, "back").await;
    // Enums are read as text and recreated as text (the PostgreSQL connector's mapping; the
    // PG -> PG copy does the same): every other column keeps its exact type.
    let expected_types: Vec<Vec<Option<String>>> = original_types
        .into_iter()
        .map(|column| match column[0].as_deref() {
            Some("mo") => vec![column[0].clone(), Some("text".to_string())],
            Some("amo") => vec![column[0].clone(), Some("text[]".to_string())],
            _ => column,
        })
        .collect();
    assert_eq!(returned_types, expected_types);
    drop(client);
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_column_metadata_is_ignored_after_another_tool_recreates_the_table() {
    let db = TestDb::create().await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE src (id bigint PRIMARY KEY, code varchar(8), doc json);
             INSERT INTO src VALUES (1, 'abc', '{\"a\": 1}')",
        )
        .await
        .expect("source");
    let (directory, sqlite_path) = pg_to_sqlite_to_pg(&db).await;
    assert_eq!(
        column_types(&client, "back").await,
        column_types(&client, "src").await
    );
    // Another tool replaces the table: `code` becomes an integer, `doc` keeps its declared
    // type. The recorded varchar(8) no longer applies to `code`; json still applies to `doc`.
    let sqlite = rusqlite::Connection::open(&sqlite_path).expect("open sqlite");
    sqlite
        .execute_batch(
            "DROP TABLE middle; CREATE TABLE middle (id INTEGER, code INTEGER, doc JSON_TEXT);
             INSERT INTO middle VALUES (1, 42, '[1]')",
        )
        .expect("recreate");
    drop(sqlite);
    let again = spec(&format!(
        "source: {{connection: {{type: sqlite, path: \"{path}\"}}, table: middle}}\n\
         sink: {{connection: {conn}, table: again, create_table: true}}\n",
        conn = db.connection_yaml(),
        path = sqlite_path.display()
    ));
    run_job(&again, "again").await;
    assert_eq!(
        column_types(&client, "again").await,
        vec![
            vec![Some("id".to_string()), Some("bigint".to_string())],
            vec![Some("code".to_string()), Some("bigint".to_string())],
            vec![Some("doc".to_string()), Some("json".to_string())],
        ]
    );
    drop(directory);
    drop(client);
    db.drop_database().await;
}
