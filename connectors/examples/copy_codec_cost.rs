//! Measures the CPU cost per row of the PostgreSQL binary COPY codec on the column types of
//! `bench/pg_to_pg.sh` (bigint, integer, numeric(12,2), double precision, boolean, text, text,
//! timestamptz, date), without a server.
//!
//! It builds Arrow batches with the benchmark's values, encodes them to COPY rows
//! (`copy_encode::encode_batch`, what the sink does), feeds the stream to a
//! `copy_decode::CopyDecoder` one row per chunk (PostgreSQL sends one CopyData message per row,
//! which is what the source receives), checks that the decoded batches equal the originals,
//! and prints ns/row for each direction. Exits with status 1 when the round trip differs.
//!
//! ```text
//! cargo run --release -p sluice-connectors --example copy_codec_cost -- [rows] [repeats] [null_every]
//! ```
//! `rows` defaults to 1,000,000, `repeats` (timed passes, the best is printed) to 3,
//! `null_every` (every n-th value of the nullable columns is NULL; 0 = none, like the benchmark)
//! to 0. Under `valgrind --tool=callgrind`, the inclusive costs of `encode_all` and
//! `decode_all` are the instruction counts of each direction.

use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{Schema, SchemaRef};
use sluice_connectors::postgres::copy_decode::CopyDecoder;
use sluice_connectors::postgres::copy_encode::{
    copy_header, copy_trailer, encode_batch, EncodedRows, Scratch,
};
use sluice_connectors::postgres::types::PgType;
use std::sync::Arc;
use std::time::Instant;

const BATCH_ROWS: usize = 8192;

fn columns() -> Vec<(&'static str, PgType)> {
    vec![
        ("id", PgType::Int8),
        ("account", PgType::Int4),
        (
            "amount",
            PgType::Numeric {
                precision: 12,
                scale: 2,
            },
        ),
        ("price", PgType::Float8),
        ("active", PgType::Bool),
        (
            "name",
            PgType::Text {
                oid: 25,
                typmod: -1,
            },
        ),
        (
            "note",
            PgType::Text {
                oid: 25,
                typmod: -1,
            },
        ),
        ("created_at", PgType::Timestamptz),
        ("day", PgType::Date),
    ]
}

/// A stand-in for md5(g): 32 hex digits that vary with g.
fn pseudo_md5(g: i64) -> String {
    let a = (g as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let b = a.rotate_left(29) ^ 0xD6E8_FEB8_6659_FD93;
    format!("{a:016x}{b:016x}")
}

/// Rows `first..first + count` of the benchmark table (`g` counts from 1), as the generator
/// SQL of bench/pg_to_pg.sh computes them; with `null_every > 0` every such value of the
/// nullable columns is NULL.
fn make_batch(schema: &SchemaRef, first: i64, count: usize, null_every: i64) -> RecordBatch {
    let rows: Vec<i64> = (first..first + count as i64).collect();
    let null = |g: i64| null_every > 0 && g % null_every == 0;
    let id: ArrayRef = Arc::new(Int64Array::from(rows.clone()));
    let account: ArrayRef = Arc::new(Int32Array::from(
        rows.iter()
            .map(|g| ((g * 7919) % 100_000) as i32)
            .collect::<Vec<_>>(),
    ));
    // ((g * 31) % 1000000) / 100.0 as numeric(12,2): unscaled = (g * 31) % 1000000.
    let amount: ArrayRef = Arc::new(
        Decimal128Array::from(
            rows.iter()
                .map(|g| (!null(*g)).then_some(i128::from((g * 31) % 1_000_000)))
                .collect::<Vec<_>>(),
        )
        .with_precision_and_scale(12, 2)
        .expect("decimal type"),
    );
    let price: ArrayRef = Arc::new(Float64Array::from(
        rows.iter()
            .map(|g| (!null(*g)).then_some(*g as f64 * 0.37))
            .collect::<Vec<_>>(),
    ));
    let active: ArrayRef = Arc::new(BooleanArray::from(
        rows.iter()
            .map(|g| (!null(*g)).then_some(g % 3 == 0))
            .collect::<Vec<_>>(),
    ));
    let name: ArrayRef = Arc::new(StringArray::from(
        rows.iter()
            .map(|g| (!null(*g)).then(|| format!("customer-{:08}", g % 99_991)))
            .collect::<Vec<_>>(),
    ));
    let note: ArrayRef = Arc::new(StringArray::from(
        rows.iter()
            .map(|g| (!null(*g)).then(|| format!("{} {}", pseudo_md5(*g), g % 1000)))
            .collect::<Vec<_>>(),
    ));
    // 2024-01-01 00:00:00+00 + g seconds.
    let created_at: ArrayRef = Arc::new(
        TimestampMicrosecondArray::from(
            rows.iter()
                .map(|g| (!null(*g)).then_some((1_704_067_200 + g) * 1_000_000))
                .collect::<Vec<_>>(),
        )
        .with_timezone("UTC"),
    );
    // 2020-01-01 + (g % 2000) days.
    let day: ArrayRef = Arc::new(Date32Array::from(
        rows.iter()
            .map(|g| (!null(*g)).then_some(18_262 + (g % 2000) as i32))
            .collect::<Vec<_>>(),
    ));
    RecordBatch::try_new(
        Arc::clone(schema),
        vec![
            id, account, amount, price, active, name, note, created_at, day,
        ],
    )
    .expect("batch")
}

/// Encodes every batch as the sink does; returns the encoded rows of each batch.
#[inline(never)]
fn encode_all(batches: &[RecordBatch], names: &[String], types: &[PgType]) -> Vec<EncodedRows> {
    let mut scratch = Scratch::default();
    let mut dirty = Vec::new();
    let encoded = batches
        .iter()
        .map(|batch| encode_batch(batch, names, types, &mut scratch, &mut dirty))
        .collect();
    assert!(dirty.is_empty(), "dirty rows while encoding: {dirty:?}");
    encoded
}

/// Decodes the encoded rows as the source does, one row per pushed chunk.
#[inline(never)]
fn decode_all(schema: &SchemaRef, types: &[PgType], chunks: &[bytes::Bytes]) -> Vec<RecordBatch> {
    let mut decoder = CopyDecoder::new(Arc::clone(schema), types.to_vec(), BATCH_ROWS);
    let mut batches = Vec::new();
    let mut out = Vec::new();
    let mut dirty = Vec::new();
    for chunk in chunks {
        decoder
            .push(chunk, &mut batches, &mut dirty)
            .expect("decode");
        // The source hands each batch on at once.
        out.append(&mut batches);
    }
    decoder.finish(&mut batches).expect("finish");
    out.append(&mut batches);
    assert!(dirty.is_empty(), "dirty rows while decoding: {dirty:?}");
    out
}

/// One chunk per row, the header with the first row and the trailer alone, as the server
/// sends them.
fn row_chunks(encoded: &[EncodedRows]) -> Vec<bytes::Bytes> {
    let mut chunks = Vec::new();
    let mut header = Some(copy_header());
    for rows in encoded {
        for index in 0..rows.len() {
            let row = rows.rows(index, index + 1);
            match header.take() {
                Some(header) => {
                    let mut first = header.to_vec();
                    first.extend_from_slice(&row);
                    chunks.push(bytes::Bytes::from(first));
                }
                None => chunks.push(row),
            }
        }
    }
    chunks.push(copy_trailer());
    chunks
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rows: usize = args.next().map_or(1_000_000, |a| a.parse().expect("rows"));
    let repeats: usize = args.next().map_or(3, |a| a.parse().expect("repeats"));
    let null_every: i64 = args.next().map_or(0, |a| a.parse().expect("null_every"));
    let columns = columns();
    let names: Vec<String> = columns.iter().map(|(name, _)| name.to_string()).collect();
    let types: Vec<PgType> = columns.iter().map(|(_, pg_type)| pg_type.clone()).collect();
    let schema: SchemaRef = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, pg_type)| pg_type.arrow_field(name))
            .collect::<Vec<_>>(),
    ));
    let batches: Vec<RecordBatch> = (0..rows)
        .step_by(BATCH_ROWS)
        .map(|start| {
            make_batch(
                &schema,
                start as i64 + 1,
                BATCH_ROWS.min(rows - start),
                null_every,
            )
        })
        .collect();

    let mut best_encode = f64::MAX;
    let mut best_decode = f64::MAX;
    let mut bytes = 0usize;
    for _ in 0..repeats.max(1) {
        let started = Instant::now();
        let encoded = encode_all(&batches, &names, &types);
        best_encode = best_encode.min(started.elapsed().as_secs_f64());
        bytes = encoded.iter().map(|rows| rows.bytes.len()).sum();
        let chunks = row_chunks(&encoded);
        drop(encoded);
        let started = Instant::now();
        let decoded = decode_all(&schema, &types, &chunks);
        best_decode = best_decode.min(started.elapsed().as_secs_f64());
        let decoded_rows: usize = decoded.iter().map(RecordBatch::num_rows).sum();
        if decoded_rows != rows || decoded.len() != batches.len() {
            eprintln!(
                "round trip differs: {decoded_rows} rows in {} batches, expected {rows} in {}",
                decoded.len(),
                batches.len()
            );
            std::process::exit(1);
        }
        for (index, (original, back)) in batches.iter().zip(&decoded).enumerate() {
            for (column, name) in names.iter().enumerate() {
                if original.column(column).to_data() != back.column(column).to_data() {
                    eprintln!("round trip differs: batch {index}, column {name}");
                    std::process::exit(1);
                }
            }
        }
    }
    let per_row = |seconds: f64| seconds * 1e9 / rows as f64;
    println!(
        "rows={rows} batch_rows={BATCH_ROWS} null_every={null_every} copy_bytes_per_row={:.1}",
        bytes as f64 / rows as f64
    );
    println!(
        "encode_ns_per_row={:.1} decode_ns_per_row={:.1} total_ns_per_row={:.1} (best of {repeats})",
        per_row(best_encode),
        per_row(best_decode),
        per_row(best_encode + best_decode)
    );
    println!("round trip: equal");
}
