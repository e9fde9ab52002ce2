//! Job specs: the JSON/YAML document that says what to copy ("script mode").
//!
//! Parsing ([`parse_job_spec`]) rejects unknown keys and wrong types with the field path;
//! [`validate`] then checks values and cross-field rules, collecting every problem, and returns
//! a [`ValidatedJobSpec`] that the coordinator requires before it creates a job.
//!
//! ```
//! use sluice_common::spec::{parse_job_spec, validate, SpecFormat};
//! let text = r#"
//! source: {connection: {type: generator, rows: 1000}}
//! sink: {connection: {type: sqlite, path: /tmp/out.db}, table: t, create_table: true}
//! "#;
//! let spec = parse_job_spec(text, SpecFormat::Auto).unwrap();
//! let validated = validate(spec).unwrap();
//! assert_eq!(validated.spec.settings.parallelism, 4);
//! ```

mod connection_types;
mod datax;
mod mapping;
mod params;
mod transformers;
mod validate;

pub use connection_types::{connection_type, ConnectionType, CONNECTION_TYPES};
pub use datax::{is_dataworks_job, is_datax_job, translate_dataworks, translate_datax};
pub use mapping::{
    check_incremental_kinds, CastType, IncrementalSpec, MappingBy, MappingEntry, MappingSpec,
    CAST_TYPE_NAMES, EXPRESSION_SOURCE_TYPES, INCREMENTAL_SINK_TYPES, SQL_SOURCE_TYPES,
};
pub use params::{expand_placeholders, substitute_params, ParamContext};
pub use transformers::{
    is_decimal_text, parse_transformers, ColumnRef, DigestAlgorithm, FilterOp, HexCase, MapOp,
    PadSide, ParsedTransformer, Transformer, TransformerSpec, TRANSFORMER_NAMES,
};
pub use validate::{
    check_connection, inline_connection_config, is_valid_name, validate, Role, ValidatedJobSpec,
    WriteMode,
};

use crate::error::{SpecError, SpecErrors};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Format of a spec document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecFormat {
    /// JSON if the document starts with `{`, else YAML.
    Auto,
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

/// A job spec as written by the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// What to read.
    pub source: SourceSpec,
    /// Where to write.
    pub sink: SinkSpec,
    /// How to run.
    #[serde(default)]
    pub settings: Settings,
    /// Transformers applied in order to every row between reader and writer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transformers: Vec<TransformerSpec>,
    /// Column mapping: which source columns, expressions and constants reach which sink
    /// columns, with casts (see `docs/mapping.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<MappingSpec>,
}

/// The source side of a job.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// Name of a data source of the workspace (exclusive with `connection`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasource: Option<String>,
    /// An inline connection (exclusive with `datasource`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<InlineConnection>,
    /// Table to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Columns to read, in order; empty means every column.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// Extra filter, in the source's SQL dialect.
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub where_clause: Option<String>,
    /// Column used to split the table into key-range shards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_pk: Option<String>,
    /// User-given split points of `split_pk` (numbers or strings): the planner uses them as
    /// shard boundaries instead of reading MIN/MAX or statistics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub split_bounds: Vec<serde_json::Value>,
    /// An arbitrary query instead of `table`/`columns`/`where`/`split_pk`; runs as one shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Copy only rows newer than the sink's largest value of a column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<IncrementalSpec>,
}

/// The sink side of a job.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkSpec {
    /// Name of a data source of the workspace (exclusive with `connection`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasource: Option<String>,
    /// An inline connection (exclusive with `datasource`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<InlineConnection>,
    /// Table to write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Target columns, matched to the source columns by position; empty means the source names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// `insert` (default), `upsert` (needs `keys`) or `truncate` (empty the table first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_mode: Option<String>,
    /// Key columns for `upsert`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// Statements run once, on a worker, before any shard.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_sql: Vec<String>,
    /// Statements run once, on a worker, after every shard committed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_sql: Vec<String>,
    /// Create the table from the source schema when it does not exist.
    #[serde(default)]
    pub create_table: bool,
}

/// How a job runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Shards running at once across the cluster (1 to 1024).
    pub parallelism: u32,
    /// Attempts per shard before the job fails (1 to 100).
    pub max_attempts: u32,
    /// Target rows per shard (at least 1000); the planner also makes at least
    /// `parallelism × 4` shards.
    pub shard_rows: u64,
    /// Rows per Arrow batch (1 to 1,000,000).
    pub batch_rows: u32,
    /// When too many dirty records fail the job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_limit: Option<ErrorLimit>,
    /// Rate limits for the whole job, across every worker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<Speed>,
    /// Resource group whose workers run the job's planning, shards and finalisation; absent
    /// means [`DEFAULT_RESOURCE_GROUP`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_group: Option<String>,
    /// A table in the sink's database that receives every dirty record of each shard in the
    /// shard's own transaction (created when missing), besides the cluster's dirty-data store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dirty_table: Option<String>,
    /// A table in a named data source of the job's workspace that receives the dirty records of
    /// every committed shard, written after the shard commits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dirty_data: Option<DirtyDataSpec>,
}

/// `settings.dirty_data`: where dirty records are also kept, as rows of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirtyDataSpec {
    /// Data source (of the job's workspace, resolved in the job's environment).
    pub datasource: String,
    /// Table (created when missing), optionally `schema.table`.
    pub table: String,
}

/// Resource group of workers started without `--group`, and of jobs without
/// `settings.resource_group`.
pub const DEFAULT_RESOURCE_GROUP: &str = "default";

impl Settings {
    /// Returns the resource group the job runs in.
    pub fn resource_group(&self) -> &str {
        self.resource_group
            .as_deref()
            .unwrap_or(DEFAULT_RESOURCE_GROUP)
    }
}

/// Rate limits of a job (`settings.speed`), as DataX and DataWorks users write them, but for
/// the whole job: the coordinator divides them among the shards running at any moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Speed {
    /// Records per second for the whole job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub records_per_second: Option<u64>,
    /// Bytes per second for the whole job (Arrow memory size of the batches read, the measure
    /// of `bytes_read`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_second: Option<u64>,
    /// Shards running at once; when given it replaces `settings.parallelism`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent: Option<u32>,
    /// `false` lifts the record and byte limits (as DataWorks' `throttle: false`).
    #[serde(default = "default_throttle")]
    pub throttle: bool,
}

fn default_throttle() -> bool {
    true
}

impl Speed {
    /// Returns the job's limits as (records per second, bytes per second), 0 meaning none.
    pub fn limits(&self) -> (u64, u64) {
        if !self.throttle {
            return (0, 0);
        }
        (
            self.records_per_second.unwrap_or(0),
            self.bytes_per_second.unwrap_or(0),
        )
    }
}

/// Dirty-record limit of a job. `record` is checked live and takes precedence.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorLimit {
    /// Fail the job as soon as more than this many records are dirty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
    /// Fail the job at the end when more than this percentage of rows read were dirty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<f64>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            parallelism: 4,
            max_attempts: 3,
            shard_rows: 250_000,
            batch_rows: 8192,
            error_limit: None,
            speed: None,
            resource_group: None,
            dirty_table: None,
            dirty_data: None,
        }
    }
}

/// An inline connection: `type` plus the type's options, e.g.
/// `{type: sqlite, path: /data/a.db}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InlineConnection {
    /// Connector type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Options of that type (scalars only).
    #[serde(flatten)]
    pub options: BTreeMap<String, serde_json::Value>,
}

/// A resolved connection: what a worker needs to open a store.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConnectionConfig {
    /// Connector type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Non-secret options.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Secret options.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
}

impl fmt::Debug for ConnectionConfig {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked: BTreeMap<&String, &str> = self.secrets.keys().map(|key| (key, "***")).collect();
        formatter
            .debug_struct("ConnectionConfig")
            .field("kind", &self.kind)
            .field("options", &self.options)
            .field("secrets", &masked)
            .finish()
    }
}

impl ConnectionConfig {
    /// Returns an option's value.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }
}

impl JobSpec {
    /// Returns the spec with the value of every secret option of its inline connections
    /// replaced by `***`: the form in which a spec is stored and sent on (workers get the
    /// secrets with the resolved connections instead).
    pub fn with_inline_secrets_masked(&self) -> JobSpec {
        let mut masked = self.clone();
        for inline in [
            masked.source.connection.as_mut(),
            masked.sink.connection.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            let secret_names = connection_type(&inline.kind).map_or(&[][..], |kind| kind.secrets);
            for (name, value) in inline.options.iter_mut() {
                if secret_names.contains(&name.as_str()) {
                    *value = serde_json::Value::String("***".to_string());
                }
            }
        }
        masked
    }
}

/// Parses a spec document, reporting the path of any unknown key or wrongly typed value. A
/// DataX job (JSON with a top-level `job` key) is translated ([`translate_datax`]), and so is a
/// DataWorks script-mode job (`"type": "job"` with `steps`, [`translate_dataworks`]).
///
/// # Errors
/// A [`SpecErrors`] with one entry naming the field and the problem (every problem, for a
/// DataX job).
pub fn parse_job_spec(text: &str, format: SpecFormat) -> Result<JobSpec, SpecErrors> {
    if format != SpecFormat::Yaml && is_datax_job(text) {
        return translate_datax(text);
    }
    if format != SpecFormat::Yaml && is_dataworks_job(text) {
        return translate_dataworks(text);
    }
    let resolved_format = match format {
        SpecFormat::Auto if text.trim_start().starts_with('{') => SpecFormat::Json,
        SpecFormat::Auto => SpecFormat::Yaml,
        other => other,
    };
    let result = match resolved_format {
        SpecFormat::Json => {
            let mut deserializer = serde_json::Deserializer::from_str(text);
            serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
                path_error(error.path().to_string(), error.into_inner().to_string())
            })
        }
        _ => {
            let deserializer = serde_yaml_ng::Deserializer::from_str(text);
            serde_path_to_error::deserialize(deserializer).map_err(|error| {
                path_error(error.path().to_string(), error.into_inner().to_string())
            })
        }
    };
    result.map_err(SpecErrors::from)
}

fn path_error(path: String, message: String) -> SpecError {
    let clean_path = if path == "." { String::new() } else { path };
    SpecError::new(clean_path, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_names_its_path() {
        let text = r#"{"source": {"connection": {"type": "generator", "rows": 5}}, "sink": {"tabel": "x"}}"#;
        let errors = parse_job_spec(text, SpecFormat::Auto).expect_err("unknown key");
        let message = errors.to_string();
        assert!(message.contains("sink"), "{message}");
        assert!(message.contains("tabel"), "{message}");
    }

    #[test]
    fn wrong_type_names_its_path_in_yaml() {
        let text = "source: {connection: {type: generator, rows: 5}}\nsink: {table: t}\nsettings: {parallelism: many}\n";
        let errors = parse_job_spec(text, SpecFormat::Yaml).expect_err("bad type");
        assert_eq!(errors.0[0].path, "settings.parallelism");
    }

    #[test]
    fn inline_secrets_are_masked_in_the_stored_spec() {
        let text = "source: {connection: {type: postgresql, host: h, database: d, user: u, password: hunter2}, table: t}\nsink: {connection: {type: sqlite, path: /tmp/x.db}, table: t}\n";
        let spec = parse_job_spec(text, SpecFormat::Yaml).expect("parse");
        let masked = spec.with_inline_secrets_masked();
        let json = serde_json::to_string(&masked).expect("json");
        assert!(!json.contains("hunter2"), "{json}");
        assert!(json.contains(r#""password":"***""#), "{json}");
        assert!(json.contains(r#""host":"h""#), "{json}");
    }

    #[test]
    fn connection_debug_masks_secrets() {
        let mut config = ConnectionConfig {
            kind: "postgresql".into(),
            ..Default::default()
        };
        config.secrets.insert("password".into(), "hunter2".into());
        let text = format!("{config:?}");
        assert!(!text.contains("hunter2"));
        assert!(text.contains("***"));
    }
}
