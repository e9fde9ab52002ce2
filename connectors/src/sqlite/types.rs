//! SQLite <-> Arrow type mapping.
//!
//! | SQLite declared type (affinity rule) | Arrow | written back as |
//! | --- | --- | --- |
//! | contains `INT` | Int64 | `INTEGER` |
//! | contains `BOOL` | Boolean | `BOOLEAN` (0/1) |
//! | contains `TIMESTAMP` or `DATETIME` | Timestamp(µs, UTC) | `TIMESTAMP`, text `YYYY-MM-DD HH:MM:SS.ffffff` |
//! | `DATE` | Date32 | `DATE`, text `YYYY-MM-DD` |
//! | contains `REAL`, `FLOA`, `DOUB`, `NUMERIC`, `DECIMAL` | Float64 | `REAL` |
//! | contains `BLOB`, or no type | Binary | `BLOB` |
//! | anything else (`TEXT`, `VARCHAR`, ...) | Utf8 | `TEXT` |
//!
//! A value that does not fit its column's Arrow type (text in an `INTEGER` column that is not a
//! number, a malformed timestamp) is reported as a conversion error naming the column.

use crate::error::{ConnectorError, Result};
use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use rusqlite::types::{Value, ValueRef};
use std::sync::Arc;

const EPOCH_DAYS_FROM_CE: i32 = 719_163;
const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";

/// Returns the Arrow type for an SQLite declared column type.
pub fn arrow_type_for_declared(declared: &str) -> DataType {
    let upper = declared.to_ascii_uppercase();
    if upper.contains("INT") {
        DataType::Int64
    } else if upper.contains("BOOL") {
        DataType::Boolean
    } else if upper.contains("TIMESTAMP") || upper.contains("DATETIME") {
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    } else if upper == "DATE" {
        DataType::Date32
    } else if ["REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL"]
        .iter()
        .any(|part| upper.contains(part))
    {
        DataType::Float64
    } else if upper.contains("BLOB") || upper.trim().is_empty() {
        DataType::Binary
    } else {
        DataType::Utf8
    }
}

/// Returns the SQLite declared type to create for an Arrow type.
///
/// # Errors
/// [`ConnectorError::Unsupported`] for types SQLite cannot hold without loss.
pub fn declared_type_for_arrow(column: &str, data_type: &DataType) -> Result<&'static str> {
    match data_type {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Ok("INTEGER"),
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => Ok("INTEGER"),
        DataType::Float32 | DataType::Float64 => Ok("REAL"),
        DataType::Boolean => Ok("BOOLEAN"),
        DataType::Utf8 | DataType::LargeUtf8 => Ok("TEXT"),
        DataType::Binary | DataType::LargeBinary => Ok("BLOB"),
        DataType::Date32 => Ok("DATE"),
        DataType::Timestamp(_, _) => Ok("TIMESTAMP"),
        other => Err(ConnectorError::Unsupported(format!(
            "column {column}: Arrow type {other} has no SQLite mapping yet"
        ))),
    }
}

/// Appends SQLite values to one Arrow column.
pub enum ColumnBuilder {
    /// Int64 column.
    Int(Int64Builder),
    /// Float64 column.
    Float(Float64Builder),
    /// Boolean column.
    Bool(BooleanBuilder),
    /// Utf8 column.
    Text(StringBuilder),
    /// Binary column.
    Bytes(BinaryBuilder),
    /// Date32 column.
    Date(Date32Builder),
    /// Timestamp(µs, UTC) column.
    Timestamp(TimestampMicrosecondBuilder),
}

impl ColumnBuilder {
    /// Returns a builder for `data_type` (one of the types [`arrow_type_for_declared`] returns).
    pub fn new(data_type: &DataType, capacity: usize) -> Self {
        match data_type {
            DataType::Int64 => ColumnBuilder::Int(Int64Builder::with_capacity(capacity)),
            DataType::Float64 => ColumnBuilder::Float(Float64Builder::with_capacity(capacity)),
            DataType::Boolean => ColumnBuilder::Bool(BooleanBuilder::with_capacity(capacity)),
            DataType::Binary => {
                ColumnBuilder::Bytes(BinaryBuilder::with_capacity(capacity, capacity * 16))
            }
            DataType::Date32 => ColumnBuilder::Date(Date32Builder::with_capacity(capacity)),
            DataType::Timestamp(_, _) => ColumnBuilder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
            _ => ColumnBuilder::Text(StringBuilder::with_capacity(capacity, capacity * 16)),
        }
    }

    /// Appends one value; returns a description of the problem when it does not fit.
    pub fn append(&mut self, value: ValueRef<'_>) -> std::result::Result<(), String> {
        if let ValueRef::Null = value {
            self.append_null();
            return Ok(());
        }
        match self {
            ColumnBuilder::Int(builder) => match value {
                ValueRef::Integer(number) => builder.append_value(number),
                ValueRef::Real(real) if real.fract() == 0.0 && real.abs() < 9.2e18 => {
                    builder.append_value(real as i64)
                }
                ValueRef::Text(text) => builder.append_value(parse_text::<i64>(text, "integer")?),
                other => return Err(format!("{} value in an integer column", type_name(other))),
            },
            ColumnBuilder::Float(builder) => match value {
                ValueRef::Real(real) => builder.append_value(real),
                ValueRef::Integer(number) => builder.append_value(number as f64),
                ValueRef::Text(text) => builder.append_value(parse_text::<f64>(text, "number")?),
                other => return Err(format!("{} value in a real column", type_name(other))),
            },
            ColumnBuilder::Bool(builder) => match value {
                ValueRef::Integer(0) => builder.append_value(false),
                ValueRef::Integer(1) => builder.append_value(true),
                ValueRef::Text(text) => match text.to_ascii_lowercase().as_slice() {
                    b"true" | b"t" | b"1" => builder.append_value(true),
                    b"false" | b"f" | b"0" => builder.append_value(false),
                    _ => {
                        return Err(format!(
                            "\"{}\" is not a boolean",
                            String::from_utf8_lossy(text)
                        ))
                    }
                },
                other => return Err(format!("{} value in a boolean column", describe(other))),
            },
            ColumnBuilder::Text(builder) => match value {
                ValueRef::Text(text) => {
                    let string = std::str::from_utf8(text)
                        .map_err(|_| "text is not valid UTF-8".to_string())?;
                    builder.append_value(string);
                }
                ValueRef::Integer(number) => builder.append_value(number.to_string()),
                ValueRef::Real(real) => builder.append_value(real.to_string()),
                ValueRef::Blob(_) => return Err("blob value in a text column".to_string()),
                ValueRef::Null => builder.append_null(),
            },
            ColumnBuilder::Bytes(builder) => match value {
                ValueRef::Blob(bytes) | ValueRef::Text(bytes) => builder.append_value(bytes),
                ValueRef::Integer(number) => builder.append_value(number.to_string()),
                ValueRef::Real(real) => builder.append_value(real.to_string()),
                ValueRef::Null => builder.append_null(),
            },
            ColumnBuilder::Date(builder) => match value {
                ValueRef::Text(text) => {
                    let string = String::from_utf8_lossy(text);
                    let date = NaiveDate::parse_from_str(string.trim(), "%Y-%m-%d")
                        .map_err(|_| format!("\"{string}\" is not a date (YYYY-MM-DD)"))?;
                    builder.append_value(
                        chrono::Datelike::num_days_from_ce(&date) - EPOCH_DAYS_FROM_CE,
                    );
                }
                other => return Err(format!("{} value in a date column", type_name(other))),
            },
            ColumnBuilder::Timestamp(builder) => match value {
                ValueRef::Text(text) => {
                    builder.append_value(parse_timestamp(&String::from_utf8_lossy(text))?)
                }
                ValueRef::Integer(seconds) => builder.append_value(
                    seconds
                        .checked_mul(1_000_000)
                        .ok_or_else(|| format!("{seconds} s is out of range"))?,
                ),
                other => return Err(format!("{} value in a timestamp column", type_name(other))),
            },
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            ColumnBuilder::Int(builder) => builder.append_null(),
            ColumnBuilder::Float(builder) => builder.append_null(),
            ColumnBuilder::Bool(builder) => builder.append_null(),
            ColumnBuilder::Text(builder) => builder.append_null(),
            ColumnBuilder::Bytes(builder) => builder.append_null(),
            ColumnBuilder::Date(builder) => builder.append_null(),
            ColumnBuilder::Timestamp(builder) => builder.append_null(),
        }
    }

    /// Returns the values appended so far as an array and resets the builder.
    pub fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Int(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Float(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Bool(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Text(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Bytes(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Date(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Timestamp(builder) => Arc::new(builder.finish()),
        }
    }

    /// Returns how many values are buffered.
    pub fn len(&self) -> usize {
        match self {
            ColumnBuilder::Int(builder) => builder.len(),
            ColumnBuilder::Float(builder) => builder.len(),
            ColumnBuilder::Bool(builder) => builder.len(),
            ColumnBuilder::Text(builder) => builder.len(),
            ColumnBuilder::Bytes(builder) => builder.len(),
            ColumnBuilder::Date(builder) => builder.len(),
            ColumnBuilder::Timestamp(builder) => builder.len(),
        }
    }

    /// Returns whether no value is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn type_name(value: ValueRef<'_>) -> &'static str {
    match value {
        ValueRef::Null => "null",
        ValueRef::Integer(_) => "integer",
        ValueRef::Real(_) => "real",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "blob",
    }
}

fn describe(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Integer(number) => format!("integer {number}"),
        other => type_name(other).to_string(),
    }
}

fn parse_text<T: std::str::FromStr>(text: &[u8], what: &str) -> std::result::Result<T, String> {
    let string = String::from_utf8_lossy(text);
    string
        .trim()
        .parse::<T>()
        .map_err(|_| format!("\"{string}\" is not a valid {what}"))
}

/// Parses the timestamp texts SQLite users write: `YYYY-MM-DD HH:MM:SS[.f]`, with `T` instead
/// of the space, an optional `Z` or offset, or a bare date; returns UTC microseconds.
pub fn parse_timestamp(text: &str) -> std::result::Result<i64, String> {
    let trimmed = text.trim();
    if let Ok(with_zone) = DateTime::parse_from_rfc3339(trimmed) {
        return Ok(with_zone.timestamp_micros());
    }
    if let Ok(with_zone) = DateTime::parse_from_str(trimmed, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Ok(with_zone.timestamp_micros());
    }
    let without_zone = trimmed.trim_end_matches('Z');
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(without_zone, format) {
            return Ok(naive.and_utc().timestamp_micros());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(without_zone, "%Y-%m-%d") {
        if let Some(midnight) = date.and_hms_opt(0, 0, 0) {
            return Ok(midnight.and_utc().timestamp_micros());
        }
    }
    Err(format!(
        "\"{text}\" is not a timestamp (YYYY-MM-DD HH:MM:SS[.ffffff])"
    ))
}

/// Returns row `row` of `column` as an SQLite value to bind.
///
/// # Errors
/// A description of the problem for values SQLite cannot hold (an unsigned integer above
/// `i64::MAX`, an out-of-range timestamp).
pub fn sqlite_value(column: &ArrayRef, row: usize) -> std::result::Result<Value, String> {
    if column.is_null(row) {
        return Ok(Value::Null);
    }
    let value = match column.data_type() {
        DataType::Boolean => Value::Integer(i64::from(column.as_boolean().value(row))),
        DataType::Int8 => Value::Integer(i64::from(column.as_primitive::<Int8Type>().value(row))),
        DataType::Int16 => Value::Integer(i64::from(column.as_primitive::<Int16Type>().value(row))),
        DataType::Int32 => Value::Integer(i64::from(column.as_primitive::<Int32Type>().value(row))),
        DataType::Int64 => Value::Integer(column.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Value::Integer(i64::from(column.as_primitive::<UInt8Type>().value(row))),
        DataType::UInt16 => {
            Value::Integer(i64::from(column.as_primitive::<UInt16Type>().value(row)))
        }
        DataType::UInt32 => {
            Value::Integer(i64::from(column.as_primitive::<UInt32Type>().value(row)))
        }
        DataType::UInt64 => {
            let number = column.as_primitive::<UInt64Type>().value(row);
            Value::Integer(
                i64::try_from(number)
                    .map_err(|_| format!("{number} does not fit SQLite's 64-bit signed INTEGER"))?,
            )
        }
        DataType::Float32 => {
            Value::Real(f64::from(column.as_primitive::<Float32Type>().value(row)))
        }
        DataType::Float64 => Value::Real(column.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Value::Text(column.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => Value::Text(column.as_string::<i64>().value(row).to_string()),
        DataType::Binary => Value::Blob(column.as_binary::<i32>().value(row).to_vec()),
        DataType::LargeBinary => Value::Blob(column.as_binary::<i64>().value(row).to_vec()),
        DataType::Date32 => {
            let days = column.as_primitive::<Date32Type>().value(row);
            let date = NaiveDate::from_num_days_from_ce_opt(days + EPOCH_DAYS_FROM_CE)
                .ok_or_else(|| format!("date {days} days from 1970 is out of range"))?;
            Value::Text(date.format("%Y-%m-%d").to_string())
        }
        DataType::Timestamp(unit, _) => {
            let micros = match unit {
                TimeUnit::Second => column
                    .as_primitive::<TimestampSecondType>()
                    .value(row)
                    .saturating_mul(1_000_000),
                TimeUnit::Millisecond => column
                    .as_primitive::<TimestampMillisecondType>()
                    .value(row)
                    .saturating_mul(1_000),
                TimeUnit::Microsecond => {
                    column.as_primitive::<TimestampMicrosecondType>().value(row)
                }
                TimeUnit::Nanosecond => {
                    let nanos = column.as_primitive::<TimestampNanosecondType>().value(row);
                    if nanos % 1000 != 0 {
                        return Err(format!(
                            "timestamp {nanos} ns has sub-microsecond precision"
                        ));
                    }
                    nanos / 1000
                }
            };
            let moment = DateTime::from_timestamp_micros(micros)
                .ok_or_else(|| format!("timestamp {micros} µs is out of range"))?;
            Value::Text(moment.format(TIMESTAMP_FORMAT).to_string())
        }
        other => {
            return Err(format!(
                "Arrow type {other} cannot be written to SQLite yet"
            ))
        }
    };
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::TimestampMicrosecondArray;

    #[test]
    fn declared_types_map_by_affinity() {
        assert_eq!(arrow_type_for_declared("BIGINT"), DataType::Int64);
        assert_eq!(arrow_type_for_declared("varchar(20)"), DataType::Utf8);
        assert_eq!(
            arrow_type_for_declared("DOUBLE PRECISION"),
            DataType::Float64
        );
        assert_eq!(arrow_type_for_declared(""), DataType::Binary);
        assert_eq!(arrow_type_for_declared("DATE"), DataType::Date32);
    }

    #[test]
    fn timestamps_round_trip_to_the_microsecond() {
        let micros = 1_700_000_000_123_456_i64;
        let array: ArrayRef =
            Arc::new(TimestampMicrosecondArray::from(vec![micros]).with_timezone("UTC"));
        let Value::Text(text) = sqlite_value(&array, 0).expect("value") else {
            panic!("text")
        };
        assert_eq!(text, "2023-11-14 22:13:20.123456");
        assert_eq!(parse_timestamp(&text), Ok(micros));
        assert_eq!(parse_timestamp("2023-11-14T22:13:20.123456Z"), Ok(micros));
    }

    #[test]
    fn bad_values_are_described() {
        let mut builder = ColumnBuilder::new(&DataType::Int64, 1);
        let error = builder
            .append(ValueRef::Text(b"twelve"))
            .expect_err("not a number");
        assert!(error.contains("twelve"), "{error}");
    }
}
