//! SQLite <-> Arrow type mapping.
//!
//! SQLite stores five kinds of values (NULL, INTEGER, REAL, TEXT, BLOB) and accepts any text
//! as a column's declared type, deriving only an *affinity* from it
//! (<https://www.sqlite.org/datatype3.html> §3.1: a declared type containing `INT` is INTEGER,
//! else one containing `CHAR`, `CLOB` or `TEXT` is TEXT, else `BLOB` or none is BLOB, else
//! `REAL`, `FLOA` or `DOUB` is REAL, else NUMERIC). So the connector keeps two things apart:
//!
//! - **The Arrow type lives in the declared type.** When a sink creates a table it declares
//!   each column with a name that spells the exact Arrow type (below), and the reader parses
//!   those names back. Every value SQLite has no type for is stored as text, under a name
//!   ending in `_TEXT` and free of `INT`, so its affinity is TEXT and SQLite never turns
//!   `1.50` into `1.5` or `1.0` into `1` (a name like `JSON` or `DECIMAL` would get NUMERIC
//!   affinity and do exactly that). The names are visible to every SQLite tool, survive
//!   `.dump`, and need nothing else to read.
//! - **Field metadata lives in the side table `_sluice_columns`** (see
//!   `column_metadata`): the PostgreSQL type a column came from (`sluice.pg_type =
//!   varchar(20)`, `json` vs `jsonb`, unconstrained `numeric`) and any other key. A declared
//!   type cannot hold it (only identifiers and up to two numbers), and it is not needed to
//!   read the values, only to recreate the exact source type downstream. A recorded row
//!   applies only while the column's declared type is still the one recorded.
//!
//! Declared types the sink writes, and what the reader makes of them:
//!
//! | Arrow | declared type (affinity) | stored as |
//! | --- | --- | --- |
//! | Int64 | `INTEGER` (INTEGER) | integer |
//! | Int8 / Int16 / Int32 | `INTEGER_I8` / `INTEGER_I16` / `INTEGER_I32` (INTEGER) | integer |
//! | UInt8 / UInt16 / UInt32 / UInt64 | `INTEGER_U8` ... `INTEGER_U64` (INTEGER) | integer; UInt64 above `i64::MAX` cannot be written |
//! | Float64 | `REAL` (REAL) | real; NaN as text `NaN` (SQLite would store NULL); -0 becomes 0 (REAL affinity stores it as the integer 0; inside lists -0 is kept) |
//! | Float32 | `REAL_F32` (REAL) | as Float64 (every Float32 is exact in a double) |
//! | Boolean | `BOOLEAN` (NUMERIC) | integer 0/1 |
//! | Utf8, LargeUtf8 | `TEXT` (TEXT) | text; read back as Utf8 |
//! | Utf8 with extension `arrow.json` | `JSON_TEXT` (TEXT) | the JSON text as is |
//! | Binary, LargeBinary | `BLOB` (BLOB) | blob; read back as Binary |
//! | FixedSizeBinary(16) with extension `arrow.uuid` | `UUID_TEXT` (TEXT) | text `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lowercase |
//! | FixedSizeBinary(n) | `FIXED_BLOB(n)` (BLOB) | blob of n bytes |
//! | Decimal128(p, s) / Decimal256(p, s) | `DECIMAL128_TEXT(p,s)` / `DECIMAL256_TEXT(p,s)` (TEXT) | exact decimal text with s fractional digits, e.g. `-123.4500` |
//! | Date32 | `DATE` (NUMERIC) | text `YYYY-MM-DD`; years beyond 0..=9999 as `+YYYYYY` / `-YYYY` (astronomical: `-4712` is 4713 BC) |
//! | Time32, Time64 | `TIME_TEXT` (TEXT) | text `HH:MM:SS.ffffff`; read back as Time64(µs) |
//! | Timestamp(unit, none) | `TIMESTAMP_TEXT` (TEXT) | text `YYYY-MM-DD HH:MM:SS.ffffff`; read back as Timestamp(µs) |
//! | Timestamp(unit, zone) | `TIMESTAMPTZ_TEXT` (TEXT) | the UTC instant as the same text; read back as Timestamp(µs, "UTC") |
//! | Interval (any unit) | `MONTH_DAY_NANO_TEXT` (TEXT) | ISO 8601 with a sign per part, e.g. `P1Y2M-3DT4H5M6.789S`; read back as Interval(MonthDayNano) |
//! | List / LargeList of a type above | `LIST_<element>_TEXT` (TEXT), e.g. `LIST_I32_TEXT`, `LIST_DECIMAL128_TEXT(10,2)` | a JSON array, `null` for NULL elements; read back as List with a nullable `item` field |
//!
//! List element names: `I8` `I16` `I32` `I64` `U8` `U16` `U32` `U64` `F32` `F64` `BOOLEAN`
//! `UTF8` `JSON` `BINARY` `UUID` `FIXED_BLOB(n)` `DECIMAL128(p,s)` `DECIMAL256(p,s)` `DATE`
//! `TIME` `TIMESTAMP` `TIMESTAMPTZ` `MONTH_DAY_NANO`. In the JSON array integers are numbers,
//! booleans `true`/`false`, floats strings (`"1.5"`, `"NaN"`, `"-inf"`: JSON has no NaN and a
//! string parses back exactly), binary lowercase hex strings, every other element the text form
//! of its scalar column. Lists of lists are not supported.
//!
//! Other declared types (files written by other tools, or by earlier versions) keep their
//! affinity-based reading:
//!
//! | declared type (first match) | Arrow |
//! | --- | --- |
//! | contains `INT` | Int64 |
//! | contains `BOOL` | Boolean |
//! | contains `TIMESTAMP` or `DATETIME` | Timestamp(µs, UTC) |
//! | `DATE` | Date32 |
//! | contains `REAL`, `FLOA`, `DOUB`, `NUMERIC`, `DECIMAL` | Float64 |
//! | contains `BLOB`, or none | Binary |
//! | anything else (`TEXT`, `VARCHAR`, `JSON`, `UUID`, `TIME`, any `..._TEXT` with unusable parameters) | Utf8 |
//!
//! `NUMERIC(p,s)` / `DECIMAL(p,s)` columns of other tools stay Float64 on purpose: their
//! NUMERIC affinity has already stored `1.50` as the real 1.5 and a 20-digit number as a
//! rounded real, so the exact digits are gone before the connector reads them; Float64 says so
//! honestly.
//!
//! A value that does not fit its column's Arrow type (text in an `INTEGER` column that is not a
//! number, a malformed timestamp, a decimal with too many digits) is reported as a conversion
//! error naming the column and the value. Values are written in the form of their Arrow type
//! whatever the declared type of an existing target column.

use super::text_format::{
    format_date, format_decimal, format_hex, format_interval, format_time, format_timestamp,
    format_uuid, parse_date, parse_decimal, parse_hex, parse_interval, parse_time,
    parse_timestamp_exact, parse_uuid,
};
use crate::error::{ConnectorError, Result};
use crate::postgres::types::{EXTENSION_NAME, JSON_EXTENSION, UUID_EXTENSION};
use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder,
    Decimal256Builder, FixedSizeBinaryBuilder, Float64Builder, Int64Builder,
    IntervalMonthDayNanoBuilder, StringBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Decimal128Type, Decimal256Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, IntervalDayTimeType, IntervalMonthDayNanoType, IntervalYearMonthType,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, Int64Array, ListArray};
use arrow_buffer::{i256, IntervalMonthDayNano, NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, FieldRef, IntervalUnit, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use rusqlite::types::{Value, ValueRef};
use std::collections::HashMap;
use std::sync::Arc;

/// A list element (or scalar) type name of the declared-type grammar, with its parameters.
struct TypeToken {
    name: &'static str,
    parameters: Option<(i64, Option<i64>)>,
}

/// Returns the token naming `data_type` (`extension` is the field's extension name).
fn type_token(data_type: &DataType, extension: Option<&str>) -> Option<TypeToken> {
    let plain = |name| {
        Some(TypeToken {
            name,
            parameters: None,
        })
    };
    match data_type {
        DataType::Int8 => plain("I8"),
        DataType::Int16 => plain("I16"),
        DataType::Int32 => plain("I32"),
        DataType::Int64 => plain("I64"),
        DataType::UInt8 => plain("U8"),
        DataType::UInt16 => plain("U16"),
        DataType::UInt32 => plain("U32"),
        DataType::UInt64 => plain("U64"),
        DataType::Float32 => plain("F32"),
        DataType::Float64 => plain("F64"),
        DataType::Boolean => plain("BOOLEAN"),
        DataType::Utf8 | DataType::LargeUtf8 if extension == Some(JSON_EXTENSION) => plain("JSON"),
        DataType::Utf8 | DataType::LargeUtf8 => plain("UTF8"),
        DataType::Binary | DataType::LargeBinary => plain("BINARY"),
        DataType::FixedSizeBinary(16) if extension == Some(UUID_EXTENSION) => plain("UUID"),
        DataType::FixedSizeBinary(size) => Some(TypeToken {
            name: "FIXED_BLOB",
            parameters: Some((i64::from(*size), None)),
        }),
        DataType::Decimal128(precision, scale) => Some(TypeToken {
            name: "DECIMAL128",
            parameters: Some((i64::from(*precision), Some(i64::from(*scale)))),
        }),
        DataType::Decimal256(precision, scale) => Some(TypeToken {
            name: "DECIMAL256",
            parameters: Some((i64::from(*precision), Some(i64::from(*scale)))),
        }),
        DataType::Date32 => plain("DATE"),
        DataType::Time32(_) | DataType::Time64(_) => plain("TIME"),
        DataType::Timestamp(_, None) => plain("TIMESTAMP"),
        DataType::Timestamp(_, Some(_)) => plain("TIMESTAMPTZ"),
        DataType::Interval(_) => plain("MONTH_DAY_NANO"),
        _ => None,
    }
}

fn parameter_text(parameters: Option<(i64, Option<i64>)>) -> String {
    match parameters {
        None => String::new(),
        Some((first, None)) => format!("({first})"),
        Some((first, Some(second))) => format!("({first},{second})"),
    }
}

/// Returns the Arrow type (and extension name) of a token; `None` for an unknown token or
/// parameters the type cannot have.
fn token_type(name: &str, parameters: &[i64]) -> Option<(DataType, Option<&'static str>)> {
    let decimal = |maximum: u8| -> Option<(u8, i8)> {
        let [precision, scale] = parameters else {
            return None;
        };
        let precision = u8::try_from(*precision).ok()?;
        let scale = i8::try_from(*scale).ok()?;
        ((1..=maximum).contains(&precision) && i16::from(scale) <= i16::from(precision))
            .then_some((precision, scale))
    };
    if !parameters.is_empty() && !matches!(name, "FIXED_BLOB" | "DECIMAL128" | "DECIMAL256") {
        return None;
    }
    let data_type = match name {
        "I8" => DataType::Int8,
        "I16" => DataType::Int16,
        "I32" => DataType::Int32,
        "I64" => DataType::Int64,
        "U8" => DataType::UInt8,
        "U16" => DataType::UInt16,
        "U32" => DataType::UInt32,
        "U64" => DataType::UInt64,
        "F32" => DataType::Float32,
        "F64" => DataType::Float64,
        "BOOLEAN" => DataType::Boolean,
        "UTF8" => DataType::Utf8,
        "JSON" => return Some((DataType::Utf8, Some(JSON_EXTENSION))),
        "BINARY" => DataType::Binary,
        "UUID" => return Some((DataType::FixedSizeBinary(16), Some(UUID_EXTENSION))),
        "FIXED_BLOB" => match parameters {
            [size] => DataType::FixedSizeBinary(i32::try_from(*size).ok().filter(|s| *s >= 0)?),
            _ => return None,
        },
        "DECIMAL128" => {
            let (precision, scale) = decimal(38)?;
            DataType::Decimal128(precision, scale)
        }
        "DECIMAL256" => {
            let (precision, scale) = decimal(76)?;
            DataType::Decimal256(precision, scale)
        }
        "DATE" => DataType::Date32,
        "TIME" => DataType::Time64(TimeUnit::Microsecond),
        "TIMESTAMP" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "TIMESTAMPTZ" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "MONTH_DAY_NANO" => DataType::Interval(IntervalUnit::MonthDayNano),
        _ => return None,
    };
    Some((data_type, None))
}

fn extension_metadata(extension: Option<&str>) -> HashMap<String, String> {
    extension
        .map(|name| HashMap::from([(EXTENSION_NAME.to_string(), name.to_string())]))
        .unwrap_or_default()
}

/// Returns the nullable `item` field of a list of `element` (carrying its extension name).
fn list_item_field(element: DataType, extension: Option<&str>) -> FieldRef {
    Arc::new(Field::new("item", element, true).with_metadata(extension_metadata(extension)))
}

/// Parses a declared type the sink writes (upper-cased, trimmed); `None` for anything else.
fn sluice_declared_type(upper: &str) -> Option<(DataType, Option<&'static str>)> {
    let (name, parameters) = match upper.split_once('(') {
        Some((name, rest)) => {
            let inside = rest.strip_suffix(')')?;
            let parameters = inside
                .split(',')
                .map(|part| part.trim().parse::<i64>().ok())
                .collect::<Option<Vec<i64>>>()?;
            (name.trim_end(), parameters)
        }
        None => (upper, Vec::new()),
    };
    if let Some(element) = name
        .strip_prefix("LIST_")
        .and_then(|rest| rest.strip_suffix("_TEXT"))
    {
        let (element_type, extension) = token_type(element, &parameters)?;
        return Some((
            DataType::List(list_item_field(element_type, extension)),
            None,
        ));
    }
    if let Some(token) = name.strip_prefix("INTEGER_") {
        return token_type(token, &parameters).filter(|(data_type, _)| data_type.is_integer());
    }
    if name == "REAL_F32" {
        return Some((DataType::Float32, None));
    }
    if name == "FIXED_BLOB" {
        return token_type(name, &parameters);
    }
    let token = name.strip_suffix("_TEXT")?;
    if matches!(
        token,
        "UUID"
            | "JSON"
            | "DECIMAL128"
            | "DECIMAL256"
            | "TIME"
            | "TIMESTAMP"
            | "TIMESTAMPTZ"
            | "MONTH_DAY_NANO"
    ) {
        return token_type(token, &parameters);
    }
    None
}

/// The affinity-based reading of declared types other tools write.
fn foreign_arrow_type(upper: &str) -> DataType {
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
    } else if upper.contains("BLOB") || upper.is_empty() {
        DataType::Binary
    } else {
        DataType::Utf8
    }
}

/// Returns the nullable Arrow field for a column `name` of SQLite declared type `declared`:
/// the exact type for the names the sink writes (with the extension name of uuid and json
/// columns in its metadata), the affinity-based type otherwise (see the module doc).
pub fn field_for_declared(name: &str, declared: &str) -> Field {
    let upper = declared.trim().to_ascii_uppercase();
    if let Some((data_type, extension)) = sluice_declared_type(&upper) {
        return Field::new(name, data_type, true).with_metadata(extension_metadata(extension));
    }
    // A sluice-style text column whose parameters make no sense: its values are text.
    let name_part = upper.split('(').next().unwrap_or_default().trim_end();
    let data_type = if name_part.ends_with("_TEXT") {
        DataType::Utf8
    } else {
        foreign_arrow_type(&upper)
    };
    Field::new(name, data_type, true)
}

/// Returns the Arrow type for an SQLite declared column type (see [`field_for_declared`]).
pub fn arrow_type_for_declared(declared: &str) -> DataType {
    field_for_declared("", declared).data_type().clone()
}

/// Returns the SQLite declared type to create for an Arrow field (see the module doc).
///
/// # Errors
/// [`ConnectorError::Unsupported`] naming the column for types SQLite cannot hold without
/// loss (Float16, Date64, nested lists, structs, ...).
pub fn declared_type_for_field(column: &str, field: &Field) -> Result<String> {
    let extension = field.metadata().get(EXTENSION_NAME).map(String::as_str);
    let unsupported = |data_type: &DataType| {
        ConnectorError::Unsupported(format!(
            "column {column}: Arrow type {data_type} has no SQLite mapping"
        ))
    };
    let declared = match field.data_type() {
        DataType::Int64 => "INTEGER".to_string(),
        data_type if data_type.is_integer() => {
            let token = type_token(data_type, None).ok_or_else(|| unsupported(data_type))?;
            format!("INTEGER_{}", token.name)
        }
        DataType::Float64 => "REAL".to_string(),
        DataType::Float32 => "REAL_F32".to_string(),
        DataType::Boolean => "BOOLEAN".to_string(),
        DataType::Utf8 | DataType::LargeUtf8 if extension == Some(JSON_EXTENSION) => {
            "JSON_TEXT".to_string()
        }
        DataType::Utf8 | DataType::LargeUtf8 => "TEXT".to_string(),
        DataType::Binary | DataType::LargeBinary => "BLOB".to_string(),
        DataType::FixedSizeBinary(16) if extension == Some(UUID_EXTENSION) => {
            "UUID_TEXT".to_string()
        }
        DataType::FixedSizeBinary(size) => format!("FIXED_BLOB({size})"),
        DataType::Date32 => "DATE".to_string(),
        DataType::List(element) | DataType::LargeList(element) => {
            if matches!(
                element.data_type(),
                DataType::List(_) | DataType::LargeList(_)
            ) {
                return Err(ConnectorError::Unsupported(format!(
                    "column {column}: lists of lists have no SQLite mapping"
                )));
            }
            let element_extension = element.metadata().get(EXTENSION_NAME).map(String::as_str);
            let token = type_token(element.data_type(), element_extension)
                .ok_or_else(|| unsupported(field.data_type()))?;
            format!(
                "LIST_{}_TEXT{}",
                token.name,
                parameter_text(token.parameters)
            )
        }
        data_type @ (DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _)
        | DataType::Time32(_)
        | DataType::Time64(_)
        | DataType::Timestamp(_, _)
        | DataType::Interval(_)) => {
            let token = type_token(data_type, extension).ok_or_else(|| unsupported(data_type))?;
            format!("{}_TEXT{}", token.name, parameter_text(token.parameters))
        }
        other => return Err(unsupported(other)),
    };
    Ok(declared)
}

/// Appends SQLite values to one Arrow column.
pub enum ColumnBuilder {
    /// Any integer column (checked against the target type's range, converted at finish).
    Integer {
        /// The values.
        values: Int64Builder,
        /// The column's integer type.
        target: DataType,
    },
    /// Float64 or Float32 column.
    Float {
        /// The values.
        values: Float64Builder,
        /// Whether the column is Float32.
        single: bool,
    },
    /// Boolean column.
    Bool(BooleanBuilder),
    /// Utf8 column.
    Text(StringBuilder),
    /// Binary column.
    Bytes(BinaryBuilder),
    /// FixedSizeBinary column (uuid text, hex text or blobs of the right size).
    FixedBytes {
        /// The values.
        builder: FixedSizeBinaryBuilder,
        /// Bytes per value.
        size: i32,
    },
    /// Decimal128 column.
    Decimal128 {
        /// The values.
        builder: Decimal128Builder,
        /// Digits.
        precision: u8,
        /// Fractional digits.
        scale: i8,
    },
    /// Decimal256 column.
    Decimal256 {
        /// The values.
        builder: Decimal256Builder,
        /// Digits.
        precision: u8,
        /// Fractional digits.
        scale: i8,
    },
    /// Date32 column.
    Date(Date32Builder),
    /// Time64(µs) column.
    Time(Time64MicrosecondBuilder),
    /// Timestamp(µs) column, with or without a zone.
    Timestamp(TimestampMicrosecondBuilder),
    /// Interval(MonthDayNano) column.
    Interval(IntervalMonthDayNanoBuilder),
    /// List column, read from JSON array text.
    List {
        /// The element field.
        field: FieldRef,
        /// Offsets into the child, starting with 0.
        offsets: Vec<i32>,
        /// Validity of each list.
        nulls: NullBufferBuilder,
        /// Element builder.
        child: Box<ColumnBuilder>,
    },
}

impl ColumnBuilder {
    /// Returns a builder for `data_type` (one of the types [`field_for_declared`] returns).
    ///
    /// # Errors
    /// A description of the type when no builder exists for it.
    pub fn new(data_type: &DataType, capacity: usize) -> std::result::Result<Self, String> {
        let builder = match data_type {
            DataType::Float64 | DataType::Float32 => ColumnBuilder::Float {
                values: Float64Builder::with_capacity(capacity),
                single: *data_type == DataType::Float32,
            },
            integer if integer.is_integer() => ColumnBuilder::Integer {
                values: Int64Builder::with_capacity(capacity),
                target: integer.clone(),
            },
            DataType::Boolean => ColumnBuilder::Bool(BooleanBuilder::with_capacity(capacity)),
            DataType::Utf8 => {
                ColumnBuilder::Text(StringBuilder::with_capacity(capacity, capacity * 16))
            }
            DataType::Binary => {
                ColumnBuilder::Bytes(BinaryBuilder::with_capacity(capacity, capacity * 16))
            }
            DataType::FixedSizeBinary(size) => ColumnBuilder::FixedBytes {
                builder: FixedSizeBinaryBuilder::with_capacity(capacity, *size),
                size: *size,
            },
            DataType::Decimal128(precision, scale) => ColumnBuilder::Decimal128 {
                builder: Decimal128Builder::with_capacity(capacity)
                    .with_precision_and_scale(*precision, *scale)
                    .map_err(|error| error.to_string())?,
                precision: *precision,
                scale: *scale,
            },
            DataType::Decimal256(precision, scale) => ColumnBuilder::Decimal256 {
                builder: Decimal256Builder::with_capacity(capacity)
                    .with_precision_and_scale(*precision, *scale)
                    .map_err(|error| error.to_string())?,
                precision: *precision,
                scale: *scale,
            },
            DataType::Date32 => ColumnBuilder::Date(Date32Builder::with_capacity(capacity)),
            DataType::Time64(TimeUnit::Microsecond) => {
                ColumnBuilder::Time(Time64MicrosecondBuilder::with_capacity(capacity))
            }
            DataType::Timestamp(TimeUnit::Microsecond, zone) => ColumnBuilder::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity)
                    .with_timezone_opt(zone.clone()),
            ),
            DataType::Interval(IntervalUnit::MonthDayNano) => {
                ColumnBuilder::Interval(IntervalMonthDayNanoBuilder::with_capacity(capacity))
            }
            DataType::List(field) => {
                let mut offsets = Vec::with_capacity(capacity + 1);
                offsets.push(0);
                ColumnBuilder::List {
                    field: Arc::clone(field),
                    offsets,
                    nulls: NullBufferBuilder::new(capacity),
                    child: Box::new(ColumnBuilder::new(field.data_type(), capacity * 4)?),
                }
            }
            other => return Err(format!("Arrow type {other} cannot be read from SQLite")),
        };
        Ok(builder)
    }

    /// Appends one value; returns a description of the problem (naming the value) when it
    /// does not fit. After an error the builder's length is unspecified.
    pub fn append(&mut self, value: ValueRef<'_>) -> std::result::Result<(), String> {
        if let ValueRef::Null = value {
            self.append_null();
            return Ok(());
        }
        match self {
            ColumnBuilder::Integer { values, target } => {
                let number = match value {
                    ValueRef::Integer(number) => number,
                    ValueRef::Real(real) if real.fract() == 0.0 && real.abs() < 9.2e18 => {
                        real as i64
                    }
                    ValueRef::Text(text) => parse_text::<i64>(text, "integer")?,
                    other => return Err(format!("{} value in an integer column", describe(other))),
                };
                if !integer_fits(target, number) {
                    return Err(format!("{number} does not fit {target}"));
                }
                values.append_value(number);
            }
            ColumnBuilder::Float { values, .. } => match value {
                ValueRef::Real(real) => values.append_value(real),
                ValueRef::Integer(number) => values.append_value(number as f64),
                ValueRef::Text(text) => values.append_value(parse_text::<f64>(text, "number")?),
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
            ColumnBuilder::FixedBytes { builder, size } => {
                let bytes = match value {
                    ValueRef::Blob(bytes) => bytes.to_vec(),
                    ValueRef::Text(text) => {
                        let string = String::from_utf8_lossy(text);
                        if *size == 16 {
                            parse_uuid(&string)?.to_vec()
                        } else {
                            parse_hex(string.trim())?
                        }
                    }
                    other => return Err(format!("{} value in a binary column", describe(other))),
                };
                if i32::try_from(bytes.len()).ok() != Some(*size) {
                    return Err(format!(
                        "{} bytes ({}) do not fit FixedSizeBinary({size})",
                        bytes.len(),
                        format_hex(&bytes)
                    ));
                }
                builder
                    .append_value(&bytes)
                    .map_err(|error| error.to_string())?;
            }
            ColumnBuilder::Decimal128 {
                builder,
                precision,
                scale,
            } => {
                let unscaled = parse_decimal(&decimal_text(value)?, *precision, *scale)?;
                let number = unscaled
                    .parse::<i128>()
                    .map_err(|error| format!("{unscaled}: {error}"))?;
                builder.append_value(number);
            }
            ColumnBuilder::Decimal256 {
                builder,
                precision,
                scale,
            } => {
                let unscaled = parse_decimal(&decimal_text(value)?, *precision, *scale)?;
                let number = unscaled
                    .parse::<i256>()
                    .map_err(|error| format!("{unscaled}: {error}"))?;
                builder.append_value(number);
            }
            ColumnBuilder::Date(builder) => match value {
                ValueRef::Text(text) => {
                    let string = String::from_utf8_lossy(text);
                    let days = parse_date(string.trim())?;
                    builder.append_value(
                        i32::try_from(days)
                            .map_err(|_| format!("date \"{string}\" is beyond Date32"))?,
                    );
                }
                other => return Err(format!("{} value in a date column", describe(other))),
            },
            ColumnBuilder::Time(builder) => match value {
                ValueRef::Text(text) => {
                    builder.append_value(parse_time(String::from_utf8_lossy(text).trim())?)
                }
                other => return Err(format!("{} value in a time column", describe(other))),
            },
            ColumnBuilder::Timestamp(builder) => match value {
                ValueRef::Text(text) => {
                    let string = String::from_utf8_lossy(text);
                    let micros = match parse_timestamp_exact(string.trim()) {
                        Some(micros) => micros,
                        None => parse_timestamp(&string)?,
                    };
                    builder.append_value(micros);
                }
                ValueRef::Integer(seconds) => builder.append_value(
                    seconds
                        .checked_mul(1_000_000)
                        .ok_or_else(|| format!("{seconds} s is out of range"))?,
                ),
                other => return Err(format!("{} value in a timestamp column", describe(other))),
            },
            ColumnBuilder::Interval(builder) => match value {
                ValueRef::Text(text) => {
                    let (months, days, nanos) =
                        parse_interval(String::from_utf8_lossy(text).trim())?;
                    builder.append_value(IntervalMonthDayNano::new(months, days, nanos));
                }
                other => return Err(format!("{} value in an interval column", describe(other))),
            },
            ColumnBuilder::List {
                offsets,
                nulls,
                child,
                ..
            } => {
                let (ValueRef::Text(text) | ValueRef::Blob(text)) = value else {
                    return Err(format!("{} value in a list column", describe(value)));
                };
                let elements = match serde_json::from_slice::<serde_json::Value>(text) {
                    Ok(serde_json::Value::Array(elements)) => elements,
                    _ => {
                        return Err(format!(
                            "\"{}\" is not a JSON array",
                            String::from_utf8_lossy(text)
                        ))
                    }
                };
                let child_is_binary = matches!(**child, ColumnBuilder::Bytes(_));
                for (index, element) in elements.iter().enumerate() {
                    let element_value = json_element_value(element, child_is_binary)
                        .and_then(|element_value| child.append(ValueRef::from(&element_value)));
                    element_value.map_err(|message| {
                        format!(
                            "element {index} of {}: {message}",
                            String::from_utf8_lossy(text)
                        )
                    })?;
                }
                let last = offsets.last().copied().unwrap_or(0);
                let next = i32::try_from(elements.len())
                    .ok()
                    .and_then(|count| last.checked_add(count))
                    .ok_or_else(|| "too many list elements in one batch".to_string())?;
                offsets.push(next);
                nulls.append_non_null();
            }
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            ColumnBuilder::Integer { values, .. } => values.append_null(),
            ColumnBuilder::Float { values, .. } => values.append_null(),
            ColumnBuilder::Bool(builder) => builder.append_null(),
            ColumnBuilder::Text(builder) => builder.append_null(),
            ColumnBuilder::Bytes(builder) => builder.append_null(),
            ColumnBuilder::FixedBytes { builder, .. } => builder.append_null(),
            ColumnBuilder::Decimal128 { builder, .. } => builder.append_null(),
            ColumnBuilder::Decimal256 { builder, .. } => builder.append_null(),
            ColumnBuilder::Date(builder) => builder.append_null(),
            ColumnBuilder::Time(builder) => builder.append_null(),
            ColumnBuilder::Timestamp(builder) => builder.append_null(),
            ColumnBuilder::Interval(builder) => builder.append_null(),
            ColumnBuilder::List { offsets, nulls, .. } => {
                let last = offsets.last().copied().unwrap_or(0);
                offsets.push(last);
                nulls.append_null();
            }
        }
    }

    /// Returns the values appended so far as an array and resets the builder.
    pub fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Integer { values, target } => finish_integers(values.finish(), target),
            ColumnBuilder::Float { values, single } => {
                let array = values.finish();
                if *single {
                    Arc::new(array.unary::<_, Float32Type>(|value| value as f32))
                } else {
                    Arc::new(array)
                }
            }
            ColumnBuilder::Bool(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Text(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Bytes(builder) => Arc::new(builder.finish()),
            ColumnBuilder::FixedBytes { builder, .. } => Arc::new(builder.finish()),
            ColumnBuilder::Decimal128 { builder, .. } => Arc::new(builder.finish()),
            ColumnBuilder::Decimal256 { builder, .. } => Arc::new(builder.finish()),
            ColumnBuilder::Date(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Time(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Timestamp(builder) => Arc::new(builder.finish()),
            ColumnBuilder::Interval(builder) => Arc::new(builder.finish()),
            ColumnBuilder::List {
                field,
                offsets,
                nulls,
                child,
            } => {
                let values = child.finish();
                let taken = std::mem::replace(offsets, vec![0]);
                Arc::new(ListArray::new(
                    Arc::clone(field),
                    OffsetBuffer::new(ScalarBuffer::from(taken)),
                    values,
                    nulls.finish(),
                ))
            }
        }
    }

    /// Returns how many values are buffered.
    pub fn len(&self) -> usize {
        match self {
            ColumnBuilder::Integer { values, .. } => values.len(),
            ColumnBuilder::Float { values, .. } => values.len(),
            ColumnBuilder::Bool(builder) => builder.len(),
            ColumnBuilder::Text(builder) => builder.len(),
            ColumnBuilder::Bytes(builder) => builder.len(),
            ColumnBuilder::FixedBytes { builder, .. } => builder.len(),
            ColumnBuilder::Decimal128 { builder, .. } => builder.len(),
            ColumnBuilder::Decimal256 { builder, .. } => builder.len(),
            ColumnBuilder::Date(builder) => builder.len(),
            ColumnBuilder::Time(builder) => builder.len(),
            ColumnBuilder::Timestamp(builder) => builder.len(),
            ColumnBuilder::Interval(builder) => builder.len(),
            ColumnBuilder::List { offsets, .. } => offsets.len().saturating_sub(1),
        }
    }

    /// Returns whether no value is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn integer_fits(target: &DataType, number: i64) -> bool {
    match target {
        DataType::Int8 => i8::try_from(number).is_ok(),
        DataType::Int16 => i16::try_from(number).is_ok(),
        DataType::Int32 => i32::try_from(number).is_ok(),
        DataType::UInt8 => u8::try_from(number).is_ok(),
        DataType::UInt16 => u16::try_from(number).is_ok(),
        DataType::UInt32 => u32::try_from(number).is_ok(),
        DataType::UInt64 => number >= 0,
        _ => true,
    }
}

/// Converts checked Int64 values to the column's integer type (every value fits: `append`
/// checked it).
fn finish_integers(array: Int64Array, target: &DataType) -> ArrayRef {
    match target {
        DataType::Int8 => Arc::new(array.unary::<_, Int8Type>(|value| value as i8)),
        DataType::Int16 => Arc::new(array.unary::<_, Int16Type>(|value| value as i16)),
        DataType::Int32 => Arc::new(array.unary::<_, Int32Type>(|value| value as i32)),
        DataType::UInt8 => Arc::new(array.unary::<_, UInt8Type>(|value| value as u8)),
        DataType::UInt16 => Arc::new(array.unary::<_, UInt16Type>(|value| value as u16)),
        DataType::UInt32 => Arc::new(array.unary::<_, UInt32Type>(|value| value as u32)),
        DataType::UInt64 => Arc::new(array.unary::<_, UInt64Type>(|value| value as u64)),
        _ => Arc::new(array),
    }
}

/// Returns the text of a value for a decimal column.
fn decimal_text(value: ValueRef<'_>) -> std::result::Result<String, String> {
    match value {
        ValueRef::Text(text) => Ok(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Integer(number) => Ok(number.to_string()),
        ValueRef::Real(real) if real.is_finite() => Ok(real.to_string()),
        other => Err(format!("{} value in a decimal column", describe(other))),
    }
}

/// Returns the SQLite value a JSON list element stands for (hex strings become blobs for
/// binary elements).
fn json_element_value(
    element: &serde_json::Value,
    binary: bool,
) -> std::result::Result<Value, String> {
    match element {
        serde_json::Value::Null => Ok(Value::Null),
        serde_json::Value::Bool(flag) => Ok(Value::Integer(i64::from(*flag))),
        serde_json::Value::Number(number) => match (number.as_i64(), number.as_f64()) {
            (Some(integer), _) => Ok(Value::Integer(integer)),
            (None, Some(_)) if number.is_u64() => Ok(Value::Text(number.to_string())),
            (None, Some(real)) => Ok(Value::Real(real)),
            (None, None) => Err(format!("number {number} is out of range")),
        },
        serde_json::Value::String(text) if binary => parse_hex(text).map(Value::Blob),
        serde_json::Value::String(text) => Ok(Value::Text(text.clone())),
        other => Err(format!("nested JSON {other} is not a list element")),
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
        ValueRef::Real(real) => format!("real {real}"),
        ValueRef::Text(text) => format!("text \"{}\"", String::from_utf8_lossy(text)),
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
    if let Some(micros) = parse_timestamp_exact(without_zone) {
        return Ok(micros);
    }
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

/// Returns the microseconds of a time-of-day value, refusing sub-microsecond precision.
fn time_micros(column: &ArrayRef, row: usize) -> std::result::Result<i64, String> {
    let micros = match column.data_type() {
        DataType::Time32(TimeUnit::Second) => {
            i64::from(column.as_primitive::<Time32SecondType>().value(row)) * 1_000_000
        }
        DataType::Time32(_) => {
            i64::from(column.as_primitive::<Time32MillisecondType>().value(row)) * 1_000
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            column.as_primitive::<Time64MicrosecondType>().value(row)
        }
        _ => {
            let nanos = column.as_primitive::<Time64NanosecondType>().value(row);
            if nanos % 1000 != 0 {
                return Err(format!("time {nanos} ns has sub-microsecond precision"));
            }
            nanos / 1000
        }
    };
    Ok(micros)
}

fn timestamp_micros(
    column: &ArrayRef,
    unit: &TimeUnit,
    row: usize,
) -> std::result::Result<i64, String> {
    let micros = match unit {
        TimeUnit::Second => {
            let seconds = column.as_primitive::<TimestampSecondType>().value(row);
            seconds
                .checked_mul(1_000_000)
                .ok_or_else(|| format!("timestamp {seconds} s is out of range"))?
        }
        TimeUnit::Millisecond => {
            let millis = column.as_primitive::<TimestampMillisecondType>().value(row);
            millis
                .checked_mul(1_000)
                .ok_or_else(|| format!("timestamp {millis} ms is out of range"))?
        }
        TimeUnit::Microsecond => column.as_primitive::<TimestampMicrosecondType>().value(row),
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
    Ok(micros)
}

fn float_value(value: f64) -> Value {
    if value.is_nan() {
        // SQLite stores a NaN real as NULL.
        Value::Text("NaN".to_string())
    } else {
        // -0.0 stays a real here (kept inside lists); a REAL column stores it as 0.
        Value::Real(value)
    }
}

/// Returns row `row` of `column` (described by `field`) as an SQLite value to bind, in the
/// form the module doc lists for its Arrow type.
///
/// # Errors
/// A description of the problem for values SQLite cannot hold (an unsigned integer above
/// `i64::MAX`, a nanosecond timestamp with sub-microsecond digits, a type without mapping).
pub fn sqlite_value(
    field: &Field,
    column: &ArrayRef,
    row: usize,
) -> std::result::Result<Value, String> {
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
            float_value(f64::from(column.as_primitive::<Float32Type>().value(row)))
        }
        DataType::Float64 => float_value(column.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Value::Text(column.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => Value::Text(column.as_string::<i64>().value(row).to_string()),
        DataType::Binary => Value::Blob(column.as_binary::<i32>().value(row).to_vec()),
        DataType::LargeBinary => Value::Blob(column.as_binary::<i64>().value(row).to_vec()),
        DataType::FixedSizeBinary(16)
            if field.metadata().get(EXTENSION_NAME).map(String::as_str) == Some(UUID_EXTENSION) =>
        {
            Value::Text(format_uuid(column.as_fixed_size_binary().value(row)))
        }
        DataType::FixedSizeBinary(_) => {
            Value::Blob(column.as_fixed_size_binary().value(row).to_vec())
        }
        DataType::Decimal128(_, scale) => {
            let unscaled = column.as_primitive::<Decimal128Type>().value(row);
            Value::Text(format_decimal(&unscaled.to_string(), *scale))
        }
        DataType::Decimal256(_, scale) => {
            let unscaled = column.as_primitive::<Decimal256Type>().value(row);
            Value::Text(format_decimal(&unscaled.to_string(), *scale))
        }
        DataType::Date32 => Value::Text(format_date(i64::from(
            column.as_primitive::<Date32Type>().value(row),
        ))),
        DataType::Time32(_) | DataType::Time64(_) => {
            Value::Text(format_time(time_micros(column, row)?)?)
        }
        DataType::Timestamp(unit, _) => {
            Value::Text(format_timestamp(timestamp_micros(column, unit, row)?))
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            let interval = column.as_primitive::<IntervalMonthDayNanoType>().value(row);
            Value::Text(format_interval(
                interval.months,
                interval.days,
                interval.nanoseconds,
            ))
        }
        DataType::Interval(IntervalUnit::YearMonth) => Value::Text(format_interval(
            column.as_primitive::<IntervalYearMonthType>().value(row),
            0,
            0,
        )),
        DataType::Interval(IntervalUnit::DayTime) => {
            let interval = column.as_primitive::<IntervalDayTimeType>().value(row);
            Value::Text(format_interval(
                0,
                interval.days,
                i64::from(interval.milliseconds) * 1_000_000,
            ))
        }
        DataType::List(element) => list_json(element, &column.as_list::<i32>().value(row))?,
        DataType::LargeList(element) => list_json(element, &column.as_list::<i64>().value(row))?,
        other => return Err(format!("Arrow type {other} cannot be written to SQLite")),
    };
    Ok(value)
}

/// Returns the elements of one list as JSON array text (see the module doc).
fn list_json(element_field: &Field, elements: &ArrayRef) -> std::result::Result<Value, String> {
    let mut array = Vec::with_capacity(elements.len());
    for index in 0..elements.len() {
        let element = sqlite_value(element_field, elements, index)
            .map_err(|message| format!("element {index}: {message}"))?;
        let json = match (element, elements.data_type()) {
            (Value::Null, _) => serde_json::Value::Null,
            (Value::Integer(flag), DataType::Boolean) => serde_json::Value::Bool(flag != 0),
            (Value::Integer(number), _) => serde_json::Value::from(number),
            (Value::Real(real), DataType::Float32) => {
                // Written as the f32 so that `1.1` stays `1.1`; parsing it back as an f64 and
                // narrowing gives the same f32.
                serde_json::Value::String(format!("{:?}", real as f32))
            }
            (Value::Real(real), _) => serde_json::Value::String(format!("{real:?}")),
            (Value::Text(text), _) => serde_json::Value::String(text),
            (Value::Blob(bytes), _) => serde_json::Value::String(format_hex(&bytes)),
        };
        array.push(json);
    }
    serde_json::to_string(&array)
        .map(Value::Text)
        .map_err(|error| format!("cannot encode list as JSON: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::builder::{Int32Builder, ListBuilder};
    use arrow_array::{
        Decimal128Array, Decimal256Array, FixedSizeBinaryArray, Float32Array, Float64Array,
        IntervalMonthDayNanoArray, RecordBatch, StringArray, Time64MicrosecondArray,
        TimestampMicrosecondArray,
    };
    use arrow_schema::Schema;

    /// Writes every row of `array` (typed by `field`) the way the sink does, then reads the
    /// values back through the declared type the sink would create, as the source does.
    fn round_trip(field: &Field, array: ArrayRef) -> (String, Field, ArrayRef) {
        let declared = declared_type_for_field(field.name(), field).expect("declared type");
        let read_field = field_for_declared(field.name(), &declared);
        let mut builder = ColumnBuilder::new(read_field.data_type(), array.len()).expect("builder");
        for row in 0..array.len() {
            let value = sqlite_value(field, &array, row).expect("sqlite value");
            builder
                .append(ValueRef::from(&value))
                .unwrap_or_else(|message| panic!("row {row} ({value:?}): {message}"));
        }
        let read = builder.finish();
        // The batch must be consistent with the schema the source announces.
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![read_field.clone()])),
            vec![Arc::clone(&read)],
        )
        .expect("batch matches schema");
        (declared, read_field, read)
    }

    fn with_extension(field: Field, extension: &str) -> Field {
        field.with_metadata(extension_metadata(Some(extension)))
    }

    #[test]
    fn foreign_declared_types_map_by_affinity() {
        assert_eq!(arrow_type_for_declared("BIGINT"), DataType::Int64);
        assert_eq!(arrow_type_for_declared("varchar(20)"), DataType::Utf8);
        assert_eq!(
            arrow_type_for_declared("DOUBLE PRECISION"),
            DataType::Float64
        );
        assert_eq!(arrow_type_for_declared(""), DataType::Binary);
        assert_eq!(arrow_type_for_declared("DATE"), DataType::Date32);
        assert_eq!(arrow_type_for_declared("DECIMAL(10,2)"), DataType::Float64);
        assert_eq!(arrow_type_for_declared("NUMERIC"), DataType::Float64);
        assert_eq!(arrow_type_for_declared("JSON"), DataType::Utf8);
        assert_eq!(arrow_type_for_declared("UUID"), DataType::Utf8);
        assert_eq!(
            arrow_type_for_declared("DATETIME"),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
        // Sluice-style names with parameters that make no sense read as their text.
        assert_eq!(
            arrow_type_for_declared("DECIMAL128_TEXT(99,2)"),
            DataType::Utf8
        );
        assert_eq!(arrow_type_for_declared("LIST_NOPE_TEXT"), DataType::Utf8);
        assert_eq!(arrow_type_for_declared("INTEGER_X"), DataType::Int64);
    }

    #[test]
    fn sluice_declared_types_have_the_affinity_their_storage_needs() {
        // The affinity rules of https://www.sqlite.org/datatype3.html §3.1.
        fn affinity(declared: &str) -> &'static str {
            let upper = declared.to_ascii_uppercase();
            if upper.contains("INT") {
                "INTEGER"
            } else if ["CHAR", "CLOB", "TEXT"]
                .iter()
                .any(|part| upper.contains(part))
            {
                "TEXT"
            } else if upper.contains("BLOB") || upper.is_empty() {
                "BLOB"
            } else if ["REAL", "FLOA", "DOUB"]
                .iter()
                .any(|part| upper.contains(part))
            {
                "REAL"
            } else {
                "NUMERIC"
            }
        }
        let item = |data_type| Field::new("item", data_type, true);
        let cases = [
            (
                Field::new("a", DataType::Int16, true),
                "INTEGER_I16",
                "INTEGER",
            ),
            (Field::new("a", DataType::Float32, true), "REAL_F32", "REAL"),
            (
                Field::new("a", DataType::Decimal128(38, 10), true),
                "DECIMAL128_TEXT(38,10)",
                "TEXT",
            ),
            (
                Field::new("a", DataType::Decimal256(50, -5), true),
                "DECIMAL256_TEXT(50,-5)",
                "TEXT",
            ),
            (
                with_extension(
                    Field::new("a", DataType::FixedSizeBinary(16), true),
                    UUID_EXTENSION,
                ),
                "UUID_TEXT",
                "TEXT",
            ),
            (
                Field::new("a", DataType::FixedSizeBinary(4), true),
                "FIXED_BLOB(4)",
                "BLOB",
            ),
            (
                with_extension(Field::new("a", DataType::Utf8, true), JSON_EXTENSION),
                "JSON_TEXT",
                "TEXT",
            ),
            (
                Field::new("a", DataType::Time64(TimeUnit::Microsecond), true),
                "TIME_TEXT",
                "TEXT",
            ),
            (
                Field::new("a", DataType::Timestamp(TimeUnit::Microsecond, None), true),
                "TIMESTAMP_TEXT",
                "TEXT",
            ),
            (
                Field::new(
                    "a",
                    DataType::Timestamp(TimeUnit::Second, Some("+05:30".into())),
                    true,
                ),
                "TIMESTAMPTZ_TEXT",
                "TEXT",
            ),
            (
                Field::new("a", DataType::Interval(IntervalUnit::MonthDayNano), true),
                "MONTH_DAY_NANO_TEXT",
                "TEXT",
            ),
            (
                Field::new_list("a", item(DataType::Int32), true),
                "LIST_I32_TEXT",
                "TEXT",
            ),
            (
                Field::new_list("a", item(DataType::Decimal128(10, 2)), true),
                "LIST_DECIMAL128_TEXT(10,2)",
                "TEXT",
            ),
            (
                Field::new_list(
                    "a",
                    item(DataType::Timestamp(
                        TimeUnit::Microsecond,
                        Some("UTC".into()),
                    )),
                    true,
                ),
                "LIST_TIMESTAMPTZ_TEXT",
                "TEXT",
            ),
            (
                Field::new_list(
                    "a",
                    item(DataType::Interval(IntervalUnit::MonthDayNano)),
                    true,
                ),
                "LIST_MONTH_DAY_NANO_TEXT",
                "TEXT",
            ),
        ];
        for (field, declared, expected_affinity) in cases {
            assert_eq!(
                declared_type_for_field("a", &field).expect("declared"),
                declared
            );
            assert_eq!(affinity(declared), expected_affinity, "{declared}");
        }
        let nested = Field::new_list(
            "a",
            Field::new_list("item", item(DataType::Int32), true),
            true,
        );
        assert!(declared_type_for_field("a", &nested)
            .expect_err("nested")
            .to_string()
            .contains("lists of lists"));
        assert!(declared_type_for_field("a", &Field::new("a", DataType::Float16, true)).is_err());
    }

    #[test]
    fn declared_types_read_back_as_the_exact_arrow_type() {
        let uuid = with_extension(
            Field::new("u", DataType::FixedSizeBinary(16), true),
            UUID_EXTENSION,
        );
        let list_of_uuids = Field::new_list(
            "l",
            with_extension(
                Field::new("item", DataType::FixedSizeBinary(16), true),
                UUID_EXTENSION,
            ),
            true,
        );
        for field in [
            Field::new("x", DataType::Int8, true),
            Field::new("x", DataType::UInt64, true),
            Field::new("x", DataType::Decimal256(76, 76), true),
            Field::new("x", DataType::Decimal128(5, -2), true),
            Field::new("x", DataType::FixedSizeBinary(3), true),
            Field::new("x", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            uuid,
            list_of_uuids,
            Field::new_list("x", Field::new("item", DataType::Boolean, true), true),
        ] {
            let declared = declared_type_for_field(field.name(), &field).expect("declared");
            assert_eq!(
                field_for_declared(field.name(), &declared.to_ascii_lowercase()),
                field,
                "{declared}"
            );
        }
    }

    #[test]
    fn timestamps_round_trip_to_the_microsecond() {
        let micros = 1_700_000_000_123_456_i64;
        let field = Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        );
        let array: ArrayRef =
            Arc::new(TimestampMicrosecondArray::from(vec![micros]).with_timezone("UTC"));
        let Value::Text(text) = sqlite_value(&field, &array, 0).expect("value") else {
            panic!("text")
        };
        assert_eq!(text, "2023-11-14 22:13:20.123456");
        assert_eq!(parse_timestamp(&text), Ok(micros));
        assert_eq!(parse_timestamp("2023-11-14T22:13:20.123456Z"), Ok(micros));
    }

    #[test]
    fn extreme_timestamps_dates_and_times_round_trip() {
        let values = vec![
            Some(i64::MIN),
            Some(-210_863_520_000_000_000),
            Some(-1),
            None,
            Some(6_249_223_180_800_000_000),
            Some(i64::MAX),
        ];
        for zone in [None, Some("UTC")] {
            let field = Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, zone.map(Into::into)),
                true,
            );
            let array: ArrayRef =
                Arc::new(TimestampMicrosecondArray::from(values.clone()).with_timezone_opt(zone));
            let (_, read_field, read) = round_trip(&field, Arc::clone(&array));
            assert_eq!(read_field.data_type(), field.data_type());
            assert_eq!(&read, &array);
        }
        let dates: ArrayRef = Arc::new(arrow_array::Date32Array::from(vec![
            Some(i32::MIN),
            Some(-2_440_550),
            None,
            Some(2_145_042_905),
            Some(i32::MAX),
        ]));
        let (declared, _, read) =
            round_trip(&Field::new("d", DataType::Date32, true), Arc::clone(&dates));
        assert_eq!(declared, "DATE");
        assert_eq!(&read, &dates);
        let times: ArrayRef = Arc::new(Time64MicrosecondArray::from(vec![
            Some(0),
            Some(86_399_999_999),
            Some(86_400_000_000),
            None,
        ]));
        let (_, _, read) = round_trip(
            &Field::new("t", DataType::Time64(TimeUnit::Microsecond), true),
            Arc::clone(&times),
        );
        assert_eq!(&read, &times);
    }

    #[test]
    fn floats_keep_nan_and_infinities() {
        let doubles: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(f64::NAN),
            Some(f64::INFINITY),
            Some(f64::NEG_INFINITY),
            Some(-0.0),
            Some(1e-300),
            None,
        ]));
        let field = Field::new("d", DataType::Float64, true);
        assert_eq!(
            sqlite_value(&field, &doubles, 0),
            Ok(Value::Text("NaN".into()))
        );
        let (_, _, read) = round_trip(&field, doubles);
        let read = read.as_primitive::<Float64Type>();
        assert!(read.value(0).is_nan());
        assert_eq!(read.value(1), f64::INFINITY);
        assert_eq!(read.value(2), f64::NEG_INFINITY);
        assert_eq!(read.value(3), 0.0);
        assert_eq!(read.value(4), 1e-300);
        assert!(read.is_null(5));
        let singles: ArrayRef = Arc::new(Float32Array::from(vec![
            Some(f32::MAX),
            Some(1.1),
            Some(f32::NAN),
        ]));
        let (declared, _, read) = round_trip(&Field::new("r", DataType::Float32, true), singles);
        assert_eq!(declared, "REAL_F32");
        let read = read.as_primitive::<Float32Type>();
        assert_eq!(read.value(0), f32::MAX);
        assert_eq!(read.value(1), 1.1);
        assert!(read.value(2).is_nan());
    }

    #[test]
    fn decimals_round_trip_exactly_and_reject_lost_digits() {
        let small: ArrayRef = Arc::new(
            Decimal128Array::from(vec![
                Some(99_999_999_999_999_999_999_999_999_999_999_999_999_i128),
                Some(-99_999_999_999_999_999_999_999_999_999_999_999_999_i128),
                Some(0),
                Some(1),
                None,
            ])
            .with_precision_and_scale(38, 10)
            .expect("decimal type"),
        );
        let field = Field::new("n", DataType::Decimal128(38, 10), true);
        let (_, _, read) = round_trip(&field, Arc::clone(&small));
        assert_eq!(&read, &small);
        assert_eq!(
            sqlite_value(&field, &small, 3),
            Ok(Value::Text("0.0000000001".into()))
        );
        let big_value: i256 = "-123456789012345678901234567890123456789012345123456789"
            .parse()
            .expect("i256");
        let wide: ArrayRef = Arc::new(
            Decimal256Array::from(vec![Some(big_value), None, Some(i256::from_i128(5))])
                .with_precision_and_scale(76, 5)
                .expect("decimal type"),
        );
        let (_, _, read) = round_trip(
            &Field::new("n", DataType::Decimal256(76, 5), true),
            Arc::clone(&wide),
        );
        assert_eq!(&read, &wide);

        let mut builder = ColumnBuilder::new(&DataType::Decimal128(5, 2), 1).expect("builder");
        let error = builder
            .append(ValueRef::Text(b"1.005"))
            .expect_err("a digit would be lost");
        assert!(error.contains("1.005"), "{error}");
        assert!(builder.append(ValueRef::Text(b"1234.5")).is_err());
        builder.append(ValueRef::Integer(12)).expect("integer");
        builder.append(ValueRef::Text(b"-0.5")).expect("text");
        let read = builder.finish();
        assert_eq!(read.as_primitive::<Decimal128Type>().values(), &[1200, -50]);
    }

    #[test]
    fn uuids_intervals_and_json_round_trip() {
        let uuid_field = with_extension(
            Field::new("u", DataType::FixedSizeBinary(16), true),
            UUID_EXTENSION,
        );
        let uuids: ArrayRef = Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                vec![Some([0_u8; 16]), None, Some([255_u8; 16])].into_iter(),
                16,
            )
            .expect("uuids"),
        );
        assert_eq!(
            sqlite_value(&uuid_field, &uuids, 0),
            Ok(Value::Text("00000000-0000-0000-0000-000000000000".into()))
        );
        let (_, read_field, read) = round_trip(&uuid_field, Arc::clone(&uuids));
        assert_eq!(read_field, uuid_field);
        assert_eq!(&read, &uuids);

        let intervals: ArrayRef = Arc::new(IntervalMonthDayNanoArray::from(vec![
            Some(IntervalMonthDayNano::new(14, -3, 14_706_789_000_000)),
            Some(IntervalMonthDayNano::new(-2_136_000_000, 0, 0)),
            Some(IntervalMonthDayNano::new(0, 0, 0)),
            None,
        ]));
        let field = Field::new("iv", DataType::Interval(IntervalUnit::MonthDayNano), true);
        assert_eq!(
            sqlite_value(&field, &intervals, 0),
            Ok(Value::Text("P1Y2M-3DT4H5M6.789S".into()))
        );
        let (_, _, read) = round_trip(&field, Arc::clone(&intervals));
        assert_eq!(&read, &intervals);

        let json_field = with_extension(Field::new("j", DataType::Utf8, true), JSON_EXTENSION);
        let json: ArrayRef = Arc::new(StringArray::from(vec![Some("1.0"), Some("null"), None]));
        let (declared, read_field, read) = round_trip(&json_field, Arc::clone(&json));
        assert_eq!(declared, "JSON_TEXT");
        assert_eq!(read_field, json_field);
        assert_eq!(&read, &json);
    }

    #[test]
    fn lists_round_trip_with_null_and_empty_lists_and_null_elements() {
        let mut builder = ListBuilder::new(Int32Builder::new());
        builder.append_value([Some(1), None, Some(-3)]);
        builder.append_value([]);
        builder.append_null();
        builder.append_value([Some(i32::MAX), Some(i32::MIN)]);
        let lists: ArrayRef = Arc::new(builder.finish());
        let field = Field::new("ai", lists.data_type().clone(), true);
        assert_eq!(
            sqlite_value(&field, &lists, 0),
            Ok(Value::Text("[1,null,-3]".into()))
        );
        let (declared, read_field, read) = round_trip(&field, Arc::clone(&lists));
        assert_eq!(declared, "LIST_I32_TEXT");
        assert_eq!(read_field, field);
        assert_eq!(&read, &lists);

        let mut builder = ListBuilder::new(arrow_array::builder::Float64Builder::new());
        builder.append_value([
            Some(f64::NAN),
            Some(-0.0),
            Some(f64::INFINITY),
            Some(1e-300),
            None,
        ]);
        let floats: ArrayRef = Arc::new(builder.finish());
        let field = Field::new("af", floats.data_type().clone(), true);
        assert_eq!(
            sqlite_value(&field, &floats, 0),
            Ok(Value::Text(r#"["NaN","-0.0","inf","1e-300",null]"#.into()))
        );
        let (_, _, read) = round_trip(&field, floats);
        let values = read.as_list::<i32>().value(0);
        let values = values.as_primitive::<Float64Type>();
        assert!(values.value(0).is_nan());
        assert!(values.value(1).is_sign_negative());
        assert_eq!(values.value(2), f64::INFINITY);
        assert_eq!(values.value(3), 1e-300);
        assert!(values.is_null(4));

        let mut builder = ListBuilder::new(BinaryBuilder::new());
        builder.append_value([Some(&b"\x00\xff"[..]), Some(b""), None]);
        let binaries: ArrayRef = Arc::new(builder.finish());
        let field = Field::new("ab", binaries.data_type().clone(), true);
        assert_eq!(
            sqlite_value(&field, &binaries, 0),
            Ok(Value::Text(r#"["00ff","",null]"#.into()))
        );
        let (_, _, read) = round_trip(&field, Arc::clone(&binaries));
        assert_eq!(&read, &binaries);

        let mut builder = ColumnBuilder::new(field.data_type(), 1).expect("builder");
        let error = builder
            .append(ValueRef::Text(b"{1,2}"))
            .expect_err("not JSON");
        assert!(error.contains("{1,2}"), "{error}");
        let mut builder =
            ColumnBuilder::new(&DataType::List(list_item_field(DataType::Int16, None)), 1)
                .expect("builder");
        let error = builder
            .append(ValueRef::Text(b"[1, 40000]"))
            .expect_err("out of range");
        assert!(
            error.contains("element 1") && error.contains("40000"),
            "{error}"
        );
    }

    #[test]
    fn bad_values_are_described() {
        let mut builder = ColumnBuilder::new(&DataType::Int64, 1).expect("builder");
        let error = builder
            .append(ValueRef::Text(b"twelve"))
            .expect_err("not a number");
        assert!(error.contains("twelve"), "{error}");
        let mut builder = ColumnBuilder::new(&DataType::Int16, 1).expect("builder");
        let error = builder
            .append(ValueRef::Integer(70_000))
            .expect_err("too large");
        assert!(error.contains("70000"), "{error}");
        let mut builder = ColumnBuilder::new(&DataType::Interval(IntervalUnit::MonthDayNano), 1)
            .expect("builder");
        let error = builder
            .append(ValueRef::Text(b"1 day"))
            .expect_err("not ISO");
        assert!(error.contains("1 day"), "{error}");
    }
}
