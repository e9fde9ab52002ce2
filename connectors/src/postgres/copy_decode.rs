//! Decodes `COPY ... TO STDOUT (FORMAT binary)` straight into typed column buffers
//! (`column_buffers.rs`) that become Arrow arrays.
//!
//! The stream is the 11-byte signature `PGCOPY\n\xff\r\n\0`, a 32-bit flags word, a 32-bit
//! header-extension length and that many bytes; then one tuple per row: a 16-bit field count
//! and, per field, a 32-bit length (-1 for NULL) and the value in the type's binary send
//! format; then the trailer, a field count of -1. The driver hands over chunks that need not
//! align with rows (PostgreSQL sends one row per message): complete rows are decoded where
//! they arrive, and only a partial row waits in a buffer for the next chunk.
//!
//! A value Arrow cannot hold (an infinite date, a NaN in a decimal column) makes its row dirty:
//! the row is left out of the batch and described in a [`DirtySample`].

use super::column_buffers::{BoolValues, FixedValues, VarValues};
use super::numeric::NumericRef;
use super::types::PgType;
use crate::channel::DirtySample;
use crate::error::{ConnectorError, Result};
use arrow_array::builder::{
    Decimal256Builder, FixedSizeBinaryBuilder, IntervalMonthDayNanoBuilder, StringBuilder,
};
use arrow_array::types::{
    Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Time64MicrosecondType, TimestampMicrosecondType,
};
use arrow_array::{ArrayRef, ListArray, RecordBatch};
use arrow_buffer::{IntervalMonthDayNano, NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, FieldRef, SchemaRef};
use bytes::{Buf, BytesMut};
use std::sync::Arc;

/// The binary COPY signature.
pub const COPY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// Days from 1970-01-01 (Arrow's epoch) to 2000-01-01 (PostgreSQL's).
pub const POSTGRES_EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
pub const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

fn read_i16(bytes: &[u8]) -> i16 {
    i16::from_be_bytes([bytes[0], bytes[1]])
}

fn read_i32(bytes: &[u8]) -> i32 {
    i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

fn read_i64(bytes: &[u8]) -> i64 {
    let mut array = [0u8; 8];
    array.copy_from_slice(&bytes[..8]);
    i64::from_be_bytes(array)
}

fn expect_len(bytes: &[u8], expected: usize, type_name: &str) -> std::result::Result<(), String> {
    if bytes.len() == expected {
        Ok(())
    } else {
        Err(format!(
            "{type_name} value has {} bytes, expected {expected}",
            bytes.len()
        ))
    }
}

/// Appends binary values of one PostgreSQL type to one Arrow column.
pub enum ColumnBuilder {
    /// `boolean`.
    Bool(BoolValues),
    /// `smallint`.
    Int16(FixedValues<i16>),
    /// `integer`.
    Int32(FixedValues<i32>),
    /// `bigint`.
    Int64(FixedValues<i64>),
    /// `real`.
    Float32(FixedValues<f32>),
    /// `double precision`.
    Float64(FixedValues<f64>),
    /// `numeric(p ≤ 38, s)`, with 10^p (the bound of its unscaled values).
    Decimal128(FixedValues<i128>, u8, i8, u128),
    /// `numeric(38 < p ≤ 76, s)`.
    Decimal256(Decimal256Builder, u8, i8),
    /// Unconstrained `numeric` as text.
    NumericText(StringBuilder, String),
    /// Character types and `json`.
    Text(VarValues),
    /// `jsonb` (a version byte, then text).
    Jsonb(VarValues),
    /// `bytea`.
    Binary(VarValues),
    /// `date`.
    Date32(FixedValues<i32>),
    /// `time`.
    Time64(FixedValues<i64>),
    /// `timestamp` (`false`) / `timestamptz` (`true`, zone UTC).
    Timestamp(FixedValues<i64>, bool),
    /// `interval`.
    Interval(IntervalMonthDayNanoBuilder),
    /// `uuid`.
    Uuid(FixedSizeBinaryBuilder),
    /// One-dimensional arrays.
    List {
        /// The list's element field.
        field: FieldRef,
        /// Offsets into the child, starting with 0.
        offsets: Vec<i32>,
        /// Validity of each list.
        nulls: NullBufferBuilder,
        /// Element type.
        element: PgType,
        /// Element builder.
        child: Box<ColumnBuilder>,
    },
}

/// Checks that text is UTF-8 (ASCII, the common case, without building a `str`).
#[inline]
fn check_utf8(bytes: &[u8], type_name: &str) -> std::result::Result<(), String> {
    // One pass without early exit (the compiler vectorises it): cheaper than `is_ascii` for
    // the short values of most columns.
    if bytes.iter().fold(0u8, |high, byte| high | byte) < 0x80 {
        return Ok(());
    }
    std::str::from_utf8(bytes)
        .map(|_| ())
        .map_err(|error| format!("{type_name} is not valid UTF-8: {error}"))
}

fn arrow_error(context: &str) -> impl FnOnce(arrow_schema::ArrowError) -> ConnectorError + '_ {
    move |source| ConnectorError::Arrow {
        context: context.into(),
        source,
    }
}

impl ColumnBuilder {
    /// Returns a builder for values of `pg_type`, sized for `capacity` rows.
    pub fn new(pg_type: &PgType, capacity: usize) -> Self {
        match pg_type {
            PgType::Bool => ColumnBuilder::Bool(BoolValues::with_capacity(capacity)),
            PgType::Int2 => ColumnBuilder::Int16(FixedValues::with_capacity(capacity)),
            PgType::Int4 => ColumnBuilder::Int32(FixedValues::with_capacity(capacity)),
            PgType::Int8 => ColumnBuilder::Int64(FixedValues::with_capacity(capacity)),
            PgType::Float4 => ColumnBuilder::Float32(FixedValues::with_capacity(capacity)),
            PgType::Float8 => ColumnBuilder::Float64(FixedValues::with_capacity(capacity)),
            PgType::Numeric { precision, scale } if *precision <= 38 => ColumnBuilder::Decimal128(
                FixedValues::with_capacity(capacity),
                *precision,
                *scale,
                10_u128.pow(u32::from(*precision)),
            ),
            PgType::Numeric { precision, scale } => ColumnBuilder::Decimal256(
                Decimal256Builder::with_capacity(capacity)
                    .with_data_type(DataType::Decimal256(*precision, *scale)),
                *precision,
                *scale,
            ),
            PgType::NumericText { .. } => ColumnBuilder::NumericText(
                StringBuilder::with_capacity(capacity, capacity * 8),
                String::new(),
            ),
            PgType::Text { .. } | PgType::Json => {
                ColumnBuilder::Text(VarValues::with_capacity(capacity, capacity * 16))
            }
            PgType::Jsonb => {
                ColumnBuilder::Jsonb(VarValues::with_capacity(capacity, capacity * 16))
            }
            PgType::Bytea => {
                ColumnBuilder::Binary(VarValues::with_capacity(capacity, capacity * 16))
            }
            PgType::Date => ColumnBuilder::Date32(FixedValues::with_capacity(capacity)),
            PgType::Time => ColumnBuilder::Time64(FixedValues::with_capacity(capacity)),
            PgType::Timestamp => {
                ColumnBuilder::Timestamp(FixedValues::with_capacity(capacity), false)
            }
            PgType::Timestamptz => {
                ColumnBuilder::Timestamp(FixedValues::with_capacity(capacity), true)
            }
            PgType::Interval => {
                ColumnBuilder::Interval(IntervalMonthDayNanoBuilder::with_capacity(capacity))
            }
            PgType::Uuid => {
                ColumnBuilder::Uuid(FixedSizeBinaryBuilder::with_capacity(capacity, 16))
            }
            PgType::Array(element) => {
                let mut offsets = Vec::with_capacity(capacity + 1);
                offsets.push(0);
                ColumnBuilder::List {
                    field: Arc::new(element.list_item_field()),
                    offsets,
                    nulls: NullBufferBuilder::new(capacity),
                    element: (**element).clone(),
                    child: Box::new(ColumnBuilder::new(element, capacity * 4)),
                }
            }
        }
    }

    /// Appends one value (`None` is NULL). Always appends exactly one entry: when the value
    /// cannot be represented it appends NULL instead and returns why.
    #[inline(always)]
    pub fn append(&mut self, value: Option<&[u8]>) -> std::result::Result<(), String> {
        let Some(bytes) = value else {
            self.append_null();
            return Ok(());
        };
        let result = self.append_value(bytes);
        if result.is_err() && !matches!(self, ColumnBuilder::List { .. }) {
            self.append_null();
        }
        result
    }

    #[inline(always)]
    fn append_value(&mut self, bytes: &[u8]) -> std::result::Result<(), String> {
        match self {
            ColumnBuilder::Bool(values) => {
                expect_len(bytes, 1, "boolean")?;
                values.push(bytes[0] != 0);
            }
            ColumnBuilder::Int16(values) => {
                expect_len(bytes, 2, "smallint")?;
                values.push(read_i16(bytes));
            }
            ColumnBuilder::Int32(values) => {
                expect_len(bytes, 4, "integer")?;
                values.push(read_i32(bytes));
            }
            ColumnBuilder::Int64(values) => {
                expect_len(bytes, 8, "bigint")?;
                values.push(read_i64(bytes));
            }
            ColumnBuilder::Float32(values) => {
                expect_len(bytes, 4, "real")?;
                values.push(f32::from_bits(read_i32(bytes) as u32));
            }
            ColumnBuilder::Float64(values) => {
                expect_len(bytes, 8, "double precision")?;
                values.push(f64::from_bits(read_i64(bytes) as u64));
            }
            ColumnBuilder::Decimal128(values, precision, scale, limit) => {
                let numeric = NumericRef::parse(bytes)?;
                // Ordinary values take the i128 path; the rest (and every error) the i256 one.
                let value = match numeric.to_unscaled_i128(*scale) {
                    Some(value) => Some(value),
                    None => numeric.to_unscaled(*scale)?.to_i128(),
                }
                .filter(|value| value.unsigned_abs() < *limit)
                .ok_or_else(|| format!("value does not fit numeric({precision},{scale})"))?;
                values.push(value);
            }
            ColumnBuilder::Decimal256(builder, precision, scale) => {
                let unscaled = NumericRef::parse(bytes)?.to_unscaled(*scale)?;
                let limit = super::numeric::power_of_ten(u32::from(*precision));
                if limit.is_some_and(|limit| unscaled >= limit || unscaled <= limit.wrapping_neg())
                {
                    return Err(format!("value does not fit numeric({precision},{scale})"));
                }
                builder.append_value(unscaled);
            }
            ColumnBuilder::NumericText(builder, scratch) => {
                let numeric = NumericRef::parse(bytes)?;
                scratch.clear();
                numeric.write_text(scratch);
                builder.append_value(scratch.as_str());
            }
            ColumnBuilder::Text(values) => {
                check_utf8(bytes, "text")?;
                values.push(bytes)?;
            }
            ColumnBuilder::Jsonb(values) => {
                match bytes.first() {
                    Some(1) => {}
                    Some(version) => {
                        return Err(format!(
                            "jsonb format version {version} is not supported (expected 1)"
                        ))
                    }
                    None => return Err("jsonb value is empty".to_string()),
                }
                let text = &bytes[1..];
                check_utf8(text, "jsonb")?;
                values.push(text)?;
            }
            ColumnBuilder::Binary(values) => values.push(bytes)?,
            ColumnBuilder::Date32(values) => {
                expect_len(bytes, 4, "date")?;
                let days = read_i32(bytes);
                if days == i32::MAX || days == i32::MIN {
                    let name = if days == i32::MAX {
                        "infinity"
                    } else {
                        "-infinity"
                    };
                    return Err(format!(
                        "date '{name}' cannot be represented as an Arrow Date32"
                    ));
                }
                let value = days.checked_add(POSTGRES_EPOCH_DAYS).ok_or_else(|| {
                    format!("date {days} days after 2000-01-01 is beyond Arrow Date32")
                })?;
                values.push(value);
            }
            ColumnBuilder::Time64(values) => {
                expect_len(bytes, 8, "time")?;
                values.push(read_i64(bytes));
            }
            ColumnBuilder::Timestamp(values, _) => {
                expect_len(bytes, 8, "timestamp")?;
                let micros = read_i64(bytes);
                if micros == i64::MAX || micros == i64::MIN {
                    let name = if micros == i64::MAX {
                        "infinity"
                    } else {
                        "-infinity"
                    };
                    return Err(format!(
                        "timestamp '{name}' cannot be represented as an Arrow timestamp"
                    ));
                }
                let value = micros.checked_add(POSTGRES_EPOCH_MICROS).ok_or_else(|| {
                    format!("timestamp {micros} µs after 2000-01-01 is beyond Arrow's range")
                })?;
                values.push(value);
            }
            ColumnBuilder::Interval(builder) => {
                expect_len(bytes, 16, "interval")?;
                let micros = read_i64(bytes);
                let days = read_i32(&bytes[8..]);
                let months = read_i32(&bytes[12..]);
                let nanoseconds = micros.checked_mul(1000).ok_or_else(|| {
                    format!("interval of {micros} µs overflows Arrow's nanoseconds")
                })?;
                builder.append_value(IntervalMonthDayNano {
                    months,
                    days,
                    nanoseconds,
                });
            }
            ColumnBuilder::Uuid(builder) => {
                expect_len(bytes, 16, "uuid")?;
                builder
                    .append_value(bytes)
                    .map_err(|error| error.to_string())?;
            }
            ColumnBuilder::List {
                offsets,
                nulls,
                child,
                element,
                ..
            } => {
                let result = append_array_elements(child, element, bytes);
                let end = i32::try_from(child.len()).unwrap_or(i32::MAX);
                offsets.push(end);
                match result {
                    Ok(()) => nulls.append_non_null(),
                    Err(_) => nulls.append_null(),
                }
                return result;
            }
        }
        Ok(())
    }

    /// Appends NULL.
    #[inline]
    pub fn append_null(&mut self) {
        match self {
            ColumnBuilder::Bool(values) => values.push_null(),
            ColumnBuilder::Int16(values) => values.push_null(),
            ColumnBuilder::Int32(values) | ColumnBuilder::Date32(values) => values.push_null(),
            ColumnBuilder::Int64(values)
            | ColumnBuilder::Time64(values)
            | ColumnBuilder::Timestamp(values, _) => values.push_null(),
            ColumnBuilder::Float32(values) => values.push_null(),
            ColumnBuilder::Float64(values) => values.push_null(),
            ColumnBuilder::Decimal128(values, ..) => values.push_null(),
            ColumnBuilder::Decimal256(builder, ..) => builder.append_null(),
            ColumnBuilder::NumericText(builder, _) => builder.append_null(),
            ColumnBuilder::Text(values)
            | ColumnBuilder::Jsonb(values)
            | ColumnBuilder::Binary(values) => values.push_null(),
            ColumnBuilder::Interval(builder) => builder.append_null(),
            ColumnBuilder::Uuid(builder) => builder.append_null(),
            ColumnBuilder::List {
                offsets,
                nulls,
                child,
                ..
            } => {
                offsets.push(i32::try_from(child.len()).unwrap_or(i32::MAX));
                nulls.append_null();
            }
        }
    }

    /// Returns how many entries are buffered.
    pub fn len(&self) -> usize {
        use arrow_array::builder::ArrayBuilder;
        match self {
            ColumnBuilder::Bool(values) => values.len(),
            ColumnBuilder::Int16(values) => values.len(),
            ColumnBuilder::Int32(values) | ColumnBuilder::Date32(values) => values.len(),
            ColumnBuilder::Int64(values)
            | ColumnBuilder::Time64(values)
            | ColumnBuilder::Timestamp(values, _) => values.len(),
            ColumnBuilder::Float32(values) => values.len(),
            ColumnBuilder::Float64(values) => values.len(),
            ColumnBuilder::Decimal128(values, ..) => values.len(),
            ColumnBuilder::Decimal256(builder, ..) => builder.len(),
            ColumnBuilder::NumericText(builder, _) => builder.len(),
            ColumnBuilder::Text(values)
            | ColumnBuilder::Jsonb(values)
            | ColumnBuilder::Binary(values) => values.len(),
            ColumnBuilder::Interval(builder) => builder.len(),
            ColumnBuilder::Uuid(builder) => builder.len(),
            ColumnBuilder::List { offsets, .. } => offsets.len() - 1,
        }
    }

    /// Returns whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the buffered entries as an array and resets the builder, with room for
    /// `reserve` rows where the builder keeps its own buffers (0 to start them empty).
    ///
    /// # Errors
    /// [`ConnectorError::Arrow`] if the parts do not fit together (a bug).
    pub fn finish(&mut self, reserve: usize) -> Result<ArrayRef> {
        let array: ArrayRef = match self {
            ColumnBuilder::Bool(values) => Arc::new(values.finish(reserve)),
            ColumnBuilder::Int16(values) => Arc::new(
                values
                    .finish::<Int16Type>(reserve)
                    .map_err(arrow_error("assemble smallint column"))?,
            ),
            ColumnBuilder::Int32(values) => Arc::new(
                values
                    .finish::<Int32Type>(reserve)
                    .map_err(arrow_error("assemble integer column"))?,
            ),
            ColumnBuilder::Int64(values) => Arc::new(
                values
                    .finish::<Int64Type>(reserve)
                    .map_err(arrow_error("assemble bigint column"))?,
            ),
            ColumnBuilder::Float32(values) => Arc::new(
                values
                    .finish::<Float32Type>(reserve)
                    .map_err(arrow_error("assemble real column"))?,
            ),
            ColumnBuilder::Float64(values) => Arc::new(
                values
                    .finish::<Float64Type>(reserve)
                    .map_err(arrow_error("assemble double precision column"))?,
            ),
            ColumnBuilder::Decimal128(values, precision, scale, _) => Arc::new(
                values
                    .finish::<Decimal128Type>(reserve)
                    .and_then(|array| array.with_precision_and_scale(*precision, *scale))
                    .map_err(arrow_error("assemble numeric column"))?,
            ),
            ColumnBuilder::Decimal256(builder, ..) => Arc::new(builder.finish()),
            ColumnBuilder::NumericText(builder, _) => Arc::new(builder.finish()),
            ColumnBuilder::Text(values) | ColumnBuilder::Jsonb(values) => Arc::new(
                values
                    .finish_string(reserve)
                    .map_err(arrow_error("assemble text column"))?,
            ),
            ColumnBuilder::Binary(values) => Arc::new(
                values
                    .finish_binary(reserve)
                    .map_err(arrow_error("assemble bytea column"))?,
            ),
            ColumnBuilder::Date32(values) => Arc::new(
                values
                    .finish::<Date32Type>(reserve)
                    .map_err(arrow_error("assemble date column"))?,
            ),
            ColumnBuilder::Time64(values) => Arc::new(
                values
                    .finish::<Time64MicrosecondType>(reserve)
                    .map_err(arrow_error("assemble time column"))?,
            ),
            ColumnBuilder::Timestamp(values, utc) => {
                let array = values
                    .finish::<TimestampMicrosecondType>(reserve)
                    .map_err(arrow_error("assemble timestamp column"))?;
                Arc::new(if *utc {
                    array.with_timezone("UTC")
                } else {
                    array
                })
            }
            ColumnBuilder::Interval(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Uuid(builder) => Arc::new(builder.finish()),
            ColumnBuilder::List {
                field,
                offsets,
                nulls,
                child,
                ..
            } => {
                let values = child.finish(0)?;
                let finished_offsets = std::mem::replace(offsets, vec![0]);
                let offsets = OffsetBuffer::new(ScalarBuffer::from(finished_offsets));
                let list = ListArray::try_new(Arc::clone(field), offsets, values, nulls.finish())
                    .map_err(arrow_error("assemble list column"))?;
                Arc::new(list)
            }
        };
        Ok(array)
    }
}

/// Appends the elements of a binary array value to `child`.
fn append_array_elements(
    child: &mut ColumnBuilder,
    element: &PgType,
    bytes: &[u8],
) -> std::result::Result<(), String> {
    if bytes.len() < 12 {
        return Err(format!("array value of {} bytes is too short", bytes.len()));
    }
    let dimensions = read_i32(bytes);
    let element_oid = read_i32(&bytes[8..]) as u32;
    if element_oid != element.oid() {
        return Err(format!(
            "array element type oid {element_oid} differs from the column's {}",
            element.oid()
        ));
    }
    if dimensions == 0 {
        return Ok(());
    }
    if dimensions != 1 {
        return Err(format!("{dimensions}-dimensional arrays cannot be represented (only one-dimensional arrays map to an Arrow list)"));
    }
    if bytes.len() < 20 {
        return Err("array header is truncated".to_string());
    }
    let count = read_i32(&bytes[12..]);
    let lower_bound = read_i32(&bytes[16..]);
    if lower_bound != 1 {
        return Err(format!("array lower bound {lower_bound} cannot be represented (Arrow lists start at 1 in PostgreSQL terms)"));
    }
    let mut position = 20usize;
    for index in 0..count.max(0) {
        let header = bytes
            .get(position..position + 4)
            .ok_or_else(|| "array element is truncated".to_string())?;
        let length = read_i32(header);
        position += 4;
        if length < 0 {
            child
                .append(None)
                .map_err(|reason| format!("element {}: {reason}", index + 1))?;
            continue;
        }
        let end = position + length as usize;
        let value = bytes
            .get(position..end)
            .ok_or_else(|| "array element is truncated".to_string())?;
        child
            .append(Some(value))
            .map_err(|reason| format!("element {}: {reason}", index + 1))?;
        position = end;
    }
    Ok(())
}

/// Renders one binary value for a dirty-record sample (best effort; hex when not readable).
pub fn describe_value(pg_type: &PgType, value: Option<&[u8]>) -> serde_json::Value {
    let Some(bytes) = value else {
        return serde_json::Value::Null;
    };
    let rendered = match (pg_type, bytes.len()) {
        (PgType::Int2, 2) => Some(serde_json::Value::from(read_i16(bytes))),
        (PgType::Int4, 4) => Some(serde_json::Value::from(read_i32(bytes))),
        (PgType::Int8, 8) => Some(serde_json::Value::from(read_i64(bytes))),
        (PgType::Date, 4) => Some(match read_i32(bytes) {
            i32::MAX => "infinity".into(),
            i32::MIN => "-infinity".into(),
            days => format!("{days} days after 2000-01-01").into(),
        }),
        (PgType::Timestamp | PgType::Timestamptz, 8) => Some(match read_i64(bytes) {
            i64::MAX => "infinity".into(),
            i64::MIN => "-infinity".into(),
            micros => format!("{micros} µs after 2000-01-01").into(),
        }),
        (PgType::Numeric { .. } | PgType::NumericText { .. }, _) => {
            NumericRef::parse(bytes).ok().map(|numeric| {
                let mut text = String::new();
                numeric.write_text(&mut text);
                serde_json::Value::from(text)
            })
        }
        (PgType::Text { .. } | PgType::Json, _) => {
            std::str::from_utf8(bytes).ok().map(serde_json::Value::from)
        }
        _ => None,
    };
    rendered.unwrap_or_else(|| {
        let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        serde_json::Value::from(format!("\\x{hex}"))
    })
}

/// Streaming decoder of one binary COPY result into record batches.
pub struct CopyDecoder {
    schema: SchemaRef,
    types: Vec<PgType>,
    builders: Vec<ColumnBuilder>,
    /// Rows in the builders.
    buffered: usize,
    /// The start of a row (or of the header) that has not arrived in full.
    pending: BytesMut,
    header_done: bool,
    finished: bool,
    batch_rows: usize,
}

/// The fields of a row that `scan_row` found complete, in order (`None` is NULL).
struct Fields<'a> {
    row: &'a [u8],
    position: usize,
}

impl<'a> Fields<'a> {
    fn of(row: &'a [u8]) -> Self {
        // After the 16-bit field count.
        Fields { row, position: 2 }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Option<&'a [u8]>;

    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let header = self.row.get(self.position..self.position + 4)?;
        let length = read_i32(header);
        self.position += 4;
        if length < 0 {
            return Some(None);
        }
        let end = self.position + length as usize;
        let value = self.row.get(self.position..end)?;
        self.position = end;
        Some(Some(value))
    }
}

impl CopyDecoder {
    /// Returns a decoder producing batches of `schema` (whose fields are `types`) of at most
    /// `batch_rows` rows.
    pub fn new(schema: SchemaRef, types: Vec<PgType>, batch_rows: usize) -> Self {
        let batch_rows = batch_rows.max(1);
        let builders = types
            .iter()
            .map(|pg_type| ColumnBuilder::new(pg_type, batch_rows))
            .collect();
        CopyDecoder {
            schema,
            types,
            builders,
            buffered: 0,
            pending: BytesMut::new(),
            header_done: false,
            finished: false,
            batch_rows,
        }
    }

    /// Decodes `chunk`, pushing every full batch to `batches` and every dirty row to `dirty`.
    ///
    /// # Errors
    /// [`ConnectorError::Conversion`] when the stream is not binary COPY data of the expected
    /// shape.
    pub fn push(
        &mut self,
        chunk: &[u8],
        batches: &mut Vec<RecordBatch>,
        dirty: &mut Vec<DirtySample>,
    ) -> Result<()> {
        if self.pending.is_empty() && self.header_done {
            // The usual case (PostgreSQL sends one row per message): decode in place and keep
            // only an incomplete row.
            let consumed = self.decode_rows(chunk, batches, dirty)?;
            if consumed < chunk.len() {
                self.pending.extend_from_slice(&chunk[consumed..]);
            }
            return Ok(());
        }
        self.pending.extend_from_slice(chunk);
        if !self.header_done && !self.read_header()? {
            return Ok(());
        }
        let mut pending = std::mem::take(&mut self.pending);
        let decoded = self.decode_rows(&pending, batches, dirty);
        if let Ok(consumed) = decoded {
            pending.advance(consumed);
        }
        self.pending = pending;
        decoded.map(|_| ())
    }

    /// Decodes the complete rows at the start of `buffer` (up to the trailer); returns how many
    /// bytes they took.
    fn decode_rows(
        &mut self,
        buffer: &[u8],
        batches: &mut Vec<RecordBatch>,
        dirty: &mut Vec<DirtySample>,
    ) -> Result<usize> {
        let mut position = 0usize;
        while !self.finished {
            let rest = &buffer[position..];
            let Some(row_length) = self.scan_row(rest)? else {
                break;
            };
            if self.finished {
                position += row_length;
                break;
            }
            self.append_row(&rest[..row_length], dirty, batches)?;
            position += row_length;
            if self.buffered >= self.batch_rows {
                if let Some(batch) = self.finish_batch(0)? {
                    batches.push(batch);
                }
            }
        }
        Ok(position)
    }

    /// Ends the stream, pushing the last partial batch.
    ///
    /// # Errors
    /// [`ConnectorError::Conversion`] when the stream ended without its trailer or mid-row.
    pub fn finish(&mut self, batches: &mut Vec<RecordBatch>) -> Result<()> {
        if !self.finished || !self.pending.is_empty() {
            return Err(self.stream_error("the COPY stream ended before its trailer"));
        }
        if let Some(batch) = self.finish_batch(0)? {
            batches.push(batch);
        }
        Ok(())
    }

    fn stream_error(&self, message: &str) -> ConnectorError {
        ConnectorError::Conversion {
            column: "(copy stream)".into(),
            message: message.to_string(),
        }
    }

    fn read_header(&mut self) -> Result<bool> {
        if self.pending.len() < 19 {
            return Ok(false);
        }
        if &self.pending[..11] != COPY_SIGNATURE {
            return Err(self.stream_error("not a binary COPY stream (bad signature)"));
        }
        let extension_length = read_i32(&self.pending[15..19]);
        let header_length = 19
            + usize::try_from(extension_length)
                .map_err(|_| self.stream_error("bad header extension"))?;
        if self.pending.len() < header_length {
            return Ok(false);
        }
        self.pending.advance(header_length);
        self.header_done = true;
        Ok(true)
    }

    /// Finds the row at the start of `buffer`; returns its length, or `None` when it has not
    /// arrived in full.
    #[inline]
    fn scan_row(&mut self, buffer: &[u8]) -> Result<Option<usize>> {
        let Some(count_bytes) = buffer.get(..2) else {
            return Ok(None);
        };
        let field_count = read_i16(count_bytes);
        if field_count == -1 {
            self.finished = true;
            return Ok(Some(2));
        }
        if usize::try_from(field_count).ok() != Some(self.types.len()) {
            return Err(self.stream_error(&format!(
                "row has {field_count} fields, expected {}",
                self.types.len()
            )));
        }
        let mut position = 2usize;
        for _ in 0..self.types.len() {
            let Some(header) = buffer.get(position..position + 4) else {
                return Ok(None);
            };
            let length = read_i32(header);
            position += 4;
            if length > 0 {
                position += length as usize;
                if position > buffer.len() {
                    return Ok(None);
                }
            }
        }
        Ok(Some(position))
    }

    /// Appends `row` (which `scan_row` found complete).
    fn append_row(
        &mut self,
        row: &[u8],
        dirty: &mut Vec<DirtySample>,
        batches: &mut Vec<RecordBatch>,
    ) -> Result<()> {
        let mut failure: Option<(usize, String)> = None;
        for (index, (builder, value)) in self.builders.iter_mut().zip(Fields::of(row)).enumerate() {
            if failure.is_some() {
                builder.append_null();
                continue;
            }
            if let Err(reason) = builder.append(value) {
                failure = Some((index, reason));
            }
        }
        self.buffered += 1;
        let Some((column_index, reason)) = failure else {
            return Ok(());
        };
        let mut described = serde_json::Map::new();
        for ((field, pg_type), value) in self
            .schema
            .fields()
            .iter()
            .zip(&self.types)
            .zip(Fields::of(row))
        {
            described.insert(field.name().clone(), describe_value(pg_type, value));
        }
        dirty.push(DirtySample {
            column: self.schema.field(column_index).name().clone(),
            reason,
            row: serde_json::Value::Object(described).to_string(),
        });
        // The dirty row is the last entry of every builder: cut it off.
        if let Some(batch) = self.finish_batch(1)? {
            batches.push(batch);
        }
        Ok(())
    }

    /// Finishes the builders into a batch without its last `drop_last` rows.
    fn finish_batch(&mut self, drop_last: usize) -> Result<Option<RecordBatch>> {
        let rows = self.buffered;
        self.buffered = 0;
        if rows == 0 || self.builders.is_empty() {
            return Ok(None);
        }
        // After a full batch the builders start again sized for the next one (rather than
        // growing from nothing); after a batch cut short by a dirty row they start empty.
        let reserve = if rows >= self.batch_rows {
            self.batch_rows
        } else {
            0
        };
        let columns = self
            .builders
            .iter_mut()
            .map(|builder| builder.finish(reserve))
            .collect::<Result<Vec<_>>>()?;
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), columns)
            .map_err(arrow_error("assemble batch"))?;
        let kept = rows.saturating_sub(drop_last);
        if kept == 0 {
            return Ok(None);
        }
        Ok(Some(if kept == rows {
            batch
        } else {
            batch.slice(0, kept)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Date32Type, Int64Type};
    use arrow_array::{Array, ArrayRef};
    use arrow_schema::Schema;
    use bytes::BufMut;

    fn stream(rows: &[Vec<Option<Vec<u8>>>]) -> Vec<u8> {
        let mut out = BytesMut::new();
        out.put_slice(COPY_SIGNATURE);
        out.put_i32(0);
        out.put_i32(0);
        for row in rows {
            out.put_i16(row.len() as i16);
            for value in row {
                match value {
                    Some(bytes) => {
                        out.put_i32(bytes.len() as i32);
                        out.put_slice(bytes);
                    }
                    None => out.put_i32(-1),
                }
            }
        }
        out.put_i16(-1);
        out.to_vec()
    }

    fn decoder(types: Vec<PgType>, batch_rows: usize) -> CopyDecoder {
        let fields: Vec<_> = types
            .iter()
            .enumerate()
            .map(|(index, t)| t.arrow_field(&format!("c{index}")))
            .collect();
        CopyDecoder::new(Arc::new(Schema::new(fields)), types, batch_rows)
    }

    #[test]
    fn byte_at_a_time_decodes_rows_and_batches() {
        let data = stream(&[
            vec![Some(1_i64.to_be_bytes().to_vec()), Some(b"a".to_vec())],
            vec![Some(i64::MIN.to_be_bytes().to_vec()), None],
            vec![
                Some(i64::MAX.to_be_bytes().to_vec()),
                Some("数据".as_bytes().to_vec()),
            ],
        ]);
        let mut decoder = decoder(
            vec![
                PgType::Int8,
                PgType::Text {
                    oid: 25,
                    typmod: -1,
                },
            ],
            2,
        );
        let (mut batches, mut dirty) = (Vec::new(), Vec::new());
        for byte in &data {
            decoder
                .push(std::slice::from_ref(byte), &mut batches, &mut dirty)
                .expect("push");
        }
        decoder.finish(&mut batches).expect("finish");
        assert_eq!(
            batches
                .iter()
                .map(RecordBatch::num_rows)
                .collect::<Vec<_>>(),
            vec![2, 1]
        );
        assert_eq!(
            batches[0].column(0).as_primitive::<Int64Type>().value(1),
            i64::MIN
        );
        assert!(batches[0].column(1).is_null(1));
        assert_eq!(batches[1].column(1).as_string::<i32>().value(0), "数据");
        assert!(dirty.is_empty());
    }

    #[test]
    fn infinite_date_is_a_dirty_row_and_others_survive() {
        let data = stream(&[
            vec![
                Some(1_i64.to_be_bytes().to_vec()),
                Some(0_i32.to_be_bytes().to_vec()),
            ],
            vec![
                Some(2_i64.to_be_bytes().to_vec()),
                Some(i32::MAX.to_be_bytes().to_vec()),
            ],
            vec![
                Some(3_i64.to_be_bytes().to_vec()),
                Some((-1_i32).to_be_bytes().to_vec()),
            ],
        ]);
        let mut decoder = decoder(vec![PgType::Int8, PgType::Date], 100);
        let (mut batches, mut dirty) = (Vec::new(), Vec::new());
        decoder.push(&data, &mut batches, &mut dirty).expect("push");
        decoder.finish(&mut batches).expect("finish");
        let ids: Vec<i64> = batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(ids, vec![1, 3]);
        assert_eq!(
            batches[1].column(1).as_primitive::<Date32Type>().value(0),
            POSTGRES_EPOCH_DAYS - 1
        );
        assert_eq!(dirty.len(), 1);
        assert_eq!(dirty[0].column, "c1");
        assert!(dirty[0].reason.contains("infinity"), "{}", dirty[0].reason);
        assert!(dirty[0].row.contains("\"c0\":2"), "{}", dirty[0].row);
    }

    #[test]
    fn arrays_decode_to_lists_and_reject_two_dimensions() {
        let mut one_dimension = BytesMut::new();
        one_dimension.put_i32(1);
        one_dimension.put_i32(1);
        one_dimension.put_u32(23);
        one_dimension.put_i32(3);
        one_dimension.put_i32(1);
        for value in [Some(7_i32), None, Some(-7)] {
            match value {
                Some(number) => {
                    one_dimension.put_i32(4);
                    one_dimension.put_i32(number);
                }
                None => one_dimension.put_i32(-1),
            }
        }
        let mut two_dimensions = BytesMut::new();
        two_dimensions.put_i32(2);
        two_dimensions.put_i32(0);
        two_dimensions.put_u32(23);
        two_dimensions.put_slice(&[
            0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 9,
        ]);
        let data = stream(&[
            vec![Some(one_dimension.to_vec())],
            vec![Some(two_dimensions.to_vec())],
            vec![None],
        ]);
        let mut decoder = decoder(vec![PgType::Array(Box::new(PgType::Int4))], 10);
        let (mut batches, mut dirty) = (Vec::new(), Vec::new());
        decoder.push(&data, &mut batches, &mut dirty).expect("push");
        decoder.finish(&mut batches).expect("finish");
        assert_eq!(dirty.len(), 1);
        let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(total, 2);
        let list = batches[0].column(0).as_list::<i32>();
        assert_eq!(list.value(0).len(), 3);
        assert!(list.value(0).is_null(1));
    }

    #[test]
    fn truncated_stream_is_an_error() {
        let data = stream(&[vec![Some(1_i64.to_be_bytes().to_vec())]]);
        let mut decoder = decoder(vec![PgType::Int8], 10);
        let (mut batches, mut dirty) = (Vec::new(), Vec::new());
        decoder
            .push(&data[..data.len() - 2], &mut batches, &mut dirty)
            .expect("push");
        assert!(decoder.finish(&mut batches).is_err());
    }

    fn numeric(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        super::super::numeric::encode_text(text, &mut Vec::new(), &mut out).expect("numeric");
        out
    }

    /// Rows of seven types with NULLs, decoded in batches of 2 from chunks of 5 bytes (rows
    /// split across chunks, several rows per chunk, builders reused after full batches).
    #[test]
    fn typed_buffers_decode_across_batches_and_chunks() {
        let types = vec![
            PgType::Int8,
            PgType::Text {
                oid: 25,
                typmod: -1,
            },
            PgType::Bool,
            PgType::Numeric {
                precision: 12,
                scale: 2,
            },
            PgType::Timestamptz,
            PgType::Bytea,
            PgType::Jsonb,
        ];
        let mut jsonb = vec![1u8];
        jsonb.extend_from_slice(b"{\"k\": [1]}");
        let rows: Vec<Vec<Option<Vec<u8>>>> = vec![
            vec![
                Some(1_i64.to_be_bytes().to_vec()),
                Some(b"".to_vec()),
                Some(vec![1]),
                Some(numeric("-1234.56")),
                Some(0_i64.to_be_bytes().to_vec()),
                Some(vec![0xFF, 0]),
                Some(jsonb.clone()),
            ],
            vec![None, None, None, None, None, None, None],
            vec![
                Some(3_i64.to_be_bytes().to_vec()),
                Some("数据".as_bytes().to_vec()),
                Some(vec![0]),
                Some(numeric("9999999999.99")),
                Some((-1_i64).to_be_bytes().to_vec()),
                Some(Vec::new()),
                None,
            ],
            vec![
                Some(4_i64.to_be_bytes().to_vec()),
                Some(b"tail".to_vec()),
                None,
                Some(numeric("0")),
                Some(1_000_000_i64.to_be_bytes().to_vec()),
                None,
                Some(jsonb),
            ],
            vec![
                Some(5_i64.to_be_bytes().to_vec()),
                Some("é".as_bytes().to_vec()),
                Some(vec![1]),
                Some(numeric("0.1")),
                None,
                Some(b"x".to_vec()),
                None,
            ],
        ];
        let data = stream(&rows);
        let mut decoder = decoder(types, 2);
        let (mut batches, mut dirty) = (Vec::new(), Vec::new());
        for chunk in data.chunks(5) {
            decoder.push(chunk, &mut batches, &mut dirty).expect("push");
        }
        decoder.finish(&mut batches).expect("finish");
        assert!(dirty.is_empty(), "{dirty:?}");
        assert_eq!(
            batches
                .iter()
                .map(RecordBatch::num_rows)
                .collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        let batch =
            arrow_select::concat::concat_batches(&batches[0].schema(), &batches).expect("concat");
        let expected: Vec<ArrayRef> = vec![
            Arc::new(arrow_array::Int64Array::from(vec![
                Some(1),
                None,
                Some(3),
                Some(4),
                Some(5),
            ])),
            Arc::new(arrow_array::StringArray::from(vec![
                Some(""),
                None,
                Some("数据"),
                Some("tail"),
                Some("é"),
            ])),
            Arc::new(arrow_array::BooleanArray::from(vec![
                Some(true),
                None,
                Some(false),
                None,
                Some(true),
            ])),
            Arc::new(
                arrow_array::Decimal128Array::from(vec![
                    Some(-123_456),
                    None,
                    Some(999_999_999_999),
                    Some(0),
                    Some(10),
                ])
                .with_precision_and_scale(12, 2)
                .expect("decimal"),
            ),
            Arc::new(
                arrow_array::TimestampMicrosecondArray::from(vec![
                    Some(POSTGRES_EPOCH_MICROS),
                    None,
                    Some(POSTGRES_EPOCH_MICROS - 1),
                    Some(POSTGRES_EPOCH_MICROS + 1_000_000),
                    None,
                ])
                .with_timezone("UTC"),
            ),
            Arc::new(arrow_array::BinaryArray::from(vec![
                Some(&[0xFF_u8, 0][..]),
                None,
                Some(&[][..]),
                None,
                Some(&b"x"[..]),
            ])),
            Arc::new(arrow_array::StringArray::from(vec![
                Some("{\"k\": [1]}"),
                None,
                None,
                Some("{\"k\": [1]}"),
                None,
            ])),
        ];
        for (index, expected) in expected.iter().enumerate() {
            assert_eq!(
                batch.column(index).to_data(),
                expected.to_data(),
                "column {index}"
            );
        }
    }

    /// Values the fast paths hand to the general ones keep their reasons.
    #[test]
    fn unrepresentable_values_keep_their_reasons() {
        let types = vec![
            PgType::Int8,
            PgType::Numeric {
                precision: 5,
                scale: 2,
            },
            PgType::Text {
                oid: 25,
                typmod: -1,
            },
            PgType::Jsonb,
        ];
        let good = |id: i64| {
            vec![
                Some(id.to_be_bytes().to_vec()),
                Some(numeric("1.5")),
                Some(b"ok".to_vec()),
                Some(vec![1, b'1']),
            ]
        };
        let with = |id: i64, column: usize, value: Vec<u8>| {
            let mut row = good(id);
            row[column] = Some(value);
            row
        };
        let data = stream(&[
            good(1),
            with(2, 1, numeric("1.555")),
            with(3, 1, numeric("1000")),
            with(4, 1, numeric("NaN")),
            with(5, 2, vec![b'a', 0xC3]),
            with(6, 3, vec![2, b'1']),
            with(7, 3, vec![1, 0xFF]),
            with(8, 1, numeric("123.4")),
            good(9),
        ]);
        let mut decoder = decoder(types, 3);
        let (mut batches, mut dirty) = (Vec::new(), Vec::new());
        decoder.push(&data, &mut batches, &mut dirty).expect("push");
        decoder.finish(&mut batches).expect("finish");
        let ids: Vec<i64> = batches
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(ids, vec![1, 8, 9]);
        let reasons: Vec<(&str, &str)> = dirty
            .iter()
            .map(|sample| (sample.column.as_str(), sample.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                ("c1", "value has more than 2 fractional digits"),
                ("c1", "value does not fit numeric(5,2)"),
                ("c1", "NaN cannot be represented as an Arrow decimal"),
                (
                    "c2",
                    "text is not valid UTF-8: incomplete utf-8 byte sequence from index 1"
                ),
                ("c3", "jsonb format version 2 is not supported (expected 1)"),
                (
                    "c3",
                    "jsonb is not valid UTF-8: invalid utf-8 sequence of 1 bytes from index 0"
                ),
            ]
        );
        assert!(
            dirty[0].row.contains("\"c1\":\"1.555\""),
            "{}",
            dirty[0].row
        );
    }
}
