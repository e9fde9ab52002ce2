//! Type mapping between MySQL / MariaDB columns and Arrow.
//!
//! | MySQL | Arrow | notes |
//! | --- | --- | --- |
//! | `tinyint(1)` | Boolean | with `tinyint1_as_boolean: true` (default); values other than 0 and 1 are dirty |
//! | `tinyint`, `smallint`, `mediumint`, `int`, `bigint` | Int8, Int16, Int32, Int32, Int64 | |
//! | the same `unsigned` | UInt8, UInt16, UInt32, UInt32, UInt64 | |
//! | `float`, `double` | Float32, Float64 | |
//! | `decimal(p,s)` | Decimal128(p,s) for p <= 38, else Decimal256(p,s) | exact, up to `decimal(65,30)` |
//! | `bit(n)` | UInt64 | the bits as an unsigned integer |
//! | `year` | Int16 | |
//! | `date` | Date32 | zero dates: NULL or dirty (`zero_date`) |
//! | `datetime(n)` | Timestamp(µs) | wall-clock, no zone |
//! | `timestamp(n)` | Timestamp(µs, "UTC") | sessions run with `time_zone = '+00:00'` |
//! | `time(n)` | Time64(µs) | negative values or values of 24 hours and more are dirty |
//! | `char`, `varchar`, `*text`, `enum`, `set`, `json` | Utf8 | utf8mb4 |
//! | `binary`, `varbinary`, `*blob`, geometry | Binary | |
//!
//! Every field carries the column's declared type in its metadata under [`MYSQL_TYPE_METADATA`],
//! so a MySQL-to-MySQL copy with `create_table` recreates the same types.

use crate::error::{ConnectorError, Result};
use arrow_schema::{DataType, Field, TimeUnit};
use mysql_async::consts::{ColumnFlags, ColumnType};
use mysql_async::Column;
use std::collections::HashMap;

/// Field metadata key holding the MySQL column type (`int unsigned`, `decimal(65,30)`).
pub const MYSQL_TYPE_METADATA: &str = "sluice.mysql_type";
/// Field metadata key marking Arrow extension types (shared with the PostgreSQL connector).
const EXTENSION_NAME: &str = "ARROW:extension:name";
const JSON_EXTENSION: &str = "arrow.json";
/// MySQL's `binary` character set number.
const BINARY_CHARSET: u16 = 63;

/// A MySQL column type as the connector reads and writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MySqlType {
    /// `tinyint(1)` read as a boolean.
    Bool,
    /// Integers of 8, 16, 32 or 64 bits (`mediumint` reads as 32).
    Int {
        /// Width of the Arrow type.
        bits: u8,
        /// Whether the column is `unsigned`.
        unsigned: bool,
    },
    /// `float`.
    Float,
    /// `double`.
    Double,
    /// `decimal(precision, scale)`.
    Decimal {
        /// Digits.
        precision: u8,
        /// Digits after the point.
        scale: i8,
    },
    /// `bit(n)`.
    Bit,
    /// `year`.
    Year,
    /// `date`.
    Date,
    /// `time`.
    Time,
    /// `datetime`.
    DateTime,
    /// `timestamp`.
    Timestamp,
    /// Character data (`char`, `varchar`, `text`, `enum`, `set`, `json`).
    Text {
        /// Whether the column is `json`.
        json: bool,
    },
    /// Binary strings and blobs.
    Binary,
}

impl MySqlType {
    /// Resolves a result-set column.
    ///
    /// # Errors
    /// A description naming the type when it is not supported.
    pub fn resolve(
        column: &Column,
        tinyint1_as_boolean: bool,
    ) -> std::result::Result<Self, String> {
        let flags = column.flags();
        let unsigned = flags.contains(ColumnFlags::UNSIGNED_FLAG);
        let binary = column.character_set() == BINARY_CHARSET;
        Ok(match column.column_type() {
            ColumnType::MYSQL_TYPE_TINY
                if tinyint1_as_boolean && column.column_length() == 1 && !unsigned =>
            {
                MySqlType::Bool
            }
            ColumnType::MYSQL_TYPE_TINY => MySqlType::Int { bits: 8, unsigned },
            ColumnType::MYSQL_TYPE_SHORT => MySqlType::Int { bits: 16, unsigned },
            ColumnType::MYSQL_TYPE_INT24 | ColumnType::MYSQL_TYPE_LONG => {
                MySqlType::Int { bits: 32, unsigned }
            }
            ColumnType::MYSQL_TYPE_LONGLONG => MySqlType::Int { bits: 64, unsigned },
            ColumnType::MYSQL_TYPE_FLOAT => MySqlType::Float,
            ColumnType::MYSQL_TYPE_DOUBLE => MySqlType::Double,
            ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => {
                let scale = column.decimals();
                let length = column.column_length();
                let overhead = u32::from(!unsigned) + u32::from(scale > 0);
                let precision = length.saturating_sub(overhead).clamp(1, 76);
                MySqlType::Decimal {
                    precision: precision as u8,
                    scale: scale.min(76) as i8,
                }
            }
            ColumnType::MYSQL_TYPE_BIT => MySqlType::Bit,
            ColumnType::MYSQL_TYPE_YEAR => MySqlType::Year,
            ColumnType::MYSQL_TYPE_DATE | ColumnType::MYSQL_TYPE_NEWDATE => MySqlType::Date,
            ColumnType::MYSQL_TYPE_TIME | ColumnType::MYSQL_TYPE_TIME2 => MySqlType::Time,
            ColumnType::MYSQL_TYPE_DATETIME | ColumnType::MYSQL_TYPE_DATETIME2 => {
                MySqlType::DateTime
            }
            ColumnType::MYSQL_TYPE_TIMESTAMP | ColumnType::MYSQL_TYPE_TIMESTAMP2 => {
                MySqlType::Timestamp
            }
            ColumnType::MYSQL_TYPE_JSON => MySqlType::Text { json: true },
            ColumnType::MYSQL_TYPE_ENUM | ColumnType::MYSQL_TYPE_SET => {
                MySqlType::Text { json: false }
            }
            ColumnType::MYSQL_TYPE_VARCHAR
            | ColumnType::MYSQL_TYPE_VAR_STRING
            | ColumnType::MYSQL_TYPE_STRING
            | ColumnType::MYSQL_TYPE_TINY_BLOB
            | ColumnType::MYSQL_TYPE_MEDIUM_BLOB
            | ColumnType::MYSQL_TYPE_LONG_BLOB
            | ColumnType::MYSQL_TYPE_BLOB => {
                if binary {
                    MySqlType::Binary
                } else {
                    MySqlType::Text { json: false }
                }
            }
            ColumnType::MYSQL_TYPE_GEOMETRY => MySqlType::Binary,
            ColumnType::MYSQL_TYPE_NULL => MySqlType::Text { json: false },
            other => {
                return Err(format!(
                    "type {other:?} is not supported; supported are {SUPPORTED_TYPES}"
                ))
            }
        })
    }

    /// Returns the Arrow type values of this type are read as.
    pub fn arrow_type(&self) -> DataType {
        match self {
            MySqlType::Bool => DataType::Boolean,
            MySqlType::Int {
                bits: 8,
                unsigned: false,
            } => DataType::Int8,
            MySqlType::Int {
                bits: 16,
                unsigned: false,
            } => DataType::Int16,
            MySqlType::Int {
                bits: 32,
                unsigned: false,
            } => DataType::Int32,
            MySqlType::Int {
                unsigned: false, ..
            } => DataType::Int64,
            MySqlType::Int {
                bits: 8,
                unsigned: true,
            } => DataType::UInt8,
            MySqlType::Int {
                bits: 16,
                unsigned: true,
            } => DataType::UInt16,
            MySqlType::Int {
                bits: 32,
                unsigned: true,
            } => DataType::UInt32,
            MySqlType::Int { unsigned: true, .. } => DataType::UInt64,
            MySqlType::Float => DataType::Float32,
            MySqlType::Double => DataType::Float64,
            MySqlType::Decimal { precision, scale } if *precision <= 38 => {
                DataType::Decimal128(*precision, *scale)
            }
            MySqlType::Decimal { precision, scale } => DataType::Decimal256(*precision, *scale),
            MySqlType::Bit => DataType::UInt64,
            MySqlType::Year => DataType::Int16,
            MySqlType::Date => DataType::Date32,
            MySqlType::Time => DataType::Time64(TimeUnit::Microsecond),
            MySqlType::DateTime => DataType::Timestamp(TimeUnit::Microsecond, None),
            MySqlType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            MySqlType::Text { .. } => DataType::Utf8,
            MySqlType::Binary => DataType::Binary,
        }
    }

    /// Returns the Arrow field of a column called `name`; `declared` is the column's type as
    /// the server declares it (`information_schema.COLUMNS.COLUMN_TYPE`), kept in the metadata.
    pub fn arrow_field(&self, name: &str, declared: Option<&str>) -> Field {
        let mut metadata = HashMap::new();
        if let Some(declared) = declared {
            metadata.insert(MYSQL_TYPE_METADATA.to_string(), declared.to_string());
        }
        if matches!(self, MySqlType::Text { json: true }) {
            metadata.insert(EXTENSION_NAME.to_string(), JSON_EXTENSION.to_string());
        }
        Field::new(name, self.arrow_type(), true).with_metadata(metadata)
    }
}

/// Names of the supported types, for error messages.
pub const SUPPORTED_TYPES: &str = "tinyint, smallint, mediumint, int, bigint (signed or unsigned), float, double, decimal, bit, year, \
     date, time, datetime, timestamp, char, varchar, text types, enum, set, json, binary, varbinary, blob types and geometry";

/// Returns whether a declared type from another MySQL server can be pasted into `CREATE TABLE`:
/// outside single-quoted strings (enum and set members) only letters, digits, spaces, commas,
/// parentheses and underscores.
fn is_safe_declared_type(declared: &str) -> bool {
    let mut in_string = false;
    let mut characters = declared.chars().peekable();
    while let Some(character) = characters.next() {
        if in_string {
            if character == '\'' {
                if characters.peek() == Some(&'\'') {
                    characters.next();
                } else {
                    in_string = false;
                }
            }
            continue;
        }
        match character {
            '\'' => in_string = true,
            c if c.is_ascii_alphanumeric() || " (),_".contains(c) => {}
            _ => return false,
        }
    }
    !in_string && !declared.trim().is_empty()
}

/// Returns the MySQL type for a `CREATE TABLE` of `field`: the recorded MySQL type when the
/// field came from MySQL, else a mapping of its Arrow type. `is_key` asks for an indexable type
/// (`varchar(255)` instead of `longtext`).
///
/// # Errors
/// [`ConnectorError::Unsupported`] naming the column for Arrow types without a mapping.
pub fn sql_type_for_field(column: &str, field: &Field, is_key: bool) -> Result<String> {
    if let Some(recorded) = field.metadata().get(MYSQL_TYPE_METADATA) {
        if is_safe_declared_type(recorded) {
            return Ok(recorded.clone());
        }
    }
    let json = field.metadata().get(EXTENSION_NAME).map(String::as_str) == Some(JSON_EXTENSION);
    let name = match field.data_type() {
        DataType::Boolean => "tinyint(1)".to_string(),
        DataType::Int8 => "tinyint".to_string(),
        DataType::Int16 => "smallint".to_string(),
        DataType::Int32 => "int".to_string(),
        DataType::Int64 => "bigint".to_string(),
        DataType::UInt8 => "tinyint unsigned".to_string(),
        DataType::UInt16 => "smallint unsigned".to_string(),
        DataType::UInt32 => "int unsigned".to_string(),
        DataType::UInt64 => "bigint unsigned".to_string(),
        DataType::Float16 | DataType::Float32 => "float".to_string(),
        DataType::Float64 => "double".to_string(),
        DataType::Decimal128(precision, scale) | DataType::Decimal256(precision, scale)
            if *precision <= 65 && *scale >= 0 && *scale <= 30 =>
        {
            format!("decimal({precision},{scale})")
        }
        DataType::Decimal128(precision, scale) | DataType::Decimal256(precision, scale) => {
            return Err(ConnectorError::Unsupported(format!(
                "column {column}: decimal({precision},{scale}) does not fit MySQL's decimal (precision up to 65, scale 0 to 30)"
            )))
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View if json => "json".to_string(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View if is_key => "varchar(255)".to_string(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "longtext".to_string(),
        DataType::FixedSizeBinary(width) if *width <= 255 => format!("binary({width})"),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView if is_key => {
            "varbinary(255)".to_string()
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
            "longblob".to_string()
        }
        DataType::Date32 | DataType::Date64 => "date".to_string(),
        DataType::Time32(_) | DataType::Time64(_) => "time(6)".to_string(),
        // MySQL's `timestamp` only covers 1970 to 2038: zoned timestamps land in a `datetime(6)`
        // as UTC wall-clock time (every session runs in UTC).
        DataType::Timestamp(_, _) => "datetime(6)".to_string(),
        other => {
            return Err(ConnectorError::Unsupported(format!(
                "column {column}: Arrow type {other} has no MySQL mapping"
            )))
        }
    };
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_are_checked_before_reuse() {
        assert!(is_safe_declared_type("decimal(65,30)"));
        assert!(is_safe_declared_type("enum('a','it''s; drop',' ')"));
        assert!(is_safe_declared_type("int(10) unsigned"));
        assert!(!is_safe_declared_type("int; drop table x"));
        assert!(!is_safe_declared_type("enum('a)"));
    }

    #[test]
    fn create_types_follow_metadata_then_arrow() {
        let field = MySqlType::Year.arrow_field("y", Some("year(4)"));
        assert_eq!(
            sql_type_for_field("y", &field, false).expect("type"),
            "year(4)"
        );
        let plain = Field::new("d", DataType::Decimal256(65, 30), true);
        assert_eq!(
            sql_type_for_field("d", &plain, false).expect("type"),
            "decimal(65,30)"
        );
        let key = Field::new("k", DataType::Utf8, true);
        assert_eq!(
            sql_type_for_field("k", &key, true).expect("type"),
            "varchar(255)"
        );
        let wide = Field::new("w", DataType::Decimal256(70, 2), true);
        assert!(sql_type_for_field("w", &wide, false)
            .expect_err("too wide")
            .to_string()
            .contains("column w"));
    }
}
