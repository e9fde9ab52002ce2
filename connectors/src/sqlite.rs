//! SQLite reader and writer (rusqlite, bundled SQLite): the embedded default of the quick
//! start.
//!
//! Options: `path` (the database file), `busy_timeout_ms` (default 60000: how long a writer
//! waits for another shard's transaction).
//!
//! Shards: with an integer `split_pk`, even key ranges between `MIN` and `MAX` (open-ended at
//! both ends) plus one `split_pk IS NULL` shard; without one, a single shard.
//!
//! Writes: each shard is one `BEGIN IMMEDIATE` transaction that inserts its rows and the marker
//! `(job_id, shard_id, attempt)` into `_sluice_commits`; a marker already there means an earlier
//! attempt committed, and the transaction rolls back. See [`types`] for the type mapping.
//!
//! A sink that creates its table records the Arrow field metadata of each column (e.g. the
//! PostgreSQL type it came from) in the side table [`COLUMNS_TABLE`], and the reader restores
//! it, so `PostgreSQL -> SQLite -> PostgreSQL` recreates the original column types.

mod column_metadata;
mod sink;
mod source;
mod text_format;
pub mod types;

pub use column_metadata::COLUMNS_TABLE;

pub use sink::SqliteSink;
pub use source::SqliteSource;

use crate::error::{ConnectorError, Result};
use rusqlite::{Connection, OpenFlags};
use sluice_common::spec::ConnectionConfig;
use std::time::Duration;

/// Name of the commit-marker table created in every SQLite sink.
pub const COMMIT_TABLE: &str = "_sluice_commits";

/// Returns `name` quoted as an SQLite identifier.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Where and how to open a database file.
#[derive(Debug, Clone)]
pub(crate) struct SqliteLocation {
    pub(crate) path: String,
    pub(crate) busy_timeout: Duration,
}

impl SqliteLocation {
    pub(crate) fn from_connection(connection: &ConnectionConfig, role: &str) -> Result<Self> {
        let path = connection
            .option("path")
            .ok_or_else(|| {
                ConnectorError::config(format!("{role}.connection.path"), "is required for sqlite")
            })?
            .to_string();
        let busy_timeout_ms = match connection.option("busy_timeout_ms") {
            Some(text) => text.parse::<u64>().map_err(|_| {
                ConnectorError::config(
                    format!("{role}.connection.busy_timeout_ms"),
                    format!("\"{text}\" is not a number"),
                )
            })?,
            None => 60_000,
        };
        Ok(SqliteLocation {
            path,
            busy_timeout: Duration::from_millis(busy_timeout_ms),
        })
    }

    pub(crate) fn open(&self, read_only: bool) -> Result<Connection> {
        let flags = if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI
        };
        let connection = Connection::open_with_flags(&self.path, flags)
            .map_err(ConnectorError::sqlite(format!("open {}", self.path)))?;
        connection
            .busy_timeout(self.busy_timeout)
            .map_err(ConnectorError::sqlite("set busy timeout"))?;
        Ok(connection)
    }
}

/// Returns the `(name, declared type)` of every column of `table`, or a clear error listing the
/// tables when it does not exist.
pub(crate) fn table_columns(
    connection: &Connection,
    table: &str,
    path: &str,
    field: &str,
) -> Result<Vec<(String, String)>> {
    let mut statement = connection
        .prepare(&format!("PRAGMA table_info({})", quote_identifier(table)))
        .map_err(ConnectorError::sqlite("read table info"))?;
    let columns = statement
        .query_map([], |row| {
            Ok((row.get::<_, String>(1)?, row.get::<_, String>(2)?))
        })
        .map_err(ConnectorError::sqlite("read table info"))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(ConnectorError::sqlite("read table info"))?;
    if columns.is_empty() {
        let tables = list_tables(connection)?;
        return Err(ConnectorError::config(
            field,
            format!(
                "table \"{table}\" does not exist in {path}; tables there: {}",
                if tables.is_empty() {
                    "(none)".to_string()
                } else {
                    tables.join(", ")
                }
            ),
        ));
    }
    Ok(columns)
}

pub(crate) fn list_tables(connection: &Connection) -> Result<Vec<String>> {
    let mut statement = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .map_err(ConnectorError::sqlite("list tables"))?;
    let names = statement
        .query_map([], |row| row.get::<_, String>(0))
        .map_err(ConnectorError::sqlite("list tables"))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(ConnectorError::sqlite("list tables"))?;
    Ok(names)
}

/// Runs a blocking closure on Tokio's blocking pool.
pub(crate) async fn run_blocking<T, F>(work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ConnectorError::Task(error.to_string()))?
}
