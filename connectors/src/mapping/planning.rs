//! What planning resolves for a job's mapping, on a worker, before any row is written: the
//! entries a `mapping` without `columns` stands for, the target names of `by: position`, the
//! lower bound of `source.incremental`, and the check of column types against the sink table.

use super::read_list::incremental_target_column;
use super::sink_column_names;
use super::type_check::{check_target_types, is_integer_type, WrittenColumn};
use crate::error::{ConnectorError, Result};
use crate::registry::{open_connector_source, open_sink, open_sink_as_source};
use arrow_schema::{Schema, SchemaRef};
use sluice_common::spec::{
    check_incremental_kinds, ConnectionConfig, MappingBy, MappingEntry, ValidatedJobSpec,
};

/// A spec with what planning resolved filled in, and the sink table's columns when known.
#[derive(Debug, Clone)]
pub struct PlannedMapping {
    /// The spec the job's shards run: mapping entries and the incremental bound filled in.
    pub validated: ValidatedJobSpec,
    /// Whether the spec differs from the one planned.
    pub changed: bool,
    /// The sink table's columns as its reader sees them; `None` for sinks without tables and
    /// tables that do not exist yet.
    pub target_schema: Option<SchemaRef>,
}

/// Resolves what `validated` leaves to planning (see the module doc).
///
/// # Errors
/// [`ConnectorError::Config`] naming the field (`mapping.by`, `mapping.columns`,
/// `source.incremental`) when the sink table does not allow it, or the stores' errors.
pub async fn resolve_planned_spec(
    validated: &ValidatedJobSpec,
    source_connection: &ConnectionConfig,
    sink_connection: &ConnectionConfig,
) -> Result<PlannedMapping> {
    if validated.spec.source.incremental.is_some() {
        // Data sources' types are only known here (inline ones were checked at submit).
        let mut problems = Vec::new();
        check_incremental_kinds(
            Some(&source_connection.kind),
            Some(&sink_connection.kind),
            &mut problems,
        );
        if let Some(problem) = problems.into_iter().next() {
            return Err(ConnectorError::config(problem.path, problem.message));
        }
    }
    let target_schema = read_target_schema(validated, sink_connection).await?;
    let mut planned = validated.clone();
    let table = planned.spec.sink.table.clone().unwrap_or_default();
    if let Some(mapping) = planned.spec.mapping.as_mut() {
        if mapping.columns.is_empty() {
            let raw_schema = open_connector_source(validated, source_connection)?
                .schema()
                .await?;
            mapping.columns = raw_schema
                .fields()
                .iter()
                .filter(|field| match (&mapping.by, &target_schema) {
                    (MappingBy::Name, Some(target)) => target.field_with_name(field.name()).is_ok(),
                    _ => true,
                })
                .map(|field| MappingEntry {
                    source: Some(field.name().clone()),
                    ..MappingEntry::default()
                })
                .collect();
            if mapping.columns.is_empty() {
                return Err(ConnectorError::config(
                    "mapping",
                    format!(
                        "no source column ({}) has a namesake in sink table {table}; list the entries in mapping.columns",
                        names(&raw_schema)
                    ),
                ));
            }
        }
        if mapping.by == MappingBy::Position {
            let Some(target) = &target_schema else {
                return Err(ConnectorError::config(
                    "mapping.by",
                    format!("position maps onto the columns of the sink table, and {table} does not exist (or the sink has no table): create it first, or use `by: name`"),
                ));
            };
            if mapping.columns.len() > target.fields().len() {
                return Err(ConnectorError::config(
                    "mapping.columns",
                    format!(
                        "has {} entries but sink table {table} has {} columns ({}); by position, entry i goes to column i",
                        mapping.columns.len(),
                        target.fields().len(),
                        names(target)
                    ),
                ));
            }
            for (entry, field) in mapping.columns.iter_mut().zip(target.fields()) {
                entry.target = Some(field.name().clone());
            }
        }
    }
    let needs_bound = planned
        .spec
        .source
        .incremental
        .as_ref()
        .is_some_and(|incremental| incremental.after.is_none());
    if needs_bound {
        let column = incremental_target_column(&planned.spec).unwrap_or_default();
        let sink = open_sink(&planned, sink_connection)?;
        let largest = sink.max_value(&column).await.map_err(|error| match error {
            ConnectorError::Unsupported(message) => {
                ConnectorError::config("source.incremental", format!("is not supported: {message}"))
            }
            other => other,
        })?;
        let integer_column = target_schema
            .as_ref()
            .and_then(|schema| schema.field_with_name(&column).ok())
            .is_some_and(|field| is_integer_type(field.data_type()));
        let bound = largest.map(|text| match text.parse::<i64>() {
            Ok(number) if integer_column => serde_json::Value::from(number),
            _ => serde_json::Value::String(text),
        });
        tracing::info!(column = %column, bound = ?bound, "incremental lower bound read from the sink");
        if let (Some(bound), Some(incremental)) = (bound, planned.spec.source.incremental.as_mut())
        {
            incremental.after = Some(bound);
        }
    }
    let changed = planned.spec != validated.spec;
    Ok(PlannedMapping {
        validated: planned,
        changed,
        target_schema,
    })
}

fn names(schema: &Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|field| field.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Returns the sink table's columns as its reader sees them, `None` when the sink has no
/// table or it does not exist.
async fn read_target_schema(
    validated: &ValidatedJobSpec,
    sink_connection: &ConnectionConfig,
) -> Result<Option<SchemaRef>> {
    let mut every_column = validated.clone();
    every_column.spec.sink.columns.clear();
    every_column.spec.source.columns.clear();
    every_column.spec.mapping = None;
    let reader = match open_sink_as_source(&every_column, sink_connection) {
        Ok(reader) => reader,
        Err(ConnectorError::Unsupported(_)) => return Ok(None),
        Err(error) => return Err(error),
    };
    match reader.schema().await {
        Ok(schema) => Ok(Some(schema)),
        // A lost connection, a lock: planning is tried again.
        Err(error) if error.is_retryable() => Err(error),
        // The table (or an SQLite file) does not exist yet: `prepare` creates it or says so.
        Err(error) => {
            tracing::debug!(error = %error, "no sink table to check the column types against");
            Ok(None)
        }
    }
}

/// Checks the columns a job writes (`output`: after mapping and transformers) against the
/// sink table's columns.
///
/// # Errors
/// [`ConnectorError::Config`] naming every source column and type that cannot meet its target
/// column and type, before anything is written.
pub fn check_written_types(
    validated: &ValidatedJobSpec,
    output: &SchemaRef,
    target: &Schema,
) -> Result<()> {
    let spec = &validated.spec;
    let targets = sink_column_names(&spec.sink.columns, output)?;
    let entries = spec.mapping.as_ref().map(|mapping| &mapping.columns);
    let columns: Vec<WrittenColumn> = output
        .fields()
        .iter()
        .zip(targets)
        .enumerate()
        .map(|(index, (field, target))| {
            let (path, origin) = match entries.and_then(|entries| entries.get(index)) {
                Some(entry) => (format!("mapping.columns[{index}]"), entry.describe_origin()),
                None if spec.sink.columns.is_empty() => (
                    "source.columns".to_string(),
                    format!("source column {}", field.name()),
                ),
                None => (
                    format!("sink.columns[{index}]"),
                    format!("source column {}", field.name()),
                ),
            };
            WrittenColumn {
                path,
                origin,
                field: field.as_ref().clone(),
                target,
            }
        })
        .collect();
    let table = spec.sink.table.as_deref().unwrap_or("the sink table");
    check_target_types(&columns, target, table)
}
