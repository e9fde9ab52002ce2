//! Refuses column pairs whose types cannot meet before anything is written: text into an
//! integer column without a cast, a timestamp into a boolean, and so on.

use crate::error::{ConnectorError, Result};
use crate::mysql::types::MYSQL_TYPE_METADATA;
use crate::postgres::types::PG_TYPE_METADATA;
use arrow_schema::{DataType, Field, Schema};

const EXTENSION_NAME: &str = "ARROW:extension:name";

/// What kind of value a column holds, for the compatibility rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Boolean,
    Integer,
    Float,
    Decimal,
    Text,
    Uuid,
    Binary,
    Date,
    Time,
    Timestamp,
    Interval,
    Nested,
}

fn kind(field: &Field) -> Kind {
    if field.metadata().get(EXTENSION_NAME).map(String::as_str) == Some("arrow.uuid") {
        return Kind::Uuid;
    }
    match field.data_type() {
        DataType::Null => Kind::Null,
        DataType::Boolean => Kind::Boolean,
        data_type if is_integer_type(data_type) => Kind::Integer,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Kind::Float,
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => Kind::Decimal,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Kind::Text,
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => Kind::Binary,
        DataType::Date32 | DataType::Date64 => Kind::Date,
        DataType::Time32(_) | DataType::Time64(_) => Kind::Time,
        DataType::Timestamp(..) => Kind::Timestamp,
        DataType::Interval(_) | DataType::Duration(_) => Kind::Interval,
        _ => Kind::Nested,
    }
}

/// Returns whether `data_type` is a signed or unsigned integer type.
pub fn is_integer_type(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
    )
}

/// Returns whether values of `source` may be written into a column read as `target` without
/// an explicit cast. Everything goes into text; numbers into numbers (a value out of the
/// target's range is a dirty record); a date into a timestamp; text into uuid; NULL anywhere.
/// Text into numbers, booleans, dates or binary, numbers into booleans or dates, timestamps
/// into booleans or dates and the like need a `cast`.
fn compatible(source: Kind, target: Kind) -> bool {
    use Kind::*;
    match (source, target) {
        (Null, _) | (_, Text) => true,
        (Integer | Float | Decimal, Integer | Float | Decimal) => true,
        (Date, Timestamp) | (Text, Uuid) | (Uuid, Binary) => true,
        (source, target) => source == target,
    }
}

/// Returns a column's type for messages: the store's type when the field carries it, with
/// the Arrow type (`text (Utf8)`), else the Arrow type.
pub fn describe_type(field: &Field) -> String {
    let native = field
        .metadata()
        .get(PG_TYPE_METADATA)
        .or_else(|| field.metadata().get(MYSQL_TYPE_METADATA));
    match native {
        Some(native) => format!("{native} ({})", field.data_type()),
        None => field.data_type().to_string(),
    }
}

/// One column the job writes: where it comes from, its field, the sink column it goes to.
#[derive(Debug, Clone)]
pub struct WrittenColumn {
    /// Field path of the mapping entry (`mapping.columns[2]`), or `source.columns` without a
    /// mapping.
    pub path: String,
    /// What it reads (`source column price`, `expression upper(city)`).
    pub origin: String,
    /// The values' field, after mapping and transformers.
    pub field: Field,
    /// Target column name.
    pub target: String,
}

/// Checks every written column against the sink table's columns (`target`, as the sink's
/// reader sees them), collecting every problem.
///
/// # Errors
/// [`ConnectorError::Config`] at the first offending column's path, whose message lists every
/// problem, naming the source column and type and the target column and type.
pub fn check_target_types(columns: &[WrittenColumn], target: &Schema, table: &str) -> Result<()> {
    let mut problems = Vec::new();
    let mut first_path = None;
    for column in columns {
        let Ok(target_field) = target.field_with_name(&column.target) else {
            let names: Vec<&str> = target.fields().iter().map(|f| f.name().as_str()).collect();
            problems.push(format!(
                "{}: target column {} does not exist in {table}; columns are: {}",
                column.path,
                column.target,
                names.join(", ")
            ));
            first_path.get_or_insert_with(|| column.path.clone());
            continue;
        };
        if compatible(kind(&column.field), kind(target_field)) {
            continue;
        }
        problems.push(format!(
            "{}: {} ({}) cannot be written to target column {} ({}) of {table} without an explicit cast",
            column.path,
            column.origin,
            describe_type(&column.field),
            column.target,
            describe_type(target_field)
        ));
        first_path.get_or_insert_with(|| column.path.clone());
    }
    let Some(path) = first_path else {
        return Ok(());
    };
    Err(ConnectorError::config(
        path,
        format!(
            "incompatible column types, nothing was written: {}; map a compatible column or add `cast` to the mapping entry",
            problems.join("; ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::TimeUnit;
    use std::collections::HashMap;

    fn field(name: &str, data_type: DataType, native: Option<&str>) -> Field {
        let mut metadata = HashMap::new();
        if let Some(native) = native {
            metadata.insert(PG_TYPE_METADATA.to_string(), native.to_string());
        }
        Field::new(name, data_type, true).with_metadata(metadata)
    }

    fn written(origin: &str, field: Field, target: &str) -> WrittenColumn {
        WrittenColumn {
            path: format!("mapping.columns[{target}]"),
            origin: origin.into(),
            field,
            target: target.into(),
        }
    }

    #[test]
    fn rules_allow_widening_and_refuse_what_needs_a_cast() {
        use Kind::*;
        assert!(compatible(Integer, Decimal));
        assert!(compatible(Timestamp, Text));
        assert!(compatible(Null, Boolean));
        assert!(compatible(Date, Timestamp));
        assert!(compatible(Text, Uuid));
        assert!(!compatible(Text, Integer));
        assert!(!compatible(Timestamp, Boolean));
        assert!(!compatible(Integer, Boolean));
        assert!(!compatible(Timestamp, Date));
    }

    #[test]
    fn error_names_both_columns_and_types() {
        let target = Schema::new(vec![
            field("age", DataType::Int32, Some("integer")),
            field("active", DataType::Boolean, Some("boolean")),
            field("name", DataType::Utf8, Some("text")),
        ]);
        let columns = vec![
            written(
                "source column age_text",
                field("age", DataType::Utf8, Some("text")),
                "age",
            ),
            written(
                "source column seen",
                field(
                    "active",
                    DataType::Timestamp(TimeUnit::Microsecond, None),
                    Some("timestamp"),
                ),
                "active",
            ),
            written(
                "source column id",
                field("name", DataType::Int64, None),
                "name",
            ),
        ];
        let error = check_target_types(&columns, &target, "public.people")
            .expect_err("incompatible")
            .to_string();
        assert!(error.contains("source column age_text (text (Utf8)) cannot be written to target column age (integer (Int32))"), "{error}");
        assert!(
            error.contains("source column seen (timestamp (Timestamp(µs))"),
            "{error}"
        );
        assert!(!error.contains("source column id"), "{error}");
        let missing = vec![written(
            "source column x",
            field("x", DataType::Int64, None),
            "x",
        )];
        let error = check_target_types(&missing, &target, "t")
            .expect_err("missing")
            .to_string();
        assert!(
            error.contains("target column x does not exist in t; columns are: age, active, name"),
            "{error}"
        );
    }
}
