//! The transformer chain between reader and writer: the DataX built-ins (`dx_substr`,
//! `dx_pad`, `dx_replace`, `dx_filter`, `dx_digest`, `dx_map`) and `dx_null_to_default`, each a
//! function over one Arrow column, applied in spec order to every batch.
//!
//! Each step sees the rows the previous steps kept. A row a step drops (a `dx_filter` match) is
//! counted as filtered; a row a step fails on (say `dx_substr` past the end of the value) is a
//! dirty record, counted as failed, and later steps do not see it — as in DataX. Steps that
//! rewrite a value (`dx_substr`, `dx_pad`, `dx_replace`, `dx_digest`, `dx_map`) make the column
//! text (Arrow `Utf8`), as DataX makes it a `StringColumn`; the column keeps its name and
//! position.
//!
//! ```
//! use arrow_array::{RecordBatch, StringArray, cast::AsArray};
//! use sluice_common::spec::{parse_transformers, ColumnRef, TransformerSpec};
//! use sluice_connectors::transform::TransformChain;
//! use std::sync::Arc;
//!
//! let specs = [TransformerSpec {
//!     name: "dx_substr".into(),
//!     column: ColumnRef::Name("word".into()),
//!     params: vec!["2".into(), "5".into()],
//! }];
//! let batch = RecordBatch::try_from_iter([(
//!     "word",
//!     Arc::new(StringArray::from(vec!["dataxTest"])) as _,
//! )])
//! .unwrap();
//! let chain = TransformChain::new(parse_transformers(&specs).unwrap(), &batch.schema()).unwrap();
//! let output = chain.apply(batch).unwrap();
//! assert_eq!(output.batch.column(0).as_string::<i32>().value(0), "taxTe");
//! ```

mod digest;
mod filter;
mod map;
mod null_default;
mod strings;
mod text;

pub(crate) use text::describe_row;
pub use text::text_values;

use crate::channel::{BatchReceiver, BatchSender, DirtySample};
use crate::error::{ConnectorError, Result};
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use sluice_common::records::TransformerCounts;
use sluice_common::spec::{ColumnRef, ParsedTransformer, Transformer};
use std::sync::Arc;

/// What one step did to one batch.
#[derive(Debug, Default)]
struct StepOutput {
    /// New values of the column; `None` leaves it as it was.
    column: Option<ArrayRef>,
    /// `true` for each row the step drops (a filter match); `None` drops nothing.
    dropped: Option<BooleanArray>,
    /// Rows the step failed on, with why.
    failures: Vec<(usize, String)>,
}

/// One step, bound to its column.
#[derive(Debug)]
struct Step {
    /// `transformers[i]`, for error messages.
    path: String,
    /// The transformer's name.
    name: String,
    /// Position of the column in the batches.
    column: usize,
    /// What it does, with any precomputed state.
    kind: StepKind,
}

#[derive(Debug)]
enum StepKind {
    Substr { start: usize, length: usize },
    Pad(strings::Pad),
    Replace(strings::Replace),
    Filter(filter::Filter),
    Digest(digest::Digest),
    Map(map::Map),
    NullToDefault(null_default::NullToDefault),
}

/// The chain of a job, bound to the schema of the source's batches.
#[derive(Debug)]
pub struct TransformChain {
    steps: Vec<Step>,
    output_schema: SchemaRef,
}

/// A batch after the chain, with what each step did to it.
#[derive(Debug)]
pub struct ChainOutput {
    /// The rows every step kept, transformed.
    pub batch: RecordBatch,
    /// Counts per step, in chain order.
    pub counts: Vec<TransformerCounts>,
    /// One sample per failed row: the row as the failing step saw it.
    pub dirty: Vec<DirtySample>,
}

impl TransformChain {
    /// Binds `transformers` to the columns of `schema` (names, or 0-based positions).
    ///
    /// # Errors
    /// [`ConnectorError::Config`] at `transformers[i].column` when a column does not exist (the
    /// message lists the source's columns), or at `transformers[i].params` when a default value
    /// does not fit the column's type.
    pub fn new(transformers: Vec<ParsedTransformer>, schema: &SchemaRef) -> Result<Self> {
        let mut fields: Vec<Field> = schema
            .fields()
            .iter()
            .map(|field| field.as_ref().clone())
            .collect();
        let mut steps = Vec::with_capacity(transformers.len());
        for (index, parsed) in transformers.into_iter().enumerate() {
            let path = format!("transformers[{index}]");
            let column = resolve_column(&path, &parsed.column, schema)?;
            let data_type = fields[column].data_type().clone();
            let kind = match parsed.transformer {
                Transformer::Substr { start, length } => StepKind::Substr { start, length },
                Transformer::Pad { side, length, pad } => {
                    StepKind::Pad(strings::Pad { side, length, pad })
                }
                Transformer::Replace {
                    start,
                    length,
                    replacement,
                } => StepKind::Replace(strings::Replace {
                    start,
                    length,
                    replacement,
                }),
                Transformer::Filter { op, value } => {
                    StepKind::Filter(filter::Filter::new(op, value, &data_type)?)
                }
                Transformer::Digest { algorithm, case } => {
                    StepKind::Digest(digest::Digest { algorithm, case })
                }
                Transformer::Map { op, operand } => StepKind::Map(map::Map::new(op, &operand)?),
                Transformer::NullToDefault { value } => StepKind::NullToDefault(
                    null_default::NullToDefault::new(&path, &value, &data_type)?,
                ),
            };
            if kind.makes_text() {
                let name = fields[column].name().clone();
                fields[column] = Field::new(name, DataType::Utf8, true);
            }
            steps.push(Step {
                path,
                name: parsed.name,
                column,
                kind,
            });
        }
        Ok(TransformChain {
            steps,
            output_schema: Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
        })
    }

    /// Returns the schema of the batches the chain produces (what the sink is prepared for).
    pub fn output_schema(&self) -> SchemaRef {
        Arc::clone(&self.output_schema)
    }

    /// Returns the number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Returns whether the chain has no step.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Runs every step over `batch`.
    ///
    /// # Errors
    /// [`ConnectorError::Arrow`] when an Arrow kernel fails (a bug, not bad data: bad values
    /// become failed rows).
    pub fn apply(&self, batch: RecordBatch) -> Result<ChainOutput> {
        let mut counts = vec![TransformerCounts::default(); self.steps.len()];
        let mut dirty = Vec::new();
        let mut current = batch;
        for (step, count) in self.steps.iter().zip(counts.iter_mut()) {
            let rows_in = current.num_rows();
            count.rows_in = rows_in as u64;
            if rows_in == 0 {
                continue;
            }
            let output = step.run(current.column(step.column))?;
            let mut keep: Option<Vec<bool>> = None;
            if let Some(dropped) = &output.dropped {
                let flags = keep.get_or_insert_with(|| vec![true; rows_in]);
                for (row, flag) in flags.iter_mut().enumerate() {
                    if dropped.is_valid(row) && dropped.value(row) {
                        *flag = false;
                        count.filtered += 1;
                    }
                }
            }
            for (row, reason) in &output.failures {
                let flags = keep.get_or_insert_with(|| vec![true; rows_in]);
                if flags[*row] {
                    flags[*row] = false;
                    count.failed += 1;
                    dirty.push(DirtySample {
                        column: current.schema().field(step.column).name().clone(),
                        reason: format!("{} ({}): {reason}", step.path, step.name),
                        row: text::describe_row(&current, *row),
                    });
                }
            }
            if let Some(values) = output.column {
                current = replace_column(&current, step.column, values)?;
            }
            if let Some(flags) = keep {
                let predicate = BooleanArray::from(flags);
                current = arrow_select::filter::filter_record_batch(&current, &predicate)
                    .map_err(arrow_error("drop filtered and failed rows"))?;
            }
            count.rows_out = current.num_rows() as u64;
        }
        Ok(ChainOutput {
            batch: current,
            counts,
            dirty,
        })
    }
}

/// Runs the chain over every batch of `input` and forwards the rows it keeps to `output`,
/// then the end marker. The chain binds to the columns of the first batch. Per-transformer
/// counts and failed rows (dirty records) go to the shard's counters.
///
/// # Errors
/// [`ConnectorError::Config`] when a transformer's column does not exist;
/// [`ConnectorError::Aborted`] when either end went away.
pub async fn run_chain(
    transformers: Vec<ParsedTransformer>,
    mut input: BatchReceiver,
    output: BatchSender,
) -> Result<()> {
    let mut chain: Option<TransformChain> = None;
    while let Some(batch) = input.next().await? {
        if chain.is_none() {
            chain = Some(TransformChain::new(transformers.clone(), &batch.schema())?);
        }
        let Some(bound) = chain.as_ref() else {
            continue;
        };
        let result = bound.apply(batch)?;
        let counters = output.counters();
        counters.add_transformer_counts(&result.counts);
        for sample in result.dirty {
            counters.record_dirty(crate::dirty_store::DirtyStage::Transform, sample);
        }
        if result.batch.num_rows() > 0 {
            output.forward(result.batch).await?;
        }
    }
    output.finish().await
}

impl StepKind {
    /// Whether the step's output column is text whatever the input type.
    fn makes_text(&self) -> bool {
        !matches!(self, StepKind::Filter(_) | StepKind::NullToDefault(_))
    }
}

impl Step {
    fn run(&self, column: &ArrayRef) -> Result<StepOutput> {
        match &self.kind {
            StepKind::Substr { start, length } => {
                let values = text::text_values(column)?;
                Ok(strings::substr(&values, *start, *length))
            }
            StepKind::Pad(pad) => Ok(pad.apply(&text::text_values(column)?)),
            StepKind::Replace(replace) => Ok(replace.apply(&text::text_values(column)?)),
            StepKind::Filter(filter) => filter.apply(column),
            StepKind::Digest(digest) => digest.apply(column),
            StepKind::Map(map) => Ok(map.apply(&text::text_values(column)?)),
            StepKind::NullToDefault(default) => default.apply(column),
        }
    }
}

fn resolve_column(path: &str, column: &ColumnRef, schema: &SchemaRef) -> Result<usize> {
    let names = || {
        schema
            .fields()
            .iter()
            .map(|field| field.name().as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match column {
        ColumnRef::Index(index) if *index < schema.fields().len() => Ok(*index),
        ColumnRef::Index(index) => Err(ConnectorError::config(
            format!("{path}.column"),
            format!(
                "position {index} is out of range: the source produces {} columns ({}), numbered from 0",
                schema.fields().len(),
                names()
            ),
        )),
        ColumnRef::Name(name) => schema
            .fields()
            .iter()
            .position(|field| field.name() == name)
            .ok_or_else(|| {
                ConnectorError::config(
                    format!("{path}.column"),
                    format!(
                        "\"{name}\" is not a column of the source; columns are: {}",
                        names()
                    ),
                )
            }),
    }
}

fn replace_column(batch: &RecordBatch, index: usize, values: ArrayRef) -> Result<RecordBatch> {
    let mut columns = batch.columns().to_vec();
    let mut fields: Vec<Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|field| field.as_ref().clone())
        .collect();
    fields[index] = Field::new(fields[index].name(), values.data_type().clone(), true);
    columns[index] = values;
    let schema = Arc::new(Schema::new_with_metadata(
        fields,
        batch.schema().metadata().clone(),
    ));
    RecordBatch::try_new(schema, columns).map_err(arrow_error("replace a transformed column"))
}

fn arrow_error(context: &'static str) -> impl FnOnce(arrow_schema::ArrowError) -> ConnectorError {
    move |source| ConnectorError::Arrow {
        context: context.to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::{Int64Array, StringArray};
    use sluice_common::spec::{parse_transformers, TransformerSpec};

    fn chain(specs: &[(&str, ColumnRef, &[&str])], schema: &SchemaRef) -> Result<TransformChain> {
        let specs: Vec<TransformerSpec> = specs
            .iter()
            .map(|(name, column, params)| TransformerSpec {
                name: (*name).into(),
                column: column.clone(),
                params: params.iter().map(|p| serde_json::Value::from(*p)).collect(),
            })
            .collect();
        let parsed = parse_transformers(&specs).expect("valid transformers");
        TransformChain::new(parsed, schema)
    }

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5])) as ArrayRef,
            ),
            (
                "name",
                Arc::new(StringArray::from(vec![
                    Some("dataxTest"),
                    Some("ab"),
                    None,
                    Some("skip-me"),
                    Some("hello world"),
                ])) as ArrayRef,
            ),
        ])
        .expect("batch")
    }

    #[test]
    fn chain_counts_filtered_and_failed_rows_per_step() {
        let input = batch();
        let chain = chain(
            &[
                (
                    "dx_filter",
                    ColumnRef::Name("name".into()),
                    &["like", "skip.*"],
                ),
                ("dx_substr", ColumnRef::Index(1), &["3", "4"]),
                (
                    "dx_replace",
                    ColumnRef::Name("name".into()),
                    &["0", "1", "*"],
                ),
            ],
            &input.schema(),
        )
        .expect("chain binds");
        let output = chain.apply(input).expect("applies");
        // Row 4 ("skip-me") is filtered; row 2 ("ab") fails dx_substr (start 3 past its end);
        // NULL passes dx_substr and dx_replace untouched.
        let names: Vec<Option<&str>> = output.batch.column(1).as_string::<i32>().iter().collect();
        assert_eq!(names, vec![Some("*xTe"), None, Some("*o w")]);
        let ids: Vec<i64> = output
            .batch
            .column(0)
            .as_primitive::<arrow_array::types::Int64Type>()
            .values()
            .to_vec();
        assert_eq!(ids, vec![1, 3, 5]);
        let counts: Vec<(u64, u64, u64, u64)> = output
            .counts
            .iter()
            .map(|c| (c.rows_in, c.rows_out, c.filtered, c.failed))
            .collect();
        assert_eq!(counts, vec![(5, 4, 1, 0), (4, 3, 0, 1), (3, 3, 0, 0)]);
        assert_eq!(output.dirty.len(), 1);
        assert_eq!(output.dirty[0].column, "name");
        assert!(
            output.dirty[0]
                .reason
                .starts_with("transformers[1] (dx_substr): "),
            "{}",
            output.dirty[0].reason
        );
        assert_eq!(output.dirty[0].row, r#"{"id":"2","name":"ab"}"#);
    }

    #[test]
    fn text_steps_make_the_column_utf8_in_the_output_schema() {
        let input = batch();
        let chain = chain(
            &[
                (
                    "dx_digest",
                    ColumnRef::Name("id".into()),
                    &["md5", "toLowerCase"],
                ),
                (
                    "dx_null_to_default",
                    ColumnRef::Name("name".into()),
                    &["none"],
                ),
            ],
            &input.schema(),
        )
        .expect("chain binds");
        let schema = chain.output_schema();
        assert_eq!(schema.field(0).data_type(), &DataType::Utf8);
        let output = chain.apply(input).expect("applies");
        assert_eq!(output.batch.schema().field(0).data_type(), &DataType::Utf8);
        assert_eq!(
            output.batch.column(0).as_string::<i32>().value(0),
            "c4ca4238a0b923820dcc509a6f75849b"
        );
        assert_eq!(output.batch.column(1).as_string::<i32>().value(2), "none");
    }

    #[test]
    fn unknown_columns_are_named_with_the_choices() {
        let schema = batch().schema();
        let error = chain(
            &[("dx_pad", ColumnRef::Index(7), &["l", "3", "0"])],
            &schema,
        )
        .expect_err("out of range")
        .to_string();
        assert!(
            error.starts_with("transformers[0].column: position 7 is out of range: the source produces 2 columns (id, name)"),
            "{error}"
        );
        let error = chain(
            &[("dx_pad", ColumnRef::Name("nme".into()), &["l", "3", "0"])],
            &schema,
        )
        .expect_err("unknown name")
        .to_string();
        assert!(
            error.contains("\"nme\" is not a column of the source; columns are: id, name"),
            "{error}"
        );
    }
}
