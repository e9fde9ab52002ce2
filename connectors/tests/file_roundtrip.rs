//! Files on local disk: Parquet keeps every Arrow type and splits by row group, CSV and JSON
//! round-trip (GBK, NULL strings, quotes, newlines, unicode), shard attempts commit exactly once
//! and `finalize` leaves one set of files, and CSV -> MySQL through the connectors.

#[path = "file_support.rs"]
mod file_support;
#[path = "mysql_support.rs"]
mod mysql_support;
#[path = "postgres_support.rs"]
mod support;

use arrow_array::builder::{Int32Builder, ListBuilder};
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Decimal256Array,
    Float32Array, Float64Array, Int16Array, Int64Array, Int8Array, RecordBatch, StringArray,
    Time64MicrosecondArray, TimestampMicrosecondArray, UInt64Array, UInt8Array,
};
use arrow_buffer::i256;
use file_support::{files_under, write_batches};
use sluice_common::records::KeyRange;
use sluice_connectors::checksum::{digest_source, TableDigest};
use sluice_connectors::{PlanRequest, Sink, WriteOutcome};
use std::sync::Arc;
use support::{identity, run_job, spec};

fn every_type_batch(offset: i64, rows: usize) -> RecordBatch {
    let ids: Vec<i64> = (0..rows as i64).map(|index| offset + index).collect();
    let pick = |index: usize| index % 4 != 3;
    let mut list = ListBuilder::new(Int32Builder::new());
    for index in 0..rows {
        if pick(index) {
            list.values().append_value(index as i32);
            list.values().append_null();
            list.append(true);
        } else {
            list.append(false);
        }
    }
    RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(ids.clone())) as ArrayRef),
        (
            "i8",
            Arc::new(Int8Array::from_iter((0..rows).map(|i| {
                pick(i).then_some(if i % 2 == 0 { i8::MIN } else { i8::MAX })
            }))),
        ),
        (
            "i16",
            Arc::new(Int16Array::from_iter(
                (0..rows).map(|i| pick(i).then_some(i as i16)),
            )),
        ),
        (
            "u8",
            Arc::new(UInt8Array::from_iter(
                (0..rows).map(|i| pick(i).then_some(u8::MAX)),
            )),
        ),
        (
            "u64",
            Arc::new(UInt64Array::from_iter(
                (0..rows).map(|i| pick(i).then_some(u64::MAX - i as u64)),
            )),
        ),
        (
            "f32",
            Arc::new(Float32Array::from_iter(
                (0..rows).map(|i| pick(i).then_some(f32::MAX / (i as f32 + 1.0))),
            )),
        ),
        (
            "f64",
            Arc::new(Float64Array::from_iter(
                (0..rows).map(|i| pick(i).then_some(0.1 + i as f64)),
            )),
        ),
        (
            "d10",
            Arc::new(
                Decimal128Array::from_iter(
                    (0..rows).map(|i| pick(i).then_some(-9_999_999_999 + i as i128)),
                )
                .with_precision_and_scale(10, 2)
                .expect("decimal"),
            ),
        ),
        (
            "d65",
            Arc::new(
                Decimal256Array::from_iter((0..rows).map(|i| {
                    pick(i).then(|| {
                        i256::from_string(&format!("{}{i}", "9".repeat(60))).expect("i256")
                    })
                }))
                .with_precision_and_scale(65, 30)
                .expect("decimal"),
            ),
        ),
        (
            "text",
            Arc::new(StringArray::from_iter((0..rows).map(|i| match i % 4 {
                0 => Some(format!("héllo, \"世界\"\n😀 {i}")),
                1 => Some(String::new()),
                2 => Some(format!("plain {i}")),
                _ => None,
            }))),
        ),
        (
            "bytes",
            Arc::new(BinaryArray::from_iter(
                (0..rows).map(|i| pick(i).then(|| vec![0u8, 255, i as u8])),
            )),
        ),
        (
            "flag",
            Arc::new(BooleanArray::from_iter(
                (0..rows).map(|i| pick(i).then_some(i % 2 == 0)),
            )),
        ),
        (
            "day",
            Arc::new(Date32Array::from_iter(
                (0..rows).map(|i| pick(i).then_some(-719_162 + i as i32 * 1000)),
            )),
        ),
        (
            "clock",
            Arc::new(Time64MicrosecondArray::from_iter(
                (0..rows).map(|i| pick(i).then_some(86_399_999_999 - i as i64)),
            )),
        ),
        (
            "wall",
            Arc::new(TimestampMicrosecondArray::from_iter(
                (0..rows).map(|i| pick(i).then_some(-62_135_596_800_000_000 + i as i64)),
            )),
        ),
        (
            "instant",
            Arc::new(
                TimestampMicrosecondArray::from_iter(
                    (0..rows).map(|i| pick(i).then_some(1_700_000_000_123_456 + i as i64)),
                )
                .with_timezone("UTC"),
            ),
        ),
        ("list", Arc::new(list.finish())),
    ])
    .expect("batch")
}

fn file_yaml(path: &std::path::Path, extra: &str) -> String {
    format!("{{type: file, path: \"{}\"{extra}}}", path.display())
}

fn sink_of(yaml: &str) -> Box<dyn Sink> {
    let job = spec(&format!(
        "source: {{connection: {yaml}}}\nsink: {{connection: {yaml}}}\n"
    ));
    sluice_connectors::open_sink(&job, &support::sink_connection(&job)).expect("sink")
}

fn source_of(yaml: &str) -> Box<dyn sluice_connectors::Source> {
    let job = spec(&format!(
        "source: {{connection: {yaml}}}\nsink: {{connection: {yaml}}}\n"
    ));
    sluice_connectors::open_source(&job, &support::source_connection(&job)).expect("source")
}

fn digest_of(batches: &[RecordBatch]) -> TableDigest {
    let mut digest = TableDigest::default();
    for batch in batches {
        digest.add_batch(batch).expect("digest");
    }
    digest
}

#[tokio::test]
async fn parquet_keeps_every_arrow_type_and_splits_by_row_group() {
    let directory = tempfile::tempdir().expect("tempdir");
    let yaml = file_yaml(
        directory.path(),
        ", format: parquet, row_group_rows: 1000, parquet_compression: zstd",
    );
    let sink = sink_of(&yaml);
    let batches = vec![every_type_batch(0, 4000), every_type_batch(4000, 3500)];
    let expected = digest_of(&batches);
    sink.prepare(batches[0].schema()).await.expect("prepare");
    let (outcome, _) = write_batches(sink.as_ref(), &identity("pq", 0, 1), batches.clone()).await;
    assert_eq!(outcome, WriteOutcome::Committed { rows: 7500 });
    sink.finalize().await.expect("finalize");

    let source = source_of(&yaml);
    let schema = source.schema().await.expect("schema");
    assert_eq!(
        schema.fields(),
        batches[0].schema().fields(),
        "Parquet keeps the Arrow types"
    );
    let plan = source
        .plan(&PlanRequest {
            parallelism: 1,
            shard_rows: 2500,
        })
        .await
        .expect("plan");
    assert_eq!(plan.estimated_rows, 7500);
    assert!(
        plan.ranges.len() >= 3,
        "row groups make shards: {:?}",
        plan.ranges
    );
    let mut merged = TableDigest::default();
    for range in &plan.ranges {
        merged = merged.merge(digest_source(source.as_ref(), range).await.expect("shard"));
    }
    assert_eq!(merged, expected);
    assert_eq!(
        digest_source(source.as_ref(), &KeyRange::All)
            .await
            .expect("all"),
        expected
    );
}

fn text_batch() -> RecordBatch {
    RecordBatch::try_from_iter([
        (
            "id",
            Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as ArrayRef,
        ),
        (
            "name",
            Arc::new(StringArray::from(vec![
                Some("中文, \"quoted\""),
                Some(""),
                None,
                Some("line\nbreak"),
            ])) as ArrayRef,
        ),
        (
            "amount",
            Arc::new(Float64Array::from(vec![
                Some(0.1),
                Some(-2.5e10),
                None,
                Some(3.0),
            ])) as ArrayRef,
        ),
        (
            "ok",
            Arc::new(BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
            ])) as ArrayRef,
        ),
        (
            "day",
            Arc::new(Date32Array::from(vec![
                Some(0),
                Some(19_000),
                None,
                Some(-1),
            ])) as ArrayRef,
        ),
    ])
    .expect("batch")
}

#[tokio::test]
async fn csv_and_json_round_trip_text_with_gbk_and_null_strings() {
    for (format, extra) in [
        (
            "csv",
            ", format: csv, encoding: gbk, null_string: \"\\\\N\"",
        ),
        ("csv", ", format: csv, delimiter: \"|\", quote: \"'\""),
        ("json", ", format: json"),
        ("json", ", format: json, encoding: gbk, compression: gzip"),
    ] {
        let directory = tempfile::tempdir().expect("tempdir");
        let yaml = file_yaml(directory.path(), extra);
        let sink = sink_of(&yaml);
        let batch = text_batch();
        sink.prepare(batch.schema()).await.expect("prepare");
        let (outcome, _) =
            write_batches(sink.as_ref(), &identity("text", 3, 1), vec![batch.clone()]).await;
        assert_eq!(outcome, WriteOutcome::Committed { rows: 4 }, "{extra}");
        let source = source_of(&yaml);
        let read = digest_source(source.as_ref(), &KeyRange::All)
            .await
            .expect("read back");
        let expected = if format == "json" {
            // JSON has no date type: dates are written as text and read back as text.
            let mut columns = batch.columns().to_vec();
            columns[4] =
                arrow_cast::cast(&columns[4], &arrow_schema::DataType::Utf8).expect("cast");
            let fields: Vec<arrow_schema::Field> = batch
                .schema()
                .fields()
                .iter()
                .zip(&columns)
                .map(|(field, column)| {
                    arrow_schema::Field::new(field.name(), column.data_type().clone(), true)
                })
                .collect();
            let schema = Arc::new(arrow_schema::Schema::new(fields));
            digest_of(&[RecordBatch::try_new(schema, columns).expect("batch")])
        } else if extra.contains("null_string") {
            digest_of(&[batch])
        } else {
            // Without a NULL string an empty CSV field reads back as NULL (documented).
            let mut names: Vec<Option<&str>> =
                vec![Some("中文, \"quoted\""), None, None, Some("line\nbreak")];
            names.truncate(4);
            let mut columns = batch.columns().to_vec();
            columns[1] = Arc::new(StringArray::from(names));
            digest_of(&[RecordBatch::try_new(batch.schema(), columns).expect("batch")])
        };
        assert_eq!(read, expected, "{extra}");
        if extra.contains("gbk") && format == "csv" {
            let part = files_under(directory.path())
                .into_iter()
                .find(|name| name.starts_with("part-"))
                .expect("part");
            let bytes = std::fs::read(directory.path().join(part)).expect("read part");
            assert!(
                std::str::from_utf8(&bytes).is_err(),
                "the file is GBK, not UTF-8"
            );
            assert!(encoding_rs::GBK.decode(&bytes).0.contains("中文"));
        }
    }
}

#[tokio::test]
async fn attempts_commit_once_and_finalize_removes_the_losers() {
    let directory = tempfile::tempdir().expect("tempdir");
    let yaml = file_yaml(directory.path(), ", format: parquet");
    let sink = sink_of(&yaml);
    let batch = every_type_batch(0, 100);
    sink.prepare(batch.schema()).await.expect("prepare");

    // Attempt 2 commits; attempt 1 (a zombie) writes its whole part afterwards, then loses.
    let (second, _) =
        write_batches(sink.as_ref(), &identity("eo", 5, 2), vec![batch.clone()]).await;
    assert_eq!(second, WriteOutcome::Committed { rows: 100 });
    let (late, _) = write_batches(sink.as_ref(), &identity("eo", 5, 3), vec![batch.clone()]).await;
    assert_eq!(late, WriteOutcome::AlreadyCommitted);

    // Two attempts racing to the marker: exactly one wins, the loser deletes its own part.
    let shard_a = identity("eo", 6, 1);
    let shard_b = identity("eo", 6, 2);
    let (first, other) = tokio::join!(
        write_batches(sink.as_ref(), &shard_a, vec![batch.clone()]),
        write_batches(sink.as_ref(), &shard_b, vec![batch.clone()]),
    );
    let outcomes = [first.0, other.0];
    assert_eq!(
        outcomes
            .iter()
            .filter(|outcome| matches!(outcome, WriteOutcome::Committed { .. }))
            .count(),
        1,
        "{outcomes:?}"
    );

    // A reader that dies mid-shard aborts the upload: no part is left.
    let (sender, receiver) =
        sluice_connectors::batch_channel(4, Arc::new(sluice_connectors::ShardCounters::default()));
    sender.send(batch.clone()).await.expect("send");
    drop(sender);
    assert!(sink
        .write_shard(&identity("eo", 7, 1), receiver)
        .await
        .is_err());

    // A worker killed after its upload but before the marker leaves a part behind.
    let parts_before: Vec<String> = files_under(directory.path())
        .into_iter()
        .filter(|name| name.starts_with("part-"))
        .collect();
    std::fs::copy(
        directory.path().join(&parts_before[0]),
        directory.path().join("part-00005-a9-eo.parquet"),
    )
    .expect("orphan");
    let source = source_of(&yaml);
    let read = digest_source(source.as_ref(), &KeyRange::All)
        .await
        .expect("read");
    assert_eq!(
        read.rows, 200,
        "readers skip uncommitted parts even before finalize"
    );

    sink.finalize().await.expect("finalize");
    let files = files_under(directory.path());
    let parts: Vec<&String> = files
        .iter()
        .filter(|name| name.starts_with("part-"))
        .collect();
    assert_eq!(parts.len(), 2, "{files:?}");
    assert!(
        parts
            .iter()
            .any(|name| name.starts_with("part-00005-a2-eo")),
        "{files:?}"
    );
    assert!(
        files.contains(&"_sluice_commits/eo/5".to_string()),
        "{files:?}"
    );
    assert_eq!(
        digest_source(source.as_ref(), &KeyRange::All)
            .await
            .expect("read"),
        read
    );
}

#[tokio::test]
async fn csv_loads_into_mysql_through_the_connectors() {
    let directory = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        directory.path().join("people.csv"),
        "id,name,score,born,active\n1,\"Smith, Jane\",9.5,1990-01-02,true\n2,\"multi\nline \"\"quoted\"\"\",,2000-12-31,false\n3,Zoë 😀,-1.25,,\n4,bad score,not a number,2001-01-01,true\n",
    )
    .expect("csv");
    let my = mysql_support::MyDb::create().await;
    let job = spec(&format!(
        "source: {{connection: {}}}\nsink: {{connection: {}, table: people, create_table: true, keys: [id]}}\n",
        file_yaml(directory.path(), ", infer_rows: 3"),
        my.connection_yaml()
    ));
    let shards = run_job(&job, "csv-to-mysql").await;
    let samples: Vec<_> = shards
        .iter()
        .flat_map(|counters| counters.take_dirty_samples())
        .collect();
    assert_eq!(samples.len(), 1, "{samples:?}");
    assert_eq!(samples[0].column, "score");
    let mut conn = my.conn().await;
    let rows = mysql_support::text_rows(
        &mut conn,
        "SELECT id, name, score, born, active FROM people ORDER BY id",
    )
    .await;
    let text = |value: &str| Some(value.to_string());
    assert_eq!(
        rows,
        vec![
            vec![
                text("1"),
                text("Smith, Jane"),
                text("9.5"),
                text("1990-01-02"),
                text("1")
            ],
            vec![
                text("2"),
                text("multi\nline \"quoted\""),
                None,
                text("2000-12-31"),
                text("0")
            ],
            vec![text("3"), text("Zoë 😀"), text("-1.25"), None, None],
        ]
    );
    drop(conn);
    my.drop_database().await;
}

#[tokio::test]
async fn csv_keeps_unsigned_extremes_and_zip_codes_as_text() {
    let directory = tempfile::tempdir().expect("tempdir");
    let yaml = file_yaml(directory.path(), ", format: csv");
    let sink = sink_of(&yaml);
    let batch = RecordBatch::try_from_iter([
        (
            "big",
            Arc::new(UInt64Array::from(vec![u64::MAX, 1])) as ArrayRef,
        ),
        (
            "zip",
            Arc::new(StringArray::from(vec!["08123", "10001"])) as ArrayRef,
        ),
    ])
    .expect("batch");
    sink.prepare(batch.schema()).await.expect("prepare");
    let (outcome, _) =
        write_batches(sink.as_ref(), &identity("csv-extremes", 0, 1), vec![batch]).await;
    assert_eq!(outcome, WriteOutcome::Committed { rows: 2 });
    let source = source_of(&yaml);
    let schema = source.schema().await.expect("schema");
    assert_eq!(
        schema.field(0).data_type(),
        &arrow_schema::DataType::Utf8,
        "beyond int64: text, not a dirty row"
    );
    assert_eq!(
        schema.field(1).data_type(),
        &arrow_schema::DataType::Utf8,
        "leading zeros: text"
    );
    let expected = RecordBatch::try_from_iter([
        (
            "big",
            Arc::new(StringArray::from(vec!["18446744073709551615", "1"])) as ArrayRef,
        ),
        (
            "zip",
            Arc::new(StringArray::from(vec!["08123", "10001"])) as ArrayRef,
        ),
    ])
    .expect("batch");
    assert_eq!(
        digest_source(source.as_ref(), &KeyRange::All)
            .await
            .expect("read"),
        digest_of(&[expected])
    );
}

#[tokio::test]
async fn intervals_are_refused_by_a_parquet_sink_before_any_shard() {
    let directory = tempfile::tempdir().expect("tempdir");
    let yaml = file_yaml(directory.path(), ", format: parquet");
    let sink = sink_of(&yaml);
    let interval = arrow_array::IntervalMonthDayNanoArray::from(vec![
        arrow_array::types::IntervalMonthDayNanoType::make_value(1, 2, 3_000),
    ]);
    let batch =
        RecordBatch::try_from_iter([("span", Arc::new(interval) as ArrayRef)]).expect("batch");
    let error = sink.prepare(batch.schema()).await.expect_err("intervals");
    assert!(error.to_string().contains("column span"), "{error}");
    let (sender, receiver) =
        sluice_connectors::batch_channel(4, Arc::new(sluice_connectors::ShardCounters::default()));
    sender.send(batch).await.expect("send");
    sender.finish().await.expect("finish");
    assert!(sink
        .write_shard(&identity("interval", 0, 1), receiver)
        .await
        .is_err());
    assert!(
        files_under(directory.path()).is_empty(),
        "a failed shard leaves no file"
    );
}

#[tokio::test]
async fn csv_schema_reads_exact_decimals_and_offsets_as_utc_instants() {
    let directory = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        directory.path().join("prices.csv"),
        "id,amount,at\n1,9999999999999999999999999999.9999999999,2024-02-29T12:34:56.123456+02:00\n\
         2,-0.0000000001,1970-01-01T00:00:00Z\n3,,\n",
    )
    .expect("csv");
    let source = source_of(&file_yaml(
        directory.path(),
        ", format: csv, csv_schema: \"id:int64,amount:decimal(38;10),at:timestamptz\"",
    ));
    let expected = RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
        (
            "amount",
            Arc::new(
                Decimal128Array::from(vec![
                    Some(99_999_999_999_999_999_999_999_999_999_999_999_999),
                    Some(-1),
                    None,
                ])
                .with_precision_and_scale(38, 10)
                .expect("decimal"),
            ),
        ),
        (
            "at",
            Arc::new(
                TimestampMicrosecondArray::from(vec![Some(1_709_202_896_123_456), Some(0), None])
                    .with_timezone("UTC"),
            ),
        ),
    ])
    .expect("batch");
    let types = |schema: arrow_schema::SchemaRef| -> Vec<arrow_schema::DataType> {
        schema
            .fields()
            .iter()
            .map(|field| field.data_type().clone())
            .collect()
    };
    assert_eq!(
        types(source.schema().await.expect("schema")),
        types(expected.schema())
    );
    assert_eq!(
        digest_source(source.as_ref(), &KeyRange::All)
            .await
            .expect("read"),
        digest_of(&[expected])
    );
}

#[tokio::test]
async fn zoned_timestamps_are_written_to_csv_and_json_as_offset_instants() {
    let instants = TimestampMicrosecondArray::from(vec![Some(1_709_202_896_123_456), None])
        .with_timezone("UTC");
    let batch =
        RecordBatch::try_from_iter([("at", Arc::new(instants) as ArrayRef)]).expect("batch");
    for format in ["csv", "json"] {
        let directory = tempfile::tempdir().expect("tempdir");
        let yaml = file_yaml(directory.path(), &format!(", format: {format}"));
        let sink = sink_of(&yaml);
        sink.prepare(batch.schema()).await.expect("prepare");
        let (outcome, _) =
            write_batches(sink.as_ref(), &identity("zones", 0, 1), vec![batch.clone()]).await;
        assert_eq!(outcome, WriteOutcome::Committed { rows: 2 }, "{format}");
        let part = files_under(directory.path())
            .into_iter()
            .find(|name| name.starts_with("part-"))
            .expect("part");
        let text = std::fs::read_to_string(directory.path().join(part)).expect("read part");
        // The instant in UTC with its zone designator (`Z`), never the zone name.
        assert!(
            text.contains("2024-02-29T10:34:56.123456Z"),
            "{format}: {text}"
        );
    }
}

#[tokio::test]
async fn inferred_csv_timestamps_keep_fractions_the_sample_did_not_show() {
    // The sample (one record) shows whole seconds only; the later records' fractions must
    // survive (a column of seconds would cut them off silently).
    let (schema, read) = read_dataset(
        &[(
            "a.csv",
            "id,at\n1,2024-01-01 00:00:00\n2,2024-02-29 12:34:56.123456\n3,1969-12-31 23:59:59.5\n",
        )],
        ", format: csv, infer_rows: 1",
    )
    .await;
    assert_eq!(
        schema.field_with_name("at").expect("at").data_type(),
        &arrow_schema::DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, None)
    );
    let expected = RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
        (
            "at",
            Arc::new(TimestampMicrosecondArray::from(vec![
                1_704_067_200_000_000,
                1_709_210_096_123_456,
                -500_000,
            ])),
        ),
    ])
    .expect("batch");
    assert_eq!(read, digest_of(&[expected]));
}

#[tokio::test]
async fn csv_inference_samples_several_parts_of_a_dataset() {
    // The first part holds only small numbers; the second one a number no Int64 holds. Both are
    // sampled, so the column stays text and every row reads back (a schema from the first part
    // alone made the big values dirty rows).
    let (schema, read) = read_dataset(
        &[
            ("part-1.csv", "id,n\n1,7\n2,8\n"),
            ("part-2.csv", "id,n\n3,18446744073709551615\n"),
        ],
        ", format: csv",
    )
    .await;
    assert_eq!(
        schema.field_with_name("n").expect("n").data_type(),
        &arrow_schema::DataType::Utf8
    );
    let expected = RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
        (
            "n",
            Arc::new(StringArray::from(vec!["7", "8", "18446744073709551615"])),
        ),
    ])
    .expect("batch");
    assert_eq!(read, digest_of(&[expected]));
}

/// Writes `parts` (file name, text) into a fresh directory and reads it as a file source with
/// `options`: the inferred schema and the digest of every planned shard, merged.
async fn read_dataset(
    parts: &[(&str, &str)],
    options: &str,
) -> (arrow_schema::SchemaRef, TableDigest) {
    let directory = tempfile::tempdir().expect("tempdir");
    for (name, text) in parts {
        std::fs::write(directory.path().join(name), text).expect("write part");
    }
    let source = source_of(&file_yaml(directory.path(), options));
    let schema = source.schema().await.expect("schema");
    let plan = source
        .plan(&PlanRequest {
            parallelism: 1,
            shard_rows: 1_000,
        })
        .await
        .expect("plan");
    let mut read = TableDigest::default();
    for range in &plan.ranges {
        read = read.merge(digest_source(source.as_ref(), range).await.expect("read"));
    }
    (schema, read)
}

#[tokio::test]
async fn json_inference_samples_several_parts_of_a_dataset() {
    // Whole numbers in the first part, a fraction in the second: the column is Float64 and both
    // parts read (a schema from the first part alone made it Int64 and failed the second).
    let (schema, read) = read_dataset(
        &[
            (
                "part-1.json",
                "{\"id\": 1, \"x\": 1}\n{\"id\": 2, \"x\": 2}\n",
            ),
            ("part-2.json", "{\"id\": 3, \"x\": 2.5}\n"),
        ],
        ", format: json",
    )
    .await;
    assert_eq!(
        schema.field_with_name("x").expect("x").data_type(),
        &arrow_schema::DataType::Float64
    );
    let expected = RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
        ("x", Arc::new(Float64Array::from(vec![1.0, 2.0, 2.5]))),
    ])
    .expect("batch");
    assert_eq!(read, digest_of(&[expected]));
}
