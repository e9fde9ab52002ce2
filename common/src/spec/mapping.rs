//! Column mapping (`mapping`) and incremental sync (`source.incremental`) of a job spec: the
//! types as written, their pure validation, and the cast types a mapping may name.
//!
//! ```
//! use sluice_common::spec::{parse_job_spec, validate, MappingBy, SpecFormat};
//! let text = r#"
//! source: {connection: {type: postgresql, host: db, database: crm, user: etl}, table: people}
//! sink: {connection: {type: sqlite, path: /tmp/out.db}, table: people}
//! mapping:
//!   by: name
//!   columns:
//!     - {source: id}
//!     - {source: name, target: full_name}
//!     - {expr: "upper(city)", target: city}
//!     - {value: eu, target: region}
//!     - {null: true, target: note}
//!     - {source: score, target: score_text, cast: utf8}
//! "#;
//! let spec = validate(parse_job_spec(text, SpecFormat::Auto).unwrap()).unwrap().spec;
//! let mapping = spec.mapping.unwrap();
//! assert_eq!(mapping.by, MappingBy::Name);
//! assert_eq!(mapping.columns[1].target_name(), Some("full_name"));
//! ```

use super::JobSpec;
use crate::error::SpecError;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

/// How the job's columns reach the sink's columns (`mapping`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingSpec {
    /// `name` (default): each entry's target names a sink column; `position`: the i-th entry
    /// goes to the i-th column of the sink table.
    #[serde(default)]
    pub by: MappingBy,
    /// The output columns, in order; source columns not listed are dropped. Empty: every
    /// source column (by name: those the sink table has; by position: in order).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<MappingEntry>,
}

/// How mapping entries meet sink columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MappingBy {
    /// By the entry's target name.
    #[default]
    Name,
    /// By position in the sink table.
    Position,
}

impl MappingBy {
    /// Returns the name as written in specs.
    pub fn name(self) -> &'static str {
        match self {
            MappingBy::Name => "name",
            MappingBy::Position => "position",
        }
    }
}

/// One output column of a mapping: exactly one of `source`, `expr`, `value`, `null`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingEntry {
    /// A source column, copied (renamed when `target` differs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// An expression in the source database's SQL dialect, evaluated by the source database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    /// A constant (string, number or boolean), the same in every row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    /// `true`: NULL in every row.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub null: bool,
    /// Sink column (by name); default the source column's name. Filled in by the planner for
    /// `by: position`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Explicit conversion of the value to a type ([`CastType`]), applied by the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cast: Option<String>,
}

impl MappingEntry {
    /// Returns the sink column this entry writes: `target`, else the source column's name.
    pub fn target_name(&self) -> Option<&str> {
        self.target.as_deref().or(self.source.as_deref())
    }

    /// Returns what the entry reads, for messages (`column "a"`, `expression upper(b)`, ...).
    pub fn describe_origin(&self) -> String {
        if let Some(source) = &self.source {
            return format!("source column {source}");
        }
        if let Some(expr) = &self.expr {
            return format!("expression {expr}");
        }
        if let Some(value) = &self.value {
            return format!("constant {value}");
        }
        "NULL".to_string()
    }
}

/// Incremental sync (`source.incremental`): copy only rows whose `column` is greater than the
/// largest value of its target column in the sink when the job is planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncrementalSpec {
    /// Source column compared (strictly greater) with the sink's largest value.
    pub column: String,
    /// Rows with `column` greater than this are copied; absent: the planner reads the sink's
    /// largest value of the mapped column (an empty or missing table copies every row) and
    /// writes it here in the job's stored spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
}

/// A type a mapping entry may be cast to (`cast:`), the names Arrow users know plus SQL
/// aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CastType {
    /// `boolean`, `bool`.
    Boolean,
    /// `int16`, `smallint`.
    Int16,
    /// `int32`, `int`, `integer`.
    Int32,
    /// `int64`, `bigint`, `long`.
    Int64,
    /// `float32`, `real`, `float`.
    Float32,
    /// `float64`, `double`.
    Float64,
    /// `decimal(p,s)` / `numeric(p,s)`, precision 1 to 76.
    Decimal {
        /// Digits in all.
        precision: u8,
        /// Digits after the point.
        scale: i8,
    },
    /// `utf8`, `string`, `text`, `varchar`.
    Utf8,
    /// `binary`, `bytes`.
    Binary,
    /// `date`.
    Date,
    /// `time` (microseconds).
    Time,
    /// `timestamp` (microseconds, no time zone).
    Timestamp,
    /// `timestamptz` (microseconds, UTC).
    TimestampTz,
}

/// The cast type names accepted, for error messages.
pub const CAST_TYPE_NAMES: &str = "boolean, int16, int32, int64, float32, float64, decimal(p,s), utf8, binary, date, time, timestamp, timestamptz";

impl CastType {
    /// Parses a cast type name (case-insensitive).
    ///
    /// # Errors
    /// A message listing the accepted names.
    pub fn parse(text: &str) -> Result<CastType, String> {
        let lower = text.trim().to_ascii_lowercase();
        let parsed = match lower.as_str() {
            "boolean" | "bool" => Some(CastType::Boolean),
            "int16" | "smallint" => Some(CastType::Int16),
            "int32" | "int" | "integer" => Some(CastType::Int32),
            "int64" | "bigint" | "long" => Some(CastType::Int64),
            "float32" | "real" | "float" => Some(CastType::Float32),
            "float64" | "double" => Some(CastType::Float64),
            "utf8" | "string" | "text" | "varchar" => Some(CastType::Utf8),
            "binary" | "bytes" => Some(CastType::Binary),
            "date" => Some(CastType::Date),
            "time" => Some(CastType::Time),
            "timestamp" | "datetime" => Some(CastType::Timestamp),
            "timestamptz" => Some(CastType::TimestampTz),
            other => parse_decimal(other),
        };
        parsed.ok_or_else(|| format!("\"{text}\" is not a cast type; use one of {CAST_TYPE_NAMES}"))
    }
}

fn parse_decimal(text: &str) -> Option<CastType> {
    let inner = text
        .strip_prefix("decimal(")
        .or_else(|| text.strip_prefix("numeric("))?
        .strip_suffix(')')?;
    let (precision, scale) = inner.split_once(',')?;
    let precision: u8 = precision.trim().parse().ok()?;
    let scale: i8 = scale.trim().parse().ok()?;
    let valid = (1..=76).contains(&precision) && scale >= 0 && scale as u8 <= precision;
    valid.then_some(CastType::Decimal { precision, scale })
}

impl fmt::Display for CastType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CastType::Boolean => formatter.write_str("boolean"),
            CastType::Int16 => formatter.write_str("int16"),
            CastType::Int32 => formatter.write_str("int32"),
            CastType::Int64 => formatter.write_str("int64"),
            CastType::Float32 => formatter.write_str("float32"),
            CastType::Float64 => formatter.write_str("float64"),
            CastType::Decimal { precision, scale } => {
                write!(formatter, "decimal({precision},{scale})")
            }
            CastType::Utf8 => formatter.write_str("utf8"),
            CastType::Binary => formatter.write_str("binary"),
            CastType::Date => formatter.write_str("date"),
            CastType::Time => formatter.write_str("time"),
            CastType::Timestamp => formatter.write_str("timestamp"),
            CastType::TimestampTz => formatter.write_str("timestamptz"),
        }
    }
}

/// Sink types whose largest value `source.incremental` can read.
pub const INCREMENTAL_SINK_TYPES: &[&str] =
    &["postgresql", "adb_postgresql", "mysql", "mariadb", "sqlite"];

/// Source types that can filter rows for `source.incremental`.
pub const SQL_SOURCE_TYPES: &[&str] =
    &["postgresql", "adb_postgresql", "mysql", "mariadb", "sqlite"];

/// Source types that evaluate the `expr` entries of a mapping (in their `SELECT`).
pub const EXPRESSION_SOURCE_TYPES: &[&str] = &["postgresql", "adb_postgresql", "mysql", "mariadb"];

/// Checks `mapping` and `source.incremental` against the rest of the spec (no IO), pushing
/// every problem.
pub(super) fn check_mapping(spec: &JobSpec, errors: &mut Vec<SpecError>) {
    if let Some(incremental) = &spec.source.incremental {
        check_incremental(spec, incremental, errors);
    }
    let Some(mapping) = &spec.mapping else {
        return;
    };
    for (present, field) in [
        (!spec.source.columns.is_empty(), "source.columns"),
        (!spec.sink.columns.is_empty(), "sink.columns"),
        (spec.source.query.is_some(), "source.query"),
    ] {
        if present {
            errors.push(SpecError::new(
                field,
                "cannot be combined with mapping: list the columns in mapping.columns",
            ));
        }
    }
    if mapping.by == MappingBy::Position && spec.sink.create_table {
        errors.push(SpecError::new(
            "mapping.by",
            "position maps onto the columns of an existing sink table; with sink.create_table use `by: name`",
        ));
    }
    let mut targets = HashSet::new();
    let mut reads_a_row = mapping.columns.is_empty();
    for (index, entry) in mapping.columns.iter().enumerate() {
        let path = format!("mapping.columns[{index}]");
        let kinds = [
            entry.source.is_some(),
            entry.expr.is_some(),
            entry.value.is_some(),
            entry.null,
        ]
        .iter()
        .filter(|present| **present)
        .count();
        if kinds != 1 {
            errors.push(SpecError::new(
                path.clone(),
                "give exactly one of `source` (a column), `expr` (a SQL expression), `value` (a constant) or `null: true`",
            ));
        }
        reads_a_row |= entry.source.is_some() || entry.expr.is_some();
        if entry.expr.is_some() {
            if let Some(kind) = spec
                .source
                .connection
                .as_ref()
                .map(|inline| inline.kind.as_str())
            {
                if !EXPRESSION_SOURCE_TYPES.contains(&kind) {
                    errors.push(SpecError::new(
                        format!("{path}.expr"),
                        format!(
                            "a {kind} source cannot evaluate SQL expressions (sources that can: {}); use `source`, `value` or `null` with `cast`",
                            EXPRESSION_SOURCE_TYPES.join(", ")
                        ),
                    ));
                }
            }
        }
        for (text, field) in [
            (entry.source.as_deref(), "source"),
            (entry.expr.as_deref(), "expr"),
            (entry.target.as_deref(), "target"),
        ] {
            if text.is_some_and(|value| value.trim().is_empty()) {
                errors.push(SpecError::new(
                    format!("{path}.{field}"),
                    "must not be empty",
                ));
            }
        }
        if let Some(value) = &entry.value {
            if !(value.is_string() || value.is_number() || value.is_boolean()) {
                errors.push(SpecError::new(
                    format!("{path}.value"),
                    "must be a string, number or boolean (for NULL write `null: true`)",
                ));
            }
        }
        if let Some(cast) = &entry.cast {
            if let Err(message) = CastType::parse(cast) {
                errors.push(SpecError::new(format!("{path}.cast"), message));
            }
        }
        match mapping.by {
            MappingBy::Name => match entry.target_name() {
                None => errors.push(SpecError::new(
                    format!("{path}.target"),
                    "is required for an `expr`, `value` or `null` entry: name the sink column",
                )),
                Some(target) => {
                    if !targets.insert(target.to_string()) {
                        errors.push(SpecError::new(
                            format!("{path}.target"),
                            format!("\"{target}\" is written by two entries"),
                        ));
                    }
                }
            },
            MappingBy::Position => {}
        }
    }
    if !reads_a_row {
        errors.push(SpecError::new(
            "mapping.columns",
            "needs at least one `source` or `expr` entry: constants repeat once per source row",
        ));
    }
    if mapping.by == MappingBy::Name {
        for (index, key) in spec.sink.keys.iter().enumerate() {
            if !mapping.columns.is_empty() && !targets.contains(key) {
                errors.push(SpecError::new(
                    format!("sink.keys[{index}]"),
                    format!("\"{key}\" is not a target of mapping.columns"),
                ));
            }
        }
    }
}

fn check_incremental(spec: &JobSpec, incremental: &IncrementalSpec, errors: &mut Vec<SpecError>) {
    if incremental.column.trim().is_empty() {
        errors.push(SpecError::new(
            "source.incremental.column",
            "must not be empty",
        ));
    }
    if spec.source.query.is_some() {
        errors.push(SpecError::new(
            "source.incremental",
            "cannot be combined with source.query: name a table (and a `where` if needed)",
        ));
    }
    if spec.sink.write_mode.as_deref() == Some("truncate") {
        errors.push(SpecError::new(
            "source.incremental",
            "cannot be combined with sink.write_mode truncate (the table would be emptied after its largest value was read)",
        ));
    }
    if let Some(after) = &incremental.after {
        if !(after.is_string() || after.is_i64() || after.is_u64()) {
            errors.push(SpecError::new(
                "source.incremental.after",
                "must be a string or an integer",
            ));
        }
    }
    if let Some(kind) = spec
        .sink
        .connection
        .as_ref()
        .map(|inline| inline.kind.as_str())
    {
        check_incremental_kinds(None, Some(kind), errors);
    }
    if let Some(kind) = spec
        .source
        .connection
        .as_ref()
        .map(|inline| inline.kind.as_str())
    {
        check_incremental_kinds(Some(kind), None, errors);
    }
    if let Some(mapping) = &spec.mapping {
        let mapped = mapping.columns.is_empty()
            || mapping
                .columns
                .iter()
                .any(|entry| entry.source.as_deref() == Some(incremental.column.as_str()));
        if !mapped {
            errors.push(SpecError::new(
                "source.incremental.column",
                format!(
                    "\"{}\" is not a `source` of mapping.columns: the sink's largest value is read from the column it maps to",
                    incremental.column
                ),
            ));
        }
    }
}

/// Checks that the source and sink types (each when known) support `source.incremental`.
pub fn check_incremental_kinds(
    source_kind: Option<&str>,
    sink_kind: Option<&str>,
    errors: &mut Vec<SpecError>,
) {
    if let Some(kind) = sink_kind {
        if !INCREMENTAL_SINK_TYPES.contains(&kind) {
            errors.push(SpecError::new(
                "source.incremental",
                format!(
                    "is not supported for a {kind} sink (its largest value cannot be read); supported sinks: {}",
                    INCREMENTAL_SINK_TYPES.join(", ")
                ),
            ));
        }
    }
    if let Some(kind) = source_kind {
        if !SQL_SOURCE_TYPES.contains(&kind) {
            errors.push(SpecError::new(
                "source.incremental",
                format!(
                    "is not supported for a {kind} source (it cannot filter rows); supported sources: {}",
                    SQL_SOURCE_TYPES.join(", ")
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::spec::{parse_job_spec, validate, SpecFormat};

    fn problems(text: &str) -> String {
        let spec = parse_job_spec(text, SpecFormat::Yaml).expect("parses");
        validate(spec).expect_err("invalid").to_string()
    }

    const ENDS: &str = "source: {connection: {type: sqlite, path: a.db}, table: t}\nsink: {connection: {type: sqlite, path: b.db}, table: u}\n";

    #[test]
    fn entries_need_exactly_one_origin_and_a_target() {
        let text = format!(
            "{ENDS}mapping:\n  columns:\n    - {{source: a, value: 1}}\n    - {{expr: 'a + 1'}}\n    - {{null: true, target: n, cast: int99}}\n"
        );
        let message = problems(&text);
        assert!(
            message.contains("mapping.columns[0]: give exactly one of"),
            "{message}"
        );
        assert!(
            message.contains("mapping.columns[1].target: is required"),
            "{message}"
        );
        assert!(
            message.contains("mapping.columns[2].cast: \"int99\" is not a cast type"),
            "{message}"
        );
    }

    #[test]
    fn mapping_excludes_column_lists_and_duplicate_targets() {
        let text = "source: {connection: {type: sqlite, path: a.db}, table: t, columns: [a]}\nsink: {connection: {type: sqlite, path: b.db}, table: u}\nmapping: {columns: [{source: a}, {source: b, target: a}]}\n";
        let message = problems(text);
        assert!(
            message.contains("source.columns: cannot be combined with mapping"),
            "{message}"
        );
        assert!(
            message.contains("mapping.columns[1].target: \"a\" is written by two entries"),
            "{message}"
        );
    }

    #[test]
    fn incremental_needs_a_table_sink_it_can_read() {
        let text = "source: {connection: {type: generator, rows: 5}, incremental: {column: id}}\nsink: {connection: {type: file, path: /tmp/x, format: csv}}\n";
        let message = problems(text);
        assert!(
            message.contains("is not supported for a file sink"),
            "{message}"
        );
        assert!(
            message.contains("is not supported for a generator source"),
            "{message}"
        );
        let text = format!("{ENDS}mapping: {{columns: [{{source: a}}]}}\n")
            .replace("table: t}", "table: t, incremental: {column: id}}");
        let message = problems(&text);
        assert!(
            message.contains("\"id\" is not a `source` of mapping.columns"),
            "{message}"
        );
    }

    #[test]
    fn cast_types_parse() {
        use super::CastType;
        assert_eq!(CastType::parse("BIGINT"), Ok(CastType::Int64));
        assert_eq!(
            CastType::parse("decimal(12, 2)"),
            Ok(CastType::Decimal {
                precision: 12,
                scale: 2
            })
        );
        assert!(CastType::parse("decimal(2,3)").is_err());
        assert_eq!(
            CastType::parse("text").map(|cast| cast.to_string()),
            Ok("utf8".into())
        );
    }
}
