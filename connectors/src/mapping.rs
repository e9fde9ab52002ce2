//! Column mapping shared by every source and sink: which source columns, expressions and
//! constants a job writes, under which target names and types (`mapping` in the spec, see
//! `docs/mapping.md`).
//!
//! - [`read_list`] is what a SQL source selects: the source columns the mapping uses and its
//!   expressions, aliased, so the database evaluates them ([`source_filter`] adds the
//!   incremental lower bound to the user's `where`).
//! - [`MappedSource`] wraps any source and turns its batches into the mapping's output columns
//!   on the worker: renames, order, constants, NULLs and casts (Arrow's cast kernel; a value
//!   that does not cast is a dirty record).
//! - [`check_target_types`] refuses a mapping whose column types cannot meet the sink table's
//!   before anything is written.

mod mapped_source;
mod planning;
mod read_list;
mod type_check;

pub use mapped_source::{cast_data_type, MappedSource};
pub use planning::{check_written_types, resolve_planned_spec, PlannedMapping};
pub use read_list::{
    expression_alias, incremental_target_column, read_list, source_filter, target_column_names,
    ReadList, SourceExpression,
};
pub use type_check::{check_target_types, describe_type, is_integer_type, WrittenColumn};

use crate::error::{ConnectorError, Result};
use arrow_schema::SchemaRef;
use sluice_common::spec::WriteMode;

/// Refuses a write mode a sink of type `kind` cannot honour, naming the ones it can.
///
/// # Errors
/// [`ConnectorError::Config`] at `sink.write_mode` when `mode` is not in `supported`.
pub fn check_write_mode(kind: &str, mode: WriteMode, supported: &[WriteMode]) -> Result<()> {
    if supported.contains(&mode) {
        return Ok(());
    }
    let names: Vec<String> = supported
        .iter()
        .map(|mode| format!("{mode:?}").to_ascii_lowercase())
        .collect();
    let hint = match mode {
        WriteMode::Replace | WriteMode::Update => {
            "; replace and update use the table's own keys, as MySQL does: for other sinks use write_mode: upsert with sink.keys"
        }
        _ => "",
    };
    Err(ConnectorError::config(
        "sink.write_mode",
        format!(
            "{} is not supported by a {kind} sink; supported: {}{hint}",
            format!("{mode:?}").to_ascii_lowercase(),
            names.join(", ")
        ),
    ))
}

/// Returns the sink column names for batches of `schema`: `sink.columns` matched to the source
/// columns by position, or the source's own names when `sink.columns` is empty.
///
/// # Errors
/// [`ConnectorError::Config`] at `sink.columns` when the counts differ, listing the source's
/// columns.
pub fn sink_column_names(configured: &[String], schema: &SchemaRef) -> Result<Vec<String>> {
    if configured.is_empty() {
        return Ok(schema
            .fields()
            .iter()
            .map(|field| field.name().clone())
            .collect());
    }
    if configured.len() != schema.fields().len() {
        let source_names: Vec<&str> = schema
            .fields()
            .iter()
            .map(|field| field.name().as_str())
            .collect();
        return Err(ConnectorError::config(
            "sink.columns",
            format!(
                "has {} columns but the source produces {} ({}); columns are matched by position",
                configured.len(),
                source_names.len(),
                source_names.join(", ")
            ),
        ));
    }
    Ok(configured.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;

    #[test]
    fn names_come_from_the_source_or_by_position() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        assert_eq!(
            sink_column_names(&[], &schema).unwrap_or_default(),
            vec!["a", "b"]
        );
        assert_eq!(
            sink_column_names(&["x".into(), "y".into()], &schema).unwrap_or_default(),
            vec!["x", "y"]
        );
        let error = sink_column_names(&["x".into()], &schema)
            .expect_err("count mismatch")
            .to_string();
        assert!(
            error.starts_with("sink.columns: has 1 columns but the source produces 2 (a, b)"),
            "{error}"
        );
    }
}
