//! Opens the connector a connection's `type` names.

use crate::error::{ConnectorError, Result};
use crate::file::{FileSink, FileSource};
use crate::generator::GeneratorSource;
use crate::mapping::{read_list, source_filter, target_column_names, MappedSource};
use crate::mysql::{MySqlSink, MySqlSource};
use crate::postgres::{PostgresSink, PostgresSource};
use crate::sqlite::{quote_identifier as sqlite_quote_identifier, SqliteSink, SqliteSource};
use crate::stream::{StreamSink, StreamSource};
use crate::{Sink, Source};
use sluice_common::spec::{ConnectionConfig, ValidatedJobSpec};

/// Returns the reader of a job's source: the connector's reader, wrapped in a
/// [`MappedSource`] when the spec maps its columns (so its batches carry the mapping's output
/// columns).
///
/// # Errors
/// [`ConnectorError::Unsupported`] for a type that cannot be read, or the connector's own
/// configuration errors.
pub fn open_source(
    spec: &ValidatedJobSpec,
    connection: &ConnectionConfig,
) -> Result<Box<dyn Source>> {
    let mapping = spec
        .spec
        .mapping
        .as_ref()
        .filter(|mapping| !mapping.columns.is_empty());
    let Some(mapping) = mapping else {
        return open_connector_source(spec, connection);
    };
    // The connector reads the columns the mapping uses (SQL connectors add its expressions).
    let mut reading = spec.clone();
    reading.spec.source.columns = read_list(&spec.spec).columns;
    let inner = open_connector_source(&reading, connection)?;
    Ok(Box::new(MappedSource::new(inner, mapping.clone())))
}

/// Returns the connector's own reader of a job's source, without the mapping.
///
/// # Errors
/// As [`open_source`].
pub(crate) fn open_connector_source(
    spec: &ValidatedJobSpec,
    connection: &ConnectionConfig,
) -> Result<Box<dyn Source>> {
    let source = &spec.spec.source;
    match connection.kind.as_str() {
        "generator" => Ok(Box::new(GeneratorSource::new(&spec.spec, connection)?)),
        "stream" => Ok(Box::new(StreamSource::new(&spec.spec, connection)?)),
        "postgresql" | "adb_postgresql" => {
            Ok(Box::new(PostgresSource::new(&spec.spec, connection)?))
        }
        "mysql" | "mariadb" => Ok(Box::new(MySqlSource::new(&spec.spec, connection)?)),
        "file" | "s3" => Ok(Box::new(FileSource::new(&spec.spec, connection)?)),
        "sqlite" => {
            let table = source.table.as_deref().ok_or_else(|| {
                ConnectorError::config("source.table", "is required for a sqlite source")
            })?;
            Ok(Box::new(SqliteSource::new(
                connection,
                "source",
                table,
                source.columns.clone(),
                source_filter(&spec.spec, sqlite_quote_identifier, sqlite_quote_literal),
                source.split_pk.clone(),
                spec.spec.settings.batch_rows as usize,
            )?))
        }
        other => Err(ConnectorError::Unsupported(format!(
            "reading from a {other} connection"
        ))),
    }
}

fn sqlite_quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Returns the writer of a job's sink.
///
/// # Errors
/// [`ConnectorError::Unsupported`] for a type that cannot be written, or the connector's own
/// configuration errors.
pub fn open_sink(spec: &ValidatedJobSpec, connection: &ConnectionConfig) -> Result<Box<dyn Sink>> {
    match connection.kind.as_str() {
        "sqlite" => Ok(Box::new(SqliteSink::new(
            &spec.spec,
            spec.write_mode,
            connection,
        )?)),
        "postgresql" | "adb_postgresql" => Ok(Box::new(PostgresSink::new(
            &spec.spec,
            spec.write_mode,
            connection,
        )?)),
        "mysql" | "mariadb" => Ok(Box::new(MySqlSink::new(
            &spec.spec,
            spec.write_mode,
            connection,
        )?)),
        "stream" => Ok(Box::new(StreamSink::new(&spec.spec, connection)?)),
        "file" | "s3" => Ok(Box::new(FileSink::new(
            &spec.spec,
            spec.write_mode,
            connection,
        )?)),
        other => Err(ConnectorError::Unsupported(format!(
            "writing to a {other} connection"
        ))),
    }
}

/// Returns a reader of what a job wrote: the sink table's target columns (for comparing a
/// copy with its source).
///
/// # Errors
/// [`ConnectorError::Unsupported`] for a sink type that cannot be read back.
pub fn open_sink_as_source(
    spec: &ValidatedJobSpec,
    connection: &ConnectionConfig,
) -> Result<Box<dyn Source>> {
    let sink = &spec.spec.sink;
    let columns = target_column_names(&spec.spec);
    match connection.kind.as_str() {
        "postgresql" | "adb_postgresql" => Ok(Box::new(PostgresSource::sink_reader(
            &spec.spec, connection,
        )?)),
        "mysql" | "mariadb" => Ok(Box::new(MySqlSource::sink_reader(&spec.spec, connection)?)),
        "sqlite" => {
            let table = sink.table.as_deref().ok_or_else(|| {
                ConnectorError::config("sink.table", "is required for a sqlite sink")
            })?;
            Ok(Box::new(SqliteSource::new(
                connection,
                "sink",
                table,
                columns,
                None,
                None,
                spec.spec.settings.batch_rows as usize,
            )?))
        }
        other => Err(ConnectorError::Unsupported(format!(
            "reading back a {other} sink"
        ))),
    }
}
