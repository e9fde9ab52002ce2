//! Encodes Arrow record batches as `COPY ... FROM STDIN (FORMAT binary)` data, straight from
//! the arrays, in the binary format of each *target* column (an Arrow Int64 written into an
//! `integer` column is sent as 4 bytes, after a range check).
//!
//! A value that does not fit its target column (out of range, an unparsable string, more
//! fractional digits than the column's scale) makes its row dirty; the row is left out and
//! described in a [`DirtySample`]. Rows are encoded back to back so that any run of them can be
//! sent again on its own (the sink retries failed batches in smaller pieces).

use super::column_encode::ColumnEncoder;
use super::copy_decode::{COPY_SIGNATURE, POSTGRES_EPOCH_DAYS, POSTGRES_EPOCH_MICROS};
use super::numeric;
use super::types::PgType;
use crate::channel::DirtySample;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, Decimal256Type, DurationMicrosecondType,
    DurationMillisecondType, DurationNanosecondType, DurationSecondType, Float16Type, Float32Type,
    Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, IntervalDayTimeType,
    IntervalMonthDayNanoType, IntervalYearMonthType, Time32MillisecondType, Time32SecondType,
    Time64MicrosecondType, Time64NanosecondType, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::i256;
use arrow_schema::{DataType, IntervalUnit, TimeUnit};
use bytes::{BufMut, Bytes, BytesMut};
use chrono::{DateTime, NaiveDate, NaiveTime, Timelike};

/// Returns the binary COPY header (signature, flags, no extension).
pub fn copy_header() -> Bytes {
    let mut header = BytesMut::with_capacity(19);
    header.put_slice(COPY_SIGNATURE);
    header.put_i32(0);
    header.put_i32(0);
    header.freeze()
}

/// Returns the binary COPY trailer.
pub fn copy_trailer() -> Bytes {
    Bytes::from_static(&[0xFF, 0xFF])
}

/// One Arrow value, normalised.
#[derive(Debug)]
pub enum Scalar<'a> {
    /// NULL.
    Null,
    /// Booleans.
    Bool(bool),
    /// Signed integers.
    Int(i64),
    /// Unsigned integers.
    UInt(u64),
    /// Floats.
    Float(f64),
    /// Strings.
    Str(&'a str),
    /// Bytes.
    Bytes(&'a [u8]),
    /// Decimals: unscaled value and scale.
    Decimal(i256, i8),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since 1970-01-01 (UTC for zoned timestamps).
    Timestamp(i64),
    /// Months, days, nanoseconds.
    Interval(i32, i32, i64),
    /// A list value.
    List(ArrayRef),
}

fn exact_micros(value: i64, unit: TimeUnit) -> Result<i64, String> {
    match unit {
        TimeUnit::Second => value
            .checked_mul(1_000_000)
            .ok_or_else(|| format!("{value} s is out of range")),
        TimeUnit::Millisecond => value
            .checked_mul(1_000)
            .ok_or_else(|| format!("{value} ms is out of range")),
        TimeUnit::Microsecond => Ok(value),
        TimeUnit::Nanosecond if value % 1000 == 0 => Ok(value / 1000),
        TimeUnit::Nanosecond => Err(format!(
            "{value} ns has sub-microsecond precision (PostgreSQL keeps microseconds)"
        )),
    }
}

/// Returns row `row` of `array` as a [`Scalar`].
///
/// # Errors
/// A description for Arrow types the connector cannot write, or sub-microsecond times.
pub fn scalar_at(array: &dyn Array, row: usize) -> Result<Scalar<'_>, String> {
    if array.is_null(row) {
        return Ok(Scalar::Null);
    }
    let scalar = match array.data_type() {
        DataType::Null => Scalar::Null,
        DataType::Boolean => Scalar::Bool(array.as_boolean().value(row)),
        DataType::Int8 => Scalar::Int(i64::from(array.as_primitive::<Int8Type>().value(row))),
        DataType::Int16 => Scalar::Int(i64::from(array.as_primitive::<Int16Type>().value(row))),
        DataType::Int32 => Scalar::Int(i64::from(array.as_primitive::<Int32Type>().value(row))),
        DataType::Int64 => Scalar::Int(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Scalar::UInt(u64::from(array.as_primitive::<UInt8Type>().value(row))),
        DataType::UInt16 => Scalar::UInt(u64::from(array.as_primitive::<UInt16Type>().value(row))),
        DataType::UInt32 => Scalar::UInt(u64::from(array.as_primitive::<UInt32Type>().value(row))),
        DataType::UInt64 => Scalar::UInt(array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float16 => {
            Scalar::Float(f64::from(array.as_primitive::<Float16Type>().value(row)))
        }
        DataType::Float32 => {
            Scalar::Float(f64::from(array.as_primitive::<Float32Type>().value(row)))
        }
        DataType::Float64 => Scalar::Float(array.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Scalar::Str(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Scalar::Str(array.as_string::<i64>().value(row)),
        DataType::Utf8View => Scalar::Str(array.as_string_view().value(row)),
        DataType::Binary => Scalar::Bytes(array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => Scalar::Bytes(array.as_binary::<i64>().value(row)),
        DataType::BinaryView => Scalar::Bytes(array.as_binary_view().value(row)),
        DataType::FixedSizeBinary(_) => Scalar::Bytes(array.as_fixed_size_binary().value(row)),
        DataType::Decimal128(_, scale) => Scalar::Decimal(
            i256::from_i128(array.as_primitive::<Decimal128Type>().value(row)),
            *scale,
        ),
        DataType::Decimal256(_, scale) => {
            Scalar::Decimal(array.as_primitive::<Decimal256Type>().value(row), *scale)
        }
        DataType::Date32 => Scalar::Date(array.as_primitive::<Date32Type>().value(row)),
        DataType::Date64 => {
            let millis = array.as_primitive::<Date64Type>().value(row);
            let days = i32::try_from(millis.div_euclid(86_400_000))
                .map_err(|_| format!("date {millis} ms is out of range"))?;
            Scalar::Date(days)
        }
        DataType::Time32(TimeUnit::Second) => {
            Scalar::Time(i64::from(array.as_primitive::<Time32SecondType>().value(row)) * 1_000_000)
        }
        DataType::Time32(_) => Scalar::Time(
            i64::from(array.as_primitive::<Time32MillisecondType>().value(row)) * 1_000,
        ),
        DataType::Time64(TimeUnit::Microsecond) => {
            Scalar::Time(array.as_primitive::<Time64MicrosecondType>().value(row))
        }
        DataType::Time64(_) => Scalar::Time(exact_micros(
            array.as_primitive::<Time64NanosecondType>().value(row),
            TimeUnit::Nanosecond,
        )?),
        DataType::Timestamp(unit, _) => {
            let value = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row),
                TimeUnit::Millisecond => {
                    array.as_primitive::<TimestampMillisecondType>().value(row)
                }
                TimeUnit::Microsecond => {
                    array.as_primitive::<TimestampMicrosecondType>().value(row)
                }
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(row),
            };
            Scalar::Timestamp(exact_micros(value, *unit)?)
        }
        DataType::Duration(unit) => {
            let value = match unit {
                TimeUnit::Second => array.as_primitive::<DurationSecondType>().value(row),
                TimeUnit::Millisecond => array.as_primitive::<DurationMillisecondType>().value(row),
                TimeUnit::Microsecond => array.as_primitive::<DurationMicrosecondType>().value(row),
                TimeUnit::Nanosecond => array.as_primitive::<DurationNanosecondType>().value(row),
            };
            let micros = exact_micros(value, *unit)?;
            Scalar::Interval(
                0,
                0,
                micros
                    .checked_mul(1000)
                    .ok_or_else(|| format!("duration {micros} µs is out of range"))?,
            )
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            let value = array.as_primitive::<IntervalMonthDayNanoType>().value(row);
            Scalar::Interval(value.months, value.days, value.nanoseconds)
        }
        DataType::Interval(IntervalUnit::YearMonth) => Scalar::Interval(
            array.as_primitive::<IntervalYearMonthType>().value(row),
            0,
            0,
        ),
        DataType::Interval(IntervalUnit::DayTime) => {
            let value = array.as_primitive::<IntervalDayTimeType>().value(row);
            Scalar::Interval(0, value.days, i64::from(value.milliseconds) * 1_000_000)
        }
        DataType::List(_) => Scalar::List(array.as_list::<i32>().value(row)),
        DataType::LargeList(_) => Scalar::List(array.as_list::<i64>().value(row)),
        other => {
            return Err(format!(
                "Arrow type {other} cannot be written to PostgreSQL"
            ))
        }
    };
    Ok(scalar)
}

/// Renders a scalar for a dirty-record sample.
pub fn describe_scalar(scalar: &Scalar<'_>) -> serde_json::Value {
    match scalar {
        Scalar::Null => serde_json::Value::Null,
        Scalar::Bool(value) => (*value).into(),
        Scalar::Int(value) => (*value).into(),
        Scalar::UInt(value) => (*value).into(),
        Scalar::Float(value) => serde_json::Number::from_f64(*value)
            .map_or_else(|| value.to_string().into(), Into::into),
        Scalar::Str(text) => (*text).into(),
        Scalar::Bytes(bytes) => format!(
            "\\x{}",
            bytes
                .iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>()
        )
        .into(),
        Scalar::Decimal(unscaled, scale) => format!("{unscaled}e-{scale}").into(),
        Scalar::Date(days) => format!("{days} days after 1970-01-01").into(),
        Scalar::Time(micros) => format!("{micros} µs after midnight").into(),
        Scalar::Timestamp(micros) => DateTime::from_timestamp_micros(*micros)
            .map_or_else(
                || format!("{micros} µs after 1970-01-01"),
                |moment| moment.to_rfc3339(),
            )
            .into(),
        Scalar::Interval(months, days, nanos) => {
            format!("{months} months {days} days {nanos} ns").into()
        }
        Scalar::List(values) => {
            let items = (0..values.len())
                .map(|index| {
                    scalar_at(values.as_ref(), index)
                        .map_or(serde_json::Value::Null, |item| describe_scalar(&item))
                })
                .collect();
            serde_json::Value::Array(items)
        }
    }
}

/// Reusable buffers of the encoder.
#[derive(Debug, Default)]
pub struct Scratch {
    text: String,
    digits: Vec<u8>,
}

fn int_of(scalar: &Scalar<'_>, type_name: &str) -> Result<i64, String> {
    match scalar {
        Scalar::Int(value) => Ok(*value),
        Scalar::UInt(value) => {
            i64::try_from(*value).map_err(|_| format!("{value} does not fit {type_name}"))
        }
        Scalar::Bool(value) => Ok(i64::from(*value)),
        Scalar::Float(value) if value.fract() == 0.0 && value.abs() < 9.2e18 => Ok(*value as i64),
        Scalar::Float(value) => Err(format!("{value} is not an integer ({type_name})")),
        Scalar::Decimal(unscaled, scale) => {
            let divisor = numeric::power_of_ten(u32::from(scale.unsigned_abs()))
                .ok_or_else(|| "decimal scale out of range".to_string())?;
            let value = if *scale >= 0 {
                let (quotient, remainder) = unscaled
                    .checked_div_rem(divisor)
                    .ok_or_else(|| "decimal overflow".to_string())?;
                if remainder != i256::ZERO {
                    return Err(format!(
                        "{unscaled}e-{scale} is not an integer ({type_name})"
                    ));
                }
                quotient
            } else {
                unscaled
                    .checked_mul(divisor)
                    .ok_or_else(|| format!("decimal does not fit {type_name}"))?
            };
            value
                .to_i128()
                .and_then(|wide| i64::try_from(wide).ok())
                .ok_or_else(|| format!("{value} does not fit {type_name}"))
        }
        Scalar::Str(text) => text
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("\"{text}\" is not an integer ({type_name})")),
        other => Err(format!(
            "{} cannot be written to a {type_name} column",
            kind_name(other)
        )),
    }
}

fn float_of(scalar: &Scalar<'_>, type_name: &str) -> Result<f64, String> {
    match scalar {
        Scalar::Float(value) => Ok(*value),
        Scalar::Int(value) => Ok(*value as f64),
        Scalar::UInt(value) => Ok(*value as f64),
        Scalar::Decimal(unscaled, scale) => format!("{unscaled}e-{scale}")
            .parse::<f64>()
            .map_err(|_| format!("decimal does not fit {type_name}")),
        Scalar::Str(text) => match text.trim().to_ascii_lowercase().as_str() {
            "nan" => Ok(f64::NAN),
            "infinity" | "inf" | "+infinity" => Ok(f64::INFINITY),
            "-infinity" | "-inf" => Ok(f64::NEG_INFINITY),
            trimmed => trimmed
                .parse::<f64>()
                .map_err(|_| format!("\"{text}\" is not a number ({type_name})")),
        },
        other => Err(format!(
            "{} cannot be written to a {type_name} column",
            kind_name(other)
        )),
    }
}

fn kind_name(scalar: &Scalar<'_>) -> &'static str {
    match scalar {
        Scalar::Null => "NULL",
        Scalar::Bool(_) => "a boolean",
        Scalar::Int(_) | Scalar::UInt(_) => "an integer",
        Scalar::Float(_) => "a float",
        Scalar::Str(_) => "a string",
        Scalar::Bytes(_) => "binary data",
        Scalar::Decimal(..) => "a decimal",
        Scalar::Date(_) => "a date",
        Scalar::Time(_) => "a time",
        Scalar::Timestamp(_) => "a timestamp",
        Scalar::Interval(..) => "an interval",
        Scalar::List(_) => "a list",
    }
}

fn parse_uuid(text: &str) -> Result<[u8; 16], String> {
    let hex: Vec<u8> = text
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .bytes()
        .filter(|byte| *byte != b'-')
        .collect();
    if hex.len() != 32 {
        return Err(format!("\"{text}\" is not a uuid"));
    }
    let mut out = [0u8; 16];
    for (index, pair) in hex.chunks(2).enumerate() {
        let pair_text =
            std::str::from_utf8(pair).map_err(|_| format!("\"{text}\" is not a uuid"))?;
        out[index] =
            u8::from_str_radix(pair_text, 16).map_err(|_| format!("\"{text}\" is not a uuid"))?;
    }
    Ok(out)
}

fn timestamp_micros_of(scalar: &Scalar<'_>, type_name: &str) -> Result<i64, String> {
    match scalar {
        Scalar::Timestamp(micros) => Ok(*micros),
        Scalar::Date(days) => i64::from(*days).checked_mul(86_400_000_000).ok_or_else(|| {
            format!("date {days} days after 1970-01-01 is out of range for {type_name}")
        }),
        Scalar::Str(text) => crate::sqlite::types::parse_timestamp(text),
        other => Err(format!(
            "{} cannot be written to a {type_name} column",
            kind_name(other)
        )),
    }
}

/// Writes one value (length word and bytes) in the binary format of `target`.
///
/// # Errors
/// A description when the value does not fit the target column.
pub fn encode_value(
    scalar: &Scalar<'_>,
    target: &PgType,
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
) -> Result<(), String> {
    if let Scalar::Null = scalar {
        out.put_i32(-1);
        return Ok(());
    }
    let length_at = out.len();
    out.put_i32(0);
    encode_body(scalar, target, out, scratch)?;
    let length =
        i32::try_from(out.len() - length_at - 4).map_err(|_| "value exceeds 2 GiB".to_string())?;
    out[length_at..length_at + 4].copy_from_slice(&length.to_be_bytes());
    Ok(())
}

fn encode_body(
    scalar: &Scalar<'_>,
    target: &PgType,
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
) -> Result<(), String> {
    match target {
        PgType::Bool => {
            let value = match scalar {
                Scalar::Bool(value) => *value,
                Scalar::Int(0) | Scalar::UInt(0) => false,
                Scalar::Int(1) | Scalar::UInt(1) => true,
                Scalar::Str(text) => match text.trim().to_ascii_lowercase().as_str() {
                    "true" | "t" | "1" | "yes" | "y" | "on" => true,
                    "false" | "f" | "0" | "no" | "n" | "off" => false,
                    _ => return Err(format!("\"{text}\" is not a boolean")),
                },
                other => {
                    return Err(format!(
                        "{} cannot be written to a boolean column",
                        kind_name(other)
                    ))
                }
            };
            out.put_u8(u8::from(value));
        }
        PgType::Int2 => {
            let value = int_of(scalar, "smallint")?;
            out.put_i16(
                i16::try_from(value).map_err(|_| {
                    format!("{value} is out of range for smallint (-32768 to 32767)")
                })?,
            );
        }
        PgType::Int4 => {
            let value = int_of(scalar, "integer")?;
            out.put_i32(i32::try_from(value).map_err(|_| {
                format!("{value} is out of range for integer (-2147483648 to 2147483647)")
            })?);
        }
        PgType::Int8 => out.put_i64(int_of(scalar, "bigint")?),
        PgType::Float4 => {
            let value = float_of(scalar, "real")?;
            let narrowed = value as f32;
            if value.is_finite() && !narrowed.is_finite() {
                return Err(format!("{value} is out of range for real"));
            }
            out.put_f32(narrowed);
        }
        PgType::Float8 => out.put_f64(float_of(scalar, "double precision")?),
        PgType::Numeric { scale, .. } => {
            let start = out.len();
            encode_numeric(scalar, out, scratch)?;
            if numeric::exceeds_scale(&out[start..], i16::from(*scale)) {
                return Err(format!("value has more than {scale} fractional digits (the column's scale); it would be rounded"));
            }
        }
        PgType::NumericText { typmod } => {
            let start = out.len();
            encode_numeric(scalar, out, scratch)?;
            if let Some((_, scale)) = super::types::numeric_typmod_parts(*typmod) {
                if numeric::exceeds_scale(&out[start..], scale as i16) {
                    return Err(format!("value has more than {scale} fractional digits (the column's scale); it would be rounded"));
                }
            }
        }
        PgType::Text { .. } | PgType::Json => write_text(scalar, out, scratch, "text")?,
        PgType::Jsonb => {
            out.put_u8(1);
            write_text(scalar, out, scratch, "jsonb")?;
        }
        PgType::Bytea => match scalar {
            Scalar::Bytes(bytes) => out.put_slice(bytes),
            Scalar::Str(text) => out.put_slice(text.as_bytes()),
            other => {
                return Err(format!(
                    "{} cannot be written to a bytea column",
                    kind_name(other)
                ))
            }
        },
        PgType::Date => {
            let days = match scalar {
                Scalar::Date(days) => *days,
                Scalar::Timestamp(micros) if micros.rem_euclid(86_400_000_000) == 0 => {
                    i32::try_from(micros.div_euclid(86_400_000_000))
                        .map_err(|_| format!("{micros} µs is out of range for date"))?
                }
                Scalar::Str(text) => {
                    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                        .map_err(|_| format!("\"{text}\" is not a date (YYYY-MM-DD)"))?;
                    (date - NaiveDate::default()).num_days() as i32
                }
                other => {
                    return Err(format!(
                        "{} cannot be written to a date column",
                        kind_name(other)
                    ))
                }
            };
            out.put_i32(
                days.checked_sub(POSTGRES_EPOCH_DAYS)
                    .ok_or_else(|| format!("date {days} is out of range"))?,
            );
        }
        PgType::Time => {
            let micros = match scalar {
                Scalar::Time(micros) => *micros,
                Scalar::Str(text) => {
                    let time = NaiveTime::parse_from_str(text.trim(), "%H:%M:%S%.f")
                        .map_err(|_| format!("\"{text}\" is not a time (HH:MM:SS)"))?;
                    i64::from(time.num_seconds_from_midnight()) * 1_000_000
                        + i64::from(time.nanosecond() / 1000)
                }
                other => {
                    return Err(format!(
                        "{} cannot be written to a time column",
                        kind_name(other)
                    ))
                }
            };
            if !(0..=86_400_000_000).contains(&micros) {
                return Err(format!("time {micros} µs is outside a day"));
            }
            out.put_i64(micros);
        }
        PgType::Timestamp | PgType::Timestamptz => {
            let micros = timestamp_micros_of(scalar, "timestamp")?;
            out.put_i64(
                micros
                    .checked_sub(POSTGRES_EPOCH_MICROS)
                    .ok_or_else(|| format!("timestamp {micros} µs is out of range"))?,
            );
        }
        PgType::Interval => {
            let Scalar::Interval(months, days, nanos) = scalar else {
                return Err(format!(
                    "{} cannot be written to an interval column",
                    kind_name(scalar)
                ));
            };
            if nanos % 1000 != 0 {
                return Err(format!(
                    "interval of {nanos} ns has sub-microsecond precision"
                ));
            }
            out.put_i64(nanos / 1000);
            out.put_i32(*days);
            out.put_i32(*months);
        }
        PgType::Uuid => match scalar {
            Scalar::Bytes(bytes) if bytes.len() == 16 => out.put_slice(bytes),
            Scalar::Bytes(bytes) => {
                return Err(format!("{} bytes are not a uuid (16 bytes)", bytes.len()))
            }
            Scalar::Str(text) => out.put_slice(&parse_uuid(text)?),
            other => {
                return Err(format!(
                    "{} cannot be written to a uuid column",
                    kind_name(other)
                ))
            }
        },
        PgType::Array(element) => {
            let Scalar::List(values) = scalar else {
                return Err(format!(
                    "{} cannot be written to an array column",
                    kind_name(scalar)
                ));
            };
            let count = values.len();
            out.put_i32(if count == 0 { 0 } else { 1 });
            out.put_i32(i32::from(values.null_count() > 0));
            out.put_u32(element.oid());
            if count > 0 {
                out.put_i32(i32::try_from(count).map_err(|_| "array is too long".to_string())?);
                out.put_i32(1);
            }
            for index in 0..count {
                let item = scalar_at(values.as_ref(), index)?;
                encode_value(&item, element, out, scratch)
                    .map_err(|reason| format!("element {}: {reason}", index + 1))?;
            }
        }
    }
    Ok(())
}

fn write_text(
    scalar: &Scalar<'_>,
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
    type_name: &str,
) -> Result<(), String> {
    use std::fmt::Write as _;
    match scalar {
        Scalar::Str(text) => {
            if text.contains('\0') {
                return Err(
                    "text contains a NUL character, which PostgreSQL cannot store".to_string(),
                );
            }
            out.put_slice(text.as_bytes());
            return Ok(());
        }
        Scalar::Bytes(bytes) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| format!("binary data is not UTF-8 text ({type_name})"))?;
            out.put_slice(text.as_bytes());
            return Ok(());
        }
        _ => {}
    }
    scratch.text.clear();
    match scalar {
        Scalar::Bool(value) => {
            let _ = write!(scratch.text, "{value}");
        }
        Scalar::Int(value) => {
            let _ = write!(scratch.text, "{value}");
        }
        Scalar::UInt(value) => {
            let _ = write!(scratch.text, "{value}");
        }
        Scalar::Float(value) => {
            let _ = write!(scratch.text, "{value}");
        }
        Scalar::Date(days) => {
            let date = NaiveDate::default()
                .checked_add_signed(chrono::TimeDelta::days(i64::from(*days)))
                .ok_or_else(|| format!("date {days} is out of range"))?;
            let _ = write!(scratch.text, "{}", date.format("%Y-%m-%d"));
        }
        Scalar::Timestamp(micros) => {
            let moment = DateTime::from_timestamp_micros(*micros)
                .ok_or_else(|| format!("timestamp {micros} is out of range"))?;
            let _ = write!(scratch.text, "{}", moment.format("%Y-%m-%d %H:%M:%S%.6f"));
        }
        Scalar::Decimal(unscaled, scale) => {
            let mut encoded = Vec::new();
            numeric::encode_unscaled(unscaled, *scale, &mut String::new(), &mut encoded)?;
            let parsed = numeric::NumericRef::parse(&encoded)?;
            parsed.write_text(&mut scratch.text);
        }
        other => {
            return Err(format!(
                "{} cannot be written to a {type_name} column",
                kind_name(other)
            ))
        }
    }
    out.put_slice(scratch.text.as_bytes());
    Ok(())
}

fn encode_numeric(
    scalar: &Scalar<'_>,
    out: &mut Vec<u8>,
    scratch: &mut Scratch,
) -> Result<(), String> {
    use std::fmt::Write as _;
    match scalar {
        Scalar::Decimal(unscaled, scale) => {
            numeric::encode_unscaled(unscaled, *scale, &mut scratch.text, out)
        }
        Scalar::Int(value) => numeric::encode_unscaled(value, 0, &mut scratch.text, out),
        Scalar::UInt(value) => numeric::encode_unscaled(value, 0, &mut scratch.text, out),
        Scalar::Float(value) if value.is_nan() => numeric::encode_special("NaN", out),
        Scalar::Float(value) if value.is_infinite() => numeric::encode_special(
            if *value > 0.0 {
                "Infinity"
            } else {
                "-Infinity"
            },
            out,
        ),
        Scalar::Float(value) => {
            scratch.text.clear();
            let _ = write!(scratch.text, "{value}");
            numeric::encode_text(&scratch.text, &mut scratch.digits, out)
        }
        Scalar::Str(text) => numeric::encode_text(text, &mut scratch.digits, out),
        other => Err(format!(
            "{} cannot be written to a numeric column",
            kind_name(other)
        )),
    }
}

/// A batch encoded as binary COPY rows (without header and trailer).
#[derive(Debug, Default)]
pub struct EncodedRows {
    /// The rows, back to back.
    pub bytes: Bytes,
    /// End offset of each encoded row in `bytes`.
    pub row_ends: Vec<usize>,
    /// Index in the batch of each encoded row.
    pub row_indexes: Vec<usize>,
}

impl EncodedRows {
    /// Returns the number of encoded rows.
    pub fn len(&self) -> usize {
        self.row_ends.len()
    }

    /// Returns whether no row was encoded.
    pub fn is_empty(&self) -> bool {
        self.row_ends.is_empty()
    }

    /// Returns the bytes of encoded rows `[first, end)`.
    pub fn rows(&self, first: usize, end: usize) -> Bytes {
        let start = if first == 0 {
            0
        } else {
            self.row_ends[first - 1]
        };
        let stop = if end == 0 { 0 } else { self.row_ends[end - 1] };
        self.bytes.slice(start..stop)
    }
}

/// Renders row `row` of `batch` as a JSON object for a dirty-record sample.
pub fn describe_row(batch: &RecordBatch, names: &[String], row: usize) -> String {
    let mut object = serde_json::Map::new();
    for (index, column) in batch.columns().iter().enumerate() {
        let name = names
            .get(index)
            .cloned()
            .unwrap_or_else(|| batch.schema().field(index).name().clone());
        let value = scalar_at(column.as_ref(), row)
            .map_or(serde_json::Value::Null, |scalar| describe_scalar(&scalar));
        object.insert(name, value);
    }
    serde_json::Value::Object(object).to_string()
}

/// Encodes every row of `batch` for target columns `targets` (by position, named `names`);
/// rows with a value that does not fit are left out and pushed to `dirty`.
pub fn encode_batch(
    batch: &RecordBatch,
    names: &[String],
    targets: &[PgType],
    scratch: &mut Scratch,
    dirty: &mut Vec<DirtySample>,
) -> EncodedRows {
    let mut out = Vec::with_capacity(
        batch.get_array_memory_size() + batch.num_rows() * (2 + 4 * targets.len()),
    );
    let mut row_ends = Vec::with_capacity(batch.num_rows());
    let mut row_indexes = Vec::with_capacity(batch.num_rows());
    let field_count = targets.len() as i16;
    let encoders: Vec<ColumnEncoder<'_>> = batch
        .columns()
        .iter()
        .zip(targets)
        .map(|(column, target)| ColumnEncoder::new(column.as_ref(), target))
        .collect();
    for row in 0..batch.num_rows() {
        let row_start = out.len();
        out.extend_from_slice(&field_count.to_be_bytes());
        let mut failure = None;
        for (index, encoder) in encoders.iter().enumerate() {
            if let Err(reason) = encoder.encode(row, &mut out, scratch) {
                failure = Some((index, reason));
                break;
            }
        }
        match failure {
            None => {
                row_ends.push(out.len());
                row_indexes.push(row);
            }
            Some((index, reason)) => {
                out.truncate(row_start);
                dirty.push(DirtySample {
                    column: names.get(index).cloned().unwrap_or_default(),
                    reason,
                    row: describe_row(batch, names, row),
                });
            }
        }
    }
    EncodedRows {
        bytes: Bytes::from(out),
        row_ends,
        row_indexes,
    }
}

#[cfg(test)]
mod tests {
    use super::super::copy_decode::CopyDecoder;
    use super::*;
    use arrow_array::builder::{ListBuilder, StringBuilder};
    use arrow_array::{
        BinaryArray, BooleanArray, Date32Array, Decimal128Array, Decimal256Array,
        FixedSizeBinaryArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array,
        IntervalMonthDayNanoArray, StringArray, Time64MicrosecondArray, TimestampMicrosecondArray,
    };
    use arrow_buffer::IntervalMonthDayNano;
    use arrow_schema::{Field, Schema};
    use std::sync::Arc;

    fn round_trip(batch: &RecordBatch, types: Vec<PgType>) -> (Vec<RecordBatch>, Vec<DirtySample>) {
        let names: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|field| field.name().clone())
            .collect();
        let mut dirty = Vec::new();
        let encoded = encode_batch(batch, &names, &types, &mut Scratch::default(), &mut dirty);
        let mut stream = BytesMut::new();
        stream.put_slice(&copy_header());
        stream.put_slice(&encoded.bytes);
        stream.put_slice(&copy_trailer());
        let fields: Vec<Field> = types
            .iter()
            .zip(&names)
            .map(|(pg_type, name)| pg_type.arrow_field(name))
            .collect();
        let mut decoder = CopyDecoder::new(Arc::new(Schema::new(fields)), types, 1024);
        let mut batches = Vec::new();
        decoder
            .push(&stream, &mut batches, &mut dirty)
            .expect("decode");
        decoder.finish(&mut batches).expect("finish");
        (batches, dirty)
    }

    #[test]
    fn every_scalar_type_round_trips() {
        let mut list = ListBuilder::new(StringBuilder::new());
        list.values().append_value("a");
        list.values().append_null();
        list.append(true);
        list.append(false);
        list.append(true);
        list.values().append_value("数据");
        list.append(true);
        let text = PgType::Text {
            oid: 25,
            typmod: -1,
        };
        let columns: Vec<(&str, ArrayRef, PgType)> = vec![
            (
                "b",
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    None,
                    Some(false),
                    Some(true),
                ])),
                PgType::Bool,
            ),
            (
                "i2",
                Arc::new(Int16Array::from(vec![i16::MIN, 0, i16::MAX, -1])),
                PgType::Int2,
            ),
            (
                "i4",
                Arc::new(Int32Array::from(vec![i32::MIN, 0, i32::MAX, -1])),
                PgType::Int4,
            ),
            (
                "i8",
                Arc::new(Int64Array::from(vec![
                    Some(i64::MIN),
                    None,
                    Some(i64::MAX),
                    Some(0),
                ])),
                PgType::Int8,
            ),
            (
                "f4",
                Arc::new(Float32Array::from(vec![
                    f32::NAN,
                    f32::INFINITY,
                    -0.5,
                    f32::MIN_POSITIVE,
                ])),
                PgType::Float4,
            ),
            (
                "f8",
                Arc::new(Float64Array::from(vec![
                    f64::NEG_INFINITY,
                    f64::MAX,
                    1e-300,
                    0.1,
                ])),
                PgType::Float8,
            ),
            (
                "d",
                Arc::new(
                    Decimal128Array::from(vec![
                        Some(10_i128.pow(38) - 1),
                        None,
                        Some(-1),
                        Some(-(10_i128.pow(38) - 1)),
                    ])
                    .with_precision_and_scale(38, 10)
                    .expect("decimal"),
                ),
                PgType::Numeric {
                    precision: 38,
                    scale: 10,
                },
            ),
            (
                "d256",
                Arc::new(
                    Decimal256Array::from(vec![
                        Some(
                            i256::from_string("-123456789012345678901234567890123456789012345")
                                .expect("big"),
                        ),
                        None,
                        Some(i256::from_i128(5)),
                        Some(i256::ZERO),
                    ])
                    .with_precision_and_scale(60, 5)
                    .expect("decimal"),
                ),
                PgType::Numeric {
                    precision: 60,
                    scale: 5,
                },
            ),
            (
                "t",
                Arc::new(StringArray::from(vec![
                    Some(""),
                    None,
                    Some("émoji 🚀"),
                    Some("tab\t\"q\""),
                ])),
                text.clone(),
            ),
            (
                "by",
                Arc::new(BinaryArray::from(vec![
                    Some(&b""[..]),
                    None,
                    Some(&[0u8, 255][..]),
                    Some(&b"x"[..]),
                ])),
                PgType::Bytea,
            ),
            (
                "dt",
                Arc::new(Date32Array::from(vec![-2_000_000, 0, 2_000_000, 19_000])),
                PgType::Date,
            ),
            (
                "tm",
                Arc::new(Time64MicrosecondArray::from(vec![
                    0,
                    86_399_999_999,
                    1,
                    43_200_000_000,
                ])),
                PgType::Time,
            ),
            (
                "ts",
                Arc::new(TimestampMicrosecondArray::from(vec![
                    -62_135_596_800_000_000,
                    0,
                    253_402_300_799_999_999,
                    1,
                ])),
                PgType::Timestamp,
            ),
            (
                "iv",
                Arc::new(IntervalMonthDayNanoArray::from(vec![
                    IntervalMonthDayNano::new(-14, 3, 1_000),
                    IntervalMonthDayNano::new(0, 0, 0),
                    IntervalMonthDayNano::new(1, -1, -86_400_000_000_000),
                    IntervalMonthDayNano::new(i32::MAX, i32::MIN, 5_000),
                ])),
                PgType::Interval,
            ),
            (
                "u",
                Arc::new(
                    FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                        vec![Some([1u8; 16]), None, Some([255u8; 16]), Some([0u8; 16])].into_iter(),
                        16,
                    )
                    .expect("uuid"),
                ),
                PgType::Uuid,
            ),
            (
                "j",
                Arc::new(StringArray::from(vec![
                    Some("{\"a\": 1}"),
                    None,
                    Some("[]"),
                    Some("\"ü\""),
                ])),
                PgType::Jsonb,
            ),
            ("l", Arc::new(list.finish()), PgType::Array(Box::new(text))),
        ];
        let batch = RecordBatch::try_from_iter(
            columns
                .iter()
                .map(|(name, array, _)| (*name, Arc::clone(array))),
        )
        .expect("batch");
        let types: Vec<PgType> = columns
            .iter()
            .map(|(_, _, pg_type)| pg_type.clone())
            .collect();
        let (batches, dirty) = round_trip(&batch, types);
        assert!(dirty.is_empty(), "{dirty:?}");
        assert_eq!(batches.len(), 1);
        let decoded = &batches[0];
        for (index, (name, original, _)) in columns.iter().enumerate() {
            let back = decoded.column(index);
            if *name == "ts" {
                assert_eq!(
                    back.as_primitive::<TimestampMicrosecondType>().values(),
                    original.as_primitive::<TimestampMicrosecondType>().values()
                );
                continue;
            }
            if *name == "f4" || *name == "f8" {
                assert_eq!(format!("{back:?}"), format!("{original:?}"), "{name}");
                continue;
            }
            assert_eq!(back.to_data(), original.to_data(), "column {name}");
        }
    }

    #[test]
    fn values_that_do_not_fit_are_dirty() {
        let batch = RecordBatch::try_from_iter([
            (
                "id",
                Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as ArrayRef,
            ),
            (
                "small",
                Arc::new(Int64Array::from(vec![1, 40_000, 3, 4])) as ArrayRef,
            ),
            (
                "amount",
                Arc::new(StringArray::from(vec!["1.5", "2", "x", "1.555"])) as ArrayRef,
            ),
        ])
        .expect("batch");
        let names = vec!["id".to_string(), "small".to_string(), "amount".to_string()];
        let mut dirty = Vec::new();
        let encoded = encode_batch(
            &batch,
            &names,
            &[
                PgType::Int8,
                PgType::Int2,
                PgType::Numeric {
                    precision: 10,
                    scale: 2,
                },
            ],
            &mut Scratch::default(),
            &mut dirty,
        );
        assert_eq!(encoded.row_indexes, vec![0]);
        assert_eq!(
            dirty
                .iter()
                .map(|sample| sample.column.as_str())
                .collect::<Vec<_>>(),
            vec!["small", "amount", "amount"]
        );
        assert!(dirty[0].reason.contains("smallint"), "{}", dirty[0].reason);
        assert!(
            dirty[2].reason.contains("fractional digits"),
            "{}",
            dirty[2].reason
        );
        assert_eq!(encoded.rows(0, 1).len(), encoded.bytes.len());
    }

    #[test]
    fn uuid_text_and_timestamps_from_strings() {
        assert_eq!(
            parse_uuid("00010203-0405-0607-0809-0a0b0c0d0e0f").expect("uuid")[15],
            15
        );
        assert!(parse_uuid("nope").is_err());
        let mut out = Vec::new();
        encode_value(
            &Scalar::Str("2000-01-01 00:00:01"),
            &PgType::Timestamptz,
            &mut out,
            &mut Scratch::default(),
        )
        .expect("ts");
        assert_eq!(&out[..], &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0x0F, 0x42, 0x40]);
    }

    #[test]
    fn far_dates_into_timestamps_are_errors() {
        let error = encode_value(
            &Scalar::Date(i32::MIN),
            &PgType::Timestamp,
            &mut Vec::new(),
            &mut Scratch::default(),
        )
        .expect_err("out of range");
        assert!(error.contains("out of range for timestamp"), "{error}");
    }
}
