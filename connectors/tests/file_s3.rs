//! S3-compatible object storage against a real moto server started by the test:
//! PostgreSQL -> Parquet on S3 -> PostgreSQL through the connectors, and create-if-absent
//! commit markers deciding between racing attempts.

#[path = "file_support.rs"]
mod file_support;
#[path = "postgres_support.rs"]
mod support;

use file_support::{write_batches, Moto};
use sluice_common::records::KeyRange;
use sluice_connectors::checksum::digest_source;
use sluice_connectors::WriteOutcome;
use support::{identity, run_job, spec, text_rows, TestDb};

const PG_TYPES: &str = "CREATE TABLE source_rows (
    id bigint PRIMARY KEY, flag boolean, small smallint, big bigint, real_value real, double_value double precision,
    amount numeric(65,30), price numeric(12,2), name text, raw bytea, day date, moment time, wall timestamp, instant timestamptz,
    doc jsonb, tags integer[]);
  INSERT INTO source_rows
  SELECT g, g % 2 = 0, (g % 32767)::smallint, g::bigint * 1000003, g / 7.0, g / 3.0,
         (g || '.' || repeat('9', 30))::numeric(65,30), g / 100.0, 'név ' || g || ' 😀', decode(lpad(to_hex(g), 8, '0'), 'hex'),
         DATE '2000-01-01' + g, TIME '00:00:00' + g * INTERVAL '1 second', TIMESTAMP '1999-12-31 23:59:59.999999' + g * INTERVAL '1 minute',
         TIMESTAMPTZ '2020-02-29 12:00:00+00' + g * INTERVAL '1 microsecond', jsonb_build_object('g', g), ARRAY[g::int, NULL]
  FROM generate_series(1, 20000) g;
  INSERT INTO source_rows (id) VALUES (0);
  ANALYZE source_rows";

#[tokio::test]
async fn postgres_to_parquet_on_s3_to_postgres_keeps_every_row() {
    let moto = Moto::start();
    moto.create_bucket("lake");
    let pg = TestDb::create().await;
    let client = pg.client().await;
    client.batch_execute(PG_TYPES).await.expect("source table");
    let s3 = moto.connection_yaml(
        "lake",
        "exports/run1",
        ", format: parquet, row_group_rows: 2000",
    );
    let to_s3 = spec(&format!(
        "source: {{connection: {}, table: source_rows, split_pk: id}}\nsink: {{connection: {s3}, table: source_rows}}\n\
         settings: {{parallelism: 2, shard_rows: 5000}}\n",
        pg.connection_yaml()
    ));
    run_job(&to_s3, "pg-to-s3").await;
    let back = spec(&format!(
        "source: {{connection: {s3}, table: source_rows}}\nsink: {{connection: {}, table: copied_rows, create_table: true}}\n\
         settings: {{parallelism: 2, shard_rows: 3000}}\n",
        pg.connection_yaml()
    ));
    let lake = sluice_connectors::open_source(&back, &support::source_connection(&back))
        .expect("s3 source");
    let plan = lake
        .plan(&sluice_connectors::PlanRequest {
            parallelism: 2,
            shard_rows: 3000,
        })
        .await
        .expect("plan");
    assert_eq!(plan.estimated_rows, 20001);
    assert!(plan.ranges.len() > 2, "{:?}", plan.ranges);
    run_job(&back, "s3-to-pg").await;

    let original = sluice_connectors::open_source(&to_s3, &support::source_connection(&to_s3))
        .expect("pg source");
    let copied = sluice_connectors::open_sink_as_source(&back, &support::sink_connection(&back))
        .expect("pg copy");
    let expected = digest_source(original.as_ref(), &KeyRange::All)
        .await
        .expect("digest pg");
    assert_eq!(expected.rows, 20001);
    assert_eq!(
        digest_source(lake.as_ref(), &KeyRange::All)
            .await
            .expect("digest s3"),
        expected
    );
    assert_eq!(
        digest_source(copied.as_ref(), &KeyRange::All)
            .await
            .expect("digest copy"),
        expected
    );
    let columns = "id, flag, small, big, real_value, double_value, amount, price, name, raw, day, moment, wall, instant, doc, tags";
    assert_eq!(
        text_rows(
            &client,
            &format!("SELECT {columns} FROM source_rows ORDER BY id")
        )
        .await,
        text_rows(
            &client,
            &format!("SELECT {columns} FROM copied_rows ORDER BY id")
        )
        .await
    );
    drop(client);
    pg.drop_database().await;
}

#[tokio::test]
async fn racing_attempts_on_s3_commit_once_and_finalize_cleans_up() {
    let moto = Moto::start();
    moto.create_bucket("race");
    let s3 = moto.connection_yaml("race", "out", ", format: csv");
    let job = spec(&format!(
        "source: {{connection: {s3}}}\nsink: {{connection: {s3}}}\n"
    ));
    let sink = sluice_connectors::open_sink(&job, &support::sink_connection(&job)).expect("sink");
    let batch = arrow_array::RecordBatch::try_from_iter([(
        "id",
        std::sync::Arc::new(arrow_array::Int64Array::from(
            (0..1000).collect::<Vec<i64>>(),
        )) as arrow_array::ArrayRef,
    )])
    .expect("batch");
    sink.prepare(batch.schema()).await.expect("prepare");
    let first_shard = identity("s3-race", 1, 1);
    let second_shard = identity("s3-race", 1, 2);
    let (first, second) = tokio::join!(
        write_batches(sink.as_ref(), &first_shard, vec![batch.clone()]),
        write_batches(sink.as_ref(), &second_shard, vec![batch.clone()]),
    );
    let outcomes = [first.0, second.0];
    assert_eq!(
        outcomes
            .iter()
            .filter(|outcome| **outcome == WriteOutcome::Committed { rows: 1000 })
            .count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes.contains(&WriteOutcome::AlreadyCommitted),
        "{outcomes:?}"
    );
    let (late, _) = write_batches(
        sink.as_ref(),
        &identity("s3-race", 1, 3),
        vec![batch.clone()],
    )
    .await;
    assert_eq!(late, WriteOutcome::AlreadyCommitted);
    sink.finalize().await.expect("finalize");
    let source =
        sluice_connectors::open_source(&job, &support::source_connection(&job)).expect("source");
    let digest = digest_source(source.as_ref(), &KeyRange::All)
        .await
        .expect("read back");
    assert_eq!(digest.rows, 1000);
}
