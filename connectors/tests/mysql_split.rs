//! MySQL splitting: the planned shards of integer, date and string keys (a case- and
//! accent-insensitive collation, trailing spaces, NULL keys) cover every row exactly once.

#[path = "mysql_support.rs"]
mod mysql_support;
#[path = "postgres_support.rs"]
mod support;

use mysql_support::{count, execute, MyDb};
use sluice_common::records::KeyRange;
use sluice_connectors::checksum::{digest_source, TableDigest};
use sluice_connectors::PlanRequest;
use support::spec;

async fn check_cover(
    db: &MyDb,
    source_yaml: &str,
    expected_rows: i64,
    min_shards: usize,
) -> Vec<KeyRange> {
    let job = spec(&format!(
        "source: {{connection: {conn}, {source_yaml}}}\nsink: {{connection: {conn}, table: ignored}}\n",
        conn = db.connection_yaml()
    ));
    let source =
        sluice_connectors::open_source(&job, &support::source_connection(&job)).expect("source");
    let plan = source
        .plan(&PlanRequest {
            parallelism: 4,
            shard_rows: 1000,
        })
        .await
        .expect("plan");
    assert!(
        plan.ranges.len() >= min_shards,
        "{source_yaml}: {:?}",
        plan.ranges
    );
    let mut merged = TableDigest::default();
    for range in &plan.ranges {
        merged = merged.merge(
            digest_source(source.as_ref(), range)
                .await
                .expect("digest shard"),
        );
    }
    let whole = digest_source(source.as_ref(), &KeyRange::All)
        .await
        .expect("digest all");
    assert_eq!(whole.rows as i64, expected_rows, "{source_yaml}");
    assert_eq!(merged, whole, "{source_yaml}: shards {:?}", plan.ranges);
    plan.ranges
}

#[tokio::test]
async fn integer_date_and_string_keys_cover_every_row_exactly_once() {
    let db = MyDb::create().await;
    let mut conn = db.conn().await;
    execute(
        &mut conn,
        "CREATE TABLE events (id BIGINT NULL, day DATE NULL, code VARCHAR(40) COLLATE utf8mb4_unicode_ci NULL,
                              amount DECIMAL(12,2), KEY (id)) ENGINE=InnoDB;
         INSERT INTO events SELECT CAST(seq AS SIGNED) * 7 - 3000, DATE_ADD('2020-01-01', INTERVAL seq % 900 DAY),
                CONCAT(ELT(1 + seq % 6, 'a', 'A', 'b', 'É', 'e', '😀'), LPAD(seq % 500, 3, '0'), IF(seq % 5 = 0, ' ', '')),
                seq / 3 FROM seq_1_to_20000;
         INSERT INTO events VALUES (NULL, NULL, NULL, 1), (NULL, '2020-06-01', 'a', 2), (5, NULL, NULL, 3);
         ANALYZE TABLE events",
    )
    .await;
    let total = count(&mut conn, "SELECT COUNT(*) FROM events").await;
    let ranges = check_cover(&db, "table: events, split_pk: id", total, 5).await;
    assert_eq!(
        ranges.last(),
        Some(&KeyRange::Null),
        "nullable key gets a NULL shard"
    );
    check_cover(&db, "table: events, split_pk: day", total, 5).await;
    let text = check_cover(&db, "table: events, split_pk: code", total, 5).await;
    assert!(
        text.iter()
            .any(|range| matches!(range, KeyRange::Text { .. })),
        "{text:?}"
    );
    let filtered = count(&mut conn, "SELECT COUNT(*) FROM events WHERE amount > 100").await;
    check_cover(
        &db,
        "table: events, split_pk: code, where: \"amount > 100\"",
        filtered,
        2,
    )
    .await;
    check_cover(
        &db,
        "table: events, split_pk: id, split_bounds: [0, 1000, 50000]",
        total,
        4,
    )
    .await;
    check_cover(
        &db,
        "table: events, split_pk: day, split_bounds: [\"2020-03-01\", \"2021-01-01\"]",
        total,
        3,
    )
    .await;
    drop(conn);
    db.drop_database().await;
}

#[tokio::test]
async fn bad_split_keys_name_the_field_and_what_is_allowed() {
    let db = MyDb::create().await;
    let mut conn = db.conn().await;
    execute(&mut conn, "CREATE TABLE t (id INT, f DOUBLE) ENGINE=InnoDB").await;
    let open = |yaml: &str| {
        let job = spec(&format!(
            "source: {{connection: {conn}, {yaml}}}\nsink: {{connection: {conn}, table: ignored}}\n",
            conn = db.connection_yaml()
        ));
        sluice_connectors::open_source(&job, &support::source_connection(&job)).expect("source")
    };
    let request = PlanRequest {
        parallelism: 1,
        shard_rows: 1000,
    };
    let error = open("table: t, split_pk: f")
        .plan(&request)
        .await
        .expect_err("double key");
    assert!(
        error
            .to_string()
            .starts_with("source.split_pk: column \"f\""),
        "{error}"
    );
    let error = open("table: t, split_pk: nope")
        .plan(&request)
        .await
        .expect_err("missing key");
    assert!(error.to_string().contains("columns are: id, f"), "{error}");
    let error = open("table: missing")
        .plan(&request)
        .await
        .expect_err("missing table");
    assert!(error.to_string().contains("tables in database"), "{error}");
    let error = open("table: t, columns: [id, x]")
        .plan(&request)
        .await
        .expect_err("missing column");
    assert!(
        error.to_string().starts_with("source.columns[1]"),
        "{error}"
    );
    drop(conn);
    db.drop_database().await;
}

#[tokio::test]
async fn without_split_pk_a_single_column_primary_key_splits_the_table() {
    let db = MyDb::create().await;
    let mut conn = db.conn().await;
    execute(
        &mut conn,
        "CREATE TABLE keyed (id INT UNSIGNED PRIMARY KEY, note VARCHAR(80)) ENGINE=InnoDB;
         INSERT INTO keyed SELECT seq, REPEAT('k', 60) FROM seq_1_to_20000;
         CREATE TABLE named (code VARCHAR(20) PRIMARY KEY, note VARCHAR(80)) ENGINE=InnoDB;
         INSERT INTO named SELECT CONCAT('c-', LPAD(seq, 6, '0')), REPEAT('n', 60) FROM seq_1_to_20000;
         CREATE TABLE paired (a INT, b INT, note VARCHAR(80), PRIMARY KEY (a, b)) ENGINE=InnoDB;
         INSERT INTO paired SELECT seq % 100, seq, REPEAT('p', 60) FROM seq_1_to_20000;
         CREATE TABLE priced (price DECIMAL(12,2) PRIMARY KEY, note VARCHAR(80)) ENGINE=InnoDB;
         INSERT INTO priced SELECT seq / 100, REPEAT('d', 60) FROM seq_1_to_20000;
         ANALYZE TABLE keyed, named, paired, priced",
    )
    .await;
    let keyed = check_cover(&db, "table: keyed", 20_000, 5).await;
    assert!(
        keyed
            .iter()
            .all(|range| matches!(range, KeyRange::Int { .. })),
        "{keyed:?}"
    );
    let named = check_cover(&db, "table: named", 20_000, 5).await;
    assert!(
        named
            .iter()
            .all(|range| matches!(range, KeyRange::Text { .. })),
        "{named:?}"
    );
    // A composite or decimal primary key does not split: one shard, as without any key.
    for table in ["paired", "priced"] {
        let ranges = check_cover(&db, &format!("table: {table}"), 20_000, 1).await;
        assert_eq!(ranges, vec![KeyRange::All], "{table}");
    }
    drop(conn);
    db.drop_database().await;
}
