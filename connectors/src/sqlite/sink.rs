//! Writes shards into an SQLite table, each in one transaction with its commit marker.

use super::column_metadata::record_columns;
use super::types::{declared_type_for_field, sqlite_value};
use super::{list_tables, quote_identifier, run_blocking, SqliteLocation, COMMIT_TABLE};
use crate::channel::{BatchReceiver, DirtySample};
use crate::dirty_table::{self, Dialect};
use crate::error::{ConnectorError, Result};
use crate::postgres::copy_encode::describe_row;
use crate::{ShardIdentity, Sink, WriteOutcome};
use arrow_schema::SchemaRef;
use async_trait::async_trait;
use rusqlite::{Connection, TransactionBehavior};
use sluice_common::spec::{ConnectionConfig, JobSpec, WriteMode};
use std::collections::BTreeMap;

/// Writes into one SQLite table.
#[derive(Debug, Clone)]
pub struct SqliteSink {
    location: SqliteLocation,
    table: String,
    columns: Vec<String>,
    keys: Vec<String>,
    write_mode: WriteMode,
    create_table: bool,
    pre_sql: Vec<String>,
    post_sql: Vec<String>,
    /// `settings.dirty_table`.
    dirty_table: Option<String>,
}

impl SqliteSink {
    /// Builds a writer from a job's sink side and its connection.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] when `path` or `table` is missing.
    pub fn new(
        spec: &JobSpec,
        write_mode: WriteMode,
        connection: &ConnectionConfig,
    ) -> Result<Self> {
        let table =
            spec.sink.table.clone().ok_or_else(|| {
                ConnectorError::config("sink.table", "is required for a sqlite sink")
            })?;
        crate::mapping::check_write_mode(
            "sqlite",
            write_mode,
            &[
                WriteMode::Insert,
                WriteMode::Upsert,
                WriteMode::Truncate,
                WriteMode::Replace,
            ],
        )?;
        Ok(SqliteSink {
            location: SqliteLocation::from_connection(connection, "sink")?,
            table,
            columns: spec.sink.columns.clone(),
            keys: spec.sink.keys.clone(),
            write_mode,
            create_table: spec.sink.create_table,
            pre_sql: spec.sink.pre_sql.clone(),
            post_sql: spec.sink.post_sql.clone(),
            dirty_table: spec.settings.dirty_table.clone(),
        })
    }

    fn open(&self) -> Result<Connection> {
        let connection = self.location.open(false)?;
        // WAL lets readers (and the comparison after a job) run beside a writing shard.
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(ConnectorError::sqlite("enable WAL"))?;
        Ok(connection)
    }

    /// Returns the target column names for a batch schema.
    fn target_columns(&self, schema: &SchemaRef) -> Result<Vec<String>> {
        crate::mapping::sink_column_names(&self.columns, schema)
    }

    fn insert_sql(&self, columns: &[String]) -> String {
        let column_list: Vec<String> = columns.iter().map(|name| quote_identifier(name)).collect();
        let placeholders: Vec<String> = (1..=columns.len())
            .map(|index| format!("?{index}"))
            .collect();
        let mut sql = format!(
            "{} INTO {} ({}) VALUES ({})",
            if self.write_mode == WriteMode::Replace {
                "INSERT OR REPLACE"
            } else {
                "INSERT"
            },
            quote_identifier(&self.table),
            column_list.join(", "),
            placeholders.join(", ")
        );
        if self.write_mode == WriteMode::Upsert {
            let key_list: Vec<String> = self
                .keys
                .iter()
                .map(|name| quote_identifier(name))
                .collect();
            let updates: Vec<String> = columns
                .iter()
                .filter(|name| !self.keys.contains(name))
                .map(|name| format!("{0} = excluded.{0}", quote_identifier(name)))
                .collect();
            if updates.is_empty() {
                sql.push_str(&format!(
                    " ON CONFLICT ({}) DO NOTHING",
                    key_list.join(", ")
                ));
            } else {
                sql.push_str(&format!(
                    " ON CONFLICT ({}) DO UPDATE SET {}",
                    key_list.join(", "),
                    updates.join(", ")
                ));
            }
        }
        sql
    }

    fn ensure_commit_table(connection: &Connection) -> Result<()> {
        connection
            .execute_batch(&format!(
                "CREATE TABLE IF NOT EXISTS {COMMIT_TABLE} (\
                 job_id TEXT NOT NULL, shard_id INTEGER NOT NULL, attempt INTEGER NOT NULL, \
                 committed_at TEXT NOT NULL, PRIMARY KEY (job_id, shard_id))"
            ))
            .map_err(ConnectorError::sqlite("create commit-marker table"))
    }

    fn table_exists(&self, connection: &Connection) -> Result<bool> {
        Ok(list_tables(connection)?
            .iter()
            .any(|name| name == &self.table))
    }

    /// Returns the `CREATE TABLE` statement for `schema` and, per column, what
    /// `_sluice_columns` records (name, declared type, field metadata).
    #[expect(
        clippy::type_complexity,
        reason = "the tuple is exactly what record_columns takes"
    )]
    fn create_table_sql(
        &self,
        schema: &SchemaRef,
    ) -> Result<(String, Vec<(String, String, BTreeMap<String, String>)>)> {
        let columns = self.target_columns(schema)?;
        let mut definitions = Vec::with_capacity(columns.len() + 1);
        let mut recorded = Vec::with_capacity(columns.len());
        for (name, field) in columns.iter().zip(schema.fields()) {
            let declared = declared_type_for_field(name, field)?;
            definitions.push(format!("{} {declared}", quote_identifier(name)));
            let metadata = field
                .metadata()
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect();
            recorded.push((name.clone(), declared, metadata));
        }
        if !self.keys.is_empty() {
            let key_list: Vec<String> = self
                .keys
                .iter()
                .map(|name| quote_identifier(name))
                .collect();
            definitions.push(format!("PRIMARY KEY ({})", key_list.join(", ")));
        }
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} ({})",
            quote_identifier(&self.table),
            definitions.join(", ")
        );
        Ok((sql, recorded))
    }
}

#[async_trait]
impl Sink for SqliteSink {
    async fn max_value(&self, column: &str) -> Result<Option<String>> {
        let sink = self.clone();
        let column = column.to_string();
        run_blocking(move || {
            let connection = sink.open()?;
            if !sink.table_exists(&connection)? {
                return Ok(None);
            }
            let sql = format!(
                "SELECT CAST(max({}) AS TEXT) FROM {}",
                quote_identifier(&column),
                quote_identifier(&sink.table)
            );
            connection
                .query_row(&sql, [], |row| row.get::<_, Option<String>>(0))
                .map_err(ConnectorError::sqlite(format!(
                    "read the largest {column} of {} (source.incremental)",
                    sink.table
                )))
        })
        .await
    }

    async fn prepare(&self, source_schema: SchemaRef) -> Result<()> {
        let sink = self.clone();
        run_blocking(move || {
            let mut connection = sink.open()?;
            Self::ensure_commit_table(&connection)?;
            if let Some(table) = &sink.dirty_table {
                connection
                    .execute_batch(&dirty_table::create_sql(
                        &quote_identifier(table),
                        Dialect::Sqlite,
                    ))
                    .map_err(ConnectorError::sqlite(format!(
                        "create dirty table {table} (settings.dirty_table)"
                    )))?;
            }
            if !sink.table_exists(&connection)? {
                if !sink.create_table {
                    return Err(ConnectorError::config(
                        "sink.table",
                        format!(
                            "table \"{}\" does not exist in {}; create it, or set sink.create_table: true",
                            sink.table, sink.location.path
                        ),
                    ));
                }
                let (create_sql, recorded) = sink.create_table_sql(&source_schema)?;
                // The table and its column metadata appear together or not at all.
                let transaction = connection
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(ConnectorError::sqlite("begin create table"))?;
                transaction
                    .execute_batch(&create_sql)
                    .map_err(ConnectorError::sqlite(format!("create table {}", sink.table)))?;
                record_columns(&transaction, &sink.table, &recorded)?;
                transaction
                    .commit()
                    .map_err(ConnectorError::sqlite(format!("create table {}", sink.table)))?;
            }
            if sink.write_mode == WriteMode::Truncate {
                connection
                    .execute_batch(&format!("DELETE FROM {}", quote_identifier(&sink.table)))
                    .map_err(ConnectorError::sqlite(format!("truncate {}", sink.table)))?;
            }
            for (index, statement) in sink.pre_sql.iter().enumerate() {
                connection
                    .execute_batch(statement)
                    .map_err(ConnectorError::sqlite(format!("sink.pre_sql[{index}]")))?;
            }
            Ok(())
        })
        .await
    }

    async fn write_shard(
        &self,
        shard: &ShardIdentity,
        input: BatchReceiver,
    ) -> Result<WriteOutcome> {
        let sink = self.clone();
        let shard = shard.clone();
        run_blocking(move || sink.write_shard_blocking(&shard, input)).await
    }

    async fn finalize(&self) -> Result<()> {
        let sink = self.clone();
        run_blocking(move || {
            let connection = sink.open()?;
            for (index, statement) in sink.post_sql.iter().enumerate() {
                connection
                    .execute_batch(statement)
                    .map_err(ConnectorError::sqlite(format!("sink.post_sql[{index}]")))?;
            }
            Ok(())
        })
        .await
    }
}

impl SqliteSink {
    fn write_shard_blocking(
        &self,
        shard: &ShardIdentity,
        mut input: BatchReceiver,
    ) -> Result<WriteOutcome> {
        let mut connection = self.open()?;
        Self::ensure_commit_table(&connection)?;
        let transaction = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(ConnectorError::sqlite("begin shard transaction"))?;
        let job_id = shard.job_id.as_str();
        let shard_number = i64::from(shard.shard_id.0);
        let already: bool = transaction
            .query_row(
                &format!("SELECT EXISTS (SELECT 1 FROM {COMMIT_TABLE} WHERE job_id = ?1 AND shard_id = ?2)"),
                rusqlite::params![job_id, shard_number],
                |row| row.get(0),
            )
            .map_err(ConnectorError::sqlite("check commit marker"))?;
        if already {
            // Dropping the transaction rolls it back; the reader sees the channel close.
            return Ok(WriteOutcome::AlreadyCommitted);
        }
        let mut rows_written = 0u64;
        {
            let mut statement = None;
            let mut columns: Vec<String> = Vec::new();
            while let Some(batch) = input.blocking_next()? {
                if statement.is_none() {
                    columns = self.target_columns(&batch.schema())?;
                    statement = Some(transaction.prepare(&self.insert_sql(&columns)).map_err(
                        ConnectorError::sqlite(format!("prepare insert into {}", self.table)),
                    )?);
                }
                let Some(insert) = statement.as_mut() else {
                    break;
                };
                let schema = batch.schema();
                let mut values = Vec::with_capacity(batch.num_columns());
                let mut written = 0u64;
                for row in 0..batch.num_rows() {
                    // A value SQLite cannot hold makes its row a dirty record; the rest of the
                    // shard is written.
                    values.clear();
                    let mut failure = None;
                    for (index, (column, field)) in
                        batch.columns().iter().zip(schema.fields()).enumerate()
                    {
                        match sqlite_value(field, column, row) {
                            Ok(value) => values.push(value),
                            Err(reason) => {
                                failure = Some((index, reason));
                                break;
                            }
                        }
                    }
                    if let Some((index, reason)) = failure {
                        input.counters().record_dirty(
                            crate::DirtyStage::Write,
                            DirtySample {
                                column: columns.get(index).cloned().unwrap_or_default(),
                                reason,
                                row: describe_row(&batch, &columns, row),
                            },
                        );
                        continue;
                    }
                    for (index, value) in values.drain(..).enumerate() {
                        insert
                            .raw_bind_parameter(index + 1, value)
                            .map_err(ConnectorError::sqlite("bind value"))?;
                    }
                    insert
                        .raw_execute()
                        .map_err(ConnectorError::sqlite(format!(
                            "insert into {}",
                            self.table
                        )))?;
                    written += 1;
                }
                rows_written += written;
                let bytes =
                    batch.get_array_memory_size() as u64 * written / batch.num_rows().max(1) as u64;
                input.counters().add_written(written, bytes);
            }
        }
        let marker = transaction.execute(
            &format!("INSERT INTO {COMMIT_TABLE} (job_id, shard_id, attempt, committed_at) VALUES (?1, ?2, ?3, datetime('now'))"),
            rusqlite::params![job_id, shard_number, i64::from(shard.attempt.0)],
        );
        match marker {
            Ok(_) => {}
            Err(error)
                if error.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation) =>
            {
                return Ok(WriteOutcome::AlreadyCommitted);
            }
            Err(error) => return Err(ConnectorError::sqlite("insert commit marker")(error)),
        }
        if let Some(table) = &self.dirty_table {
            let quoted = quote_identifier(table);
            let rows = dirty_table::rows(shard, input.counters().stored_dirty());
            dirty_table::insert_sqlite(&transaction, &quoted, &rows)?;
        }
        transaction
            .commit()
            .map_err(ConnectorError::sqlite("commit shard"))?;
        Ok(WriteOutcome::Committed { rows: rows_written })
    }
}
