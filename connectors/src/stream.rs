//! The `stream` connection: DataX's `streamreader` and `streamwriter`, for trying jobs out.
//!
//! As a source it produces `rows` rows of constant values, one column per entry of the
//! `columns` option (a JSON list of `{"value": ..., "type": ...}`, DataX's own form; `name` is
//! optional and defaults to `column_1`, `column_2`, ...). Types: `string`, `long`, `double`,
//! `bool`/`boolean`, `date` (`yyyy-MM-dd HH:mm:ss`, or a date alone) and `bytes`; a `null`
//! value is a NULL of that type. Rows are numbered like the generator's, so the source splits
//! into shards and any range always yields the same rows.
//!
//! As a sink it prints every row to the worker's standard output (`print: true`, the default,
//! fields separated by `field_delimiter`, a tab by default, NULL as an empty field) or discards
//! the rows (`print: false`). It keeps no commit marker: a re-run shard prints again, so it
//! is for trying jobs out, not for data that must arrive exactly once.

use crate::channel::BatchSender;
use crate::error::{ConnectorError, Result};
use crate::generator::{id_bounds, plan_id_ranges};
use crate::{BatchReceiver, PlanOutput, PlanRequest, ShardIdentity, Sink, Source, WriteOutcome};
use arrow_array::{
    new_null_array, ArrayRef, BinaryArray, BooleanArray, Float64Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime};
use serde_json::Value;
use sluice_common::records::KeyRange;
use sluice_common::spec::{ConnectionConfig, JobSpec};
use std::io::Write as _;
use std::sync::Arc;

/// One constant column of a stream source.
#[derive(Debug, Clone, PartialEq)]
struct ConstantColumn {
    field: Field,
    value: Constant,
}

/// A column's value, typed.
#[derive(Debug, Clone, PartialEq)]
enum Constant {
    Null,
    Text(String),
    Long(i64),
    Double(f64),
    Bool(bool),
    /// Microseconds since the epoch, no time zone.
    Date(i64),
    Bytes(Vec<u8>),
}

/// Reads rows of constant values.
#[derive(Debug, Clone)]
pub struct StreamSource {
    rows: u64,
    schema: SchemaRef,
    /// One full batch (`batch_rows` rows); shorter batches are slices of it.
    template: RecordBatch,
}

impl StreamSource {
    /// Builds a stream source from a job's source side and its connection.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] naming the option (`source.connection.columns[1].type`) when
    /// `rows` or a column is malformed.
    pub fn new(spec: &JobSpec, connection: &ConnectionConfig) -> Result<Self> {
        let rows_text = connection.option("rows").ok_or_else(|| {
            ConnectorError::config(
                "source.connection.rows",
                "is required for a stream connection (the number of rows to produce)",
            )
        })?;
        let rows: u64 = rows_text.parse().map_err(|_| {
            ConnectorError::config(
                "source.connection.rows",
                format!("\"{rows_text}\" is not a non-negative integer"),
            )
        })?;
        let columns = parse_columns(connection.option("columns"))?;
        if spec.source.table.is_some() || spec.source.query.is_some() {
            return Err(ConnectorError::config(
                "source.table",
                "a stream source has no table or query; its rows come from connection.columns",
            ));
        }
        let schema: SchemaRef = Arc::new(Schema::new(
            columns
                .iter()
                .map(|column| column.field.clone())
                .collect::<Vec<_>>(),
        ));
        let batch_rows = (spec.settings.batch_rows as usize).max(1);
        let arrays = columns
            .iter()
            .map(|column| constant_array(&column.value, column.field.data_type(), batch_rows))
            .collect::<Vec<_>>();
        let template = RecordBatch::try_new(Arc::clone(&schema), arrays).map_err(|source| {
            ConnectorError::Arrow {
                context: "assemble constant batch".into(),
                source,
            }
        })?;
        Ok(StreamSource {
            rows,
            schema,
            template,
        })
    }
}

/// Parses the `columns` option: a JSON list of `{"value", "type"[, "name"]}`.
fn parse_columns(text: Option<&str>) -> Result<Vec<ConstantColumn>> {
    const PATH: &str = "source.connection.columns";
    let text = text.ok_or_else(|| {
        ConnectorError::config(
            PATH,
            "is required for a stream source: a list like [{\"value\": \"DataX\", \"type\": \"string\"}]",
        )
    })?;
    let parsed: Value = serde_json::from_str(text)
        .map_err(|error| ConnectorError::config(PATH, format!("is not a JSON list: {error}")))?;
    let Value::Array(entries) = parsed else {
        return Err(ConnectorError::config(PATH, "must be a list of columns"));
    };
    if entries.is_empty() {
        return Err(ConnectorError::config(
            PATH,
            "must list at least one column",
        ));
    }
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| parse_column(&format!("{PATH}[{index}]"), index, entry))
        .collect()
}

fn parse_column(path: &str, index: usize, entry: &Value) -> Result<ConstantColumn> {
    let Value::Object(map) = entry else {
        return Err(ConnectorError::config(
            path,
            "must be an object like {\"value\": 1, \"type\": \"long\"}",
        ));
    };
    for key in map.keys() {
        match key.as_str() {
            "value" | "type" | "name" => {}
            "random" | "incr" | "dateFormat" => {
                return Err(ConnectorError::config(
                    format!("{path}.{key}"),
                    "not supported yet: only constant values (\"value\") are",
                ))
            }
            other => {
                return Err(ConnectorError::config(
                    format!("{path}.{other}"),
                    "is not a key of a stream column; known keys: value, type, name",
                ))
            }
        }
    }
    let kind = map
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ConnectorError::config(
                format!("{path}.type"),
                "is required: string, long, double, bool, date or bytes",
            )
        })?
        .to_ascii_lowercase();
    let name = match map.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name.clone(),
        Some(_) => {
            return Err(ConnectorError::config(
                format!("{path}.name"),
                "must be a non-empty string",
            ))
        }
        None => format!("column_{}", index + 1),
    };
    let value = map.get("value").unwrap_or(&Value::Null);
    let bad_value = |expected: &str| {
        ConnectorError::config(
            format!("{path}.value"),
            format!("{value} is not {expected} (type {kind})"),
        )
    };
    let (data_type, constant) = match kind.as_str() {
        "string" => (
            DataType::Utf8,
            match value {
                Value::Null => Constant::Null,
                Value::String(text) => Constant::Text(text.clone()),
                other => Constant::Text(other.to_string()),
            },
        ),
        "long" => (
            DataType::Int64,
            match value {
                Value::Null => Constant::Null,
                Value::Number(number) => {
                    Constant::Long(number.as_i64().ok_or_else(|| bad_value("a 64-bit integer"))?)
                }
                Value::String(text) => Constant::Long(
                    text.trim()
                        .parse()
                        .map_err(|_| bad_value("a 64-bit integer"))?,
                ),
                _ => return Err(bad_value("a 64-bit integer")),
            },
        ),
        "double" => (
            DataType::Float64,
            match value {
                Value::Null => Constant::Null,
                Value::Number(number) => {
                    Constant::Double(number.as_f64().ok_or_else(|| bad_value("a number"))?)
                }
                Value::String(text) => {
                    Constant::Double(text.trim().parse().map_err(|_| bad_value("a number"))?)
                }
                _ => return Err(bad_value("a number")),
            },
        ),
        "bool" | "boolean" => (
            DataType::Boolean,
            match value {
                Value::Null => Constant::Null,
                Value::Bool(flag) => Constant::Bool(*flag),
                Value::String(text) if text.eq_ignore_ascii_case("true") => Constant::Bool(true),
                Value::String(text) if text.eq_ignore_ascii_case("false") => {
                    Constant::Bool(false)
                }
                _ => return Err(bad_value("true or false")),
            },
        ),
        "date" => (
            DataType::Timestamp(TimeUnit::Microsecond, None),
            match value {
                Value::Null => Constant::Null,
                Value::String(text) => Constant::Date(
                    parse_datetime(text)
                        .ok_or_else(|| bad_value("a date like \"2014-07-07 00:00:00\""))?,
                ),
                _ => return Err(bad_value("a date like \"2014-07-07 00:00:00\"")),
            },
        ),
        "bytes" => (
            DataType::Binary,
            match value {
                Value::Null => Constant::Null,
                Value::String(text) => Constant::Bytes(text.as_bytes().to_vec()),
                _ => return Err(bad_value("a string (its UTF-8 bytes)")),
            },
        ),
        other => {
            return Err(ConnectorError::config(
                format!("{path}.type"),
                format!("\"{other}\" is not a stream column type; use string, long, double, bool, date or bytes"),
            ))
        }
    };
    Ok(ConstantColumn {
        field: Field::new(name, data_type, true),
        value: constant,
    })
}

/// Parses `yyyy-MM-dd HH:mm:ss[.f]` or `yyyy-MM-dd` into microseconds since the epoch.
fn parse_datetime(text: &str) -> Option<i64> {
    let text = text.trim();
    let moment = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|date| date.and_hms_opt(0, 0, 0))
        })?;
    Some(moment.and_utc().timestamp_micros())
}

/// Returns an array of `rows` copies of `value`.
fn constant_array(value: &Constant, data_type: &DataType, rows: usize) -> ArrayRef {
    match value {
        Constant::Null => new_null_array(data_type, rows),
        Constant::Text(text) => Arc::new(StringArray::from(vec![text.as_str(); rows])),
        Constant::Long(number) => Arc::new(Int64Array::from(vec![*number; rows])),
        Constant::Double(number) => Arc::new(Float64Array::from(vec![*number; rows])),
        Constant::Bool(flag) => Arc::new(BooleanArray::from(vec![*flag; rows])),
        Constant::Date(micros) => Arc::new(TimestampMicrosecondArray::from(vec![*micros; rows])),
        Constant::Bytes(bytes) => Arc::new(BinaryArray::from(vec![bytes.as_slice(); rows])),
    }
}

#[async_trait]
impl Source for StreamSource {
    async fn schema(&self) -> Result<SchemaRef> {
        Ok(Arc::clone(&self.schema))
    }

    async fn plan(&self, request: &PlanRequest) -> Result<PlanOutput> {
        Ok(plan_id_ranges(self.rows, request))
    }

    async fn read(&self, range: &KeyRange, output: &BatchSender) -> Result<()> {
        let (start, end) = id_bounds(self.rows, range);
        let batch_rows = self.template.num_rows().max(1) as u64;
        let mut position = start;
        while position < end {
            let batch_end = (position + batch_rows).min(end);
            let length = usize::try_from(batch_end - position).unwrap_or(0);
            output.send(self.template.slice(0, length)).await?;
            output
                .counters()
                .set_current_key((batch_end - 1).to_string());
            position = batch_end;
        }
        Ok(())
    }
}

/// Prints rows to standard output, or discards them.
#[derive(Debug, Clone)]
pub struct StreamSink {
    print: bool,
    delimiter: String,
}

impl StreamSink {
    /// Builds a stream sink from its connection (`print`, `field_delimiter`).
    ///
    /// # Errors
    /// [`ConnectorError::Config`] when `print` is not a boolean or the job asks for a dirty
    /// table.
    pub fn new(spec: &JobSpec, connection: &ConnectionConfig) -> Result<Self> {
        if spec.settings.dirty_table.is_some() {
            return Err(ConnectorError::config(
                "settings.dirty_table",
                "a stream sink has no tables; leave it out (dirty records are kept in the cluster's dirty-data store: sluice job dirty ID)",
            ));
        }
        let print = match connection.option("print") {
            None => true,
            Some(text) => text.parse::<bool>().map_err(|_| {
                ConnectorError::config(
                    "sink.connection.print",
                    format!("\"{text}\" is not true or false"),
                )
            })?,
        };
        let delimiter = connection
            .option("field_delimiter")
            .map_or_else(|| "\t".to_string(), |text| text.replace("\\t", "\t"));
        Ok(StreamSink { print, delimiter })
    }

    /// Renders a batch as lines of delimited fields.
    fn render(&self, batch: &RecordBatch) -> Result<String> {
        let options = FormatOptions::default().with_null("");
        let formatters = batch
            .columns()
            .iter()
            .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|source| ConnectorError::Arrow {
                context: "format rows for printing".into(),
                source,
            })?;
        let mut text = String::with_capacity(batch.num_rows() * 32);
        for row in 0..batch.num_rows() {
            for (index, formatter) in formatters.iter().enumerate() {
                if index > 0 {
                    text.push_str(&self.delimiter);
                }
                text.push_str(&formatter.value(row).to_string());
            }
            text.push('\n');
        }
        Ok(text)
    }
}

#[async_trait]
impl Sink for StreamSink {
    async fn prepare(&self, _source_schema: SchemaRef) -> Result<()> {
        Ok(())
    }

    async fn write_shard(
        &self,
        _shard: &ShardIdentity,
        mut input: BatchReceiver,
    ) -> Result<WriteOutcome> {
        let mut rows = 0u64;
        while let Some(batch) = input.next().await? {
            if self.print {
                let text = self.render(&batch)?;
                std::io::stdout()
                    .lock()
                    .write_all(text.as_bytes())
                    .map_err(|error| ConnectorError::File {
                        object: "standard output".into(),
                        message: format!("cannot print rows: {error}"),
                    })?;
            }
            rows += batch.num_rows() as u64;
            input.record_written(&batch);
        }
        Ok(WriteOutcome::Committed { rows })
    }

    async fn finalize(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{batch_channel, ShardCounters};
    use sluice_common::spec::{parse_job_spec, SpecFormat};

    fn source(columns: &str, rows: u64) -> Result<StreamSource> {
        let spec = parse_job_spec(
            "source: {connection: {type: generator, rows: 1}}\nsink: {connection: {type: sqlite, path: x.db}, table: t}\nsettings: {batch_rows: 4}\n",
            SpecFormat::Yaml,
        )
        .expect("spec");
        let connection = ConnectionConfig {
            kind: "stream".into(),
            options: [
                ("rows".to_string(), rows.to_string()),
                ("columns".to_string(), columns.to_string()),
            ]
            .into_iter()
            .collect(),
            secrets: Default::default(),
        };
        StreamSource::new(&spec, &connection)
    }

    #[tokio::test]
    async fn constant_rows_of_each_type() {
        let source = source(
            r#"[{"value": "DataX", "type": "string"}, {"value": 19890604, "type": "long"},
                {"value": "1989-06-04 00:00:00", "type": "date"}, {"value": true, "type": "bool"},
                {"value": "test", "type": "bytes"}, {"value": 1.5, "type": "double"},
                {"value": null, "type": "string", "name": "empty"}]"#,
            10,
        )
        .expect("source");
        let schema = source.schema().await.expect("schema");
        assert_eq!(schema.field(0).name(), "column_1");
        assert_eq!(schema.field(6).name(), "empty");
        let plan = source
            .plan(&PlanRequest {
                parallelism: 1,
                shard_rows: 3,
            })
            .await
            .expect("plan");
        let (sender, mut receiver) = batch_channel(8, Arc::new(ShardCounters::default()));
        let mut total = 0;
        for range in &plan.ranges {
            source.read(range, &sender).await.expect("read");
        }
        sender.finish().await.expect("finish");
        let sink = StreamSink {
            print: false,
            delimiter: "|".into(),
        };
        let mut lines = Vec::new();
        while let Some(batch) = receiver.next().await.expect("next") {
            total += batch.num_rows();
            lines.extend(
                sink.render(&batch)
                    .expect("render")
                    .lines()
                    .map(String::from),
            );
        }
        assert_eq!(total, 10);
        assert_eq!(
            lines[0],
            "DataX|19890604|1989-06-04T00:00:00|true|74657374|1.5|"
        );
    }

    #[test]
    fn bad_columns_name_the_entry() {
        let error = source(r#"[{"value": "x", "type": "long"}]"#, 1)
            .expect_err("bad long")
            .to_string();
        assert!(error.contains("columns[0].value"), "{error}");
        let error = source(r#"[{"random": "1,10", "type": "long"}]"#, 1)
            .expect_err("random")
            .to_string();
        assert!(error.contains("not supported yet"), "{error}");
        let error = source(r#"[{"value": 1, "type": "int"}]"#, 1)
            .expect_err("type")
            .to_string();
        assert!(error.contains("columns[0].type"), "{error}");
    }
}
