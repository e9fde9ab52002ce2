//! PostgreSQL splitting: skewed integer keys give balanced shards; text, uuid and ctid splits
//! cover every row exactly once.

#[path = "postgres_support.rs"]
mod support;

use sluice_common::records::KeyRange;
use sluice_connectors::checksum::TableDigest;
use sluice_connectors::{PlanRequest, Source};
use support::{count, digest_range, spec, TestDb};

fn source(db: &TestDb, extra: &str) -> Box<dyn Source> {
    let job = spec(&format!(
        "source: {{connection: {conn}, {extra}}}\nsink: {{connection: {conn}, table: ignored}}\n",
        conn = db.connection_yaml()
    ));
    sluice_connectors::open_source(&job, &support::source_connection(&job)).expect("open source")
}

/// Reads every planned range; returns each range's row count and the merged digest.
async fn read_plan(
    source: &dyn Source,
    request: PlanRequest,
) -> (Vec<KeyRange>, Vec<u64>, TableDigest) {
    let plan = source.plan(&request).await.expect("plan");
    let mut sizes = Vec::new();
    let mut merged = TableDigest::default();
    for range in &plan.ranges {
        let digest = digest_range(source, range).await;
        sizes.push(digest.rows);
        merged = merged.merge(digest);
    }
    (plan.ranges, sizes, merged)
}

const SKEWED: &str = "CREATE TABLE skewed (id bigint NOT NULL, payload text);
    INSERT INTO skewed
    SELECT key, md5(key::text) FROM (
      SELECT g::bigint * 100000 / 90000 AS key FROM generate_series(0, 89999) g
      UNION ALL SELECT 100000 + g * 990 FROM generate_series(0, 9999) g
    ) keys ORDER BY random()";

fn assert_balanced(sizes: &[u64], total: u64) {
    assert_eq!(sizes.iter().sum::<u64>(), total, "{sizes:?}");
    let largest = *sizes.iter().max().expect("shards");
    let smallest = *sizes.iter().min().expect("shards");
    assert!(
        largest <= 2 * smallest.max(1),
        "shard sizes not within 2x: {sizes:?}"
    );
}

#[tokio::test]
async fn skewed_integer_key_gives_shards_within_2x_from_histogram_and_from_sample() {
    let db = TestDb::create().await;
    let client = db.client().await;
    client.batch_execute(SKEWED).await.expect("skewed table");
    let source = source(&db, "table: skewed, split_pk: id");
    // 10 shards: quantiles of the pg_stats histogram (ANALYZE runs on demand).
    let (ranges, sizes, digest) = read_plan(
        source.as_ref(),
        PlanRequest {
            parallelism: 2,
            shard_rows: 10_000,
        },
    )
    .await;
    assert!(
        ranges
            .iter()
            .all(|range| matches!(range, KeyRange::Int { .. })),
        "NOT NULL key: no null shard"
    );
    assert!(ranges.len() >= 8, "{ranges:?}");
    assert_balanced(&sizes, 100_000);
    assert_eq!(digest, digest_range(source.as_ref(), &KeyRange::All).await);
    // 40 shards: finer than the histogram, so quantiles of a TABLESAMPLE.
    let (ranges, sizes, _) = read_plan(
        source.as_ref(),
        PlanRequest {
            parallelism: 10,
            shard_rows: 2_500,
        },
    )
    .await;
    assert!(ranges.len() >= 30, "{ranges:?}");
    assert_balanced(&sizes, 100_000);
    drop(client);
    db.drop_database().await;
}

#[tokio::test]
async fn evenly_spread_key_gets_even_ranges_and_user_bounds_are_used() {
    let db = TestDb::create().await;
    let client = db.client().await;
    client
        .batch_execute("CREATE TABLE even (id integer, day date, at timestamptz); INSERT INTO even SELECT g, DATE '2020-01-01' + g % 1000, TIMESTAMPTZ '2020-01-01 00:00:00+00' + g * INTERVAL '1 minute' FROM generate_series(1, 20000) g; INSERT INTO even VALUES (NULL, NULL, NULL)")
        .await
        .expect("table");
    let by_id = source(&db, "table: even, split_pk: id");
    let (ranges, sizes, _) = read_plan(
        by_id.as_ref(),
        PlanRequest {
            parallelism: 1,
            shard_rows: 5_000,
        },
    )
    .await;
    assert_eq!(
        ranges.last(),
        Some(&KeyRange::Null),
        "nullable key adds a NULL shard"
    );
    assert_eq!(*sizes.last().expect("null shard"), 1);
    assert_balanced(&sizes[..sizes.len() - 1], 20_000);
    let by_bounds = source(
        &db,
        "table: even, split_pk: id, split_bounds: [15000, 5000]",
    );
    let plan = by_bounds
        .plan(&PlanRequest {
            parallelism: 1,
            shard_rows: 5_000,
        })
        .await
        .expect("plan");
    assert_eq!(
        plan.ranges,
        vec![
            KeyRange::Int {
                lo: None,
                hi: Some(5000)
            },
            KeyRange::Int {
                lo: Some(5000),
                hi: Some(15000)
            },
            KeyRange::Int {
                lo: Some(15000),
                hi: None
            },
            KeyRange::Null
        ]
    );
    for (key, bounds) in [
        ("day", "[\"2020-06-01\", \"2021-01-01\"]"),
        ("at", "[\"2020-01-05 00:00:00+00\"]"),
    ] {
        let split = source(
            &db,
            &format!("table: even, split_pk: {key}, split_bounds: {bounds}"),
        );
        let (ranges, sizes, digest) = read_plan(
            split.as_ref(),
            PlanRequest {
                parallelism: 1,
                shard_rows: 5_000,
            },
        )
        .await;
        assert_eq!(
            ranges.len(),
            bounds.matches(',').count() + 3,
            "{key}: {ranges:?}"
        );
        assert!(sizes.iter().all(|size| *size > 0), "{key}: {sizes:?}");
        assert_eq!(
            digest,
            digest_range(split.as_ref(), &KeyRange::All).await,
            "{key}"
        );
        let planned = source(&db, &format!("table: even, split_pk: {key}"));
        let (ranges, sizes, digest) = read_plan(
            planned.as_ref(),
            PlanRequest {
                parallelism: 2,
                shard_rows: 2_000,
            },
        )
        .await;
        assert_balanced(&sizes[..sizes.len() - 1], 20_000);
        assert!(ranges.len() > 5, "{key}: {ranges:?}");
        assert_eq!(digest.rows, 20_001, "{key}");
    }
    drop(client);
    db.drop_database().await;
}

#[tokio::test]
async fn text_uuid_and_ctid_splits_cover_every_row_exactly_once() {
    let db = TestDb::create().await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE words (id bigint, word text, code varchar(40), u uuid, filler text);
             INSERT INTO words SELECT g, CASE WHEN g % 97 = 0 THEN NULL WHEN g % 5 = 0 THEN 'Ärger ' || g WHEN g % 7 = 0 THEN 'zebra ' || g ELSE md5(g::text) END,
               'C-' || (g % 50), md5(g::text)::uuid, repeat('x', 100)
             FROM generate_series(1, 30000) g",
        )
        .await
        .expect("table");
    let total = count(&client, "SELECT count(*) FROM words").await as u64;
    let columns = "columns: [id, word, code, filler]";
    let everything = digest_range(
        source(&db, &format!("table: words, {columns}")).as_ref(),
        &KeyRange::All,
    )
    .await;
    assert_eq!(everything.rows, total);
    for key in ["word", "code", "u"] {
        let split = source(&db, &format!("table: words, {columns}, split_pk: {key}"));
        let (ranges, sizes, digest) = read_plan(
            split.as_ref(),
            PlanRequest {
                parallelism: 4,
                shard_rows: 2_000,
            },
        )
        .await;
        assert!(ranges.len() > 5, "{key}: {ranges:?}");
        assert!(
            ranges
                .iter()
                .all(|range| matches!(range, KeyRange::Text { .. } | KeyRange::Null)),
            "{key}: {ranges:?}"
        );
        assert_eq!(
            digest, everything,
            "{key} split repeats or loses rows: {sizes:?}"
        );
    }
    let by_pages = source(&db, &format!("table: words, {columns}"));
    let (ranges, sizes, digest) = read_plan(
        by_pages.as_ref(),
        PlanRequest {
            parallelism: 4,
            shard_rows: 2_000,
        },
    )
    .await;
    assert!(
        ranges.len() > 5
            && ranges
                .iter()
                .all(|range| matches!(range, KeyRange::Pages { .. })),
        "{ranges:?}"
    );
    assert!(sizes.iter().all(|size| *size > 0), "{sizes:?}");
    assert_eq!(digest, everything);
    drop(client);
    db.drop_database().await;
}

#[tokio::test]
async fn without_split_pk_a_single_column_primary_key_splits_and_ctid_asks_for_pages() {
    let db = TestDb::create().await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE keyed (id bigint PRIMARY KEY, note text);
             INSERT INTO keyed SELECT g, repeat('k', 80) FROM generate_series(1, 30000) g;
             CREATE TABLE paired (a int, b int, note text, PRIMARY KEY (a, b));
             INSERT INTO paired SELECT g % 100, g, repeat('p', 80) FROM generate_series(1, 30000) g;
             CREATE TABLE priced (price numeric(12,2) PRIMARY KEY, note text);
             INSERT INTO priced SELECT g / 100.0, repeat('n', 80) FROM generate_series(1, 30000) g;
             ANALYZE keyed; ANALYZE paired; ANALYZE priced",
        )
        .await
        .expect("tables");
    let request = || PlanRequest {
        parallelism: 4,
        shard_rows: 2_000,
    };
    // (source options, whether every range must be a key range, else pages)
    let cases = [
        ("table: keyed", true),
        ("table: keyed, split_pk: ctid", false),
        ("table: paired", false),
        ("table: priced", false),
    ];
    for (options, by_key) in cases {
        let table = options
            .split(',')
            .next()
            .and_then(|table| table.strip_prefix("table: "))
            .expect("table name");
        let everything = digest_range(source(&db, options).as_ref(), &KeyRange::All).await;
        assert_eq!(everything.rows, 30_000, "{options}");
        let split = source(&db, options);
        let (ranges, sizes, digest) = read_plan(split.as_ref(), request()).await;
        assert!(ranges.len() > 5, "{options}: {ranges:?}");
        let expected_kind = |range: &KeyRange| {
            if by_key {
                matches!(range, KeyRange::Int { .. })
            } else {
                matches!(range, KeyRange::Pages { .. })
            }
        };
        assert!(ranges.iter().all(expected_kind), "{options}: {ranges:?}");
        assert!(sizes.iter().all(|size| *size > 0), "{options}: {sizes:?}");
        assert_eq!(
            digest, everything,
            "{options}: {table} split repeats or loses rows"
        );
    }

    // Page ranges take no bounds: refused before anything is read, naming the field.
    let job = spec(&format!(
        "source: {{connection: {conn}, table: keyed, split_pk: ctid, split_bounds: [100, 200]}}\n\
         sink: {{connection: {conn}, table: ignored}}\n",
        conn = db.connection_yaml()
    ));
    let error = sluice_connectors::open_source(&job, &support::source_connection(&job))
        .err()
        .expect("split_bounds with ctid is refused")
        .to_string();
    assert!(
        error.contains("source.split_bounds") && error.contains("ctid"),
        "{error}"
    );
    drop(client);
    db.drop_database().await;
}
