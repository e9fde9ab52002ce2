//! Pure validation of a parsed [`JobSpec`]: every problem is collected, each with its field path
//! and what is allowed.

use super::connection_types::{connection_type, type_names};
use super::{ConnectionConfig, InlineConnection, JobSpec};
use crate::error::{SpecError, SpecErrors};
use std::collections::{BTreeMap, HashSet};

/// How the sink writes rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Plain inserts.
    Insert,
    /// Insert or update by `sink.keys`.
    Upsert,
    /// Empty the table once before the first shard, then insert.
    Truncate,
    /// MySQL/MariaDB and SQLite: a row whose primary or unique key exists replaces the old row
    /// (`REPLACE INTO`, DataX's `writeMode: replace`).
    Replace,
    /// MySQL/MariaDB: a row whose primary or unique key exists updates every written column
    /// of the old row (`INSERT ... ON DUPLICATE KEY UPDATE`, DataX's `writeMode: update`);
    /// no `sink.keys` needed, the table's own keys decide.
    Update,
}

impl WriteMode {
    const NAMES: &'static str = "insert, upsert, truncate, replace, update";

    fn parse(text: &str) -> Option<WriteMode> {
        match text {
            "insert" => Some(WriteMode::Insert),
            "upsert" => Some(WriteMode::Upsert),
            "truncate" => Some(WriteMode::Truncate),
            "replace" => Some(WriteMode::Replace),
            "update" => Some(WriteMode::Update),
            _ => None,
        }
    }
}

/// A spec that passed [`validate`]; the only form the coordinator turns into a job.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedJobSpec {
    /// The spec, unchanged.
    pub spec: JobSpec,
    /// The parsed write mode.
    pub write_mode: WriteMode,
}

/// Which end of the job a connection serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Read from.
    Source,
    /// Written to.
    Sink,
}

impl Role {
    fn path(self) -> &'static str {
        match self {
            Role::Source => "source",
            Role::Sink => "sink",
        }
    }
}

/// Checks every value and cross-field rule of `spec`.
///
/// # Errors
/// Every problem found, each naming its field path.
pub fn validate(mut spec: JobSpec) -> Result<ValidatedJobSpec, SpecErrors> {
    let mut errors = Vec::new();
    let source_table = if spec.source.query.is_some() {
        Some("(query)")
    } else {
        spec.source.table.as_deref()
    };
    check_endpoint(
        Role::Source,
        spec.source.datasource.as_deref(),
        spec.source.connection.as_ref(),
        source_table,
        &mut errors,
    );
    check_endpoint(
        Role::Sink,
        spec.sink.datasource.as_deref(),
        spec.sink.connection.as_ref(),
        spec.sink.table.as_deref(),
        &mut errors,
    );
    check_column_list("source.columns", &spec.source.columns, &mut errors);
    check_column_list("sink.columns", &spec.sink.columns, &mut errors);
    check_column_list("sink.keys", &spec.sink.keys, &mut errors);
    if !spec.source.columns.is_empty()
        && !spec.sink.columns.is_empty()
        && spec.source.columns.len() != spec.sink.columns.len()
    {
        errors.push(SpecError::new(
            "sink.columns",
            format!(
                "has {} columns but source.columns has {}; columns are matched by position",
                spec.sink.columns.len(),
                spec.source.columns.len()
            ),
        ));
    }
    if let Some(query) = &spec.source.query {
        if query.trim().is_empty() {
            errors.push(SpecError::new("source.query", "must not be empty"));
        }
        for (present, field) in [
            (spec.source.table.is_some(), "source.table"),
            (!spec.source.columns.is_empty(), "source.columns"),
            (spec.source.where_clause.is_some(), "source.where"),
            (spec.source.split_pk.is_some(), "source.split_pk"),
        ] {
            if present {
                errors.push(SpecError::new(
                    field,
                    "cannot be combined with source.query (a query runs as one shard)",
                ));
            }
        }
    }
    if !spec.source.split_bounds.is_empty() && spec.source.split_pk.is_none() {
        errors.push(SpecError::new(
            "source.split_bounds",
            "needs source.split_pk",
        ));
    }
    for (index, bound) in spec.source.split_bounds.iter().enumerate() {
        if !(bound.is_i64() || bound.is_string()) {
            errors.push(SpecError::new(
                format!("source.split_bounds[{index}]"),
                "must be an integer or a string",
            ));
        }
    }
    if let Some(limit) = spec.settings.error_limit {
        if let Some(percentage) = limit.percentage {
            if !(0.0..=100.0).contains(&percentage) {
                errors.push(SpecError::new(
                    "settings.error_limit.percentage",
                    format!("{percentage} is out of range: must be from 0 to 100"),
                ));
            }
        }
    }
    if let Some(split_pk) = &spec.source.split_pk {
        if split_pk.trim().is_empty() {
            errors.push(SpecError::new("source.split_pk", "must not be empty"));
        }
    }
    super::mapping::check_mapping(&spec, &mut errors);
    if let Err(problems) = super::parse_transformers(&spec.transformers) {
        errors.extend(problems.0);
    }
    let write_mode_text = spec.sink.write_mode.as_deref().unwrap_or("insert");
    let write_mode = WriteMode::parse(write_mode_text);
    if write_mode.is_none() {
        errors.push(SpecError::new(
            "sink.write_mode",
            format!("\"{write_mode_text}\" is not one of {}", WriteMode::NAMES),
        ));
    }
    if write_mode == Some(WriteMode::Upsert) && spec.sink.keys.is_empty() {
        errors.push(SpecError::new(
            "sink.keys",
            "is required when sink.write_mode is upsert: list the key columns",
        ));
    }
    let dirty_tables = spec
        .settings
        .dirty_table
        .iter()
        .map(|table| ("settings.dirty_table", table))
        .chain(
            spec.settings
                .dirty_data
                .iter()
                .map(|dirty| ("settings.dirty_data.table", &dirty.table)),
        );
    if let Some(dirty) = &spec.settings.dirty_data {
        if !is_valid_name(&dirty.datasource) && !dirty.datasource.contains('/') {
            errors.push(SpecError::new(
                "settings.dirty_data.datasource",
                format!("\"{}\" is not a data source name", dirty.datasource),
            ));
        }
    }
    for (field, table) in dirty_tables {
        let valid = !table.is_empty()
            && table.split('.').count() <= 2
            && table.split('.').all(|part| {
                !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if !valid {
            errors.push(SpecError::new(
                field,
                format!("\"{table}\" is not a table name; use letters, digits and _ (optionally schema.table)"),
            ));
        }
    }
    if let Some(speed) = spec.settings.speed {
        for (field, value) in [
            (
                "settings.speed.records_per_second",
                speed.records_per_second,
            ),
            ("settings.speed.bytes_per_second", speed.bytes_per_second),
        ] {
            if value == Some(0) {
                errors.push(SpecError::new(
                    field,
                    "must be at least 1: leave it out (or set `throttle: false`) for no limit",
                ));
            }
        }
        if let Some(concurrent) = speed.concurrent {
            check_range(
                "settings.speed.concurrent",
                u64::from(concurrent),
                1,
                1024,
                &mut errors,
            );
            spec.settings.parallelism = concurrent;
        }
    }
    if let Some(group) = &spec.settings.resource_group {
        if !is_valid_name(group) {
            errors.push(SpecError::new(
                "settings.resource_group",
                format!("\"{group}\" is not a valid group name: use 1 to 128 letters, digits, '_' or '-' (as given to `sluice-worker --group`)"),
            ));
        }
    }
    check_range(
        "settings.parallelism",
        u64::from(spec.settings.parallelism),
        1,
        1024,
        &mut errors,
    );
    check_range(
        "settings.max_attempts",
        u64::from(spec.settings.max_attempts),
        1,
        100,
        &mut errors,
    );
    check_range(
        "settings.shard_rows",
        spec.settings.shard_rows,
        1000,
        u64::MAX,
        &mut errors,
    );
    check_range(
        "settings.batch_rows",
        u64::from(spec.settings.batch_rows),
        1,
        1_000_000,
        &mut errors,
    );
    match (errors.is_empty(), write_mode) {
        (true, Some(write_mode)) => Ok(ValidatedJobSpec { spec, write_mode }),
        _ => Err(SpecErrors(errors)),
    }
}

fn check_range(path: &str, value: u64, min: u64, max: u64, errors: &mut Vec<SpecError>) {
    if value < min || value > max {
        let allowed = if max == u64::MAX {
            format!("at least {min}")
        } else {
            format!("from {min} to {max}")
        };
        errors.push(SpecError::new(
            path,
            format!("{value} is out of range: must be {allowed}"),
        ));
    }
}

fn check_column_list(path: &str, columns: &[String], errors: &mut Vec<SpecError>) {
    let mut seen = HashSet::new();
    for (index, column) in columns.iter().enumerate() {
        if column.trim().is_empty() {
            errors.push(SpecError::new(
                format!("{path}[{index}]"),
                "must not be empty",
            ));
        } else if !seen.insert(column.as_str()) {
            errors.push(SpecError::new(
                format!("{path}[{index}]"),
                format!("\"{column}\" is listed twice"),
            ));
        }
    }
}

fn check_endpoint(
    role: Role,
    datasource: Option<&str>,
    connection: Option<&InlineConnection>,
    table: Option<&str>,
    errors: &mut Vec<SpecError>,
) {
    let path = role.path();
    match (datasource, connection) {
        (Some(_), Some(_)) => errors.push(SpecError::new(
            path,
            "give either `datasource` (a name) or `connection` (inline), not both",
        )),
        (None, None) => errors.push(SpecError::new(
            path,
            "missing `datasource` (a data source name) or `connection` (e.g. {type: sqlite, path: ...})",
        )),
        (Some(name), None) => {
            // `OWNER/NAME` names a data source another workspace shares with the job's.
            let valid = match name.split_once('/') {
                Some((owner, shared)) => is_valid_name(owner) && is_valid_name(shared),
                None => is_valid_name(name),
            };
            if !valid {
                errors.push(SpecError::new(
                    format!("{path}.datasource"),
                    format!("\"{name}\" is not a valid name: use letters, digits, `_` and `-`, or OWNER_WORKSPACE/NAME for a shared data source"),
                ));
            }
        }
        (None, Some(inline)) => match inline_connection_config(inline) {
            Ok(config) => {
                errors.extend(check_connection(&format!("{path}.connection"), role, &config));
                check_table(role, &config, table, errors);
            }
            Err(mut problems) => {
                for problem in &mut problems {
                    problem.path = format!("{path}.connection.{}", problem.path);
                }
                errors.extend(problems);
            }
        },
    }
}

/// Checks that `table` is given when the connection's type needs one.
fn check_table(
    role: Role,
    config: &ConnectionConfig,
    table: Option<&str>,
    errors: &mut Vec<SpecError>,
) {
    let Some(kind) = connection_type(&config.kind) else {
        return;
    };
    let missing = table.is_none_or(|name| name.trim().is_empty());
    if kind.needs_table && missing {
        errors.push(SpecError::new(
            format!("{}.table", role.path()),
            format!("is required for a {} connection", kind.name),
        ));
    }
}

/// Checks a resolved connection (inline or from a data source) against its type's declaration.
pub fn check_connection(path: &str, role: Role, config: &ConnectionConfig) -> Vec<SpecError> {
    let mut errors = Vec::new();
    let Some(kind) = connection_type(&config.kind) else {
        errors.push(SpecError::new(
            format!("{path}.type"),
            format!("\"{}\" is not one of {}", config.kind, type_names()),
        ));
        return errors;
    };
    if role == Role::Source && !kind.can_read {
        errors.push(SpecError::new(
            format!("{path}.type"),
            format!("{} cannot be read from", kind.name),
        ));
    }
    if role == Role::Sink && !kind.can_write {
        errors.push(SpecError::new(
            format!("{path}.type"),
            format!("{} can only be a source, not a sink", kind.name),
        ));
    }
    for name in config.options.keys().chain(config.secrets.keys()) {
        if !kind.accepts(name) {
            errors.push(SpecError::new(
                format!("{path}.{name}"),
                format!(
                    "is not an option of {}; options are: {}",
                    kind.name,
                    kind.option_list()
                ),
            ));
        }
    }
    for required in kind.required {
        let present =
            config.options.contains_key(*required) || config.secrets.contains_key(*required);
        if !present {
            errors.push(SpecError::new(
                format!("{path}.{required}"),
                format!("is required for a {} connection", kind.name),
            ));
        }
    }
    for numeric in ["rows", "seed", "port", "busy_timeout_ms"] {
        if let Some(value) = config.options.get(numeric) {
            if value.parse::<u64>().is_err() {
                errors.push(SpecError::new(
                    format!("{path}.{numeric}"),
                    format!("\"{value}\" is not a non-negative integer"),
                ));
            }
        }
    }
    errors
}

/// Turns an inline connection into a resolved one, splitting secret options apart.
///
/// # Errors
/// One error per option that is not a scalar (paths relative to the connection).
pub fn inline_connection_config(
    inline: &InlineConnection,
) -> Result<ConnectionConfig, Vec<SpecError>> {
    let secret_names = connection_type(&inline.kind).map_or(&[][..], |kind| kind.secrets);
    let mut options = BTreeMap::new();
    let mut secrets = BTreeMap::new();
    let mut errors = Vec::new();
    for (name, value) in &inline.options {
        let text = match value {
            serde_json::Value::String(text) => text.clone(),
            serde_json::Value::Number(number) => number.to_string(),
            serde_json::Value::Bool(flag) => flag.to_string(),
            serde_json::Value::Array(_) | serde_json::Value::Object(_)
                if super::connection_types::takes_json(&inline.kind, name) =>
            {
                value.to_string()
            }
            _ => {
                errors.push(SpecError::new(
                    name.clone(),
                    "must be a string, number or boolean",
                ));
                continue;
            }
        };
        if secret_names.contains(&name.as_str()) {
            secrets.insert(name.clone(), text);
        } else {
            options.insert(name.clone(), text);
        }
    }
    if errors.is_empty() {
        Ok(ConnectionConfig {
            kind: inline.kind.clone(),
            options,
            secrets,
        })
    } else {
        Err(errors)
    }
}

/// Returns whether `name` is a valid data source or workspace name.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{parse_job_spec, SpecFormat};

    fn parse(text: &str) -> JobSpec {
        parse_job_spec(text, SpecFormat::Yaml).expect("parses")
    }

    #[test]
    fn bad_write_mode_says_what_is_allowed() {
        let spec = parse("source: {connection: {type: generator, rows: 10}}\nsink: {connection: {type: sqlite, path: x.db}, table: t, write_mode: upsrt}\n");
        let errors = validate(spec).expect_err("invalid");
        assert_eq!(
            errors.0[0].to_string(),
            "sink.write_mode: \"upsrt\" is not one of insert, upsert, truncate, replace, update"
        );
    }

    #[test]
    fn collects_every_problem() {
        let spec = parse("source: {connection: {type: nosuch}}\nsink: {connection: {type: generator, rows: 1}}\nsettings: {parallelism: 0, batch_rows: 0}\n");
        let errors = validate(spec).expect_err("invalid");
        let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"source.connection.type"), "{paths:?}");
        assert!(paths.contains(&"sink.connection.type"), "{paths:?}");
        assert!(paths.contains(&"settings.parallelism"), "{paths:?}");
        assert!(paths.contains(&"settings.batch_rows"), "{paths:?}");
    }

    #[test]
    fn missing_table_and_option_are_named() {
        let spec = parse("source: {connection: {type: sqlite}}\nsink: {connection: {type: sqlite, path: b.db, colour: red}, table: t}\n");
        let errors = validate(spec).expect_err("invalid");
        let text = errors.to_string();
        assert!(
            text.contains("source.connection.path: is required"),
            "{text}"
        );
        assert!(text.contains("source.table: is required"), "{text}");
        assert!(
            text.contains("sink.connection.colour: is not an option of sqlite"),
            "{text}"
        );
    }

    #[test]
    fn upsert_needs_keys_and_both_endpoints_needed() {
        let spec = parse("source: {}\nsink: {connection: {type: sqlite, path: b.db}, table: t, write_mode: upsert}\n");
        let errors = validate(spec).expect_err("invalid");
        let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, vec!["source", "sink.keys"]);
    }

    #[test]
    fn valid_spec_passes_with_defaults() {
        let spec = parse("source: {datasource: src, table: events, split_pk: id}\nsink: {datasource: dst, table: events}\n");
        let validated = validate(spec).expect("valid");
        assert_eq!(validated.write_mode, WriteMode::Insert);
        assert_eq!(validated.spec.settings.max_attempts, 3);
    }

    #[test]
    fn speed_limits_are_checked_and_concurrent_sets_parallelism() {
        let spec = parse("source: {connection: {type: generator, rows: 1}}\nsink: {connection: {type: sqlite, path: /tmp/x.db}, table: t}\nsettings: {speed: {records_per_second: 0, concurrent: 9}}\n");
        let errors = validate(spec).expect_err("zero rate");
        assert_eq!(errors.0[0].path, "settings.speed.records_per_second");
        let spec = parse("source: {connection: {type: generator, rows: 1}}\nsink: {connection: {type: sqlite, path: /tmp/x.db}, table: t}\nsettings: {speed: {records_per_second: 500, concurrent: 9, throttle: false}}\n");
        let validated = validate(spec).expect("valid");
        assert_eq!(validated.spec.settings.parallelism, 9);
        let speed = validated.spec.settings.speed.expect("speed");
        assert_eq!(speed.limits(), (0, 0));
    }
}
