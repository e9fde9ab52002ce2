//! Canonical text of Arrow types and values, so a cell of the matrix compares exactly what a
//! store gave back: floats by their shortest round-trip form (`-0.0`, `NaN`, `inf` included),
//! decimals with every digit of their scale, timestamps to the microsecond (nanoseconds when a
//! value has them), bytes as `\x` hex.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, IntervalMonthDayNanoType, Time64MicrosecondType, Time64NanosecondType,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, Field, IntervalUnit, TimeUnit};
use chrono::{DateTime, NaiveDate};

/// Arrow's extension-name metadata key.
pub const EXTENSION: &str = "ARROW:extension:name";

/// Returns a field's type as the matrix names it: the Arrow type, plus ` + <extension>` when
/// the field carries an extension name (`Utf8 + arrow.json`); list items by their type only.
pub fn type_name(field: &Field) -> String {
    let mut name = data_type_name(field.data_type());
    if let Some(extension) = field.metadata().get(EXTENSION) {
        name.push_str(" + ");
        name.push_str(extension);
    }
    name
}

fn data_type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::List(item) | DataType::LargeList(item) => format!("List({})", type_name(item)),
        DataType::Timestamp(unit, None) => format!("Timestamp({})", unit_name(unit)),
        DataType::Timestamp(unit, Some(zone)) => format!("Timestamp({}, {zone})", unit_name(unit)),
        DataType::Time64(unit) => format!("Time64({})", unit_name(unit)),
        DataType::Interval(IntervalUnit::MonthDayNano) => "Interval(MonthDayNano)".to_string(),
        other => other.to_string(),
    }
}

fn unit_name(unit: &TimeUnit) -> &'static str {
    match unit {
        TimeUnit::Second => "s",
        TimeUnit::Millisecond => "ms",
        TimeUnit::Microsecond => "µs",
        TimeUnit::Nanosecond => "ns",
    }
}

/// Formats nanoseconds since the epoch as `YYYY-MM-DD HH:MM:SS.ffffff` (nine digits when the
/// value has sub-microsecond digits).
fn timestamp_text(seconds: i64, nanos: u32) -> String {
    match DateTime::from_timestamp(seconds, nanos) {
        Some(moment) if nanos.is_multiple_of(1000) => {
            moment.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
        }
        Some(moment) => moment.format("%Y-%m-%d %H:%M:%S%.9f").to_string(),
        None => format!("<timestamp {seconds}s {nanos}ns out of range>"),
    }
}

fn split(value: i64, per_second: i64) -> (i64, u32) {
    let seconds = value.div_euclid(per_second);
    let rest = value.rem_euclid(per_second);
    (seconds, (rest * (1_000_000_000 / per_second)) as u32)
}

fn time_text(nanos: i64) -> String {
    let seconds = nanos.div_euclid(1_000_000_000);
    let fraction = nanos.rem_euclid(1_000_000_000);
    let clock = format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    if fraction % 1000 == 0 {
        format!("{clock}.{:06}", fraction / 1000)
    } else {
        format!("{clock}.{fraction:09}")
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::from("\\x");
    for byte in bytes {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// Returns the canonical text of `column[row]`, `None` for NULL.
pub fn value(column: &ArrayRef, row: usize) -> Option<String> {
    if column.is_null(row) {
        return None;
    }
    Some(match column.data_type() {
        DataType::Boolean => column.as_boolean().value(row).to_string(),
        DataType::Int8 => column.as_primitive::<Int8Type>().value(row).to_string(),
        DataType::Int16 => column.as_primitive::<Int16Type>().value(row).to_string(),
        DataType::Int32 => column.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Int64 => column.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::UInt8 => column.as_primitive::<UInt8Type>().value(row).to_string(),
        DataType::UInt16 => column.as_primitive::<UInt16Type>().value(row).to_string(),
        DataType::UInt32 => column.as_primitive::<UInt32Type>().value(row).to_string(),
        DataType::UInt64 => column.as_primitive::<UInt64Type>().value(row).to_string(),
        DataType::Float32 => format!("{:?}", column.as_primitive::<Float32Type>().value(row)),
        DataType::Float64 => format!("{:?}", column.as_primitive::<Float64Type>().value(row)),
        DataType::Decimal128(_, _) => column.as_primitive::<Decimal128Type>().value_as_string(row),
        DataType::Decimal256(_, _) => column.as_primitive::<Decimal256Type>().value_as_string(row),
        DataType::Utf8 => column.as_string::<i32>().value(row).to_string(),
        DataType::LargeUtf8 => column.as_string::<i64>().value(row).to_string(),
        DataType::Binary => hex(column.as_binary::<i32>().value(row)),
        DataType::LargeBinary => hex(column.as_binary::<i64>().value(row)),
        DataType::FixedSizeBinary(_) => hex(column.as_fixed_size_binary().value(row)),
        DataType::Date32 => {
            let days = column.as_primitive::<Date32Type>().value(row);
            NaiveDate::from_num_days_from_ce_opt(days + 719_163)
                .map_or_else(|| format!("<date {days}>"), |day| day.to_string())
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            time_text(column.as_primitive::<Time64MicrosecondType>().value(row) * 1000)
        }
        DataType::Time64(TimeUnit::Nanosecond) => {
            time_text(column.as_primitive::<Time64NanosecondType>().value(row))
        }
        DataType::Timestamp(unit, _) => {
            let (seconds, nanos) = match unit {
                TimeUnit::Second => {
                    split(column.as_primitive::<TimestampSecondType>().value(row), 1)
                }
                TimeUnit::Millisecond => split(
                    column.as_primitive::<TimestampMillisecondType>().value(row),
                    1000,
                ),
                TimeUnit::Microsecond => split(
                    column.as_primitive::<TimestampMicrosecondType>().value(row),
                    1_000_000,
                ),
                TimeUnit::Nanosecond => split(
                    column.as_primitive::<TimestampNanosecondType>().value(row),
                    1_000_000_000,
                ),
            };
            timestamp_text(seconds, nanos)
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            let interval = column.as_primitive::<IntervalMonthDayNanoType>().value(row);
            format!(
                "{} mons {} days {} ns",
                interval.months, interval.days, interval.nanoseconds
            )
        }
        DataType::List(_) => {
            let list = column.as_list::<i32>();
            let items = list.value(row);
            let parts: Vec<String> = (0..items.len())
                .map(|index| value(&items, index).unwrap_or_else(|| "NULL".to_string()))
                .collect();
            format!("[{}]", parts.join(", "))
        }
        other => format!("<{other} is not rendered>"),
    })
}
