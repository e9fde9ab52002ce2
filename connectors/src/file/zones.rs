//! Time zones of timestamp columns in text files.
//!
//! arrow-csv and arrow-json format and parse zoned timestamps only with offset zones
//! (`+00:00`): without a time zone database (the `chrono-tz` feature, not enabled) a named zone
//! such as `UTC`, which the PostgreSQL, MySQL and SQLite readers give every instant, fails the
//! whole shard. A zoned Arrow timestamp holds a UTC instant whatever its zone, so writers re-tag
//! named zones as `+00:00` (written as `...Z`: the instant is kept, the zone name is not) and
//! readers parse into the naive type and tag the result `UTC`.

use crate::error::{ConnectorError, Result};
use arrow_array::{make_array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use std::sync::Arc;

/// The zone written for instants whose zone is a name.
pub const UTC_OFFSET: &str = "+00:00";

/// Returns whether `zone` is an offset (`+02:00`, `-0530`, `+01`), which text writers can format.
pub fn is_offset(zone: &str) -> bool {
    let Some(rest) = zone.strip_prefix(['+', '-']) else {
        return false;
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    matches!(digits.len(), 2 | 4) && digits.chars().all(|c| c.is_ascii_digit())
}

/// Returns `data_type` with a named zone replaced by [`UTC_OFFSET`] (same values).
fn with_offset_zone(data_type: &DataType) -> Option<DataType> {
    match data_type {
        DataType::Timestamp(unit, Some(zone)) if !is_offset(zone) => {
            Some(DataType::Timestamp(*unit, Some(UTC_OFFSET.into())))
        }
        _ => None,
    }
}

/// Returns `column` re-typed as `data_type` (same buffers).
fn retyped(column: &ArrayRef, data_type: DataType, context: &str) -> Result<ArrayRef> {
    let data = column
        .to_data()
        .into_builder()
        .data_type(data_type)
        .build()
        .map_err(|source| ConnectorError::Arrow {
            context: context.to_string(),
            source,
        })?;
    Ok(make_array(data))
}

/// Returns `batch` with every timestamp column of a named zone re-tagged [`UTC_OFFSET`], so a
/// text writer can format it; other columns are shared, not copied.
///
/// # Errors
/// [`ConnectorError::Arrow`] if a column cannot be re-typed (not expected: only the zone changes).
pub fn offset_zones(batch: RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    if !schema
        .fields()
        .iter()
        .any(|field| with_offset_zone(field.data_type()).is_some())
    {
        return Ok(batch);
    }
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        match with_offset_zone(field.data_type()) {
            Some(data_type) => {
                let context = format!("write the instants of column {}", field.name());
                columns.push(retyped(column, data_type.clone(), &context)?);
                fields.push(field.as_ref().clone().with_data_type(data_type));
            }
            None => {
                columns.push(Arc::clone(column));
                fields.push(field.as_ref().clone());
            }
        }
    }
    let schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    RecordBatch::try_new(schema, columns).map_err(|source| ConnectorError::Arrow {
        context: "re-tag timestamp zones".into(),
        source,
    })
}

/// Returns the naive type a text reader parses a zoned timestamp `field` into (offsets in the
/// text are applied, so the values are UTC instants), or `None` for other fields.
pub fn naive_parse_type(field: &Field) -> Option<DataType> {
    match field.data_type() {
        DataType::Timestamp(unit, Some(_)) => Some(DataType::Timestamp(*unit, None)),
        _ => None,
    }
}

/// Returns `column` (UTC instants in a naive timestamp type) tagged with `target`'s zone.
///
/// # Errors
/// [`ConnectorError::Arrow`] if the column cannot be re-typed.
pub fn tag_zone(column: &ArrayRef, target: &DataType, name: &str) -> Result<ArrayRef> {
    retyped(
        column,
        target.clone(),
        &format!("tag the instants of column {name} with their zone"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Array, TimestampMicrosecondArray};

    #[test]
    fn offsets_are_told_from_names() {
        assert!(is_offset("+00:00"));
        assert!(is_offset("-0530"));
        assert!(is_offset("+01"));
        assert!(!is_offset("UTC"));
        assert!(!is_offset("Europe/Paris"));
        assert!(!is_offset("+1:00"));
    }

    #[test]
    fn named_zones_become_offsets_with_the_same_instants() {
        let instants = TimestampMicrosecondArray::from(vec![Some(1_700_000_000_123_456), None])
            .with_timezone("UTC");
        let batch =
            RecordBatch::try_from_iter([("at", Arc::new(instants) as ArrayRef)]).expect("batch");
        let written = offset_zones(batch).expect("re-tag");
        let column = written.column(0);
        assert_eq!(
            column.data_type(),
            &DataType::Timestamp(arrow_schema::TimeUnit::Microsecond, Some("+00:00".into()))
        );
        let values = column
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .expect("timestamps");
        assert_eq!(values.value(0), 1_700_000_000_123_456);
        assert!(values.is_null(1));
    }
}
