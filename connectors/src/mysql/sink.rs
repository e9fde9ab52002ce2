//! Writes shards into a MySQL table with multi-row `INSERT`s, each shard in one transaction
//! with its commit marker.
//!
//! Per shard: `START TRANSACTION`; insert the marker `(job_id, shard_id, attempt)` into the
//! commit table (an InnoDB table with `PRIMARY KEY (job_id, shard_id)`: a concurrent attempt of
//! the same shard waits on the row lock until the first one commits or rolls back; a duplicate
//! key means an earlier attempt committed, so this one rolls back and reports
//! [`WriteOutcome::AlreadyCommitted`]); then every batch as multi-row `INSERT`s of at most
//! [`MAX_STATEMENT_BYTES`]; `COMMIT`.
//!
//! A statement the server refuses for its data (SQLSTATE classes 22 and 23 and the data error
//! codes of [`super::is_row_error`]) is rolled back by InnoDB as a whole (statement atomicity)
//! and retried in halves inside `SAVEPOINT`s down to single rows; the single rows that still
//! fail are dirty records carrying the server's error, and the rest commit.
//!
//! `upsert` appends `ON DUPLICATE KEY UPDATE c = VALUES(c)` for every non-key column: MySQL's
//! `replace` semantics without `REPLACE`'s delete-and-insert (which would fire deletes and
//! change auto-increment values). The table's own primary and unique keys decide what a
//! duplicate is; `sink.keys` is used when the sink creates the table. `update` (DataX's
//! `writeMode: update`) is the same statement for every written column, without `sink.keys`;
//! `replace` (DataX's `writeMode: replace`) writes `REPLACE INTO` (or `LOAD DATA ... REPLACE`):
//! the old row is deleted and the new one inserted.

use super::config::MySqlSettings;
use super::encode::{render_batch, render_tsv, RenderedRows};
use super::source::table_columns;
use super::types::sql_type_for_field;
use super::{describe_error, is_row_error, quote_identifier, TableName};
use crate::channel::{BatchReceiver, DirtySample};
use crate::dirty_table::{self, Dialect};
use crate::error::{ConnectorError, Result};
use crate::postgres::copy_encode::describe_row;
use crate::{ShardIdentity, Sink, WriteOutcome};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use sluice_common::spec::{ConnectionConfig, JobSpec, WriteMode};

/// Largest `INSERT` statement the sink sends (also capped by the server's
/// `max_allowed_packet`).
pub const MAX_STATEMENT_BYTES: usize = 4 << 20;

/// MySQL's duplicate-key error.
const DUPLICATE_KEY: u16 = 1062;

/// Writes into one MySQL table.
#[derive(Debug, Clone)]
pub struct MySqlSink {
    settings: MySqlSettings,
    table: TableName,
    commit_table: TableName,
    columns: Vec<String>,
    keys: Vec<String>,
    write_mode: WriteMode,
    create_table: bool,
    pre_sql: Vec<String>,
    post_sql: Vec<String>,
    /// `settings.dirty_table`, resolved in the sink's database.
    dirty_table: Option<TableName>,
}

/// What a shard writes into, resolved at its first batch.
struct Target {
    names: Vec<String>,
    prefix: String,
    suffix: String,
    statement_limit: usize,
    /// `LOAD DATA LOCAL INFILE` statement, when the connection asks for it and the mode allows.
    load_sql: Option<String>,
}

impl MySqlSink {
    /// Builds a writer from a job's sink side and its connection.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad connection option or a missing `sink.table`.
    pub fn new(
        spec: &JobSpec,
        write_mode: WriteMode,
        connection: &ConnectionConfig,
    ) -> Result<Self> {
        let settings = MySqlSettings::from_connection(connection, "sink")?;
        let table = spec.sink.table.as_deref().ok_or_else(|| {
            ConnectorError::config(
                "sink.table",
                format!("is required for a {} sink", connection.kind),
            )
        })?;
        Ok(MySqlSink {
            table: TableName::parse(table, &settings.database),
            commit_table: TableName::parse(&settings.commit_table, &settings.database),
            columns: spec.sink.columns.clone(),
            keys: spec.sink.keys.clone(),
            write_mode,
            create_table: spec.sink.create_table,
            pre_sql: spec.sink.pre_sql.clone(),
            post_sql: spec.sink.post_sql.clone(),
            dirty_table: spec
                .settings
                .dirty_table
                .as_deref()
                .map(|name| TableName::parse(name, &settings.database)),
            settings,
        })
    }

    /// Writes the shard's dirty records into `settings.dirty_table`, in the open transaction.
    async fn write_dirty_table(
        &self,
        conn: &mut Conn,
        shard: &ShardIdentity,
        input: &BatchReceiver,
    ) -> Result<()> {
        let Some(table) = &self.dirty_table else {
            return Ok(());
        };
        let rows = dirty_table::rows(shard, input.counters().stored_dirty());
        dirty_table::insert_mysql(conn, &table.quoted(), &rows).await
    }

    fn target_names(&self, schema: &SchemaRef) -> Result<Vec<String>> {
        crate::mapping::sink_column_names(&self.columns, schema)
    }

    async fn ensure_commit_table(&self, conn: &mut Conn) -> Result<()> {
        conn.query_drop(format!(
            "CREATE TABLE IF NOT EXISTS {} (job_id VARCHAR(191) NOT NULL, shard_id BIGINT NOT NULL, \
             attempt BIGINT NOT NULL, committed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), \
             PRIMARY KEY (job_id, shard_id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            self.commit_table.quoted()
        ))
        .await
        .map_err(ConnectorError::mysql(format!("create commit table {}", self.commit_table)))
    }

    async fn table_engine(&self, conn: &mut Conn) -> Result<Option<String>> {
        let engine: Option<Option<String>> = conn
            .exec_first(
                "SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (&self.table.database, &self.table.table),
            )
            .await
            .map_err(ConnectorError::mysql(format!("look up table {}", self.table)))?;
        Ok(engine.map(|engine| engine.unwrap_or_default()))
    }

    async fn resolve_target(&self, conn: &mut Conn, schema: &SchemaRef) -> Result<Target> {
        let names = self.target_names(schema)?;
        let declared = table_columns(conn, &self.table, "sink.table").await?;
        let existing: Vec<String> = declared.iter().map(|(name, _)| name.clone()).collect();
        for (position, name) in names.iter().enumerate() {
            if !existing.contains(name) {
                let field = if self.columns.is_empty() {
                    "sink.columns".to_string()
                } else {
                    format!("sink.columns[{position}]")
                };
                return Err(ConnectorError::config(
                    field,
                    format!(
                        "\"{name}\" is not a column of {}; columns are: {}",
                        self.table,
                        existing.join(", ")
                    ),
                ));
            }
        }
        let engine = self.table_engine(conn).await?.unwrap_or_default();
        if !engine.eq_ignore_ascii_case("InnoDB") {
            return Err(ConnectorError::config(
                "sink.table",
                format!(
                    "table {} uses the {engine} engine; exactly-once writes need a transactional table (InnoDB): ALTER TABLE ... ENGINE=InnoDB",
                    self.table
                ),
            ));
        }
        let column_list = names
            .iter()
            .map(|name| quote_identifier(name))
            .collect::<Vec<_>>()
            .join(", ");
        let suffix = if matches!(self.write_mode, WriteMode::Upsert | WriteMode::Update) {
            let updates: Vec<String> = names
                .iter()
                .filter(|name| !self.keys.contains(name))
                .map(|name| format!("{0} = VALUES({0})", quote_identifier(name)))
                .collect();
            match (updates.is_empty(), names.first()) {
                (false, _) => format!(" ON DUPLICATE KEY UPDATE {}", updates.join(", ")),
                (true, Some(first)) => format!(
                    " ON DUPLICATE KEY UPDATE {0} = {0}",
                    quote_identifier(first)
                ),
                (true, None) => String::new(),
            }
        } else {
            String::new()
        };
        let max_packet: Option<u64> = conn
            .query_first("SELECT @@max_allowed_packet")
            .await
            .map_err(ConnectorError::mysql("read max_allowed_packet"))?;
        let statement_limit = usize::try_from(max_packet.unwrap_or(1 << 20))
            .unwrap_or(MAX_STATEMENT_BYTES)
            .saturating_sub(4096)
            .clamp(16 << 10, MAX_STATEMENT_BYTES);
        // Under NO_BACKSLASH_ESCAPES a quoted backslash is one backslash, and the tab and the
        // newline are written as themselves.
        // LOAD DATA reads a `bit` field as a byte string: load such columns through a variable.
        let mut load_targets = Vec::with_capacity(names.len());
        let mut load_assignments = Vec::new();
        for (index, name) in names.iter().enumerate() {
            let is_bit = declared
                .iter()
                .any(|(column, column_type)| column == name && column_type.starts_with("bit"));
            if is_bit {
                load_targets.push(format!("@sluice_{index}"));
                load_assignments.push(format!(
                    "{} = CAST(@sluice_{index} AS UNSIGNED)",
                    quote_identifier(name)
                ));
            } else {
                load_targets.push(quote_identifier(name));
            }
        }
        let load_set = if load_assignments.is_empty() {
            String::new()
        } else {
            format!(" SET {}", load_assignments.join(", "))
        };
        let load_sql = (self.settings.load_data
            && !matches!(self.write_mode, WriteMode::Upsert | WriteMode::Update))
        .then(|| {
            format!(
                "LOAD DATA LOCAL INFILE 'sluice-batch' {}INTO TABLE {} CHARACTER SET binary \
                 FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n' ({}){load_set}",
                if self.write_mode == WriteMode::Replace {
                    "REPLACE "
                } else {
                    ""
                },
                self.table.quoted(),
                load_targets.join(", ")
            )
        });
        Ok(Target {
            load_sql,
            prefix: format!(
                "{} INTO {} ({column_list}) VALUES ",
                if self.write_mode == WriteMode::Replace {
                    "REPLACE"
                } else {
                    "INSERT"
                },
                self.table.quoted()
            ),
            suffix,
            names,
            statement_limit,
        })
    }

    fn statement(target: &Target, rows: &RenderedRows, start: usize, end: usize) -> String {
        let mut sql = String::with_capacity(
            target.prefix.len() + rows.size(start, end) + (end - start) + target.suffix.len(),
        );
        sql.push_str(&target.prefix);
        for index in start..end {
            if index > start {
                sql.push(',');
            }
            sql.push_str(rows.row(index));
        }
        sql.push_str(&target.suffix);
        sql
    }

    /// Writes rendered rows `[start, end)` in statements under the size limit; returns how
    /// many rows landed.
    async fn write_rows(
        &self,
        conn: &mut Conn,
        target: &Target,
        batch: &RecordBatch,
        rows: &RenderedRows,
        input: &BatchReceiver,
    ) -> Result<u64> {
        let mut written = 0u64;
        let mut start = 0usize;
        while start < rows.len() {
            let mut end = start + 1;
            let mut size = rows.size(start, end);
            while end < rows.len() && size + rows.size(end, end + 1) + 1 < target.statement_limit {
                size += rows.size(end, end + 1) + 1;
                end += 1;
            }
            let sql = Self::statement(target, rows, start, end);
            match conn.query_drop(sql).await {
                Ok(()) => written += (end - start) as u64,
                Err(error) if is_row_error(&error) => {
                    written += self
                        .isolate(conn, target, batch, rows, start, end, input)
                        .await?;
                }
                Err(error) => {
                    return Err(ConnectorError::mysql(format!(
                        "insert rows into {}",
                        self.table
                    ))(error));
                }
            }
            start = end;
        }
        Ok(written)
    }

    /// Writes every batch of `input` inside the open shard transaction; returns the rows
    /// written. Leaves the transaction open (the caller commits or rolls back).
    async fn write_batches(&self, conn: &mut Conn, input: &mut BatchReceiver) -> Result<u64> {
        let mut target: Option<Target> = None;
        let mut dirty = Vec::new();
        let mut rows_written = 0u64;
        while let Some(batch) = input.next().await? {
            if batch.num_rows() == 0 {
                continue;
            }
            if target.is_none() {
                target = Some(self.resolve_target(conn, &batch.schema()).await?);
            }
            let Some(resolved) = target.as_ref() else {
                break;
            };
            let loaded = match &resolved.load_sql {
                Some(load_sql) => {
                    self.load_batch(conn, load_sql, &batch, &resolved.names, input)
                        .await?
                }
                None => None,
            };
            let written = match loaded {
                Some(rows) => rows,
                None => {
                    let rendered = render_batch(&batch, &resolved.names, &mut dirty);
                    for sample in dirty.drain(..) {
                        input
                            .counters()
                            .record_dirty(crate::DirtyStage::Write, sample);
                    }
                    self.write_rows(conn, resolved, &batch, &rendered, input)
                        .await?
                }
            };
            let bytes = batch.get_array_memory_size() as u64 * written / batch.num_rows() as u64;
            input.counters().add_written(written, bytes);
            rows_written += written;
        }
        Ok(rows_written)
    }

    /// Loads `batch` with `LOAD DATA LOCAL INFILE` inside a savepoint. Returns the rows loaded,
    /// or `None` (after rolling back to the savepoint) when the server refused a row or only
    /// warned about one (with `LOCAL`, MySQL turns data errors into warnings): the caller then
    /// writes the batch with INSERTs, which isolate the bad rows.
    async fn load_batch(
        &self,
        conn: &mut Conn,
        load_sql: &str,
        batch: &RecordBatch,
        names: &[String],
        input: &BatchReceiver,
    ) -> Result<Option<u64>> {
        let mut dirty = Vec::new();
        let (bytes, rows) = render_tsv(batch, names, &mut dirty);
        conn.query_drop("SAVEPOINT sluice_load")
            .await
            .map_err(ConnectorError::mysql("set load savepoint"))?;
        let payload = bytes::Bytes::from(bytes);
        conn.set_infile_handler(async move {
            let stream: mysql_async::InfileData =
                Box::pin(futures_util::stream::iter([Ok::<
                    bytes::Bytes,
                    std::io::Error,
                >(payload)]));
            Ok(stream)
        });
        let clean = match conn.query_drop(load_sql).await {
            Ok(()) => conn.get_warnings() == 0 && conn.affected_rows() == rows as u64,
            Err(error) if is_row_error(&error) => false,
            Err(error) => {
                return Err(ConnectorError::mysql(format!(
                    "load rows into {}",
                    self.table
                ))(error));
            }
        };
        if !clean {
            conn.query_drop("ROLLBACK TO SAVEPOINT sluice_load")
                .await
                .map_err(ConnectorError::mysql("roll back to load savepoint"))?;
            return Ok(None);
        }
        conn.query_drop("RELEASE SAVEPOINT sluice_load")
            .await
            .map_err(ConnectorError::mysql("release load savepoint"))?;
        for sample in dirty {
            input
                .counters()
                .record_dirty(crate::DirtyStage::Write, sample);
        }
        Ok(Some(rows as u64))
    }

    /// Retries rows `[start, end)` in halves inside savepoints down to single rows; the rows
    /// that still fail become dirty records. Returns how many rows landed.
    #[expect(
        clippy::too_many_arguments,
        reason = "the pieces of one shard write, all borrowed"
    )]
    async fn isolate(
        &self,
        conn: &mut Conn,
        target: &Target,
        batch: &RecordBatch,
        rows: &RenderedRows,
        start: usize,
        end: usize,
        input: &BatchReceiver,
    ) -> Result<u64> {
        let mut written = 0u64;
        let middle = start + (end - start) / 2;
        let mut pending = if end - start == 1 {
            vec![(start, end)]
        } else {
            vec![(middle, end), (start, middle)]
        };
        while let Some((first, stop)) = pending.pop() {
            if first >= stop {
                continue;
            }
            conn.query_drop("SAVEPOINT sluice_rows")
                .await
                .map_err(ConnectorError::mysql("set row savepoint"))?;
            match conn
                .query_drop(Self::statement(target, rows, first, stop))
                .await
            {
                Ok(()) => {
                    conn.query_drop("RELEASE SAVEPOINT sluice_rows")
                        .await
                        .map_err(ConnectorError::mysql("release row savepoint"))?;
                    written += (stop - first) as u64;
                }
                Err(error) if is_row_error(&error) => {
                    conn.query_drop("ROLLBACK TO SAVEPOINT sluice_rows")
                        .await
                        .map_err(ConnectorError::mysql("roll back to row savepoint"))?;
                    if stop - first == 1 {
                        input.counters().record_dirty(
                            crate::DirtyStage::Write,
                            DirtySample {
                                column: String::new(),
                                reason: describe_error(&error),
                                row: describe_row(batch, &target.names, rows.row_indexes[first]),
                            },
                        );
                    } else {
                        let half = first + (stop - first) / 2;
                        pending.push((half, stop));
                        pending.push((first, half));
                    }
                }
                Err(error) => {
                    return Err(ConnectorError::mysql(format!(
                        "insert rows into {}",
                        self.table
                    ))(error));
                }
            }
        }
        Ok(written)
    }
}

async fn rollback(conn: &mut Conn) -> Result<()> {
    conn.query_drop("ROLLBACK")
        .await
        .map_err(ConnectorError::mysql("roll back shard transaction"))
}

#[async_trait]
impl Sink for MySqlSink {
    async fn max_value(&self, column: &str) -> Result<Option<String>> {
        let mut conn = self.settings.connect().await?;
        if self.table_engine(&mut conn).await?.is_none() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT CAST(MAX({}) AS CHAR) FROM {}",
            quote_identifier(column),
            self.table.quoted()
        );
        let value: Option<Option<String>> =
            conn.query_first(sql.as_str())
                .await
                .map_err(ConnectorError::mysql(format!(
                    "read the largest {column} of {} (source.incremental)",
                    self.table
                )))?;
        Ok(value.flatten())
    }

    async fn prepare(&self, source_schema: SchemaRef) -> Result<()> {
        let mut conn = self.settings.connect().await?;
        self.ensure_commit_table(&mut conn).await?;
        if let Some(table) = &self.dirty_table {
            conn.query_drop(dirty_table::create_sql(&table.quoted(), Dialect::MySql))
                .await
                .map_err(ConnectorError::mysql(format!(
                    "create dirty table {table} (settings.dirty_table)"
                )))?;
        }
        if self.table_engine(&mut conn).await?.is_none() {
            if !self.create_table {
                return Err(ConnectorError::config(
                    "sink.table",
                    format!(
                        "table {} does not exist in {}; create it, or set sink.create_table: true",
                        self.table,
                        self.settings.describe()
                    ),
                ));
            }
            let names = self.target_names(&source_schema)?;
            let mut definitions = Vec::with_capacity(names.len() + 1);
            for (name, field) in names.iter().zip(source_schema.fields()) {
                definitions.push(format!(
                    "{} {}",
                    quote_identifier(name),
                    sql_type_for_field(name, field, self.keys.contains(name))?
                ));
            }
            if !self.keys.is_empty() {
                definitions.push(format!(
                    "PRIMARY KEY ({})",
                    self.keys
                        .iter()
                        .map(|key| quote_identifier(key))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            conn.query_drop(format!(
                "CREATE TABLE IF NOT EXISTS {} ({}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
                self.table.quoted(),
                definitions.join(", ")
            ))
            .await
            .map_err(ConnectorError::mysql(format!(
                "create table {}",
                self.table
            )))?;
        }
        if self.write_mode == WriteMode::Truncate {
            conn.query_drop(format!("TRUNCATE TABLE {}", self.table.quoted()))
                .await
                .map_err(ConnectorError::mysql(format!("truncate {}", self.table)))?;
        }
        for (index, statement) in self.pre_sql.iter().enumerate() {
            conn.query_drop(statement.as_str())
                .await
                .map_err(ConnectorError::mysql(format!("sink.pre_sql[{index}]")))?;
        }
        Ok(())
    }

    async fn write_shard(
        &self,
        shard: &ShardIdentity,
        mut input: BatchReceiver,
    ) -> Result<WriteOutcome> {
        let mut conn = self.settings.connect().await?;
        self.ensure_commit_table(&mut conn).await?;
        conn.query_drop("START TRANSACTION")
            .await
            .map_err(ConnectorError::mysql("begin shard transaction"))?;
        let marker = conn
            .exec_drop(
                format!(
                    "INSERT INTO {} (job_id, shard_id, attempt) VALUES (?, ?, ?)",
                    self.commit_table.quoted()
                ),
                (
                    shard.job_id.as_str(),
                    i64::from(shard.shard_id.0),
                    i64::from(shard.attempt.0),
                ),
            )
            .await;
        match marker {
            Ok(()) => {}
            Err(mysql_async::Error::Server(server)) if server.code == DUPLICATE_KEY => {
                rollback(&mut conn).await?;
                return Ok(WriteOutcome::AlreadyCommitted);
            }
            Err(error) => {
                return Err(ConnectorError::mysql(format!(
                    "insert commit marker into {}",
                    self.commit_table
                ))(error));
            }
        }
        let rows_written = match self.write_batches(&mut conn, &mut input).await {
            Ok(rows) => rows,
            Err(error) => {
                // Roll back now rather than when the dropped connection closes; the marker and
                // every row go with it.
                let _ = rollback(&mut conn).await;
                return Err(error);
            }
        };
        if let Err(error) = self.write_dirty_table(&mut conn, shard, &input).await {
            let _ = rollback(&mut conn).await;
            return Err(error);
        }
        conn.query_drop("COMMIT")
            .await
            .map_err(ConnectorError::mysql(format!(
                "commit shard into {}",
                self.table
            )))?;
        Ok(WriteOutcome::Committed { rows: rows_written })
    }

    async fn finalize(&self) -> Result<()> {
        let mut conn = self.settings.connect().await?;
        for (index, statement) in self.post_sql.iter().enumerate() {
            conn.query_drop(statement.as_str())
                .await
                .map_err(ConnectorError::mysql(format!("sink.post_sql[{index}]")))?;
        }
        Ok(())
    }
}
