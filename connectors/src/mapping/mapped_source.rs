//! [`MappedSource`]: a source whose batches come out as a mapping's output columns.

use super::read_list::{expression_alias, output_name};
use crate::channel::{batch_channel, BatchSender, DirtySample, ShardCounters};
use crate::dirty_store::DirtyStage;
use crate::error::{ConnectorError, Result};
use crate::transform::describe_row;
use crate::{PlanOutput, PlanRequest, Source};
use arrow_array::{
    new_null_array, Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch,
    StringArray,
};
use arrow_cast::{can_cast_types, cast_with_options, CastOptions};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use sluice_common::records::KeyRange;
use sluice_common::spec::{CastType, MappingSpec};
use std::sync::Arc;

/// Returns the Arrow type of a cast type.
pub fn cast_data_type(cast: CastType) -> DataType {
    match cast {
        CastType::Boolean => DataType::Boolean,
        CastType::Int16 => DataType::Int16,
        CastType::Int32 => DataType::Int32,
        CastType::Int64 => DataType::Int64,
        CastType::Float32 => DataType::Float32,
        CastType::Float64 => DataType::Float64,
        CastType::Decimal { precision, scale } if precision <= 38 => {
            DataType::Decimal128(precision, scale)
        }
        CastType::Decimal { precision, scale } => DataType::Decimal256(precision, scale),
        CastType::Utf8 => DataType::Utf8,
        CastType::Binary => DataType::Binary,
        CastType::Date => DataType::Date32,
        CastType::Time => DataType::Time64(TimeUnit::Microsecond),
        CastType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        CastType::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
    }
}

/// Where an output column's values come from.
#[derive(Debug, Clone)]
enum Origin {
    /// A column of the inner source's batches (a source column or an expression's alias).
    Input(usize),
    /// The same value in every row.
    Constant(serde_json::Value),
    /// NULL in every row.
    Null,
}

#[derive(Debug, Clone)]
struct OutputColumn {
    origin: Origin,
    /// Cast to this type, when the entry says so.
    cast: Option<DataType>,
    /// `mapping.columns[i]`, for errors and dirty records.
    path: String,
    /// A constant or NULL column built (and cast) once, as long as the longest batch so far:
    /// each batch takes a zero-copy slice of it.
    repeated: Option<(ArrayRef, ArrayRef)>,
}

/// A mapping bound to the inner source's schema.
#[derive(Debug, Clone)]
struct OutputPlan {
    schema: SchemaRef,
    columns: Vec<OutputColumn>,
}

impl OutputPlan {
    fn bind(mapping: &MappingSpec, input: &Schema) -> Result<OutputPlan> {
        let mut fields = Vec::with_capacity(mapping.columns.len());
        let mut columns = Vec::with_capacity(mapping.columns.len());
        for (index, entry) in mapping.columns.iter().enumerate() {
            let path = format!("mapping.columns[{index}]");
            let name = output_name(entry, index);
            let (origin, base_field) = if let Some(column) = &entry.source {
                let Ok(position) = input.index_of(column) else {
                    let names: Vec<&str> =
                        input.fields().iter().map(|f| f.name().as_str()).collect();
                    return Err(ConnectorError::config(
                        format!("{path}.source"),
                        format!(
                            "\"{column}\" is not a column of the source; columns are: {}",
                            names.join(", ")
                        ),
                    ));
                };
                (Origin::Input(position), input.field(position).clone())
            } else if entry.expr.is_some() {
                let Ok(position) = input.index_of(&expression_alias(index)) else {
                    return Err(ConnectorError::config(
                        format!("{path}.expr"),
                        "this source cannot evaluate SQL expressions (only postgresql, adb_postgresql, mysql and mariadb sources do): use `source`, `value` or `null` with `cast`",
                    ));
                };
                (Origin::Input(position), input.field(position).clone())
            } else if let Some(value) = &entry.value {
                let data_type = match value {
                    serde_json::Value::Bool(_) => DataType::Boolean,
                    serde_json::Value::Number(number) if number.is_i64() => DataType::Int64,
                    serde_json::Value::Number(_) => DataType::Float64,
                    _ => DataType::Utf8,
                };
                (
                    Origin::Constant(value.clone()),
                    Field::new(&name, data_type, true),
                )
            } else {
                (Origin::Null, Field::new(&name, DataType::Utf8, true))
            };
            let cast = match &entry.cast {
                Some(text) => {
                    let cast = CastType::parse(text).map_err(|message| {
                        ConnectorError::config(format!("{path}.cast"), message)
                    })?;
                    let target = cast_data_type(cast);
                    if !can_cast_types(base_field.data_type(), &target) {
                        return Err(ConnectorError::config(
                            format!("{path}.cast"),
                            format!(
                                "{} ({}) cannot be cast to {cast}",
                                entry.describe_origin(),
                                base_field.data_type()
                            ),
                        ));
                    }
                    Some(target)
                }
                None => None,
            };
            let field = match &cast {
                // A cast value no longer has its store's type: the metadata goes.
                Some(target) => Field::new(&name, target.clone(), true),
                None => base_field.with_name(&name).with_nullable(true),
            };
            fields.push(field);
            columns.push(OutputColumn {
                origin,
                cast,
                path,
                repeated: None,
            });
        }
        Ok(OutputPlan {
            schema: Arc::new(Schema::new(fields)),
            columns,
        })
    }

    /// Returns the batch's rows as output columns, without the rows a cast failed on (returned
    /// as dirty records).
    fn apply(&mut self, batch: &RecordBatch) -> Result<(RecordBatch, Vec<DirtySample>)> {
        let rows = batch.num_rows();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        let mut failed: Option<Vec<bool>> = None;
        let mut dirty = Vec::new();
        for (position, column) in self.columns.iter_mut().enumerate() {
            let (base, cast) = match &column.origin {
                Origin::Input(index) => {
                    let base = Arc::clone(batch.column(*index));
                    let cast = column.cast_of(&base)?;
                    (base, cast)
                }
                Origin::Constant(_) | Origin::Null => column.repeated_for(rows)?,
            };
            let Some(target) = &column.cast else {
                arrays.push(base);
                continue;
            };
            if cast.null_count() != base.null_count() {
                let marks = failed.get_or_insert_with(|| vec![false; rows]);
                for (row, mark) in marks.iter_mut().enumerate() {
                    if base.is_valid(row) && cast.is_null(row) && !*mark {
                        *mark = true;
                        dirty.push(DirtySample {
                            column: self.schema.field(position).name().clone(),
                            reason: format!(
                                "{}.cast: the value cannot be cast to {target}",
                                column.path
                            ),
                            row: describe_row(batch, row),
                        });
                    }
                }
            }
            arrays.push(cast);
        }
        let output = RecordBatch::try_new_with_options(
            Arc::clone(&self.schema),
            arrays,
            &arrow_array::RecordBatchOptions::new().with_row_count(Some(rows)),
        )
        .map_err(|source| ConnectorError::Arrow {
            context: "build the mapped batch".into(),
            source,
        })?;
        let Some(marks) = failed else {
            return Ok((output, dirty));
        };
        let keep: BooleanArray = marks.iter().map(|failed| Some(!failed)).collect();
        let kept = arrow_select::filter::filter_record_batch(&output, &keep).map_err(|source| {
            ConnectorError::Arrow {
                context: "drop the rows a cast failed on".into(),
                source,
            }
        })?;
        Ok((kept, dirty))
    }
}

impl OutputColumn {
    /// Returns `base` cast as the entry says (`base` itself without a cast).
    fn cast_of(&self, base: &ArrayRef) -> Result<ArrayRef> {
        let Some(target) = &self.cast else {
            return Ok(Arc::clone(base));
        };
        let options = CastOptions {
            safe: true,
            ..CastOptions::default()
        };
        cast_with_options(base, target, &options).map_err(|source| ConnectorError::Arrow {
            context: format!("{}.cast to {target}", self.path),
            source,
        })
    }

    /// Returns `rows` values of a constant or NULL column, before and after its cast.
    fn repeated_for(&mut self, rows: usize) -> Result<(ArrayRef, ArrayRef)> {
        if let Some((base, cast)) = &self.repeated {
            if base.len() >= rows {
                return Ok((base.slice(0, rows), cast.slice(0, rows)));
            }
        }
        let base = match &self.origin {
            Origin::Constant(value) => constant_array(value, rows),
            Origin::Null | Origin::Input(_) => new_null_array(&DataType::Utf8, rows),
        };
        let cast = self.cast_of(&base)?;
        self.repeated = Some((Arc::clone(&base), Arc::clone(&cast)));
        Ok((base, cast))
    }
}

fn constant_array(value: &serde_json::Value, rows: usize) -> ArrayRef {
    match value {
        serde_json::Value::Bool(flag) => Arc::new(BooleanArray::from(vec![*flag; rows])),
        serde_json::Value::Number(number) => match number.as_i64() {
            Some(integer) => Arc::new(Int64Array::from_value(integer, rows)),
            None => Arc::new(Float64Array::from_value(
                number.as_f64().unwrap_or(f64::NAN),
                rows,
            )),
        },
        serde_json::Value::String(text) => Arc::new(StringArray::new_repeated(text, rows)),
        other => Arc::new(StringArray::new_repeated(other.to_string(), rows)),
    }
}

/// A source whose batches are turned into a mapping's output columns on the worker: source
/// columns renamed and reordered, expression columns (evaluated by the inner source) named,
/// constants and NULLs added, casts applied. Rows a cast fails on become dirty records.
pub struct MappedSource {
    inner: Box<dyn Source>,
    mapping: MappingSpec,
}

impl MappedSource {
    /// Wraps `inner`, which must select what [`super::read_list`] lists for the same spec.
    pub fn new(inner: Box<dyn Source>, mapping: MappingSpec) -> MappedSource {
        MappedSource { inner, mapping }
    }
}

#[async_trait]
impl Source for MappedSource {
    async fn schema(&self) -> Result<SchemaRef> {
        let input = self.inner.schema().await?;
        Ok(OutputPlan::bind(&self.mapping, &input)?.schema)
    }

    async fn plan(&self, request: &PlanRequest) -> Result<PlanOutput> {
        self.inner.plan(request).await
    }

    async fn read(&self, range: &KeyRange, output: &BatchSender) -> Result<()> {
        // The inner reader counts nothing: `output` counts the mapped batches (and paces them).
        let (inner_sender, mut inner_receiver) =
            batch_channel(2, Arc::new(ShardCounters::default()));
        let reader = async move {
            self.inner.read(range, &inner_sender).await?;
            inner_sender.finish().await
        };
        let mapper = async move {
            let mut bound: Option<OutputPlan> = None;
            while let Some(batch) = inner_receiver.next().await? {
                let plan = match &mut bound {
                    Some(plan) => plan,
                    None => bound.insert(OutputPlan::bind(&self.mapping, &batch.schema())?),
                };
                let (mapped, dirty) = plan.apply(&batch)?;
                if !dirty.is_empty() {
                    output.counters().add_read(dirty.len() as u64, 0);
                    for sample in dirty {
                        output
                            .counters()
                            .record_dirty(DirtyStage::Transform, sample);
                    }
                }
                if mapped.num_rows() > 0 {
                    output.send(mapped).await?;
                }
            }
            Ok::<(), ConnectorError>(())
        };
        let (read_result, map_result) = tokio::join!(reader, mapper);
        match (map_result, read_result) {
            (Err(error), _) if !matches!(error, ConnectorError::Aborted) => Err(error),
            (_, Err(error)) => Err(error),
            (map_result, Ok(())) => map_result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_common::spec::{MappingBy, MappingEntry};

    fn entry(json: &str) -> MappingEntry {
        serde_json::from_str(json).expect("entry")
    }

    fn input() -> RecordBatch {
        RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef),
            (
                "code",
                Arc::new(StringArray::from(vec![Some("10"), Some("x"), None])) as ArrayRef,
            ),
            (
                "_sluice_expr_4",
                Arc::new(StringArray::from(vec!["A", "B", "C"])) as ArrayRef,
            ),
        ])
        .expect("batch")
    }

    #[test]
    fn maps_renames_constants_nulls_and_casts() {
        let mapping = MappingSpec {
            by: MappingBy::Name,
            columns: vec![
                entry(r#"{"source": "code", "target": "code_number", "cast": "int64"}"#),
                entry(r#"{"source": "id", "target": "key"}"#),
                entry(r#"{"value": "eu", "target": "region"}"#),
                entry(r#"{"null": true, "target": "note"}"#),
                entry(r#"{"expr": "upper(x)", "target": "shout"}"#),
            ],
        };
        let batch = input();
        let mut plan = OutputPlan::bind(&mapping, &batch.schema()).expect("binds");
        let names: Vec<&str> = plan
            .schema
            .fields()
            .iter()
            .map(|field| field.name().as_str())
            .collect();
        assert_eq!(names, vec!["code_number", "key", "region", "note", "shout"]);
        let (mapped, dirty) = plan.apply(&batch).expect("applies");
        // "x" does not cast to int64: that row is dirty, the NULL stays a NULL.
        assert_eq!(mapped.num_rows(), 2);
        assert_eq!(dirty.len(), 1);
        assert!(
            dirty[0].reason.starts_with("mapping.columns[0].cast"),
            "{dirty:?}"
        );
        assert!(dirty[0].row.contains("\"x\""), "{dirty:?}");
        let codes = mapped
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("int64");
        assert_eq!(codes.value(0), 10);
        assert!(codes.is_null(1));
        let regions = mapped
            .column(2)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("utf8");
        assert_eq!(regions.value(1), "eu");
        assert_eq!(mapped.column(3).null_count(), 2);
        // A shorter batch takes a slice of the constant columns built for the first.
        let (shorter, _) = plan.apply(&batch.slice(0, 1)).expect("applies");
        assert_eq!(shorter.num_rows(), 1);
        assert_eq!(shorter.column(2).len(), 1);
        assert_eq!(shorter.column(3).null_count(), 1);
    }

    #[test]
    fn missing_columns_and_impossible_casts_are_named() {
        let batch = input();
        let missing = MappingSpec {
            by: MappingBy::Name,
            columns: vec![entry(r#"{"source": "nope"}"#)],
        };
        let error = OutputPlan::bind(&missing, &batch.schema())
            .expect_err("missing")
            .to_string();
        assert!(
            error.starts_with("mapping.columns[0].source: \"nope\" is not a column of the source; columns are: id, code"),
            "{error}"
        );
        let expression = MappingSpec {
            by: MappingBy::Name,
            columns: vec![entry(r#"{"expr": "1", "target": "one"}"#)],
        };
        let error = OutputPlan::bind(&expression, &batch.schema())
            .expect_err("no expressions")
            .to_string();
        assert!(error.contains("cannot evaluate SQL expressions"), "{error}");
        let impossible = MappingSpec {
            by: MappingBy::Name,
            columns: vec![entry(r#"{"value": true, "target": "t", "cast": "date"}"#)],
        };
        let error = OutputPlan::bind(&impossible, &batch.schema())
            .expect_err("bool to date")
            .to_string();
        assert!(error.contains("cannot be cast to date"), "{error}");
    }
}
