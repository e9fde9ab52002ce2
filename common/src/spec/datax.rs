//! DataX job JSON (`{"job": {"setting": ..., "content": [{"reader", "writer", "transformer"}]}}`)
//! translated into a [`JobSpec`], so DataX jobs run unchanged.
//!
//! Every key is either mapped, or refused with its JSON path: an unknown key is an error, a
//! known DataX key Sluice cannot honour yet says "not supported yet". `docs/datax.md` lists
//! every key and what it maps to.
//!
//! ```
//! use sluice_common::spec::translate_datax;
//! let job = r#"{"job": {"content": [{
//!   "reader": {"name": "mysqlreader", "parameter": {"username": "root", "password": "",
//!     "column": ["id", "name"], "splitPk": "id",
//!     "connection": [{"table": ["users"], "jdbcUrl": ["jdbc:mysql://127.0.0.1:3306/app"]}]}},
//!   "writer": {"name": "postgresqlwriter", "parameter": {"username": "postgres", "password": "",
//!     "column": ["id", "name"],
//!     "connection": [{"table": ["users"], "jdbcUrl": "jdbc:postgresql://127.0.0.1:5432/dw"}]}}
//! }]}}"#;
//! let spec = translate_datax(job).unwrap();
//! assert_eq!(spec.source.split_pk.as_deref(), Some("id"));
//! assert_eq!(spec.sink.table.as_deref(), Some("users"));
//! ```

use super::{
    ColumnRef, ErrorLimit, InlineConnection, JobSpec, Settings, SinkSpec, SourceSpec, Speed,
    TransformerSpec,
};
use crate::error::{SpecError, SpecErrors};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

mod dataworks;
pub use dataworks::{is_dataworks_job, translate_dataworks};

/// Returns whether `text` is a DataX job: a JSON object whose only top-level key is `job`.
pub fn is_datax_job(text: &str) -> bool {
    if !text.trim_start().starts_with('{') {
        return false;
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => map.contains_key("job") && !map.contains_key("source"),
        _ => false,
    }
}

/// Translates a DataX job JSON document into a job spec (not yet validated).
///
/// # Errors
/// Every problem found, each with the JSON path of the key (`job.setting.speed.byte`).
pub fn translate_datax(text: &str) -> Result<JobSpec, SpecErrors> {
    let document: Value = serde_json::from_str(text).map_err(|error| {
        SpecErrors::from(SpecError::new("", format!("not valid JSON: {error}")))
    })?;
    let mut translator = Translator::default();
    let spec = translator.document(&document);
    if translator.errors.is_empty() {
        spec.ok_or_else(|| SpecErrors::from(SpecError::new("job", "could not be translated")))
    } else {
        Err(SpecErrors(translator.errors))
    }
}

/// Words of every "not supported yet" error.
const NOT_YET: &str = "not supported yet";

#[derive(Default)]
struct Translator {
    errors: Vec<SpecError>,
}

/// A JSON object and its path, for reading keys with errors that name them.
#[derive(Clone, Copy)]
struct Node<'a> {
    path: &'a str,
    map: &'a Map<String, Value>,
}

impl Translator {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(SpecError::new(path, message));
    }

    fn not_yet(&mut self, path: impl Into<String>, what: &str) {
        self.errors
            .push(SpecError::new(path, format!("{NOT_YET}: {what}")));
    }

    /// Returns `value` as an object, or records an error.
    fn object<'a>(&mut self, path: &'a str, value: &'a Value) -> Option<Node<'a>> {
        match value {
            Value::Object(map) => Some(Node { path, map }),
            _ => {
                self.error(path, "must be a JSON object");
                None
            }
        }
    }

    /// Records an error for every key of `node` not in `known`.
    fn check_keys(&mut self, node: Node<'_>, known: &[&str]) {
        for key in node.map.keys() {
            if !known.contains(&key.as_str()) {
                let path = join(node.path, key);
                self.error(
                    path,
                    format!(
                        "is not a key Sluice knows here; known keys: {}",
                        known.join(", ")
                    ),
                );
            }
        }
    }

    fn string(&mut self, node: Node<'_>, key: &str) -> Option<String> {
        match node.map.get(key)? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => {
                self.error(join(node.path, key), "must be a string");
                None
            }
        }
    }

    fn required_string(&mut self, node: Node<'_>, key: &str) -> Option<String> {
        if !node.map.contains_key(key) {
            self.error(join(node.path, key), "is required");
            return None;
        }
        self.string(node, key)
    }

    /// A list of strings; a single string counts as a one-element list (DataX accepts both
    /// in several places).
    fn strings(&mut self, node: Node<'_>, key: &str) -> Option<Vec<String>> {
        let path = join(node.path, key);
        match node.map.get(key)? {
            Value::String(text) => Some(vec![text.clone()]),
            Value::Array(items) => {
                let mut list = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    match item {
                        Value::String(text) => list.push(text.clone()),
                        _ => self.error(format!("{path}[{index}]"), "must be a string"),
                    }
                }
                Some(list)
            }
            _ => {
                self.error(path, "must be a list of strings");
                None
            }
        }
    }

    fn unsigned(&mut self, node: Node<'_>, key: &str) -> Option<u64> {
        let value = node.map.get(key)?;
        let parsed = match value {
            Value::Number(number) => number.as_u64(),
            Value::String(text) => text.trim().parse::<u64>().ok(),
            _ => None,
        };
        if parsed.is_none() {
            self.error(join(node.path, key), "must be a non-negative integer");
        }
        parsed
    }

    fn document(&mut self, document: &Value) -> Option<JobSpec> {
        let root = self.object("", document)?;
        self.check_keys(root, &["job"]);
        let job_value = root.map.get("job")?;
        let job = self.object("job", job_value)?;
        self.check_keys(job, &["setting", "content"]);
        let mut settings = Settings::default();
        if let Some(value) = job.map.get("setting") {
            if let Some(setting) = self.object("job.setting", value) {
                self.setting(setting, &mut settings);
            }
        }
        // DataX runs `channel` slices; a streamreader makes sliceRecordCount rows in each.
        let channels = job
            .map
            .get("setting")
            .and_then(|setting| setting.get("speed"))
            .and_then(|speed| speed.get("channel"))
            .map_or(1, |_| u64::from(settings.parallelism.max(1)));
        let Some(content_value) = job.map.get("content") else {
            self.error("job.content", "is required: one reader and one writer");
            return None;
        };
        let Value::Array(contents) = content_value else {
            self.error("job.content", "must be a list");
            return None;
        };
        if contents.len() != 1 {
            self.not_yet(
                "job.content",
                &format!(
                    "{} entries; Sluice runs one reader and one writer per job: split the file into one job per entry",
                    contents.len()
                ),
            );
            return None;
        }
        let content = self.object("job.content[0]", &contents[0])?;
        self.check_keys(content, &["reader", "writer", "transformer"]);
        let source = content
            .map
            .get("reader")
            .and_then(|value| self.object("job.content[0].reader", value))
            .and_then(|reader| self.reader(reader, channels));
        if !content.map.contains_key("reader") {
            self.error("job.content[0].reader", "is required");
        }
        let sink = content
            .map
            .get("writer")
            .and_then(|value| self.object("job.content[0].writer", value))
            .and_then(|writer| self.writer(writer, &mut settings));
        if !content.map.contains_key("writer") {
            self.error("job.content[0].writer", "is required");
        }
        let transformers = match content.map.get("transformer") {
            Some(value) => self.transformers(value),
            None => Vec::new(),
        };
        Some(JobSpec {
            source: source?,
            sink: sink?,
            settings,
            transformers,
            mapping: None,
        })
    }

    fn setting(&mut self, setting: Node<'_>, settings: &mut Settings) {
        self.check_keys(setting, &["speed", "errorLimit"]);
        if let Some(value) = setting.map.get("speed") {
            if let Some(speed) = self.object("job.setting.speed", value) {
                self.check_keys(speed, &["channel", "byte", "record"]);
                if let Some(channel) = self.unsigned(speed, "channel") {
                    match u32::try_from(channel) {
                        Ok(parallelism) => settings.parallelism = parallelism,
                        Err(_) => self.error("job.setting.speed.channel", "is too large"),
                    }
                }
                // DataX's job-wide limits: bytes and records per second.
                let bytes_per_second = self.unsigned(speed, "byte");
                let records_per_second = self.unsigned(speed, "record");
                if bytes_per_second.is_some() || records_per_second.is_some() {
                    settings.speed = Some(Speed {
                        records_per_second,
                        bytes_per_second,
                        concurrent: None,
                        throttle: true,
                    });
                }
            }
        }
        if let Some(value) = setting.map.get("errorLimit") {
            if let Some(limit) = self.object("job.setting.errorLimit", value) {
                self.check_keys(limit, &["record", "percentage"]);
                let record = self.unsigned(limit, "record");
                let percentage = match limit.map.get("percentage") {
                    None => None,
                    Some(value) => match value.as_f64() {
                        // DataX gives a fraction (0.02 is 2%); Sluice a percentage.
                        Some(fraction) if (0.0..=1.0).contains(&fraction) => Some(fraction * 100.0),
                        _ => {
                            self.error(
                                "job.setting.errorLimit.percentage",
                                "must be a fraction from 0 to 1 (0.02 is 2%)",
                            );
                            None
                        }
                    },
                };
                if record.is_some() || percentage.is_some() {
                    settings.error_limit = Some(ErrorLimit { record, percentage });
                }
            }
        }
    }

    fn plugin<'a>(&mut self, node: Node<'a>, path: &'a str) -> Option<(String, Node<'a>)> {
        self.check_keys(node, &["name", "parameter"]);
        let name = self.required_string(node, "name")?;
        let parameter = match node.map.get("parameter") {
            Some(value) => self.object(path, value)?,
            None => {
                self.error(path, "is required");
                return None;
            }
        };
        Some((name, parameter))
    }

    fn reader(&mut self, reader: Node<'_>, channels: u64) -> Option<SourceSpec> {
        let path = "job.content[0].reader.parameter";
        let (name, parameter) = self.plugin(reader, path)?;
        match name.as_str() {
            "mysqlreader" | "postgresqlreader" | "rdbmsreader" | "sqlitereader" => {
                self.rdbms_reader(&name, parameter, Flavor::DataX)
            }
            "txtfilereader" => self.txtfile_reader(parameter),
            "streamreader" => self.stream_reader(parameter, channels),
            other => {
                self.unknown_plugin("job.content[0].reader.name", other, READERS);
                None
            }
        }
    }

    fn writer(&mut self, writer: Node<'_>, settings: &mut Settings) -> Option<SinkSpec> {
        let path = "job.content[0].writer.parameter";
        let (name, parameter) = self.plugin(writer, path)?;
        match name.as_str() {
            "mysqlwriter" | "postgresqlwriter" => {
                self.rdbms_writer(&name, parameter, settings, Flavor::DataX)
            }
            "txtfilewriter" => self.txtfile_writer(parameter),
            "streamwriter" => self.stream_writer(parameter),
            other => {
                self.unknown_plugin("job.content[0].writer.name", other, WRITERS);
                None
            }
        }
    }

    /// `streamreader`: `sliceRecordCount` rows of constant `column` values in each channel.
    fn stream_reader(&mut self, parameter: Node<'_>, channels: u64) -> Option<SourceSpec> {
        self.check_keys(parameter, &["column", "sliceRecordCount"]);
        let rows_per_slice = if parameter.map.contains_key("sliceRecordCount") {
            self.unsigned(parameter, "sliceRecordCount")?
        } else {
            self.error(
                join(parameter.path, "sliceRecordCount"),
                "is required: the rows each channel produces",
            );
            return None;
        };
        let Some(columns) = parameter.map.get("column") else {
            self.error(
                join(parameter.path, "column"),
                "is required: a list like [{\"value\": \"DataX\", \"type\": \"string\"}]",
            );
            return None;
        };
        if !columns.is_array() {
            self.error(join(parameter.path, "column"), "must be a list");
            return None;
        }
        let Some(rows) = rows_per_slice.checked_mul(channels) else {
            self.error(
                join(parameter.path, "sliceRecordCount"),
                "times the channel count is too large",
            );
            return None;
        };
        let mut options = BTreeMap::new();
        options.insert("rows".to_string(), Value::from(rows));
        // The stream connector checks each column and names the bad one.
        options.insert("columns".to_string(), columns.clone());
        Some(SourceSpec {
            connection: Some(InlineConnection {
                kind: "stream".into(),
                options,
            }),
            ..SourceSpec::default()
        })
    }

    /// `streamwriter`: prints the rows on the worker (`print: true`, the default) or drops them.
    fn stream_writer(&mut self, parameter: Node<'_>) -> Option<SinkSpec> {
        self.check_keys(
            parameter,
            &[
                "print",
                "encoding",
                "fieldDelimiter",
                "path",
                "fileName",
                "recordNumBeforeSleep",
                "sleepTime",
            ],
        );
        for key in ["path", "fileName", "recordNumBeforeSleep", "sleepTime"] {
            if parameter.map.contains_key(key) {
                self.not_yet(
                    join(parameter.path, key),
                    &format!("streamwriter {key}; use a txtfilewriter to write files"),
                );
            }
        }
        self.check_encoding(parameter);
        let mut options = BTreeMap::new();
        match parameter.map.get("print") {
            None => {}
            Some(Value::Bool(print)) => {
                options.insert("print".to_string(), Value::Bool(*print));
            }
            Some(Value::String(text)) if matches!(text.as_str(), "true" | "false") => {
                options.insert("print".to_string(), Value::Bool(text == "true"));
            }
            Some(_) => self.error(join(parameter.path, "print"), "must be true or false"),
        }
        if let Some(delimiter) = self.string(parameter, "fieldDelimiter") {
            options.insert("field_delimiter".to_string(), Value::String(delimiter));
        }
        Some(SinkSpec {
            connection: Some(InlineConnection {
                kind: "stream".into(),
                options,
            }),
            ..SinkSpec::default()
        })
    }

    fn unknown_plugin(&mut self, path: &str, name: &str, known: &[&str]) {
        if DATAX_PLUGINS.contains(&name) {
            self.not_yet(
                path,
                &format!("the DataX plugin {name} needs a connector Sluice does not have yet; supported here: {}", known.join(", ")),
            );
        } else {
            self.error(
                path,
                format!(
                    "\"{name}\" is not a DataX plugin Sluice knows; supported here: {}",
                    known.join(", ")
                ),
            );
        }
    }

    /// The single `connection[0]` entry of a database plugin.
    fn connection_entry<'a>(&mut self, parameter: Node<'a>, path: &'a str) -> Option<Node<'a>> {
        let Some(value) = parameter.map.get("connection") else {
            self.error(join(parameter.path, "connection"), "is required");
            return None;
        };
        let Value::Array(entries) = value else {
            self.error(join(parameter.path, "connection"), "must be a list");
            return None;
        };
        if entries.len() != 1 {
            self.not_yet(
                join(parameter.path, "connection"),
                &format!(
                    "{} connection entries (sharded sources); give one",
                    entries.len()
                ),
            );
            return None;
        }
        self.object(path, &entries[0])
    }

    /// The single value of a list key of `connection[0]` (`jdbcUrl`, `table`, `querySql`).
    fn single(&mut self, node: Node<'_>, key: &str, what: &str) -> Option<String> {
        let list = self.strings(node, key)?;
        match list.len() {
            1 => list.into_iter().next(),
            0 => {
                self.error(join(node.path, key), "must not be empty");
                None
            }
            count => {
                self.not_yet(join(node.path, key), &format!("{count} {what}; give one"));
                None
            }
        }
    }

    fn rdbms_reader(
        &mut self,
        plugin: &str,
        parameter: Node<'_>,
        flavor: Flavor,
    ) -> Option<SourceSpec> {
        let known: &[&str] = match flavor {
            Flavor::DataX => &[
                "username",
                "password",
                "column",
                "splitPk",
                "where",
                "connection",
                "fetchSize",
                "jdbcConfig",
                "session",
            ],
            Flavor::DataWorks => &[
                "datasource",
                "table",
                "querySql",
                "column",
                "splitPk",
                "where",
                "connection",
                "fetchSize",
                "encoding",
                "session",
            ],
        };
        self.check_keys(parameter, known);
        for unsupported in ["jdbcConfig", "session"] {
            if parameter.map.contains_key(unsupported) {
                self.not_yet(
                    join(parameter.path, unsupported),
                    "connection properties; put supported options in the jdbcUrl query or the data source's options",
                );
            }
        }
        self.check_encoding(parameter);
        if let Some(value) = parameter.map.get("fetchSize") {
            if !value.is_u64() {
                self.error(
                    join(parameter.path, "fetchSize"),
                    "must be a positive integer",
                );
            }
        }
        let (endpoint, table) = match flavor {
            Flavor::DataX => self.jdbc_reader_location(plugin, parameter)?,
            Flavor::DataWorks => self.datasource_location(parameter, Role::Reader)?,
        };
        let TableOrQuery::Table(table) = table else {
            let TableOrQuery::Query(query) = table else {
                return None;
            };
            // DataX ignores table, column, where and splitPk when querySql is given.
            let mut source = SourceSpec {
                query: Some(query.trim().trim_end_matches(';').to_string()),
                ..SourceSpec::default()
            };
            endpoint.apply_to_source(&mut source);
            return Some(source);
        };
        let where_clause = self
            .string(parameter, "where")
            .filter(|text| !text.trim().is_empty());
        let split_pk = self
            .string(parameter, "splitPk")
            .filter(|text| !text.trim().is_empty());
        let columns = match self.strings(parameter, "column") {
            Some(columns) => columns,
            None => {
                if !parameter.map.contains_key("column") {
                    self.error(
                        join(parameter.path, "column"),
                        "is required (use [\"*\"] for every column)",
                    );
                }
                return None;
            }
        };
        let columns_path = join(parameter.path, "column");
        let mut source = SourceSpec::default();
        endpoint.apply_to_source(&mut source);
        if is_every_column(&columns) {
            source.table = Some(table);
            source.where_clause = where_clause;
            source.split_pk = split_pk;
            return Some(source);
        }
        if columns
            .iter()
            .all(|column| plain_identifier(column).is_some())
        {
            source.table = Some(table);
            source.columns = columns
                .iter()
                .filter_map(|column| plain_identifier(column))
                .collect();
            source.where_clause = where_clause;
            source.split_pk = split_pk;
            return Some(source);
        }
        // Constants and expressions are passed to the database in a query, as DataX does.
        if split_pk.is_some() {
            self.not_yet(
                columns_path,
                "constants or expressions in column together with splitPk (a query runs as one shard); drop splitPk",
            );
            return None;
        }
        let mut query = format!("SELECT {} FROM {table}", columns.join(", "));
        if let Some(filter) = where_clause {
            query.push_str(&format!(" WHERE {filter}"));
        }
        source.query = Some(query);
        Some(source)
    }

    /// DataX's reader location: `connection[0].jdbcUrl` with `username`/`password`, and
    /// `connection[0].table` or `connection[0].querySql`.
    fn jdbc_reader_location(
        &mut self,
        plugin: &str,
        parameter: Node<'_>,
    ) -> Option<(Endpoint, TableOrQuery)> {
        let entry_path = format!("{}.connection[0]", parameter.path);
        let entry = self.connection_entry(parameter, &entry_path)?;
        self.check_keys(entry, &["jdbcUrl", "table", "querySql"]);
        let url = self.single(entry, "jdbcUrl", "JDBC URLs (fail-over lists)");
        if !entry.map.contains_key("jdbcUrl") {
            self.error(join(entry.path, "jdbcUrl"), "is required");
        }
        let mut connection = url.and_then(|url| {
            self.jdbc_connection(&join(entry.path, "jdbcUrl"), plugin, &url, Role::Reader)
        })?;
        self.credentials(parameter, &mut connection);
        let table = self.table_or_query(&[entry], Role::Reader)?;
        Some((Endpoint::Inline(connection), table))
    }

    /// DataX's writer location: `connection[0].jdbcUrl` with `username`/`password`, and
    /// `connection[0].table`.
    fn jdbc_writer_location(
        &mut self,
        plugin: &str,
        parameter: Node<'_>,
    ) -> Option<(Endpoint, TableOrQuery)> {
        let entry_path = format!("{}.connection[0]", parameter.path);
        let entry = self.connection_entry(parameter, &entry_path)?;
        self.check_keys(entry, &["jdbcUrl", "table"]);
        if !entry.map.contains_key("jdbcUrl") {
            self.error(join(entry.path, "jdbcUrl"), "is required");
        }
        let url = self.single(entry, "jdbcUrl", "JDBC URLs");
        let table = self.table_or_query(&[entry], Role::Writer);
        let mut connection = url.and_then(|url| {
            self.jdbc_connection(&join(entry.path, "jdbcUrl"), plugin, &url, Role::Writer)
        })?;
        self.credentials(parameter, &mut connection);
        Some((Endpoint::Inline(connection), table?))
    }

    /// DataWorks' location: a `datasource` name resolved in the job's workspace, at the
    /// parameter level or in `connection[0]`, with `table` (and, for readers, `querySql`) at
    /// either level.
    fn datasource_location(
        &mut self,
        parameter: Node<'_>,
        role: Role,
    ) -> Option<(Endpoint, TableOrQuery)> {
        let mut nodes = vec![parameter];
        let entry_path = format!("{}.connection[0]", parameter.path);
        if parameter.map.contains_key("connection") {
            let entry = self.connection_entry(parameter, &entry_path)?;
            let known: &[&str] = match role {
                Role::Reader => &["datasource", "table", "querySql"],
                Role::Writer => &["datasource", "table"],
            };
            self.check_keys(entry, known);
            nodes.push(entry);
        }
        let mut datasource = None;
        for node in &nodes {
            if node.map.contains_key("datasource") {
                let name = self.string(*node, "datasource");
                match (&datasource, name) {
                    (Some(first), Some(name)) if *first != name => {
                        self.error(
                            join(node.path, "datasource"),
                            format!("names \"{name}\" but the parameter names \"{first}\"; give one data source"),
                        );
                    }
                    (None, Some(name)) => datasource = Some(name),
                    _ => {}
                }
            }
        }
        let Some(datasource) = datasource.filter(|name| !name.trim().is_empty()) else {
            self.error(
                join(parameter.path, "datasource"),
                "is required: the name of a data source of the job's workspace (sluice ds list)",
            );
            return None;
        };
        let table = self.table_or_query(&nodes, role)?;
        Some((Endpoint::DataSource(datasource), table))
    }

    /// The one table, or (readers) the one query, found in any of `nodes`.
    fn table_or_query(&mut self, nodes: &[Node<'_>], role: Role) -> Option<TableOrQuery> {
        let mut found = None;
        for node in nodes {
            if role == Role::Reader && node.map.contains_key("querySql") {
                if let Some(query) = self.single(*node, "querySql", "queries") {
                    // A query wins over a table, as in DataX.
                    return Some(TableOrQuery::Query(query));
                }
                return None;
            }
            if node.map.contains_key("table") && found.is_none() {
                found = Some(self.single(*node, "table", "tables")?);
            }
        }
        match found {
            Some(table) => Some(TableOrQuery::Table(table)),
            None => {
                let path = join(nodes.last().map_or("", |node| node.path), "table");
                self.error(
                    path,
                    match role {
                        Role::Reader => "is required unless querySql is given",
                        Role::Writer => "is required",
                    },
                );
                None
            }
        }
    }

    /// `encoding`, where a plugin takes it: only UTF-8 is read and written.
    fn check_encoding(&mut self, parameter: Node<'_>) {
        if let Some(encoding) = self.string(parameter, "encoding") {
            let normalized = encoding.replace(['-', '_'], "").to_ascii_lowercase();
            if normalized != "utf8" {
                self.not_yet(
                    join(parameter.path, "encoding"),
                    &format!("encoding {encoding} (Sluice reads and writes UTF-8 here)"),
                );
            }
        }
    }

    fn rdbms_writer(
        &mut self,
        plugin: &str,
        parameter: Node<'_>,
        settings: &mut Settings,
        flavor: Flavor,
    ) -> Option<SinkSpec> {
        let known: &[&str] = match flavor {
            Flavor::DataX => &[
                "username",
                "password",
                "column",
                "connection",
                "preSql",
                "postSql",
                "writeMode",
                "batchSize",
                "session",
            ],
            Flavor::DataWorks => &[
                "datasource",
                "table",
                "column",
                "connection",
                "preSql",
                "postSql",
                "writeMode",
                "batchSize",
                "encoding",
                "session",
            ],
        };
        self.check_keys(parameter, known);
        if parameter.map.contains_key("session") {
            self.not_yet(
                join(parameter.path, "session"),
                "session statements; use preSql",
            );
        }
        self.check_encoding(parameter);
        if let Some(batch) = self.unsigned(parameter, "batchSize") {
            match u32::try_from(batch) {
                Ok(rows) if rows > 0 => settings.batch_rows = rows,
                _ => self.error(
                    join(parameter.path, "batchSize"),
                    "must be from 1 to 1000000",
                ),
            }
        }
        let is_mysql = plugin == "mysqlwriter" || plugin == "mysql";
        let write_mode = self.string(parameter, "writeMode");
        let write_mode_path = join(parameter.path, "writeMode");
        let sink_mode = match write_mode
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("insert") => None,
            // The table's own primary and unique keys decide, as in DataX.
            Some(mode @ ("replace" | "update")) if is_mysql => Some(mode.to_string()),
            Some(other) => {
                self.error(
                    write_mode_path,
                    format!(
                        "\"{other}\" is not a write mode of {plugin}; allowed: {}",
                        if is_mysql {
                            "insert, replace, update"
                        } else {
                            "insert"
                        }
                    ),
                );
                None
            }
        };
        let (endpoint, table) = match flavor {
            Flavor::DataX => self.jdbc_writer_location(plugin, parameter)?,
            Flavor::DataWorks => self.datasource_location(parameter, Role::Writer)?,
        };
        let TableOrQuery::Table(table) = table else {
            return None;
        };
        let columns = match self.strings(parameter, "column") {
            Some(columns) if is_every_column(&columns) => Vec::new(),
            Some(columns) => {
                let mut names = Vec::with_capacity(columns.len());
                for (index, column) in columns.iter().enumerate() {
                    match plain_identifier(column) {
                        Some(name) => names.push(name),
                        None => self.error(
                            format!("{}.column[{index}]", parameter.path),
                            format!("\"{column}\" is not a column name (a writer's column cannot be a constant or expression)"),
                        ),
                    }
                }
                names
            }
            None => {
                if !parameter.map.contains_key("column") {
                    self.error(
                        join(parameter.path, "column"),
                        "is required (use [\"*\"] for every column)",
                    );
                }
                Vec::new()
            }
        };
        let with_table = |statements: Vec<String>| -> Vec<String> {
            statements
                .into_iter()
                .map(|statement| statement.replace("@table", &table))
                .collect()
        };
        let pre_sql = with_table(self.strings(parameter, "preSql").unwrap_or_default());
        let post_sql = with_table(self.strings(parameter, "postSql").unwrap_or_default());
        let mut sink = SinkSpec {
            table: Some(table.clone()),
            columns,
            pre_sql,
            post_sql,
            write_mode: sink_mode,
            ..SinkSpec::default()
        };
        endpoint.apply_to_sink(&mut sink);
        Some(sink)
    }

    fn credentials(&mut self, parameter: Node<'_>, connection: &mut InlineConnection) {
        if connection.kind == "sqlite" {
            for key in ["username", "password"] {
                if self
                    .string(parameter, key)
                    .is_some_and(|value| !value.is_empty())
                {
                    self.error(
                        join(parameter.path, key),
                        "a SQLite database has no users; remove it or leave it empty",
                    );
                }
            }
            return;
        }
        match self.string(parameter, "username") {
            Some(user) => {
                connection
                    .options
                    .insert("user".into(), Value::String(user));
            }
            None => {
                if !parameter.map.contains_key("username") {
                    self.error(join(parameter.path, "username"), "is required");
                }
            }
        }
        if let Some(password) = self.string(parameter, "password") {
            if !password.is_empty() {
                connection
                    .options
                    .insert("password".into(), Value::String(password));
            }
        }
    }

    /// Parses `jdbc:mysql://`, `jdbc:mariadb://`, `jdbc:postgresql://` and `jdbc:sqlite:`.
    fn jdbc_connection(
        &mut self,
        path: &str,
        plugin: &str,
        url: &str,
        role: Role,
    ) -> Option<InlineConnection> {
        let expected: &[&str] = match plugin {
            "mysqlreader" | "mysqlwriter" => &["mysql", "mariadb"],
            "postgresqlreader" | "postgresqlwriter" => &["postgresql"],
            "sqlitereader" => &["sqlite"],
            _ => &["mysql", "mariadb", "postgresql", "sqlite"],
        };
        let Some(rest) = url.trim().strip_prefix("jdbc:") else {
            self.error(path, format!("\"{url}\" is not a JDBC URL (jdbc:mysql://host:port/database, jdbc:postgresql://..., jdbc:sqlite:/path)"));
            return None;
        };
        let (scheme, after) = rest.split_once(':').unwrap_or((rest, ""));
        if !expected.contains(&scheme) {
            self.error(
                path,
                format!(
                    "jdbc:{scheme} URLs are not accepted by {plugin}; expected jdbc:{}",
                    expected.join(" or jdbc:")
                ),
            );
            return None;
        }
        let mut options = BTreeMap::new();
        if scheme == "sqlite" {
            if after.is_empty() {
                self.error(path, "jdbc:sqlite: needs a file path");
                return None;
            }
            options.insert("path".to_string(), Value::String(after.to_string()));
            return Some(InlineConnection {
                kind: "sqlite".into(),
                options,
            });
        }
        let Some(authority_and_rest) = after.strip_prefix("//") else {
            self.error(path, format!("\"{url}\" has no //host part"));
            return None;
        };
        let (location, query) = authority_and_rest
            .split_once('?')
            .unwrap_or((authority_and_rest, ""));
        let (authority, database) = location.split_once('/').unwrap_or((location, ""));
        if authority.contains(',') {
            self.not_yet(path, "several hosts in one JDBC URL");
            return None;
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
                match port.parse::<u16>() {
                    Ok(port) => (host, Some(port)),
                    Err(_) => {
                        self.error(path, format!("port \"{port}\" is not a number"));
                        return None;
                    }
                }
            }
            _ => (authority, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || database.is_empty() {
            self.error(
                path,
                format!(
                    "\"{url}\" needs a host and a database: jdbc:{scheme}://host:port/database"
                ),
            );
            return None;
        }
        options.insert("host".into(), Value::String(host.to_string()));
        if let Some(port) = port {
            options.insert("port".into(), Value::String(port.to_string()));
        }
        options.insert("database".into(), Value::String(database.to_string()));
        let kind = scheme;
        if kind != "postgresql" && role == Role::Reader {
            // DataX reads tinyint(1) as an integer.
            options.insert("tinyint1_as_boolean".into(), Value::String("false".into()));
        }
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            self.jdbc_option(path, kind, key, value, &mut options);
        }
        Some(InlineConnection {
            kind: kind.to_string(),
            options,
        })
    }

    fn jdbc_option(
        &mut self,
        path: &str,
        kind: &str,
        key: &str,
        value: &str,
        options: &mut BTreeMap<String, Value>,
    ) {
        let text = |value: &str| Value::String(value.to_string());
        let lower = value.to_ascii_lowercase();
        match (kind, key) {
            (_, "connectTimeout") if kind != "postgresql" => match value.parse::<u64>() {
                Ok(milliseconds) => {
                    options.insert("connect_timeout_ms".into(), text(&milliseconds.to_string()));
                }
                Err(_) => self.error(path, format!("connectTimeout \"{value}\" is not a number of milliseconds")),
            },
            ("postgresql", "connectTimeout") => match value.parse::<u64>() {
                Ok(seconds) => {
                    options.insert("connect_timeout_ms".into(), text(&(seconds * 1000).to_string()));
                }
                Err(_) => self.error(path, format!("connectTimeout \"{value}\" is not a number of seconds")),
            },
            ("postgresql", "currentSchema") => {
                options.insert("schema".into(), text(value));
            }
            ("postgresql", "sslmode") => {
                options.insert("sslmode".into(), text(value));
            }
            ("postgresql", "ssl") if lower == "false" => {}
            (_, "useUnicode") if lower == "true" => {}
            (_, "characterEncoding")
                if matches!(lower.as_str(), "utf8" | "utf-8" | "utf8mb4") => {}
            (_, "useSSL") if lower == "false" => {}
            (_, "tinyInt1isBit") if lower == "true" || lower == "false" => {
                options.insert("tinyint1_as_boolean".into(), text(&lower));
            }
            (_, "zeroDateTimeBehavior") if lower == "converttonull" => {
                options.insert("zero_date".into(), text("null"));
            }
            _ => self.not_yet(
                path,
                &format!("the JDBC option {key}={value} (supported: connectTimeout, useUnicode=true, characterEncoding=utf8, useSSL=false, tinyInt1isBit, zeroDateTimeBehavior=convertToNull; PostgreSQL: currentSchema, sslmode, connectTimeout)"),
            ),
        }
    }

    fn txtfile_reader(&mut self, parameter: Node<'_>) -> Option<SourceSpec> {
        self.check_keys(
            parameter,
            &[
                "path",
                "column",
                "fieldDelimiter",
                "encoding",
                "skipHeader",
                "nullFormat",
                "compress",
                "csvReaderConfig",
                "fileFormat",
            ],
        );
        if parameter.map.contains_key("csvReaderConfig") {
            self.not_yet(join(parameter.path, "csvReaderConfig"), "CSV reader tuning");
        }
        if !parameter.map.contains_key("path") {
            self.error(join(parameter.path, "path"), "is required");
        }
        let path = self.single(parameter, "path", "paths")?;
        let mut options = self.text_options(parameter);
        let skip_header = matches!(parameter.map.get("skipHeader"), Some(Value::Bool(true)))
            || matches!(parameter.map.get("skipHeader"), Some(Value::String(text)) if text == "true");
        options.insert("header".into(), Value::String(skip_header.to_string()));
        if let Some(compress) = self.string(parameter, "compress") {
            match compress.to_ascii_lowercase().as_str() {
                "gzip" => {
                    options.insert("compression".into(), Value::String("gzip".into()));
                }
                other => self.not_yet(
                    join(parameter.path, "compress"),
                    &format!("compression {other} (gzip is supported)"),
                ),
            }
        }
        match parameter.map.get("column") {
            None => self.error(
                join(parameter.path, "column"),
                "is required (use [\"*\"] to read every field as text)",
            ),
            Some(Value::Array(items))
                if items.len() == 1 && items[0] == Value::String("*".into()) =>
            {
                // Every field; types are inferred (DataX reads them as strings).
            }
            Some(Value::Array(items)) => {
                let mut schema = Vec::with_capacity(items.len());
                for (position, item) in items.iter().enumerate() {
                    let item_path = format!("{}.column[{position}]", parameter.path);
                    let Some(column) = self.object_owned(&item_path, item) else {
                        continue;
                    };
                    if column.contains_key("value") {
                        self.not_yet(item_path, "constant columns in txtfilereader");
                        continue;
                    }
                    for key in column.keys() {
                        if !["index", "type"].contains(&key.as_str()) {
                            self.error(
                                format!("{item_path}.{key}"),
                                if key == "format" {
                                    format!("{NOT_YET}: date formats in txtfilereader columns")
                                } else {
                                    "is not a key Sluice knows here; known keys: index, type"
                                        .to_string()
                                },
                            );
                        }
                    }
                    let index = column.get("index").and_then(Value::as_u64);
                    if index != Some(position as u64) {
                        self.not_yet(
                            format!("{item_path}.index"),
                            "txtfilereader columns must list indexes 0, 1, 2, ... in order",
                        );
                        continue;
                    }
                    let kind = match column.get("type").and_then(Value::as_str) {
                        Some("long") => "int64",
                        Some("double") => "float64",
                        Some("string") => "utf8",
                        Some("boolean") => "bool",
                        Some("date") => "timestamp",
                        other => {
                            self.error(
                                format!("{item_path}.type"),
                                format!(
                                    "{other:?} is not one of long, double, string, boolean, date"
                                ),
                            );
                            continue;
                        }
                    };
                    schema.push(format!("column_{}:{kind}", position + 1));
                }
                if !skip_header {
                    options.insert("csv_schema".into(), Value::String(schema.join(",")));
                } else {
                    self.not_yet(
                        join(parameter.path, "column"),
                        "typed columns together with skipHeader: true; use [\"*\"]",
                    );
                }
            }
            Some(_) => self.error(join(parameter.path, "column"), "must be a list"),
        }
        options.insert("path".into(), Value::String(path));
        options.insert("format".into(), Value::String("csv".into()));
        Some(SourceSpec {
            connection: Some(InlineConnection {
                kind: "file".into(),
                options,
            }),
            ..SourceSpec::default()
        })
    }

    fn txtfile_writer(&mut self, parameter: Node<'_>) -> Option<SinkSpec> {
        self.check_keys(
            parameter,
            &[
                "path",
                "fileName",
                "writeMode",
                "fieldDelimiter",
                "encoding",
                "nullFormat",
                "dateFormat",
                "fileFormat",
                "header",
                "compress",
            ],
        );
        let path = self.required_string(parameter, "path");
        let file_name = self.required_string(parameter, "fileName");
        let mut options = self.text_options(parameter);
        if parameter.map.contains_key("dateFormat") {
            self.not_yet(
                join(parameter.path, "dateFormat"),
                "date formats (dates are written as ISO 8601)",
            );
        }
        if parameter.map.contains_key("compress") {
            self.not_yet(join(parameter.path, "compress"), "compressed output");
        }
        let header = self.strings(parameter, "header").unwrap_or_default();
        options.insert(
            "header".into(),
            Value::String((!header.is_empty()).to_string()),
        );
        let write_mode = match self
            .required_string(parameter, "writeMode")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("truncate") => Some("truncate".to_string()),
            Some("append") => None,
            Some("nonconflict") => {
                self.not_yet(
                    join(parameter.path, "writeMode"),
                    "writeMode nonConflict; use truncate or append",
                );
                None
            }
            Some(other) => {
                self.error(
                    join(parameter.path, "writeMode"),
                    format!("\"{other}\" is not one of truncate, append, nonConflict"),
                );
                None
            }
            None => None,
        };
        options.insert("path".into(), Value::String(path?));
        options.insert("format".into(), Value::String("csv".into()));
        Some(SinkSpec {
            connection: Some(InlineConnection {
                kind: "file".into(),
                options,
            }),
            table: Some(file_name?),
            columns: header,
            write_mode,
            create_table: true,
            ..SinkSpec::default()
        })
    }

    /// `fieldDelimiter`, `encoding`, `nullFormat`, `fileFormat` of the txtfile plugins.
    fn text_options(&mut self, parameter: Node<'_>) -> BTreeMap<String, Value> {
        let mut options = BTreeMap::new();
        if let Some(delimiter) = self.string(parameter, "fieldDelimiter") {
            let delimiter = if delimiter == "\\t" {
                "\t".to_string()
            } else {
                delimiter
            };
            if delimiter.len() == 1 {
                options.insert("delimiter".into(), Value::String(delimiter));
            } else {
                self.error(
                    join(parameter.path, "fieldDelimiter"),
                    "must be one ASCII character",
                );
            }
        }
        if let Some(encoding) = self.string(parameter, "encoding") {
            options.insert("encoding".into(), Value::String(encoding));
        }
        if let Some(null) = self.string(parameter, "nullFormat") {
            options.insert("null_string".into(), Value::String(null));
        }
        if let Some(format) = self.string(parameter, "fileFormat") {
            if !matches!(format.to_ascii_lowercase().as_str(), "csv" | "text") {
                self.error(
                    join(parameter.path, "fileFormat"),
                    format!("\"{format}\" is not csv or text"),
                );
            }
        }
        options
    }

    fn object_owned<'a>(&mut self, path: &str, value: &'a Value) -> Option<&'a Map<String, Value>> {
        match value {
            Value::Object(map) => Some(map),
            _ => {
                self.error(path, "must be a JSON object");
                None
            }
        }
    }

    fn transformers(&mut self, value: &Value) -> Vec<TransformerSpec> {
        let path = "job.content[0].transformer";
        let Value::Array(items) = value else {
            self.error(path, "must be a list");
            return Vec::new();
        };
        let mut transformers = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let item_path = format!("{path}[{index}]");
            let Some(node) = self.object(&item_path, item).map(|node| node.map) else {
                continue;
            };
            let node = Node {
                path: &item_path,
                map: node,
            };
            self.check_keys(node, &["name", "parameter"]);
            let Some(name) = self.required_string(node, "name") else {
                continue;
            };
            if name == "dx_groovy" {
                self.not_yet(
                    join(node.path, "name"),
                    "dx_groovy (Sluice runs no Groovy code)",
                );
                continue;
            }
            let parameter_path = join(node.path, "parameter");
            let Some(parameter) = node
                .map
                .get("parameter")
                .and_then(|value| self.object_owned(&parameter_path, value))
            else {
                if !node.map.contains_key("parameter") {
                    self.error(
                        parameter_path,
                        "is required: {\"columnIndex\": n, \"paras\": [...]}",
                    );
                }
                continue;
            };
            let parameter = Node {
                path: &parameter_path,
                map: parameter,
            };
            self.check_keys(parameter, &["columnIndex", "paras"]);
            let column = match parameter.map.get("columnIndex") {
                Some(Value::Number(number)) if number.as_u64().is_some() => {
                    ColumnRef::Index(number.as_u64().unwrap_or_default() as usize)
                }
                Some(Value::String(text)) => match text.trim().parse::<usize>() {
                    Ok(index) => ColumnRef::Index(index),
                    Err(_) => ColumnRef::Name(text.clone()),
                },
                _ => {
                    self.error(
                        join(parameter.path, "columnIndex"),
                        "is required: the 0-based position of the column",
                    );
                    continue;
                }
            };
            let params = match parameter.map.get("paras") {
                Some(Value::Array(paras)) => paras.clone(),
                None => Vec::new(),
                Some(_) => {
                    self.error(join(parameter.path, "paras"), "must be a list");
                    continue;
                }
            };
            transformers.push(TransformerSpec {
                name,
                column,
                params,
            });
        }
        transformers
    }
}

/// Which job format a plugin's parameters come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    /// DataX: connections by `jdbcUrl`, `username` and `password`.
    DataX,
    /// DataWorks script mode: connections by `datasource` name.
    DataWorks,
}

/// Where a reader or writer connects.
enum Endpoint {
    /// A connection written in the job.
    Inline(InlineConnection),
    /// A data source of the job's workspace.
    DataSource(String),
}

impl Endpoint {
    fn apply_to_source(self, source: &mut SourceSpec) {
        match self {
            Endpoint::Inline(connection) => source.connection = Some(connection),
            Endpoint::DataSource(name) => source.datasource = Some(name),
        }
    }

    fn apply_to_sink(self, sink: &mut SinkSpec) {
        match self {
            Endpoint::Inline(connection) => sink.connection = Some(connection),
            Endpoint::DataSource(name) => sink.datasource = Some(name),
        }
    }
}

/// What a reader reads: a table, or a query.
enum TableOrQuery {
    Table(String),
    Query(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Reader,
    Writer,
}

/// Reader plugins Sluice translates.
const READERS: &[&str] = &[
    "mysqlreader",
    "postgresqlreader",
    "rdbmsreader (jdbc:sqlite, jdbc:mysql, jdbc:postgresql)",
    "sqlitereader",
    "streamreader",
    "txtfilereader",
];

/// Writer plugins Sluice translates.
const WRITERS: &[&str] = &[
    "mysqlwriter",
    "postgresqlwriter",
    "streamwriter",
    "txtfilewriter",
];

/// Other DataX plugins: named as "not supported yet" rather than unknown.
const DATAX_PLUGINS: &[&str] = &[
    "oraclereader",
    "oraclewriter",
    "sqlserverreader",
    "sqlserverwriter",
    "odpsreader",
    "odpswriter",
    "hdfsreader",
    "hdfswriter",
    "ftpreader",
    "ftpwriter",
    "ossreader",
    "osswriter",
    "mongodbreader",
    "mongodbwriter",
    "hbase11xreader",
    "hbase11xwriter",
    "hbase094xreader",
    "hbase094xwriter",
    "drdsreader",
    "drdswriter",
    "otsreader",
    "otswriter",
    "adswriter",
    "ocswriter",
    "elasticsearchwriter",
    "clickhousereader",
    "clickhousewriter",
    "db2reader",
    "db2writer",
    "kingbaseesreader",
    "kingbaseeswriter",
    "gdbreader",
    "gdbwriter",
    "tsdbreader",
    "tsdbwriter",
    "opentsdbreader",
    "cassandrareader",
    "cassandrawriter",
    "rdbmswriter",
    "hologresjdbcwriter",
    "starrockswriter",
    "doriswriter",
    "datahubreader",
    "datahubwriter",
    "loghubreader",
    "loghubwriter",
    "tdenginereader",
    "tdenginewriter",
    "adbpgwriter",
    "gpdbwriter",
    "selectdbwriter",
    "neo4jwriter",
    "sybasereader",
    "sybasewriter",
    "databendwriter",
    "oceanbasev10reader",
    "oceanbasev10writer",
    "kuduwriter",
    "mysql8reader",
    "mysql8writer",
    "sqlitewriter",
];

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn is_every_column(columns: &[String]) -> bool {
    columns.len() == 1 && columns[0].trim() == "*"
}

/// Returns the name of a plain column (`id`, `` `order` ``, `"Name"`), or `None` for a
/// constant or an expression.
fn plain_identifier(column: &str) -> Option<String> {
    let trimmed = column.trim();
    for (open, close) in [('`', '`'), ('"', '"')] {
        if let Some(inner) = trimmed
            .strip_prefix(open)
            .and_then(|rest| rest.strip_suffix(close))
        {
            if !inner.is_empty() && !inner.contains(open) {
                return Some(inner.to_string());
            }
        }
    }
    let mut characters = trimmed.chars();
    let first = characters.next()?;
    let plain = (first.is_alphabetic() || first == '_')
        && characters.all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    let keyword = matches!(
        trimmed.to_ascii_lowercase().as_str(),
        "null" | "true" | "false"
    );
    (plain && !keyword).then(|| trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(reader: &str, writer: &str, extra: &str) -> String {
        format!(r#"{{"job": {{{extra} "content": [{{"reader": {reader}, "writer": {writer}}}]}}}}"#)
    }

    const MYSQL_READER: &str = r#"{"name": "mysqlreader", "parameter": {"username": "root", "password": "pw",
        "column": ["id", "`name`"], "splitPk": "id", "where": "id > 0",
        "connection": [{"table": ["users"], "jdbcUrl": ["jdbc:mysql://db.example:3307/app?useUnicode=true&characterEncoding=utf8"]}]}}"#;
    const PG_WRITER: &str = r#"{"name": "postgresqlwriter", "parameter": {"username": "postgres", "password": "",
        "column": ["*"], "preSql": ["delete from @table"], "postSql": ["analyze @table"], "batchSize": 512,
        "connection": [{"table": ["public.users"], "jdbcUrl": "jdbc:postgresql://127.0.0.1/dw?currentSchema=staging"}]}}"#;

    fn translate(text: &str) -> Result<JobSpec, String> {
        translate_datax(text).map_err(|errors| errors.to_string())
    }

    #[test]
    fn mysql_to_postgres_maps_every_key() {
        let text = job(
            MYSQL_READER,
            PG_WRITER,
            r#""setting": {"speed": {"channel": 3, "byte": 1048576, "record": 1000}, "errorLimit": {"record": 5, "percentage": 0.02}},"#,
        );
        assert!(is_datax_job(&text));
        let spec = translate(&text).expect("translates");
        let source = spec.source.connection.expect("inline source");
        assert_eq!(source.kind, "mysql");
        assert_eq!(source.options["host"], "db.example");
        assert_eq!(source.options["port"], "3307");
        assert_eq!(source.options["database"], "app");
        assert_eq!(source.options["user"], "root");
        assert_eq!(source.options["password"], "pw");
        assert_eq!(source.options["tinyint1_as_boolean"], "false");
        assert_eq!(spec.source.table.as_deref(), Some("users"));
        assert_eq!(spec.source.columns, vec!["id", "name"]);
        assert_eq!(spec.source.split_pk.as_deref(), Some("id"));
        assert_eq!(spec.source.where_clause.as_deref(), Some("id > 0"));
        let sink = spec.sink.connection.expect("inline sink");
        assert_eq!(sink.kind, "postgresql");
        assert_eq!(sink.options["schema"], "staging");
        assert!(!sink.options.contains_key("port"));
        assert!(!sink.options.contains_key("password"));
        assert!(spec.sink.columns.is_empty());
        assert_eq!(spec.sink.pre_sql, vec!["delete from public.users"]);
        assert_eq!(spec.sink.post_sql, vec!["analyze public.users"]);
        assert_eq!(spec.settings.parallelism, 3);
        assert_eq!(spec.settings.batch_rows, 512);
        let speed = spec.settings.speed.expect("rate limits");
        assert_eq!(speed.bytes_per_second, Some(1_048_576));
        assert_eq!(speed.records_per_second, Some(1000));
        let limit = spec.settings.error_limit.expect("error limit");
        assert_eq!(limit.record, Some(5));
        assert_eq!(limit.percentage, Some(2.0));
    }

    #[test]
    fn query_sql_replaces_table_columns_and_split() {
        let reader = r#"{"name": "postgresqlreader", "parameter": {"username": "u", "password": "p",
            "column": ["id"], "splitPk": "id",
            "connection": [{"querySql": ["select a, b from t join u using (id);"], "jdbcUrl": ["jdbc:postgresql://h:5433/db"]}]}}"#;
        let spec = translate(&job(reader, PG_WRITER, "")).expect("translates");
        assert_eq!(
            spec.source.query.as_deref(),
            Some("select a, b from t join u using (id)")
        );
        assert!(spec.source.table.is_none() && spec.source.split_pk.is_none());
        assert!(spec.source.columns.is_empty());
    }

    #[test]
    fn constants_and_expressions_become_a_query() {
        let reader = r#"{"name": "mysqlreader", "parameter": {"username": "u", "password": "p",
            "column": ["id", "1", "'x'", "null", "upper(name)"], "where": "id < 5",
            "connection": [{"table": ["t"], "jdbcUrl": ["jdbc:mysql://h/db"]}]}}"#;
        let spec = translate(&job(reader, PG_WRITER, "")).expect("translates");
        assert_eq!(
            spec.source.query.as_deref(),
            Some("SELECT id, 1, 'x', null, upper(name) FROM t WHERE id < 5")
        );
    }

    #[test]
    fn transformers_translate_with_their_column_index() {
        let text = r#"{"job": {"content": [{"reader": READER, "writer": WRITER, "transformer": [
            {"name": "dx_substr", "parameter": {"columnIndex": 1, "paras": ["1", "3"]}},
            {"name": "dx_filter", "parameter": {"columnIndex": 0, "paras": [">", "10"]}}]}]}}"#
            .replace("READER", MYSQL_READER)
            .replace("WRITER", PG_WRITER);
        let spec = translate(&text).expect("translates");
        assert_eq!(spec.transformers.len(), 2);
        assert_eq!(spec.transformers[0].name, "dx_substr");
        assert_eq!(spec.transformers[0].column, ColumnRef::Index(1));
        assert_eq!(
            spec.transformers[1].params,
            vec![Value::from(">"), Value::from("10")]
        );
    }

    #[test]
    fn unknown_and_unsupported_keys_are_named() {
        let text = job(
            MYSQL_READER,
            PG_WRITER,
            r#""setting": {"speed": {"channel": 1, "bytes": 1048576}, "colour": 1},"#,
        );
        let message = translate(&text).expect_err("refused");
        assert!(
            message.contains("job.setting.speed.bytes: is not a key Sluice knows here"),
            "{message}"
        );
        assert!(
            message.contains("job.setting.colour: is not a key Sluice knows here"),
            "{message}"
        );
        let reader = MYSQL_READER.replace("\"splitPk\"", "\"splitKey\"");
        let message = translate(&job(&reader, PG_WRITER, "")).expect_err("refused");
        assert!(
            message.contains(
                "job.content[0].reader.parameter.splitKey: is not a key Sluice knows here"
            ),
            "{message}"
        );
    }

    #[test]
    fn plugins_without_a_connector_say_not_supported_yet() {
        let reader = r#"{"name": "oraclereader", "parameter": {}}"#;
        let message = translate(&job(reader, PG_WRITER, "")).expect_err("refused");
        assert!(
            message.contains(
                "job.content[0].reader.name: not supported yet: the DataX plugin oraclereader"
            ),
            "{message}"
        );
        let writer = r#"{"name": "streamwriter", "parameter": {"print": true, "path": "/tmp/x"}}"#;
        let message = translate(&job(MYSQL_READER, writer, "")).expect_err("refused");
        assert!(
            message.contains("parameter.path: not supported yet: streamwriter path"),
            "{message}"
        );
        let writer = PG_WRITER.replace("\"batchSize\": 512", "\"writeMode\": \"update\"");
        let message = translate(&job(MYSQL_READER, &writer, "")).expect_err("refused");
        assert!(
            message.contains("\"update\" is not a write mode of postgresqlwriter"),
            "{message}"
        );
    }

    #[test]
    fn stream_reader_and_writer_and_mysql_write_modes() {
        let reader = r#"{"name": "streamreader", "parameter": {"sliceRecordCount": 10,
            "column": [{"value": "DataX", "type": "string"}, {"value": 19890604, "type": "long"}]}}"#;
        let writer =
            r#"{"name": "streamwriter", "parameter": {"print": false, "encoding": "UTF-8"}}"#;
        let text = r#"{"job": {"setting": {"speed": {"channel": 3}}, "content": [{"reader": READER, "writer": WRITER}]}}"#
            .replace("READER", reader)
            .replace("WRITER", writer);
        let spec = translate(&text).expect("translates");
        let source = spec.source.connection.expect("inline source");
        assert_eq!(source.kind, "stream");
        assert_eq!(source.options.get("rows"), Some(&Value::from(30u64)));
        assert!(source.options["columns"].is_array());
        let sink = spec.sink.connection.expect("inline sink");
        assert_eq!(sink.kind, "stream");
        assert_eq!(sink.options.get("print"), Some(&Value::Bool(false)));
        for mode in ["replace", "update"] {
            let writer = MYSQL_READER.replace("mysqlreader", "mysqlwriter").replace(
                ", \"splitPk\": \"id\", \"where\": \"id > 0\"",
                &format!(", \"writeMode\": \"{mode}\""),
            );
            let spec = translate(&job(MYSQL_READER, &writer, "")).expect(mode);
            assert_eq!(spec.sink.write_mode.as_deref(), Some(mode));
            assert!(spec.sink.keys.is_empty());
        }
    }

    #[test]
    fn several_tables_or_urls_are_not_supported_yet() {
        let reader = MYSQL_READER.replace("[\"users\"]", "[\"a\", \"b\"]");
        let message = translate(&job(&reader, PG_WRITER, "")).expect_err("refused");
        assert!(
            message.contains(
                "job.content[0].reader.parameter.connection[0].table: not supported yet: 2 tables"
            ),
            "{message}"
        );
    }

    #[test]
    fn jdbc_urls_parse_or_explain() {
        let reader = MYSQL_READER.replace(
            "jdbc:mysql://db.example:3307/app?useUnicode=true&characterEncoding=utf8",
            "jdbc:mysql://h:3306/db?serverTimezone=UTC",
        );
        let message = translate(&job(&reader, PG_WRITER, "")).expect_err("refused");
        assert!(
            message.contains("not supported yet: the JDBC option serverTimezone=UTC"),
            "{message}"
        );
        let reader = MYSQL_READER.replace(
            "jdbc:mysql://db.example:3307/app?useUnicode=true&characterEncoding=utf8",
            "jdbc:postgresql://h/db",
        );
        let message = translate(&job(&reader, PG_WRITER, "")).expect_err("refused");
        assert!(
            message.contains("jdbc:postgresql URLs are not accepted by mysqlreader"),
            "{message}"
        );
    }

    #[test]
    fn txtfile_reader_and_writer_map_to_csv_files() {
        let reader = r#"{"name": "txtfilereader", "parameter": {"path": ["/data/in.csv"], "encoding": "gbk",
            "fieldDelimiter": "\t", "nullFormat": "\\N",
            "column": [{"index": 0, "type": "long"}, {"index": 1, "type": "string"}]}}"#;
        let writer = r#"{"name": "txtfilewriter", "parameter": {"path": "/data/out", "fileName": "users",
            "writeMode": "truncate", "fieldDelimiter": ",", "header": ["id", "name"]}}"#;
        let spec = translate(&job(reader, writer, "")).expect("translates");
        let source = spec.source.connection.expect("source");
        assert_eq!(source.kind, "file");
        assert_eq!(source.options["csv_schema"], "column_1:int64,column_2:utf8");
        assert_eq!(source.options["header"], "false");
        assert_eq!(source.options["delimiter"], "\t");
        assert_eq!(source.options["null_string"], "\\N");
        let sink = spec.sink.connection.expect("sink");
        assert_eq!(sink.options["path"], "/data/out");
        assert_eq!(spec.sink.table.as_deref(), Some("users"));
        assert_eq!(spec.sink.write_mode.as_deref(), Some("truncate"));
        assert_eq!(spec.sink.columns, vec!["id", "name"]);
    }

    #[test]
    fn plain_identifiers() {
        assert_eq!(plain_identifier("id").as_deref(), Some("id"));
        assert_eq!(plain_identifier("`order`").as_deref(), Some("order"));
        assert_eq!(plain_identifier("\"Name\"").as_deref(), Some("Name"));
        for expression in ["1", "'a'", "null", "a + 1", "f(x)", "2.3", "true"] {
            assert_eq!(plain_identifier(expression), None, "{expression}");
        }
    }
}
