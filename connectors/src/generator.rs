//! The `generator` source: deterministic synthetic rows of the common types, for demos, tests
//! and benchmarks. Row `id` is a pure function of `(seed, id)`, so any key range of the same
//! generator always yields the same rows, whichever worker reads it.
//!
//! Options: `rows` (required: ids run from 0 to rows - 1), `seed` (default 0),
//! `rows_per_second` (default 0, unlimited: paces each read to at most that many rows a second,
//! standing in for a slow remote source in demos and in the tests of elastic scaling).
//! Columns: `id` (Int64, the split key), `name` (Utf8), `amount` (Float64, two decimals),
//! `quantity` (Int32), `active` (Boolean), `created_at` (Timestamp µs UTC), `note` (Utf8 with
//! NULLs, empty strings and non-ASCII text).

use crate::channel::BatchSender;
use crate::error::{ConnectorError, Result};
use crate::postgres::split::int_ranges;
use crate::{PlanOutput, PlanRequest, Source};
use arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use sluice_common::records::{KeyBounds, KeyRange};
use sluice_common::spec::{ConnectionConfig, JobSpec};
use std::fmt::Write as _;
use std::sync::Arc;

/// Names of every generated column, in order.
pub const COLUMNS: [&str; 7] = [
    "id",
    "name",
    "amount",
    "quantity",
    "active",
    "created_at",
    "note",
];

/// 2020-01-01T00:00:00Z in microseconds.
const BASE_MICROS: i64 = 1_577_836_800_000_000;
/// About five years in microseconds.
const SPAN_MICROS: u64 = 5 * 365 * 24 * 3600 * 1_000_000;
const NOTES: [&str; 5] = [
    "plain ascii",
    "café au lait",
    "数据集成",
    "emoji 🚀 rocket",
    "tab\tand \"quotes\"",
];

/// Reads synthetic rows.
#[derive(Debug, Clone)]
pub struct GeneratorSource {
    rows: u64,
    seed: u64,
    rows_per_second: u64,
    split_bounds: Vec<i64>,
    projection: Vec<usize>,
    batch_rows: usize,
}

fn parse_u64(connection: &ConnectionConfig, name: &str, default: Option<u64>) -> Result<u64> {
    match (connection.option(name), default) {
        (Some(text), _) => text.parse().map_err(|_| {
            ConnectorError::config(
                format!("source.connection.{name}"),
                format!("\"{text}\" is not a non-negative integer"),
            )
        }),
        (None, Some(value)) => Ok(value),
        (None, None) => Err(ConnectorError::config(
            format!("source.connection.{name}"),
            "is required for a generator connection",
        )),
    }
}

impl GeneratorSource {
    /// Builds a generator from a job's source side and its connection.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad option, an unknown column or a split key other
    /// than `id`.
    pub fn new(spec: &JobSpec, connection: &ConnectionConfig) -> Result<Self> {
        let rows = parse_u64(connection, "rows", None)?;
        let seed = parse_u64(connection, "seed", Some(0))?;
        let rows_per_second = parse_u64(connection, "rows_per_second", Some(0))?;
        if let Some(split_pk) = &spec.source.split_pk {
            if split_pk != "id" {
                return Err(ConnectorError::config(
                    "source.split_pk",
                    format!("\"{split_pk}\" is not a generator column usable as key; use id"),
                ));
            }
        }
        let mut split_bounds = Vec::with_capacity(spec.source.split_bounds.len());
        for (index, bound) in spec.source.split_bounds.iter().enumerate() {
            let value = bound.as_i64().ok_or_else(|| {
                ConnectorError::config(
                    format!("source.split_bounds[{index}]"),
                    format!("{bound} is not an integer id"),
                )
            })?;
            split_bounds.push(value);
        }
        split_bounds.sort_unstable();
        split_bounds.dedup();
        let projection = if spec.source.columns.is_empty() {
            (0..COLUMNS.len()).collect()
        } else {
            let mut indexes = Vec::with_capacity(spec.source.columns.len());
            for (position, column) in spec.source.columns.iter().enumerate() {
                let index = COLUMNS
                    .iter()
                    .position(|name| name == column)
                    .ok_or_else(|| {
                        ConnectorError::config(
                            format!("source.columns[{position}]"),
                            format!(
                                "\"{column}\" is not a generator column; columns are: {}",
                                COLUMNS.join(", ")
                            ),
                        )
                    })?;
                indexes.push(index);
            }
            indexes
        };
        Ok(GeneratorSource {
            rows,
            seed,
            rows_per_second,
            split_bounds,
            projection,
            batch_rows: spec.settings.batch_rows as usize,
        })
    }

    /// Returns the full schema of the generator (every column).
    pub fn full_schema() -> Schema {
        Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, false),
            Field::new("amount", DataType::Float64, false),
            Field::new("quantity", DataType::Int32, false),
            Field::new("active", DataType::Boolean, false),
            Field::new(
                "created_at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("note", DataType::Utf8, true),
        ])
    }

    fn projected_schema(&self) -> Result<SchemaRef> {
        let projected = Self::full_schema()
            .project(&self.projection)
            .map_err(|source| ConnectorError::Arrow {
                context: "project schema".into(),
                source,
            })?;
        Ok(Arc::new(projected))
    }

    /// Returns the batch of rows `[start, end)`.
    ///
    /// # Errors
    /// [`ConnectorError::Arrow`] if the batch cannot be assembled (a bug).
    pub fn batch(&self, start: u64, end: u64) -> Result<RecordBatch> {
        let capacity = usize::try_from(end.saturating_sub(start)).unwrap_or(0);
        let mut ids = Int64Builder::with_capacity(capacity);
        let mut names = StringBuilder::with_capacity(capacity, capacity * 12);
        let mut amounts = Float64Builder::with_capacity(capacity);
        let mut quantities = Int32Builder::with_capacity(capacity);
        let mut actives = BooleanBuilder::with_capacity(capacity);
        let mut created = TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC");
        let mut notes = StringBuilder::with_capacity(capacity, capacity * 16);
        let mut text = String::with_capacity(64);
        for id in start..end {
            let hash = mix(self.seed ^ id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let signed_id = i64::try_from(id).unwrap_or(i64::MAX);
            ids.append_value(signed_id);
            text.clear();
            let _ = write!(text, "user-{:05}", hash % 100_000);
            names.append_value(&text);
            amounts.append_value((hash >> 8) as f64 % 1_000_000.0 / 100.0);
            quantities.append_value(i32::try_from((hash >> 20) % 1000).unwrap_or(0) - 100);
            actives.append_value(hash & 1 == 1);
            created
                .append_value(BASE_MICROS + i64::try_from((hash >> 3) % SPAN_MICROS).unwrap_or(0));
            match id % 7 {
                0 => notes.append_null(),
                3 if id % 2 == 1 => notes.append_value(""),
                _ => {
                    text.clear();
                    let _ = write!(
                        text,
                        "{} #{id}",
                        NOTES[(hash % NOTES.len() as u64) as usize]
                    );
                    notes.append_value(&text);
                }
            }
        }
        let all: [ArrayRef; 7] = [
            Arc::new(ids.finish()),
            Arc::new(names.finish()),
            Arc::new(amounts.finish()),
            Arc::new(quantities.finish()),
            Arc::new(actives.finish()),
            Arc::new(created.finish()),
            Arc::new(notes.finish()),
        ];
        let columns: Vec<ArrayRef> = self
            .projection
            .iter()
            .map(|index| Arc::clone(&all[*index]))
            .collect();
        RecordBatch::try_new(self.projected_schema()?, columns).map_err(|source| {
            ConnectorError::Arrow {
                context: "assemble generated batch".into(),
                source,
            }
        })
    }
}

/// Splits rows numbered `0..rows` into even id ranges, as many as `request` asks for.
pub(crate) fn plan_id_ranges(rows: u64, request: &PlanRequest) -> PlanOutput {
    let shard_count = request.target_shard_count(rows).min(rows.max(1));
    let step = rows.div_ceil(shard_count).max(1);
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < rows || ranges.is_empty() {
        let end = (start + step).min(rows);
        let lo = if start == 0 {
            None
        } else {
            i64::try_from(start).ok()
        };
        let hi = if end >= rows {
            None
        } else {
            i64::try_from(end).ok()
        };
        ranges.push(KeyRange::Int { lo, hi });
        if end >= rows {
            break;
        }
        start = end;
    }
    PlanOutput {
        ranges,
        estimated_rows: rows,
        key_bounds: id_key_bounds(rows),
    }
}

/// Smallest and largest id of rows numbered `0..rows` (`None` when there are none).
pub(crate) fn id_key_bounds(rows: u64) -> Option<KeyBounds> {
    rows.checked_sub(1)
        .and_then(|max| i64::try_from(max).ok())
        .map(|max| KeyBounds { min: 0, max })
}

/// Returns the ids `[start, end)` of rows numbered `0..rows` that a key range covers.
pub(crate) fn id_bounds(rows: u64, range: &KeyRange) -> (u64, u64) {
    match range {
        KeyRange::All => (0, rows),
        KeyRange::Null | KeyRange::Text { .. } | KeyRange::Pages { .. } => (0, 0),
        KeyRange::Int { lo, hi } => {
            let clip = |value: i64| u64::try_from(value.max(0)).unwrap_or(0).min(rows);
            let start = lo.map_or(0, clip);
            let end = hi.map_or(rows, clip);
            (start, end.max(start))
        }
    }
}

/// splitmix64 finaliser: a fast, well-distributed 64-bit mix.
fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[async_trait]
impl Source for GeneratorSource {
    async fn schema(&self) -> Result<SchemaRef> {
        self.projected_schema()
    }

    async fn plan(&self, request: &PlanRequest) -> Result<PlanOutput> {
        if !self.split_bounds.is_empty() {
            return Ok(PlanOutput {
                ranges: int_ranges(&self.split_bounds),
                estimated_rows: self.rows,
                key_bounds: id_key_bounds(self.rows),
            });
        }
        Ok(plan_id_ranges(self.rows, request))
    }

    async fn read(&self, range: &KeyRange, output: &BatchSender) -> Result<()> {
        let (start, end) = id_bounds(self.rows, range);
        let started = tokio::time::Instant::now();
        let mut position = start;
        while position < end {
            let batch_end = (position + self.batch_rows as u64).min(end);
            let batch = self.batch(position, batch_end)?;
            output.send(batch).await?;
            output
                .counters()
                .set_current_key((batch_end - 1).to_string());
            position = batch_end;
            if self.rows_per_second > 0 {
                let due = std::time::Duration::from_secs_f64(
                    (position - start) as f64 / self.rows_per_second as f64,
                );
                tokio::time::sleep_until(started + due).await;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{batch_channel, ShardCounters};
    use crate::checksum::TableDigest;
    use sluice_common::spec::{parse_job_spec, SpecFormat};

    fn generator(rows: u64) -> GeneratorSource {
        let spec = parse_job_spec(
            &format!("source: {{connection: {{type: generator, rows: {rows}}}}}\nsink: {{}}\nsettings: {{batch_rows: 1000}}"),
            SpecFormat::Yaml,
        )
        .expect("spec");
        let connection = ConnectionConfig {
            kind: "generator".into(),
            options: [("rows".to_string(), rows.to_string())].into(),
            ..Default::default()
        };
        GeneratorSource::new(&spec, &connection).expect("generator")
    }

    #[tokio::test]
    async fn rows_per_second_paces_the_read() {
        let mut paced = generator(3_000);
        paced.rows_per_second = 20_000;
        let started = std::time::Instant::now();
        let digest_paced = digest(&paced, &KeyRange::All).await;
        let elapsed = started.elapsed();
        assert!(
            elapsed >= std::time::Duration::from_millis(140),
            "3,000 rows at 20,000 rows/s take at least 150 ms, took {elapsed:?}"
        );
        assert_eq!(
            digest_paced,
            digest(&generator(3_000), &KeyRange::All).await
        );
    }

    async fn digest(source: &GeneratorSource, range: &KeyRange) -> TableDigest {
        let (sender, mut receiver) = batch_channel(4, Arc::new(ShardCounters::default()));
        let reader = {
            let source = source.clone();
            let range = range.clone();
            tokio::spawn(async move {
                source.read(&range, &sender).await.expect("read");
                sender.finish().await.expect("finish");
            })
        };
        let mut digest = TableDigest::default();
        while let Some(batch) = receiver.next().await.expect("next") {
            digest.add_batch(&batch).expect("digest");
        }
        reader.await.expect("reader");
        digest
    }

    #[tokio::test]
    async fn shards_cover_every_row_exactly_once() {
        let source = generator(10_007);
        let plan = source
            .plan(&PlanRequest {
                parallelism: 2,
                shard_rows: 1000,
            })
            .await
            .expect("plan");
        assert_eq!(plan.ranges.len(), 11);
        let mut combined = TableDigest::default();
        for range in &plan.ranges {
            combined = combined.merge(digest(&source, range).await);
        }
        assert_eq!(combined, digest(&source, &KeyRange::All).await);
        assert_eq!(combined.rows, 10_007);
    }

    #[test]
    fn rows_are_deterministic() {
        let source = generator(100);
        let first = source.batch(10, 20).expect("batch");
        let second = source.batch(10, 20).expect("batch");
        assert_eq!(first, second);
        assert_eq!(first.num_rows(), 10);
        assert_eq!(first.column(6).null_count(), 1, "id 14 has a NULL note");
    }
}
