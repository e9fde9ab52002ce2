//! Decodes `COPY ... TO STDOUT (FORMAT binary)` straight into Arrow builders.
//!
//! The stream is the 11-byte signature `PGCOPY\n\xff\r\n\0`, a 32-bit flags word, a 32-bit
//! header-extension length and that many bytes; then one tuple per row: a 16-bit field count
//! and, per field, a 32-bit length (-1 for NULL) and the value in the type's binary send
//! format; then the trailer, a field count of -1. The driver hands over chunks that need not
//! align with rows, so a partial row waits in a buffer for the next chunk.
//!
//! A value Arrow cannot hold (an infinite date, a NaN in a decimal column) makes its row dirty:
//! the row is left out of the batch and described in a [`DirtySample`].

use super::numeric::NumericRef;
use super::types::PgType;
use crate::channel::DirtySample;
use crate::error::{ConnectorError, Result};
use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Decimal256Builder,
    FixedSizeBinaryBuilder, Float32Builder, Float64Builder, Int16Builder, Int32Builder,
    Int64Builder, IntervalMonthDayNanoBuilder, StringBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder,
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
    Bool(BooleanBuilder),
    /// `smallint`.
    Int16(Int16Builder),
    /// `integer`.
    Int32(Int32Builder),
    /// `bigint`.
    Int64(Int64Builder),
    /// `real`.
    Float32(Float32Builder),
    /// `double precision`.
    Float64(Float64Builder),
    /// `numeric(p ≤ 38, s)`.
    Decimal128(Decimal128Builder, u8, i8),
    /// `numeric(38 < p ≤ 76, s)`.
    Decimal256(Decimal256Builder, u8, i8),
    /// Unconstrained `numeric` as text.
    NumericText(StringBuilder, String),
    /// Character types and `json`.
    Text(StringBuilder),
    /// `jsonb` (a version byte, then text).
    Jsonb(StringBuilder),
    /// `bytea`.
    Binary(BinaryBuilder),
    /// `date`.
    Date32(Date32Builder),
    /// `time`.
    Time64(Time64MicrosecondBuilder),
    /// `timestamp` / `timestamptz`.
    Timestamp(TimestampMicrosecondBuilder),
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

impl ColumnBuilder {
    /// Returns a builder for values of `pg_type`, sized for `capacity` rows.
    pub fn new(pg_type: &PgType, capacity: usize) -> Self {
        match pg_type {
            PgType::Bool => ColumnBuilder::Bool(BooleanBuilder::with_capacity(capacity)),
            PgType::Int2 => ColumnBuilder::Int16(Int16Builder::with_capacity(capacity)),
            PgType::Int4 => ColumnBuilder::Int32(Int32Builder::with_capacity(capacity)),
            PgType::Int8 => ColumnBuilder::Int64(Int64Builder::with_capacity(capacity)),
            PgType::Float4 => ColumnBuilder::Float32(Float32Builder::with_capacity(capacity)),
            PgType::Float8 => ColumnBuilder::Float64(Float64Builder::with_capacity(capacity)),
            PgType::Numeric { precision, scale } if *precision <= 38 => ColumnBuilder::Decimal128(
                Decimal128Builder::with_capacity(capacity)
                    .with_data_type(DataType::Decimal128(*precision, *scale)),
                *precision,
                *scale,
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
                ColumnBuilder::Text(StringBuilder::with_capacity(capacity, capacity * 16))
            }
            PgType::Jsonb => {
                ColumnBuilder::Jsonb(StringBuilder::with_capacity(capacity, capacity * 16))
            }
            PgType::Bytea => {
                ColumnBuilder::Binary(BinaryBuilder::with_capacity(capacity, capacity * 16))
            }
            PgType::Date => ColumnBuilder::Date32(Date32Builder::with_capacity(capacity)),
            PgType::Time => {
                ColumnBuilder::Time64(Time64MicrosecondBuilder::with_capacity(capacity))
            }
            PgType::Timestamp => {
                ColumnBuilder::Timestamp(TimestampMicrosecondBuilder::with_capacity(capacity))
            }
            PgType::Timestamptz => ColumnBuilder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
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

    fn append_value(&mut self, bytes: &[u8]) -> std::result::Result<(), String> {
        match self {
            ColumnBuilder::Bool(builder) => {
                expect_len(bytes, 1, "boolean")?;
                builder.append_value(bytes[0] != 0);
            }
            ColumnBuilder::Int16(builder) => {
                expect_len(bytes, 2, "smallint")?;
                builder.append_value(read_i16(bytes));
            }
            ColumnBuilder::Int32(builder) => {
                expect_len(bytes, 4, "integer")?;
                builder.append_value(read_i32(bytes));
            }
            ColumnBuilder::Int64(builder) => {
                expect_len(bytes, 8, "bigint")?;
                builder.append_value(read_i64(bytes));
            }
            ColumnBuilder::Float32(builder) => {
                expect_len(bytes, 4, "real")?;
                builder.append_value(f32::from_bits(read_i32(bytes) as u32));
            }
            ColumnBuilder::Float64(builder) => {
                expect_len(bytes, 8, "double precision")?;
                builder.append_value(f64::from_bits(read_i64(bytes) as u64));
            }
            ColumnBuilder::Decimal128(builder, precision, scale) => {
                let unscaled = NumericRef::parse(bytes)?.to_unscaled(*scale)?;
                let value = unscaled
                    .to_i128()
                    .filter(|value| value.unsigned_abs() < 10_u128.pow(u32::from(*precision)))
                    .ok_or_else(|| format!("value does not fit numeric({precision},{scale})"))?;
                builder.append_value(value);
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
            ColumnBuilder::Text(builder) => {
                let text = std::str::from_utf8(bytes)
                    .map_err(|error| format!("text is not valid UTF-8: {error}"))?;
                builder.append_value(text);
            }
            ColumnBuilder::Jsonb(builder) => {
                match bytes.first() {
                    Some(1) => {}
                    Some(version) => {
                        return Err(format!(
                            "jsonb format version {version} is not supported (expected 1)"
                        ))
                    }
                    None => return Err("jsonb value is empty".to_string()),
                }
                let text = std::str::from_utf8(&bytes[1..])
                    .map_err(|error| format!("jsonb is not valid UTF-8: {error}"))?;
                builder.append_value(text);
            }
            ColumnBuilder::Binary(builder) => builder.append_value(bytes),
            ColumnBuilder::Date32(builder) => {
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
                builder.append_value(value);
            }
            ColumnBuilder::Time64(builder) => {
                expect_len(bytes, 8, "time")?;
                builder.append_value(read_i64(bytes));
            }
            ColumnBuilder::Timestamp(builder) => {
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
                builder.append_value(value);
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
    pub fn append_null(&mut self) {
        match self {
            ColumnBuilder::Bool(builder) => builder.append_null(),
            ColumnBuilder::Int16(builder) => builder.append_null(),
            ColumnBuilder::Int32(builder) => builder.append_null(),
            ColumnBuilder::Int64(builder) => builder.append_null(),
            ColumnBuilder::Float32(builder) => builder.append_null(),
            ColumnBuilder::Float64(builder) => builder.append_null(),
            ColumnBuilder::Decimal128(builder, ..) => builder.append_null(),
            ColumnBuilder::Decimal256(builder, ..) => builder.append_null(),
            ColumnBuilder::NumericText(builder, _) => builder.append_null(),
            ColumnBuilder::Text(builder) | ColumnBuilder::Jsonb(builder) => builder.append_null(),
            ColumnBuilder::Binary(builder) => builder.append_null(),
            ColumnBuilder::Date32(builder) => builder.append_null(),
            ColumnBuilder::Time64(builder) => builder.append_null(),
            ColumnBuilder::Timestamp(builder) => builder.append_null(),
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
            ColumnBuilder::Bool(builder) => builder.len(),
            ColumnBuilder::Int16(builder) => builder.len(),
            ColumnBuilder::Int32(builder) => builder.len(),
            ColumnBuilder::Int64(builder) => builder.len(),
            ColumnBuilder::Float32(builder) => builder.len(),
            ColumnBuilder::Float64(builder) => builder.len(),
            ColumnBuilder::Decimal128(builder, ..) => builder.len(),
            ColumnBuilder::Decimal256(builder, ..) => builder.len(),
            ColumnBuilder::NumericText(builder, _) => builder.len(),
            ColumnBuilder::Text(builder) | ColumnBuilder::Jsonb(builder) => builder.len(),
            ColumnBuilder::Binary(builder) => builder.len(),
            ColumnBuilder::Date32(builder) => builder.len(),
            ColumnBuilder::Time64(builder) => builder.len(),
            ColumnBuilder::Timestamp(builder) => builder.len(),
            ColumnBuilder::Interval(builder) => builder.len(),
            ColumnBuilder::Uuid(builder) => builder.len(),
            ColumnBuilder::List { offsets, .. } => offsets.len() - 1,
        }
    }

    /// Returns whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the buffered entries as an array and resets the builder.
    ///
    /// # Errors
    /// [`ConnectorError::Arrow`] if the list parts do not fit together (a bug).
    pub fn finish(&mut self) -> Result<ArrayRef> {
        let array: ArrayRef = match self {
            ColumnBuilder::Bool(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Int16(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Int32(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Int64(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Float32(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Float64(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Decimal128(builder, ..) => Arc::new(builder.finish()),
            ColumnBuilder::Decimal256(builder, ..) => Arc::new(builder.finish()),
            ColumnBuilder::NumericText(builder, _) => Arc::new(builder.finish()),
            ColumnBuilder::Text(builder) | ColumnBuilder::Jsonb(builder) => {
                Arc::new(builder.finish())
            }
            ColumnBuilder::Binary(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Date32(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Time64(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Timestamp(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Interval(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Uuid(builder) => Arc::new(builder.finish()),
            ColumnBuilder::List {
                field,
                offsets,
                nulls,
                child,
                ..
            } => {
                let values = child.finish()?;
                let finished_offsets = std::mem::replace(offsets, vec![0]);
                let offsets = OffsetBuffer::new(ScalarBuffer::from(finished_offsets));
                let list = ListArray::try_new(Arc::clone(field), offsets, values, nulls.finish())
                    .map_err(|source| ConnectorError::Arrow {
                    context: "assemble list column".into(),
                    source,
                })?;
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
    pending: BytesMut,
    header_done: bool,
    finished: bool,
    batch_rows: usize,
    field_spans: Vec<Option<(usize, usize)>>,
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
        let column_count = types.len();
        CopyDecoder {
            schema,
            types,
            builders,
            pending: BytesMut::new(),
            header_done: false,
            finished: false,
            batch_rows,
            field_spans: Vec::with_capacity(column_count),
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
        self.pending.extend_from_slice(chunk);
        if !self.header_done && !self.read_header()? {
            return Ok(());
        }
        while !self.finished {
            let Some(row_end) = self.scan_row()? else {
                break;
            };
            if self.finished {
                self.pending.advance(row_end);
                break;
            }
            self.append_row(dirty, batches)?;
            self.pending.advance(row_end);
            if self.builders.first().map_or(0, ColumnBuilder::len) >= self.batch_rows {
                if let Some(batch) = self.finish_batch(0)? {
                    batches.push(batch);
                }
            }
        }
        Ok(())
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

    /// Finds the next complete row in `pending`, filling `field_spans`; returns its length.
    fn scan_row(&mut self) -> Result<Option<usize>> {
        let buffer = &self.pending[..];
        if buffer.len() < 2 {
            return Ok(None);
        }
        let field_count = read_i16(buffer);
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
        self.field_spans.clear();
        let mut position = 2usize;
        for _ in 0..self.types.len() {
            let Some(header) = buffer.get(position..position + 4) else {
                return Ok(None);
            };
            let length = read_i32(header);
            position += 4;
            if length < 0 {
                self.field_spans.push(None);
                continue;
            }
            let end = position + length as usize;
            if end > buffer.len() {
                return Ok(None);
            }
            self.field_spans.push(Some((position, end)));
            position = end;
        }
        Ok(Some(position))
    }

    fn append_row(
        &mut self,
        dirty: &mut Vec<DirtySample>,
        batches: &mut Vec<RecordBatch>,
    ) -> Result<()> {
        let mut failure: Option<(usize, String)> = None;
        for (index, builder) in self.builders.iter_mut().enumerate() {
            let value = self.field_spans[index].map(|(start, end)| &self.pending[start..end]);
            if failure.is_some() {
                builder.append_null();
                continue;
            }
            if let Err(reason) = builder.append(value) {
                failure = Some((index, reason));
            }
        }
        let Some((column_index, reason)) = failure else {
            return Ok(());
        };
        let mut row = serde_json::Map::new();
        for (index, field) in self.schema.fields().iter().enumerate() {
            let value = self.field_spans[index].map(|(start, end)| &self.pending[start..end]);
            row.insert(
                field.name().clone(),
                describe_value(&self.types[index], value),
            );
        }
        dirty.push(DirtySample {
            column: self.schema.field(column_index).name().clone(),
            reason,
            row: serde_json::Value::Object(row).to_string(),
        });
        // The dirty row is the last entry of every builder: cut it off.
        if let Some(batch) = self.finish_batch(1)? {
            batches.push(batch);
        }
        Ok(())
    }

    /// Finishes the builders into a batch without its last `drop_last` rows.
    fn finish_batch(&mut self, drop_last: usize) -> Result<Option<RecordBatch>> {
        let rows = self.builders.first().map_or(0, ColumnBuilder::len);
        if rows == 0 {
            return Ok(None);
        }
        let columns = self
            .builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect::<Result<Vec<_>>>()?;
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), columns).map_err(|source| {
            ConnectorError::Arrow {
                context: "assemble batch".into(),
                source,
            }
        })?;
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
    use arrow_array::Array;
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
}
