//! Decodes streamed MySQL rows (binary protocol values) into Arrow record batches.
//!
//! Each row is converted column by column into [`Cell`]s first and appended only when every
//! column converted, so a row with a value Arrow cannot hold (a zero date, a `time` beyond 24
//! hours, a `tinyint(1)` of 2, bytes that are not UTF-8 in a text column) is left out whole and
//! reported as a dirty record naming the column.

use super::config::ZeroDate;
use super::types::MySqlType;
use crate::channel::DirtySample;
use crate::error::{ConnectorError, Result};
use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    Decimal256Builder, Float32Builder, Float64Builder, Int16Builder, Int32Builder, Int64Builder,
    Int8Builder, StringBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
    UInt16Builder, UInt32Builder, UInt64Builder, UInt8Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_buffer::i256;
use arrow_schema::SchemaRef;
use chrono::NaiveDate;
use mysql_async::{Row, Value};
use std::sync::Arc;

const MICROS_PER_DAY: i64 = 86_400_000_000;
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// One converted value.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    /// NULL.
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer (also years, dates as days, times and timestamps as microseconds).
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A float or double.
    Float(f64),
    /// A decimal's unscaled value.
    Decimal(i256),
    /// UTF-8 text.
    Text(&'a str),
    /// Bytes.
    Bytes(&'a [u8]),
}

enum Builder {
    Bool(BooleanBuilder),
    Int8(Int8Builder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    UInt8(UInt8Builder),
    UInt16(UInt16Builder),
    UInt32(UInt32Builder),
    UInt64(UInt64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Decimal128(Decimal128Builder),
    Decimal256(Decimal256Builder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    Text(StringBuilder),
    Binary(BinaryBuilder),
}

impl Builder {
    fn new(mysql_type: MySqlType, capacity: usize) -> std::result::Result<Builder, String> {
        Ok(match mysql_type {
            MySqlType::Bool => Builder::Bool(BooleanBuilder::with_capacity(capacity)),
            MySqlType::Int {
                bits: 8,
                unsigned: false,
            } => Builder::Int8(Int8Builder::with_capacity(capacity)),
            MySqlType::Int {
                bits: 16,
                unsigned: false,
            }
            | MySqlType::Year => Builder::Int16(Int16Builder::with_capacity(capacity)),
            MySqlType::Int {
                bits: 32,
                unsigned: false,
            } => Builder::Int32(Int32Builder::with_capacity(capacity)),
            MySqlType::Int {
                unsigned: false, ..
            } => Builder::Int64(Int64Builder::with_capacity(capacity)),
            MySqlType::Int {
                bits: 8,
                unsigned: true,
            } => Builder::UInt8(UInt8Builder::with_capacity(capacity)),
            MySqlType::Int {
                bits: 16,
                unsigned: true,
            } => Builder::UInt16(UInt16Builder::with_capacity(capacity)),
            MySqlType::Int {
                bits: 32,
                unsigned: true,
            } => Builder::UInt32(UInt32Builder::with_capacity(capacity)),
            MySqlType::Int { unsigned: true, .. } | MySqlType::Bit => {
                Builder::UInt64(UInt64Builder::with_capacity(capacity))
            }
            MySqlType::Float => Builder::Float32(Float32Builder::with_capacity(capacity)),
            MySqlType::Double => Builder::Float64(Float64Builder::with_capacity(capacity)),
            MySqlType::Decimal { precision, scale } if precision <= 38 => Builder::Decimal128(
                Decimal128Builder::with_capacity(capacity)
                    .with_precision_and_scale(precision, scale)
                    .map_err(|error| error.to_string())?,
            ),
            MySqlType::Decimal { precision, scale } => Builder::Decimal256(
                Decimal256Builder::with_capacity(capacity)
                    .with_precision_and_scale(precision, scale)
                    .map_err(|error| error.to_string())?,
            ),
            MySqlType::Date => Builder::Date(Date32Builder::with_capacity(capacity)),
            MySqlType::Time => Builder::Time(Time64MicrosecondBuilder::with_capacity(capacity)),
            MySqlType::DateTime => {
                Builder::Timestamp(TimestampMicrosecondBuilder::with_capacity(capacity))
            }
            MySqlType::Timestamp => Builder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
            MySqlType::Text { .. } => {
                Builder::Text(StringBuilder::with_capacity(capacity, capacity * 16))
            }
            MySqlType::Binary => {
                Builder::Binary(BinaryBuilder::with_capacity(capacity, capacity * 16))
            }
        })
    }

    /// Appends a cell that [`convert`] produced for this builder's type.
    fn append(&mut self, cell: Cell<'_>) {
        macro_rules! put {
            ($builder:expr, $value:expr) => {
                match $value {
                    Some(value) => $builder.append_value(value),
                    None => $builder.append_null(),
                }
            };
        }
        match self {
            Builder::Bool(builder) => put!(
                builder,
                match cell {
                    Cell::Bool(value) => Some(value),
                    _ => None,
                }
            ),
            Builder::Int8(builder) => put!(
                builder,
                int(cell).and_then(|value| i8::try_from(value).ok())
            ),
            Builder::Int16(builder) => put!(
                builder,
                int(cell).and_then(|value| i16::try_from(value).ok())
            ),
            Builder::Int32(builder) => put!(
                builder,
                int(cell).and_then(|value| i32::try_from(value).ok())
            ),
            Builder::Int64(builder) => put!(builder, int(cell)),
            Builder::UInt8(builder) => put!(
                builder,
                uint(cell).and_then(|value| u8::try_from(value).ok())
            ),
            Builder::UInt16(builder) => put!(
                builder,
                uint(cell).and_then(|value| u16::try_from(value).ok())
            ),
            Builder::UInt32(builder) => put!(
                builder,
                uint(cell).and_then(|value| u32::try_from(value).ok())
            ),
            Builder::UInt64(builder) => put!(builder, uint(cell)),
            Builder::Float32(builder) => put!(
                builder,
                match cell {
                    Cell::Float(value) => Some(value as f32),
                    _ => None,
                }
            ),
            Builder::Float64(builder) => put!(
                builder,
                match cell {
                    Cell::Float(value) => Some(value),
                    _ => None,
                }
            ),
            Builder::Decimal128(builder) => put!(
                builder,
                match cell {
                    Cell::Decimal(value) => value.to_i128(),
                    _ => None,
                }
            ),
            Builder::Decimal256(builder) => put!(
                builder,
                match cell {
                    Cell::Decimal(value) => Some(value),
                    _ => None,
                }
            ),
            Builder::Date(builder) => put!(
                builder,
                int(cell).and_then(|value| i32::try_from(value).ok())
            ),
            Builder::Time(builder) => put!(builder, int(cell)),
            Builder::Timestamp(builder) => put!(builder, int(cell)),
            Builder::Text(builder) => put!(
                builder,
                match cell {
                    Cell::Text(value) => Some(value),
                    _ => None,
                }
            ),
            Builder::Binary(builder) => put!(
                builder,
                match cell {
                    Cell::Bytes(value) => Some(value),
                    _ => None,
                }
            ),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Bool(builder) => Arc::new(builder.finish()),
            Builder::Int8(builder) => Arc::new(builder.finish()),
            Builder::Int16(builder) => Arc::new(builder.finish()),
            Builder::Int32(builder) => Arc::new(builder.finish()),
            Builder::Int64(builder) => Arc::new(builder.finish()),
            Builder::UInt8(builder) => Arc::new(builder.finish()),
            Builder::UInt16(builder) => Arc::new(builder.finish()),
            Builder::UInt32(builder) => Arc::new(builder.finish()),
            Builder::UInt64(builder) => Arc::new(builder.finish()),
            Builder::Float32(builder) => Arc::new(builder.finish()),
            Builder::Float64(builder) => Arc::new(builder.finish()),
            Builder::Decimal128(builder) => Arc::new(builder.finish()),
            Builder::Decimal256(builder) => Arc::new(builder.finish()),
            Builder::Date(builder) => Arc::new(builder.finish()),
            Builder::Time(builder) => Arc::new(builder.finish()),
            Builder::Timestamp(builder) => Arc::new(builder.finish()),
            Builder::Text(builder) => Arc::new(builder.finish()),
            Builder::Binary(builder) => Arc::new(builder.finish()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Builder::Bool(builder) => builder.len(),
            Builder::Int8(builder) => builder.len(),
            Builder::Int16(builder) => builder.len(),
            Builder::Int32(builder) => builder.len(),
            Builder::Int64(builder) => builder.len(),
            Builder::UInt8(builder) => builder.len(),
            Builder::UInt16(builder) => builder.len(),
            Builder::UInt32(builder) => builder.len(),
            Builder::UInt64(builder) => builder.len(),
            Builder::Float32(builder) => builder.len(),
            Builder::Float64(builder) => builder.len(),
            Builder::Decimal128(builder) => builder.len(),
            Builder::Decimal256(builder) => builder.len(),
            Builder::Date(builder) => builder.len(),
            Builder::Time(builder) => builder.len(),
            Builder::Timestamp(builder) => builder.len(),
            Builder::Text(builder) => builder.len(),
            Builder::Binary(builder) => builder.len(),
        }
    }
}

fn int(cell: Cell<'_>) -> Option<i64> {
    match cell {
        Cell::Int(value) => Some(value),
        Cell::UInt(value) => i64::try_from(value).ok(),
        _ => None,
    }
}

fn uint(cell: Cell<'_>) -> Option<u64> {
    match cell {
        Cell::UInt(value) => Some(value),
        Cell::Int(value) => u64::try_from(value).ok(),
        _ => None,
    }
}

fn text_of(value: &Value) -> Option<&str> {
    match value {
        Value::Bytes(bytes) => std::str::from_utf8(bytes).ok(),
        _ => None,
    }
}

/// Parses a decimal's text (`-12.340`) into its unscaled value at `scale`.
pub fn parse_decimal(text: &str, scale: i8) -> std::result::Result<i256, String> {
    let trimmed = text.trim();
    let (negative, digits) = match trimmed.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let wanted = usize::try_from(scale.max(0)).unwrap_or(0);
    if fraction.len() > wanted
        || whole.is_empty() && fraction.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|byte| byte.is_ascii_digit())
    {
        return Err(format!("\"{text}\" is not a decimal with scale {scale}"));
    }
    let mut unscaled = String::with_capacity(whole.len() + wanted + 1);
    if negative {
        unscaled.push('-');
    }
    unscaled.push_str(if whole.is_empty() { "0" } else { whole });
    unscaled.push_str(fraction);
    unscaled.extend(std::iter::repeat_n('0', wanted - fraction.len()));
    i256::from_string(&unscaled).ok_or_else(|| format!("\"{text}\" is out of range for a decimal"))
}

fn days_from_ymd(year: u16, month: u8, day: u8) -> Option<i32> {
    NaiveDate::from_ymd_opt(i32::from(year), u32::from(month), u32::from(day))
        .map(|date| chrono::Datelike::num_days_from_ce(&date) - EPOCH_DAYS_FROM_CE)
}

/// Converts one value of a column of type `mysql_type`.
///
/// # Errors
/// A description of why the value cannot be represented.
pub fn convert<'a>(
    value: &'a Value,
    mysql_type: MySqlType,
    zero_date: ZeroDate,
) -> std::result::Result<Cell<'a>, String> {
    if matches!(value, Value::NULL) {
        return Ok(Cell::Null);
    }
    let zero = || {
        match zero_date {
        ZeroDate::Null => Ok(Cell::Null),
        ZeroDate::Dirty => Err(
            "zero date (0000-00-00 or a zero month or day) has no Arrow value; set the connection's zero_date: null to read it as NULL"
                .to_string(),
        ),
    }
    };
    let unexpected = || {
        format!(
            "unexpected value {} for a {mysql_type:?} column",
            value.as_sql(true)
        )
    };
    match mysql_type {
        MySqlType::Bool => match value {
            Value::Int(0) | Value::UInt(0) => Ok(Cell::Bool(false)),
            Value::Int(1) | Value::UInt(1) => Ok(Cell::Bool(true)),
            Value::Int(_) | Value::UInt(_) => Err(format!(
                "tinyint(1) value {} is not a boolean (0 or 1); set the connection's tinyint1_as_boolean: false to read it as a number",
                value.as_sql(true)
            )),
            _ => Err(unexpected()),
        },
        MySqlType::Int { unsigned: false, .. } | MySqlType::Year => match value {
            Value::Int(number) => Ok(Cell::Int(*number)),
            Value::UInt(number) => Ok(Cell::UInt(*number)),
            other => text_of(other)
                .and_then(|text| text.parse::<i64>().ok())
                .map(Cell::Int)
                .ok_or_else(unexpected),
        },
        MySqlType::Int { unsigned: true, .. } => match value {
            Value::Int(number) => Ok(Cell::Int(*number)),
            Value::UInt(number) => Ok(Cell::UInt(*number)),
            other => text_of(other)
                .and_then(|text| text.parse::<u64>().ok())
                .map(Cell::UInt)
                .ok_or_else(unexpected),
        },
        MySqlType::Bit => match value {
            Value::Bytes(bytes) if bytes.len() <= 8 => Ok(Cell::UInt(
                bytes.iter().fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte)),
            )),
            Value::UInt(number) => Ok(Cell::UInt(*number)),
            Value::Int(number) => Ok(Cell::Int(*number)),
            _ => Err(unexpected()),
        },
        MySqlType::Float | MySqlType::Double => match value {
            Value::Float(number) => Ok(Cell::Float(f64::from(*number))),
            Value::Double(number) => Ok(Cell::Float(*number)),
            other => text_of(other)
                .and_then(|text| text.parse::<f64>().ok())
                .map(Cell::Float)
                .ok_or_else(unexpected),
        },
        MySqlType::Decimal { scale, .. } => {
            let text = text_of(value).ok_or_else(unexpected)?;
            parse_decimal(text, scale).map(Cell::Decimal)
        }
        MySqlType::Date => match value {
            Value::Date(0, 0, 0, ..) => zero(),
            Value::Date(_, 0, ..) | Value::Date(_, _, 0, ..) => zero(),
            Value::Date(year, month, day, ..) => days_from_ymd(*year, *month, *day)
                .map(|days| Cell::Int(i64::from(days)))
                .ok_or_else(unexpected),
            _ => Err(unexpected()),
        },
        MySqlType::DateTime | MySqlType::Timestamp => match value {
            Value::Date(_, 0, ..) | Value::Date(_, _, 0, ..) => zero(),
            Value::Date(year, month, day, hour, minute, second, micros) => {
                let days = days_from_ymd(*year, *month, *day).ok_or_else(unexpected)?;
                let seconds = (i64::from(*hour) * 60 + i64::from(*minute)) * 60 + i64::from(*second);
                Ok(Cell::Int(
                    i64::from(days) * MICROS_PER_DAY + seconds * 1_000_000 + i64::from(*micros),
                ))
            }
            _ => Err(unexpected()),
        },
        MySqlType::Time => match value {
            Value::Time(negative, days, hours, minutes, seconds, micros) => {
                let total = ((i64::from(*days) * 24 + i64::from(*hours)) * 60 + i64::from(*minutes)) * 60
                    + i64::from(*seconds);
                let total_micros = total * 1_000_000 + i64::from(*micros);
                if *negative && total_micros != 0 || total_micros >= MICROS_PER_DAY {
                    return Err(format!(
                        "time {} is outside 00:00:00 to 23:59:59.999999, the range of an Arrow time of day",
                        value.as_sql(true)
                    ));
                }
                Ok(Cell::Int(total_micros))
            }
            _ => Err(unexpected()),
        },
        MySqlType::Text { .. } => match value {
            Value::Bytes(bytes) => std::str::from_utf8(bytes)
                .map(Cell::Text)
                .map_err(|error| format!("text is not valid UTF-8: {error}")),
            _ => Err(unexpected()),
        },
        MySqlType::Binary => match value {
            Value::Bytes(bytes) => Ok(Cell::Bytes(bytes)),
            _ => Err(unexpected()),
        },
    }
}

/// Checks that a converted cell fits the Arrow type of `mysql_type` (integer widths, decimal
/// precision), so that appending it cannot silently produce NULL.
fn check_fits(cell: Cell<'_>, mysql_type: MySqlType) -> std::result::Result<(), String> {
    let fits = match (mysql_type, cell) {
        (_, Cell::Null) => true,
        (
            MySqlType::Int {
                bits: 8,
                unsigned: false,
            },
            _,
        ) => int(cell).is_some_and(|v| i8::try_from(v).is_ok()),
        (
            MySqlType::Int {
                bits: 16,
                unsigned: false,
            }
            | MySqlType::Year,
            _,
        ) => int(cell).is_some_and(|v| i16::try_from(v).is_ok()),
        (
            MySqlType::Int {
                bits: 32,
                unsigned: false,
            },
            _,
        ) => int(cell).is_some_and(|v| i32::try_from(v).is_ok()),
        (
            MySqlType::Int {
                unsigned: false, ..
            },
            _,
        ) => int(cell).is_some(),
        (
            MySqlType::Int {
                bits: 8,
                unsigned: true,
            },
            _,
        ) => uint(cell).is_some_and(|v| u8::try_from(v).is_ok()),
        (
            MySqlType::Int {
                bits: 16,
                unsigned: true,
            },
            _,
        ) => uint(cell).is_some_and(|v| u16::try_from(v).is_ok()),
        (
            MySqlType::Int {
                bits: 32,
                unsigned: true,
            },
            _,
        ) => uint(cell).is_some_and(|v| u32::try_from(v).is_ok()),
        (MySqlType::Int { unsigned: true, .. } | MySqlType::Bit, _) => uint(cell).is_some(),
        (MySqlType::Decimal { precision, .. }, Cell::Decimal(value)) => {
            let limit = crate::postgres::numeric::power_of_ten(u32::from(precision));
            limit.is_some_and(|limit| value < limit && value > limit.wrapping_neg())
        }
        (MySqlType::Date, _) => int(cell).is_some_and(|v| i32::try_from(v).is_ok()),
        _ => true,
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "value is out of range for {}",
            mysql_type.arrow_type()
        ))
    }
}

/// Accumulates streamed rows into record batches of `batch_rows` rows.
pub struct RowDecoder {
    schema: SchemaRef,
    types: Vec<MySqlType>,
    builders: Vec<Builder>,
    zero_date: ZeroDate,
    batch_rows: usize,
}

impl RowDecoder {
    /// Returns a decoder for columns of `types`, producing batches of `schema`.
    ///
    /// # Errors
    /// [`ConnectorError::Conversion`] when a decimal's precision does not fit Arrow.
    pub fn new(
        schema: SchemaRef,
        types: Vec<MySqlType>,
        zero_date: ZeroDate,
        batch_rows: usize,
    ) -> Result<Self> {
        let batch_rows = batch_rows.max(1);
        let builders = Self::make_builders(&schema, &types, batch_rows)?;
        Ok(RowDecoder {
            schema,
            types,
            builders,
            zero_date,
            batch_rows,
        })
    }

    fn make_builders(
        schema: &SchemaRef,
        types: &[MySqlType],
        capacity: usize,
    ) -> Result<Vec<Builder>> {
        types
            .iter()
            .zip(schema.fields())
            .map(|(mysql_type, field)| {
                Builder::new(*mysql_type, capacity).map_err(|message| ConnectorError::Conversion {
                    column: field.name().clone(),
                    message,
                })
            })
            .collect()
    }

    /// Adds one row; returns a finished batch when `batch_rows` rows are pending, or a dirty
    /// record when a value cannot be represented (the row is then left out).
    ///
    /// # Errors
    /// [`ConnectorError::Arrow`] when a batch cannot be assembled (a bug).
    pub fn push(&mut self, row: &Row, dirty: &mut Vec<DirtySample>) -> Result<Option<RecordBatch>> {
        let mut cells = Vec::with_capacity(self.types.len());
        for (index, mysql_type) in self.types.iter().enumerate() {
            let value = row.as_ref(index).unwrap_or(&Value::NULL);
            let converted = convert(value, *mysql_type, self.zero_date)
                .and_then(|cell| check_fits(cell, *mysql_type).map(|()| cell));
            match converted {
                Ok(cell) => cells.push(cell),
                Err(reason) => {
                    dirty.push(DirtySample {
                        column: self.schema.field(index).name().clone(),
                        reason,
                        row: describe_row(&self.schema, row),
                    });
                    return Ok(None);
                }
            }
        }
        for (builder, cell) in self.builders.iter_mut().zip(cells) {
            builder.append(cell);
        }
        if self.pending() >= self.batch_rows {
            return self.take().map(Some);
        }
        Ok(None)
    }

    /// Returns the rows added since the last batch.
    pub fn pending(&self) -> usize {
        self.builders.first().map_or(0, Builder::len)
    }

    /// Returns the pending rows as a batch (possibly empty).
    ///
    /// # Errors
    /// [`ConnectorError::Arrow`] when the batch cannot be assembled (a bug).
    pub fn take(&mut self) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        RecordBatch::try_new(Arc::clone(&self.schema), columns).map_err(|source| {
            ConnectorError::Arrow {
                context: "assemble a batch of MySQL rows".into(),
                source,
            }
        })
    }
}

/// Renders a row as a JSON object of SQL literals for a dirty-record sample.
pub fn describe_row(schema: &SchemaRef, row: &Row) -> String {
    let mut object = serde_json::Map::new();
    for (index, field) in schema.fields().iter().enumerate() {
        let value = row
            .as_ref(index)
            .map_or_else(|| "NULL".to_string(), |value| value.as_sql(true));
        object.insert(field.name().clone(), serde_json::Value::String(value));
    }
    serde_json::Value::Object(object).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_at_their_scale() {
        assert_eq!(parse_decimal("-12.34", 2), Ok(i256::from_i128(-1234)));
        assert_eq!(parse_decimal("5", 3), Ok(i256::from_i128(5000)));
        assert_eq!(parse_decimal(".5", 1), Ok(i256::from_i128(5)));
        assert!(parse_decimal("1.234", 2).is_err());
        assert!(parse_decimal("abc", 0).is_err());
        let wide = format!("{}.{}", "9".repeat(35), "9".repeat(30));
        assert!(parse_decimal(&wide, 30).is_ok());
    }

    #[test]
    fn dates_times_and_booleans_convert_or_explain() {
        let date = Value::Date(1970, 1, 2, 0, 0, 0, 0);
        assert!(matches!(
            convert(&date, MySqlType::Date, ZeroDate::Dirty),
            Ok(Cell::Int(1))
        ));
        let zero = Value::Date(0, 0, 0, 0, 0, 0, 0);
        assert!(convert(&zero, MySqlType::Date, ZeroDate::Dirty)
            .expect_err("dirty")
            .contains("zero_date"));
        assert!(matches!(
            convert(&zero, MySqlType::DateTime, ZeroDate::Null),
            Ok(Cell::Null)
        ));
        let late = Value::Time(false, 1, 0, 0, 0, 0);
        assert!(convert(&late, MySqlType::Time, ZeroDate::Dirty).is_err());
        let noon = Value::Time(false, 0, 12, 0, 0, 5);
        assert!(matches!(
            convert(&noon, MySqlType::Time, ZeroDate::Dirty),
            Ok(Cell::Int(43_200_000_005))
        ));
        assert!(convert(&Value::Int(2), MySqlType::Bool, ZeroDate::Dirty)
            .expect_err("not a bool")
            .contains("tinyint1_as_boolean"));
        let bits = Value::Bytes(vec![1, 2]);
        assert!(matches!(
            convert(&bits, MySqlType::Bit, ZeroDate::Dirty),
            Ok(Cell::UInt(258))
        ));
    }
}
