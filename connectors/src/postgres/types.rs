//! PostgreSQL <-> Arrow type mapping.
//!
//! | PostgreSQL | Arrow | notes |
//! | --- | --- | --- |
//! | `boolean` | Boolean | |
//! | `smallint` / `integer` / `bigint` | Int16 / Int32 / Int64 | |
//! | `real` / `double precision` | Float32 / Float64 | NaN and ±Infinity kept |
//! | `numeric(p, s)`, p ≤ 38 | Decimal128(p, s) | NaN is a dirty record |
//! | `numeric(p, s)`, 38 < p ≤ 76 | Decimal256(p, s) | NaN is a dirty record |
//! | `numeric` (no typmod, or p > 76, or s > p) | Utf8, decimal text | `NaN`, `Infinity` kept as text |
//! | `text`, `varchar(n)`, `char(n)`, `name`, enums | Utf8 | |
//! | `bytea` | Binary | |
//! | `date` | Date32 | `±infinity` and dates beyond Date32 are dirty records |
//! | `time` | Time64(µs) | |
//! | `timestamp` | Timestamp(µs) | `±infinity` is a dirty record |
//! | `timestamptz` | Timestamp(µs, "UTC") | `±infinity` is a dirty record |
//! | `interval` | Interval(MonthDayNano) | |
//! | `uuid` | FixedSizeBinary(16), extension `arrow.uuid` | |
//! | `json` / `jsonb` | Utf8, extension `arrow.json` | |
//! | one-dimensional arrays of the above | List | multi-dimensional arrays and lower bounds other than 1 are dirty records |
//!
//! Every field also carries its PostgreSQL type in the metadata key [`PG_TYPE_METADATA`], so
//! a PostgreSQL sink that creates its table recreates the exact type.

use crate::error::{ConnectorError, Result};
use arrow_schema::{DataType, Field, IntervalUnit, TimeUnit};
use std::collections::HashMap;
use std::sync::Arc;
use tokio_postgres::types::{Kind, Type};

/// Field metadata key holding the PostgreSQL type a column was read from (e.g. `numeric(10,2)`).
pub const PG_TYPE_METADATA: &str = "sluice.pg_type";
/// Arrow's extension-name metadata key.
pub const EXTENSION_NAME: &str = "ARROW:extension:name";
/// Extension name of uuid columns.
pub const UUID_EXTENSION: &str = "arrow.uuid";
/// Extension name of json columns.
pub const JSON_EXTENSION: &str = "arrow.json";

/// OIDs of the built-in types the connector reads and writes.
pub mod oid {
    /// `boolean`.
    pub const BOOL: u32 = 16;
    /// `bytea`.
    pub const BYTEA: u32 = 17;
    /// `name`.
    pub const NAME: u32 = 19;
    /// `bigint`.
    pub const INT8: u32 = 20;
    /// `smallint`.
    pub const INT2: u32 = 21;
    /// `integer`.
    pub const INT4: u32 = 23;
    /// `text`.
    pub const TEXT: u32 = 25;
    /// `json`.
    pub const JSON: u32 = 114;
    /// `real`.
    pub const FLOAT4: u32 = 700;
    /// `double precision`.
    pub const FLOAT8: u32 = 701;
    /// `character(n)`.
    pub const BPCHAR: u32 = 1042;
    /// `character varying(n)`.
    pub const VARCHAR: u32 = 1043;
    /// `date`.
    pub const DATE: u32 = 1082;
    /// `time`.
    pub const TIME: u32 = 1083;
    /// `timestamp`.
    pub const TIMESTAMP: u32 = 1114;
    /// `timestamptz`.
    pub const TIMESTAMPTZ: u32 = 1184;
    /// `interval`.
    pub const INTERVAL: u32 = 1186;
    /// `numeric`.
    pub const NUMERIC: u32 = 1700;
    /// `uuid`.
    pub const UUID: u32 = 2950;
    /// `jsonb`.
    pub const JSONB: u32 = 3802;
}

/// A column type the connector can read or write, with what its binary form needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgType {
    /// `boolean`.
    Bool,
    /// `smallint`.
    Int2,
    /// `integer`.
    Int4,
    /// `bigint`.
    Int8,
    /// `real`.
    Float4,
    /// `double precision`.
    Float8,
    /// `numeric(precision, scale)` with precision ≤ 76 and 0 ≤ scale ≤ precision.
    Numeric {
        /// Total digits.
        precision: u8,
        /// Fractional digits.
        scale: i8,
    },
    /// `numeric` without a usable typmod: read as decimal text.
    NumericText {
        /// The typmod (-1 when unconstrained), kept for `CREATE TABLE` and scale checks.
        typmod: i32,
    },
    /// Character types and enums (all sent as UTF-8 text).
    Text {
        /// The type's OID (array elements must carry it).
        oid: u32,
        /// The typmod (`varchar(n)` has n + 4).
        typmod: i32,
    },
    /// `bytea`.
    Bytea,
    /// `date`.
    Date,
    /// `time` (without time zone).
    Time,
    /// `timestamp` (without time zone).
    Timestamp,
    /// `timestamptz`.
    Timestamptz,
    /// `interval`.
    Interval,
    /// `uuid`.
    Uuid,
    /// `json`.
    Json,
    /// `jsonb`.
    Jsonb,
    /// A one-dimensional array of a scalar type.
    Array(Box<PgType>),
}

/// Names of the supported types, for error messages.
pub const SUPPORTED_TYPES: &str = "boolean, smallint, integer, bigint, real, double precision, numeric, text, varchar, char, \
     name, enums, bytea, date, time, timestamp, timestamptz, interval, uuid, json, jsonb and one-dimensional arrays of those";

impl PgType {
    /// Resolves a column's driver type and typmod.
    ///
    /// # Errors
    /// A description naming the type when it is not supported.
    pub fn resolve(pg_type: &Type, typmod: i32) -> std::result::Result<PgType, String> {
        match pg_type.kind() {
            Kind::Enum(_) => {
                return Ok(PgType::Text {
                    oid: pg_type.oid(),
                    typmod: -1,
                })
            }
            Kind::Domain(base) => return PgType::resolve(base, typmod),
            Kind::Array(element) => {
                let element_type = PgType::resolve(element, typmod)?;
                if matches!(element_type, PgType::Array(_)) {
                    return Err(format!(
                        "type {} (nested arrays) is not supported",
                        pg_type.name()
                    ));
                }
                return Ok(PgType::Array(Box::new(element_type)));
            }
            _ => {}
        }
        let resolved = match pg_type.oid() {
            oid::BOOL => PgType::Bool,
            oid::INT2 => PgType::Int2,
            oid::INT4 => PgType::Int4,
            oid::INT8 => PgType::Int8,
            oid::FLOAT4 => PgType::Float4,
            oid::FLOAT8 => PgType::Float8,
            oid::NUMERIC => numeric_from_typmod(typmod),
            oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME => PgType::Text {
                oid: pg_type.oid(),
                typmod,
            },
            oid::BYTEA => PgType::Bytea,
            oid::DATE => PgType::Date,
            oid::TIME => PgType::Time,
            oid::TIMESTAMP => PgType::Timestamp,
            oid::TIMESTAMPTZ => PgType::Timestamptz,
            oid::INTERVAL => PgType::Interval,
            oid::UUID => PgType::Uuid,
            oid::JSON => PgType::Json,
            oid::JSONB => PgType::Jsonb,
            _ => {
                return Err(format!(
                    "type {} is not supported; supported types: {SUPPORTED_TYPES}",
                    pg_type.name()
                ))
            }
        };
        Ok(resolved)
    }

    /// Returns the type's OID (what array headers carry for their elements).
    pub fn oid(&self) -> u32 {
        match self {
            PgType::Bool => oid::BOOL,
            PgType::Int2 => oid::INT2,
            PgType::Int4 => oid::INT4,
            PgType::Int8 => oid::INT8,
            PgType::Float4 => oid::FLOAT4,
            PgType::Float8 => oid::FLOAT8,
            PgType::Numeric { .. } | PgType::NumericText { .. } => oid::NUMERIC,
            PgType::Text { oid, .. } => *oid,
            PgType::Bytea => oid::BYTEA,
            PgType::Date => oid::DATE,
            PgType::Time => oid::TIME,
            PgType::Timestamp => oid::TIMESTAMP,
            PgType::Timestamptz => oid::TIMESTAMPTZ,
            PgType::Interval => oid::INTERVAL,
            PgType::Uuid => oid::UUID,
            PgType::Json => oid::JSON,
            PgType::Jsonb => oid::JSONB,
            // Arrays never appear as elements.
            PgType::Array(_) => 0,
        }
    }

    /// Returns the Arrow type values of this type are read as.
    pub fn arrow_type(&self) -> DataType {
        match self {
            PgType::Bool => DataType::Boolean,
            PgType::Int2 => DataType::Int16,
            PgType::Int4 => DataType::Int32,
            PgType::Int8 => DataType::Int64,
            PgType::Float4 => DataType::Float32,
            PgType::Float8 => DataType::Float64,
            PgType::Numeric { precision, scale } if *precision <= 38 => {
                DataType::Decimal128(*precision, *scale)
            }
            PgType::Numeric { precision, scale } => DataType::Decimal256(*precision, *scale),
            PgType::NumericText { .. } | PgType::Text { .. } | PgType::Json | PgType::Jsonb => {
                DataType::Utf8
            }
            PgType::Bytea => DataType::Binary,
            PgType::Date => DataType::Date32,
            PgType::Time => DataType::Time64(TimeUnit::Microsecond),
            PgType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
            PgType::Timestamptz => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            PgType::Interval => DataType::Interval(IntervalUnit::MonthDayNano),
            PgType::Uuid => DataType::FixedSizeBinary(16),
            PgType::Array(element) => DataType::List(Arc::new(element.list_item_field())),
        }
    }

    /// Returns the Arrow field of a column called `name` of this type (nullable, with the
    /// PostgreSQL type and extension names in its metadata).
    pub fn arrow_field(&self, name: &str) -> Field {
        let mut metadata = HashMap::new();
        metadata.insert(PG_TYPE_METADATA.to_string(), self.sql_name());
        match self {
            PgType::Uuid => {
                metadata.insert(EXTENSION_NAME.to_string(), UUID_EXTENSION.to_string());
            }
            PgType::Json | PgType::Jsonb => {
                metadata.insert(EXTENSION_NAME.to_string(), JSON_EXTENSION.to_string());
            }
            _ => {}
        }
        Field::new(name, self.arrow_type(), true).with_metadata(metadata)
    }

    /// Returns the element field of a list of this type (`item`, nullable, no metadata).
    pub fn list_item_field(&self) -> Field {
        Field::new("item", self.arrow_type(), true)
    }

    /// Returns the type as written in `CREATE TABLE` (enums become `text`).
    pub fn sql_name(&self) -> String {
        match self {
            PgType::Bool => "boolean".into(),
            PgType::Int2 => "smallint".into(),
            PgType::Int4 => "integer".into(),
            PgType::Int8 => "bigint".into(),
            PgType::Float4 => "real".into(),
            PgType::Float8 => "double precision".into(),
            PgType::Numeric { precision, scale } => format!("numeric({precision},{scale})"),
            PgType::NumericText { typmod } => match numeric_typmod_parts(*typmod) {
                Some((precision, scale)) => format!("numeric({precision},{scale})"),
                None => "numeric".into(),
            },
            PgType::Text { oid, typmod } => match (*oid, *typmod) {
                (oid::VARCHAR, typmod) if typmod >= 4 => format!("varchar({})", typmod - 4),
                (oid::VARCHAR, _) => "varchar".into(),
                (oid::BPCHAR, typmod) if typmod >= 4 => format!("char({})", typmod - 4),
                (oid::BPCHAR, _) => "bpchar".into(),
                (oid::NAME, _) => "name".into(),
                _ => "text".into(),
            },
            PgType::Bytea => "bytea".into(),
            PgType::Date => "date".into(),
            PgType::Time => "time".into(),
            PgType::Timestamp => "timestamp".into(),
            PgType::Timestamptz => "timestamptz".into(),
            PgType::Interval => "interval".into(),
            PgType::Uuid => "uuid".into(),
            PgType::Json => "json".into(),
            PgType::Jsonb => "jsonb".into(),
            PgType::Array(element) => format!("{}[]", element.sql_name()),
        }
    }
}

/// Returns `(precision, scale)` of a numeric typmod, `None` for an unconstrained numeric.
pub fn numeric_typmod_parts(typmod: i32) -> Option<(i32, i32)> {
    if typmod < 4 {
        return None;
    }
    let packed = typmod - 4;
    let precision = (packed >> 16) & 0xFFFF;
    // PostgreSQL 15 stores the scale as an 11-bit signed number.
    let scale = ((packed & 0x7FF) ^ 1024) - 1024;
    Some((precision, scale))
}

fn numeric_from_typmod(typmod: i32) -> PgType {
    match numeric_typmod_parts(typmod) {
        Some((precision, scale))
            if (1..=76).contains(&precision) && (0..=precision).contains(&scale) =>
        {
            // Both fit: precision ≤ 76, 0 ≤ scale ≤ precision.
            PgType::Numeric {
                precision: precision as u8,
                scale: scale as i8,
            }
        }
        _ => PgType::NumericText { typmod },
    }
}

/// Returns the PostgreSQL type to create for an Arrow field: the recorded PostgreSQL type
/// when the field came from PostgreSQL, else a mapping of its Arrow type.
///
/// # Errors
/// [`ConnectorError::Unsupported`] naming the column for Arrow types without a mapping.
pub fn sql_type_for_field(column: &str, field: &Field) -> Result<String> {
    if let Some(recorded) = field.metadata().get(PG_TYPE_METADATA) {
        let safe = recorded
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " (),_[]".contains(c));
        if safe && !recorded.is_empty() {
            return Ok(recorded.clone());
        }
    }
    let extension = field.metadata().get(EXTENSION_NAME).map(String::as_str);
    sql_type_for_arrow(column, field.data_type(), extension)
}

fn sql_type_for_arrow(
    column: &str,
    data_type: &DataType,
    extension: Option<&str>,
) -> Result<String> {
    let name = match data_type {
        DataType::Boolean => "boolean".to_string(),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "smallint".to_string(),
        DataType::Int32 | DataType::UInt16 => "integer".to_string(),
        DataType::Int64 | DataType::UInt32 => "bigint".to_string(),
        DataType::UInt64 => "numeric(20,0)".to_string(),
        DataType::Float16 | DataType::Float32 => "real".to_string(),
        DataType::Float64 => "double precision".to_string(),
        DataType::Decimal128(precision, scale) | DataType::Decimal256(precision, scale) => {
            format!("numeric({precision},{scale})")
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            if extension == Some(JSON_EXTENSION) =>
        {
            "jsonb".to_string()
        }
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "text".to_string(),
        DataType::FixedSizeBinary(16) if extension == Some(UUID_EXTENSION) => "uuid".to_string(),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "bytea".to_string(),
        DataType::Date32 | DataType::Date64 => "date".to_string(),
        DataType::Time32(_) | DataType::Time64(_) => "time".to_string(),
        DataType::Timestamp(_, None) => "timestamp".to_string(),
        DataType::Timestamp(_, Some(_)) => "timestamptz".to_string(),
        DataType::Interval(_) | DataType::Duration(_) => "interval".to_string(),
        DataType::List(element) | DataType::LargeList(element) => {
            let inner = sql_type_for_field(column, element)?;
            if inner.ends_with("[]") {
                return Err(ConnectorError::Unsupported(format!(
                    "column {column}: nested lists have no PostgreSQL mapping"
                )));
            }
            format!("{inner}[]")
        }
        other => {
            return Err(ConnectorError::Unsupported(format!(
                "column {column}: Arrow type {other} has no PostgreSQL mapping"
            )))
        }
    };
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_typmods_map_to_decimals_or_text() {
        let numeric = |precision: i32, scale: i32| {
            numeric_from_typmod(((precision << 16) | (scale & 0x7FF)) + 4)
        };
        assert_eq!(numeric(10, 2).arrow_type(), DataType::Decimal128(10, 2));
        assert_eq!(numeric(50, 0).arrow_type(), DataType::Decimal256(50, 0));
        assert_eq!(numeric(100, 2).arrow_type(), DataType::Utf8);
        assert_eq!(numeric(5, -2).arrow_type(), DataType::Utf8);
        assert_eq!(numeric_from_typmod(-1), PgType::NumericText { typmod: -1 });
        assert_eq!(numeric(10, 2).sql_name(), "numeric(10,2)");
    }

    #[test]
    fn driver_types_resolve() {
        assert_eq!(PgType::resolve(&Type::INT8, -1), Ok(PgType::Int8));
        assert_eq!(
            PgType::resolve(&Type::TEXT_ARRAY, -1),
            Ok(PgType::Array(Box::new(PgType::Text {
                oid: oid::TEXT,
                typmod: -1
            })))
        );
        assert_eq!(
            PgType::resolve(&Type::VARCHAR, 24).map(|t| t.sql_name()),
            Ok("varchar(20)".to_string())
        );
        assert!(PgType::resolve(&Type::POINT, -1)
            .expect_err("unsupported")
            .contains("point"));
    }

    #[test]
    fn create_types_follow_metadata_then_arrow() {
        let field = PgType::Uuid.arrow_field("u");
        assert_eq!(sql_type_for_field("u", &field).expect("type"), "uuid");
        let plain = Field::new("d", DataType::Decimal128(12, 3), true);
        assert_eq!(
            sql_type_for_field("d", &plain).expect("type"),
            "numeric(12,3)"
        );
        let list = Field::new_list("l", Field::new("item", DataType::Int64, true), true);
        assert_eq!(sql_type_for_field("l", &list).expect("type"), "bigint[]");
        assert!(sql_type_for_field("x", &Field::new("x", DataType::Null, true)).is_err());
    }
}
