//! MySQL / MariaDB round trips through the connectors: every supported type MySQL -> MySQL
//! exactly (NULLs, extremes, unicode with 4-byte emoji, empty strings, decimal(65,30)),
//! MySQL -> PostgreSQL -> MySQL, and the quirks that become dirty records or NULLs on purpose.

#[path = "mysql_support.rs"]
mod mysql_support;
#[path = "postgres_support.rs"]
mod support;

use mysql_support::{count, execute, text_rows, MyDb};
use sluice_common::records::KeyRange;
use sluice_connectors::checksum::digest_source;
use sluice_connectors::{batch_channel, ShardCounters, Source};
use std::sync::Arc;
use support::{run_job, spec, TestDb};

const ALL_TYPES: &str = "CREATE TABLE all_types (
  id INT NOT NULL PRIMARY KEY,
  b TINYINT(1), i8 TINYINT, u8 TINYINT UNSIGNED, i16 SMALLINT, u16 SMALLINT UNSIGNED,
  i24 MEDIUMINT, u24 MEDIUMINT UNSIGNED, i32 INT, u32 INT UNSIGNED, i64 BIGINT, u64 BIGINT UNSIGNED,
  f32 FLOAT, f64 DOUBLE, d10 DECIMAL(10,2), d65 DECIMAL(65,30), d38 DECIMAL(38,0), du DECIMAL(5,5) UNSIGNED,
  bits BIT(64), bit1 BIT(1), y YEAR, dt DATE, tm TIME(6), dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL,
  c CHAR(10), vc VARCHAR(100), tx TEXT, e ENUM('a','b','it''s'), st SET('x','y'), js JSON,
  bn BINARY(4), vb VARBINARY(20), bl BLOB
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

const ROWS: &str = "INSERT INTO all_types VALUES
 (1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (2, 0, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0,
  -3.40282e38, -1.7976931348623157e308, -99999999.99,
  -99999999999999999999999999999999999.999999999999999999999999999999, -99999999999999999999999999999999999999, 0,
  b'0', b'0', 1901, '1000-01-01', '00:00:00', '1000-01-01 00:00:00', '1970-01-01 00:00:01',
  '', '', '', 'a', '', '[]', X'00000000', X'', X''),
 (3, 1, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615,
  3.40282e38, 1.7976931348623157e308, 99999999.99,
  99999999999999999999999999999999999.999999999999999999999999999999, 99999999999999999999999999999999999999, 0.99999,
  b'1111111111111111111111111111111111111111111111111111111111111111', b'1', 2155, '9999-12-31', '23:59:59.999999',
  '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999',
  'zzzzzzzzzz', REPEAT('y', 100), REPEAT('long ', 1000), 'b', 'x,y', '{\"k\": 1}', X'FFFFFFFF', X'FF00FF00FF', X'0102'),
 (4, 1, -1, 7, -2, 8, -3, 9, -4, 10, -5, 11,
  1.5, 0.1, 0.01, 0.000000000000000000000000000001, 1, 0.5,
  b'101', b'0', 2024, '2024-02-29', '12:34:56.000001', '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56.123456',
  'ünï', 'héllo 世界 😀🎉', 'quote '' backslash \\\\ newline\nand tab\t', 'it''s', 'y', '{\"emoji\": \"😀\", \"a\": [1, 2]}',
  X'DEADBEEF', X'000102', X'00FF00')";

fn copy_spec(
    from: &str,
    to: &str,
    source_table: &str,
    sink_table: &str,
    extra_source: &str,
) -> String {
    format!(
        "source: {{connection: {from}, table: {source_table}{extra_source}}}\n\
         sink: {{connection: {to}, table: {sink_table}, create_table: true}}\n\
         settings: {{parallelism: 2, batch_rows: 3}}\n"
    )
}

#[tokio::test]
async fn every_type_round_trips_mysql_to_mysql_exactly() {
    let db = MyDb::create().await;
    let mut conn = db.conn().await;
    execute(&mut conn, ALL_TYPES).await;
    execute(&mut conn, ROWS).await;
    let job = spec(&copy_spec(
        &db.connection_yaml(),
        &db.connection_yaml(),
        "all_types",
        "copy_types",
        ", split_pk: id",
    ));
    let counters = run_job(&job, "mysql-types").await;
    let dirty: u64 = counters.iter().map(|c| c.snapshot().dirty_records).sum();
    assert_eq!(
        dirty,
        0,
        "{:?}",
        counters
            .iter()
            .map(|c| c.take_dirty_samples())
            .collect::<Vec<_>>()
    );

    let source_rows = text_rows(&mut conn, "SELECT * FROM all_types ORDER BY id").await;
    let copied_rows = text_rows(&mut conn, "SELECT * FROM copy_types ORDER BY id").await;
    assert_eq!(source_rows.len(), 4);
    assert_eq!(source_rows, copied_rows);
    let source_types = text_rows(
        &mut conn,
        &format!("SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = 'all_types' ORDER BY ORDINAL_POSITION", db.name),
    )
    .await;
    let copied_types = text_rows(
        &mut conn,
        &format!("SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = 'copy_types' ORDER BY ORDINAL_POSITION", db.name),
    )
    .await;
    assert_eq!(
        source_types, copied_types,
        "create_table keeps the declared types"
    );

    // The same copy through LOAD DATA LOCAL INFILE.
    let loaded_job = spec(&copy_spec(
        &db.connection_yaml(),
        &db.connection_yaml_with(", load_data: true"),
        "all_types",
        "loaded_types",
        ", split_pk: id",
    ));
    let counters = run_job(&loaded_job, "mysql-types-load").await;
    let dirty: u64 = counters.iter().map(|c| c.snapshot().dirty_records).sum();
    assert_eq!(dirty, 0);
    let loaded_rows = text_rows(&mut conn, "SELECT * FROM loaded_types ORDER BY id").await;
    assert_eq!(source_rows, loaded_rows, "LOAD DATA keeps every value too");

    let source =
        sluice_connectors::open_source(&job, &support::source_connection(&job)).expect("source");
    let copy = sluice_connectors::open_sink_as_source(&job, &support::sink_connection(&job))
        .expect("copy");
    let expected = digest_source(source.as_ref(), &KeyRange::All)
        .await
        .expect("digest source");
    let actual = digest_source(copy.as_ref(), &KeyRange::All)
        .await
        .expect("digest copy");
    assert_eq!(expected.rows, 4);
    assert_eq!(expected, actual);

    let schema = source.schema().await.expect("schema");
    let type_of = |name: &str| {
        schema
            .field_with_name(name)
            .expect("field")
            .data_type()
            .to_string()
    };
    assert_eq!(type_of("b"), "Boolean");
    assert_eq!(type_of("u64"), "UInt64");
    assert_eq!(type_of("u24"), "UInt32");
    assert_eq!(type_of("d65"), "Decimal256(65, 30)");
    assert_eq!(type_of("d10"), "Decimal128(10, 2)");
    assert_eq!(type_of("bits"), "UInt64");
    assert_eq!(type_of("ts"), "Timestamp(µs, \"UTC\")");
    assert_eq!(type_of("dtm"), "Timestamp(µs)");
    assert_eq!(type_of("tm"), "Time64(µs)");
    assert_eq!(type_of("js"), "Utf8");
    assert_eq!(type_of("vb"), "Binary");
    drop(conn);
    db.drop_database().await;
}

/// Columns that map both ways between MySQL and PostgreSQL without a change of value kind
/// (unsigned bigint and bit(64) become numeric(20,0) in PostgreSQL, a documented conversion).
const PORTABLE_COLUMNS: &str =
    "id, b, i8, u8, i16, u16, i24, u24, i32, u32, i64, f32, f64, d10, d65, d38, y, dt, tm, dtm, ts, c, vc, tx, e, st, vb, bl";

#[tokio::test]
async fn mysql_to_postgres_to_mysql_keeps_every_value() {
    let my = MyDb::create().await;
    let pg = TestDb::create().await;
    let mut conn = my.conn().await;
    execute(&mut conn, ALL_TYPES).await;
    execute(&mut conn, ROWS).await;
    // PostgreSQL text cannot hold NUL; jsonb would normalise the text, so json stays out.
    let columns: Vec<&str> = PORTABLE_COLUMNS.split(", ").collect();
    let column_list = format!("[{}]", columns.join(", "));
    let to_pg = spec(&format!(
        "source: {{connection: {}, table: all_types, columns: {column_list}, split_pk: id}}\n\
         sink: {{connection: {}, table: from_mysql, create_table: true}}\nsettings: {{parallelism: 2}}\n",
        my.connection_yaml(),
        pg.connection_yaml()
    ));
    run_job(&to_pg, "to-pg").await;
    let back = spec(&format!(
        "source: {{connection: {}, table: from_mysql, split_pk: id}}\n\
         sink: {{connection: {}, table: round_trip, create_table: true}}\nsettings: {{parallelism: 2}}\n",
        pg.connection_yaml(),
        my.connection_yaml()
    ));
    run_job(&back, "back-from-pg").await;

    let mysql_source = sluice_connectors::open_source(&to_pg, &support::source_connection(&to_pg))
        .expect("source");
    let in_pg = sluice_connectors::open_sink_as_source(&to_pg, &support::sink_connection(&to_pg))
        .expect("pg");
    let in_mysql = sluice_connectors::open_sink_as_source(&back, &support::sink_connection(&back))
        .expect("mysql");
    let original = digest_source(mysql_source.as_ref(), &KeyRange::All)
        .await
        .expect("digest");
    assert_eq!(original.rows, 4);
    assert_eq!(
        original,
        digest_source(in_pg.as_ref(), &KeyRange::All)
            .await
            .expect("digest pg")
    );
    assert_eq!(
        original,
        digest_source(in_mysql.as_ref(), &KeyRange::All)
            .await
            .expect("digest back")
    );
    let select = format!("SELECT {PORTABLE_COLUMNS} FROM {{}} ORDER BY id");
    assert_eq!(
        text_rows(&mut conn, &select.replace("{}", "all_types")).await,
        text_rows(&mut conn, &select.replace("{}", "round_trip")).await
    );
    drop(conn);
    my.drop_database().await;
    pg.drop_database().await;
}

async fn read_all(source: &dyn Source) -> (u64, Vec<sluice_connectors::DirtySample>) {
    let counters = Arc::new(ShardCounters::default());
    let (sender, mut receiver) = batch_channel(4, Arc::clone(&counters));
    let reader = async {
        source.read(&KeyRange::All, &sender).await.expect("read");
        sender.finish().await.expect("finish");
    };
    let collector = async {
        let mut rows = 0u64;
        while let Some(batch) = receiver.next().await.expect("batch") {
            rows += batch.num_rows() as u64;
        }
        rows
    };
    let ((), rows) = tokio::join!(reader, collector);
    (rows, counters.take_dirty_samples())
}

#[tokio::test]
async fn zero_dates_long_times_and_wide_tinyints_are_dirty_or_null_on_purpose() {
    let db = MyDb::create().await;
    let mut conn = db.conn().await;
    execute(
        &mut conn,
        "SET SESSION sql_mode = ''; CREATE TABLE quirks (id INT PRIMARY KEY, d DATE, t TIME, flag TINYINT(1)) ENGINE=InnoDB; \
         INSERT INTO quirks VALUES (1, '0000-00-00', '01:00:00', 1), (2, '2024-01-01', '25:00:00', 0), \
         (3, '2024-01-02', '-01:00:00', 1), (4, '2024-01-03', '02:00:00', 2), (5, '2024-00-10', '03:00:00', 0)",
    )
    .await;
    let open = |connection: String| {
        let job = spec(&format!(
            "source: {{connection: {connection}, table: quirks}}\nsink: {{connection: {connection}, table: ignored}}\n"
        ));
        sluice_connectors::open_source(&job, &support::source_connection(&job)).expect("source")
    };
    let (rows, dirty) = read_all(open(db.connection_yaml()).as_ref()).await;
    assert_eq!(rows, 0, "every row has a quirk: {dirty:?}");
    let columns: Vec<&str> = dirty.iter().map(|sample| sample.column.as_str()).collect();
    assert_eq!(columns, vec!["d", "t", "t", "flag", "d"], "{dirty:?}");
    assert!(dirty[0].reason.contains("zero_date"), "{}", dirty[0].reason);
    assert!(
        dirty[3].reason.contains("tinyint1_as_boolean"),
        "{}",
        dirty[3].reason
    );

    let (rows, dirty) = read_all(
        open(db.connection_yaml_with(", zero_date: \"null\", tinyint1_as_boolean: false")).as_ref(),
    )
    .await;
    assert_eq!(rows, 3, "{dirty:?}");
    assert_eq!(dirty.len(), 2, "times out of range stay dirty: {dirty:?}");
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM quirks").await, 5);
    drop(conn);
    db.drop_database().await;
}

#[tokio::test]
async fn a_query_source_runs_as_one_shard() {
    let db = MyDb::create().await;
    let mut conn = db.conn().await;
    execute(&mut conn, ALL_TYPES).await;
    execute(&mut conn, ROWS).await;
    let job = spec(&format!(
        "source: {{connection: {0}, query: \"SELECT id, vc, d65 FROM all_types WHERE id > 1\"}}\nsink: {{connection: {0}, table: from_query, create_table: true}}\n",
        db.connection_yaml()
    ));
    let source =
        sluice_connectors::open_source(&job, &support::source_connection(&job)).expect("source");
    let plan = source
        .plan(&sluice_connectors::PlanRequest {
            parallelism: 4,
            shard_rows: 1000,
        })
        .await
        .expect("plan");
    assert_eq!(plan.ranges, vec![KeyRange::All]);
    run_job(&job, "from-query").await;
    assert_eq!(
        text_rows(
            &mut conn,
            "SELECT id, vc, d65 FROM all_types WHERE id > 1 ORDER BY id"
        )
        .await,
        text_rows(&mut conn, "SELECT * FROM from_query ORDER BY id").await
    );
    drop(conn);
    db.drop_database().await;
}
