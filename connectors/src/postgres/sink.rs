//! Writes shards into a PostgreSQL table with binary `COPY`, each shard in one transaction with
//! its commit marker.
//!
//! Per shard: `BEGIN`; insert the marker `(job_id, shard_id, attempt)` with `ON CONFLICT DO
//! NOTHING` (a concurrent attempt of the same shard waits here until the first one commits or
//! rolls back; no row back means an earlier attempt committed, so this one rolls back and
//! reports [`WriteOutcome::AlreadyCommitted`]); then the batches, streamed in pieces of about
//! 4 MiB through one prepared `COPY` each, every piece inside a savepoint; `COMMIT`.
//! A piece the database refuses for its data (SQLSTATE classes 22 and 23) is rolled back to
//! its savepoint and its batches are retried one by one, then in halves down to single rows;
//! the single rows that still fail are dirty records carrying the database's error, and the
//! rest commit.
//!
//! `upsert` copies each batch into a temporary staging table (dropped at commit) and moves it
//! with `INSERT ... ON CONFLICT (sink.keys) DO UPDATE`.

use super::config::{PgFlavor, PgSettings};
use super::copy_encode::{
    copy_header, copy_trailer, describe_row, encode_batch, EncodedRows, Scratch,
};
use super::source::table_columns;
use super::types::{sql_type_for_field, PgType};
use super::{describe_error, is_row_error, quote_identifier, TableName};
use crate::channel::{BatchReceiver, DirtySample};
use crate::dirty_table::{self, Dialect};
use crate::error::{ConnectorError, Result};
use crate::{ShardIdentity, Sink, WriteOutcome};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{pin_mut, SinkExt};
use sluice_common::spec::{ConnectionConfig, JobSpec, WriteMode};
use std::pin::Pin;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, CopyInSink, Statement};

const STAGING_TABLE: &str = "_sluice_staging";

/// Encoded bytes one `COPY` carries before it is ended and its savepoint released. The batches
/// of a running piece are kept in memory (to re-send them in halves when a row is refused), so
/// this bounds a shard's write buffer; one COPY per piece instead of one per batch saves the
/// round trips and the statement start of every batch.
const PIECE_BYTES: usize = 4 << 20;

/// Writes into one PostgreSQL table.
#[derive(Debug, Clone)]
pub struct PostgresSink {
    settings: PgSettings,
    table: TableName,
    commit_table: TableName,
    columns: Vec<String>,
    keys: Vec<String>,
    write_mode: WriteMode,
    create_table: bool,
    pre_sql: Vec<String>,
    post_sql: Vec<String>,
    /// `settings.dirty_table`, resolved in the sink's schema.
    dirty_table: Option<TableName>,
}

/// What a shard writes into, resolved at its first batch.
struct Target {
    names: Vec<String>,
    types: Vec<PgType>,
    /// The shard's `COPY ... FROM STDIN`, prepared once.
    copy_statement: Statement,
    upsert_sql: Option<String>,
}

/// The state of a piece's `COPY`.
enum PieceCopy {
    /// Rows are streaming into it.
    Streaming(Pin<Box<CopyInSink<Bytes>>>),
    /// It failed; the piece's later batches are only kept, for the retry.
    Failed(tokio_postgres::Error),
}

/// Consecutive batches streamed through one `COPY` inside one savepoint. They are kept until
/// the COPY ends: when the database refuses a row, the piece is rolled back to its savepoint
/// and its batches are written again in halves to isolate the refused rows.
#[derive(Default)]
struct Piece {
    /// `None` until the piece's first batch.
    copy: Option<PieceCopy>,
    batches: Vec<(RecordBatch, EncodedRows)>,
    bytes: usize,
    /// Rows and bytes recorded as written when they were sent (progress reports follow the
    /// stream); taken back when the piece is rolled back.
    counted: (u64, u64),
}

impl PostgresSink {
    /// Builds a writer from a job's sink side and its connection.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad connection option or a missing `sink.table`.
    pub fn new(
        spec: &JobSpec,
        write_mode: WriteMode,
        connection: &ConnectionConfig,
    ) -> Result<Self> {
        let settings = PgSettings::from_connection(connection, "sink")?;
        let table = spec.sink.table.as_deref().ok_or_else(|| {
            ConnectorError::config("sink.table", "is required for a postgresql sink")
        })?;
        crate::mapping::check_write_mode(
            &connection.kind,
            write_mode,
            &[WriteMode::Insert, WriteMode::Upsert, WriteMode::Truncate],
        )?;
        if write_mode == WriteMode::Upsert && spec.sink.keys.is_empty() {
            return Err(ConnectorError::config(
                "sink.keys",
                "is required when sink.write_mode is upsert",
            ));
        }
        Ok(PostgresSink {
            table: TableName::parse(table, &settings.schema),
            commit_table: TableName::parse(&settings.commit_table, &settings.schema),
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
                .map(|name| TableName::parse(name, &settings.schema)),
            settings,
        })
    }

    /// Writes the shard's dirty records into `settings.dirty_table`, in the open transaction.
    async fn write_dirty_table(
        &self,
        client: &Client,
        shard: &ShardIdentity,
        input: &BatchReceiver,
    ) -> Result<()> {
        let Some(table) = &self.dirty_table else {
            return Ok(());
        };
        let rows = dirty_table::rows(shard, input.counters().stored_dirty());
        dirty_table::insert_postgres(client, &table.quoted(), &rows).await
    }

    /// Returns the commit-marker table of this sink.
    pub fn commit_table(&self) -> &TableName {
        &self.commit_table
    }

    fn target_names(&self, schema: &SchemaRef) -> Result<Vec<String>> {
        crate::mapping::sink_column_names(&self.columns, schema)
    }

    async fn ensure_commit_table(&self, client: &Client) -> Result<()> {
        let exists: Option<String> = client
            .query_one(
                "SELECT to_regclass($1)::text",
                &[&self.commit_table.quoted()],
            )
            .await
            .map_err(ConnectorError::postgres(format!(
                "look up commit table {}",
                self.commit_table
            )))?
            .get(0);
        if exists.is_some() {
            return Ok(());
        }
        let distribution = match self.settings.flavor {
            PgFlavor::AnalyticDb => " DISTRIBUTED BY (job_id)",
            PgFlavor::Postgres => "",
        };
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} (job_id text NOT NULL, shard_id bigint NOT NULL, attempt bigint NOT NULL, \
             committed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (job_id, shard_id)){distribution}",
            self.commit_table.quoted()
        );
        match client.batch_execute(&sql).await {
            Ok(()) => Ok(()),
            // Another shard created it at the same moment.
            Err(error) if matches!(error.code(), Some(code) if *code == SqlState::UNIQUE_VIOLATION || *code == SqlState::DUPLICATE_TABLE) => {
                Ok(())
            }
            Err(error) => Err(ConnectorError::postgres(format!(
                "create commit table {}",
                self.commit_table
            ))(error)),
        }
    }

    async fn resolve_target(&self, client: &Client, schema: &SchemaRef) -> Result<Target> {
        let names = self.target_names(schema)?;
        let existing = table_columns(client, &self.table, "sink.table").await?;
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
        let column_list = names
            .iter()
            .map(|name| quote_identifier(name))
            .collect::<Vec<_>>()
            .join(", ");
        let statement = client
            .prepare(&format!(
                "SELECT {column_list} FROM {}",
                self.table.quoted()
            ))
            .await
            .map_err(ConnectorError::postgres(format!("describe {}", self.table)))?;
        let mut types = Vec::with_capacity(names.len());
        for (column, name) in statement.columns().iter().zip(&names) {
            let pg_type =
                PgType::resolve(column.type_(), column.type_modifier()).map_err(|message| {
                    ConnectorError::config(
                        "sink.columns",
                        format!("column \"{name}\" of {}: {message}", self.table),
                    )
                })?;
            types.push(pg_type);
        }
        if self.write_mode != WriteMode::Upsert {
            let copy_sql = format!(
                "COPY {} ({column_list}) FROM STDIN (FORMAT binary)",
                self.table.quoted()
            );
            return Ok(Target {
                copy_statement: self.prepare_copy(client, &copy_sql).await?,
                names,
                types,
                upsert_sql: None,
            });
        }
        client
            .batch_execute(&format!(
                "CREATE TEMP TABLE {STAGING_TABLE} ON COMMIT DROP AS SELECT {column_list} FROM {} WITH NO DATA",
                self.table.quoted()
            ))
            .await
            .map_err(ConnectorError::postgres(format!("create staging table for {}", self.table)))?;
        let key_list = self
            .keys
            .iter()
            .map(|key| quote_identifier(key))
            .collect::<Vec<_>>()
            .join(", ");
        let updates: Vec<String> = names
            .iter()
            .filter(|name| !self.keys.contains(name))
            .map(|name| format!("{0} = EXCLUDED.{0}", quote_identifier(name)))
            .collect();
        let action = if updates.is_empty() {
            "DO NOTHING".to_string()
        } else {
            format!("DO UPDATE SET {}", updates.join(", "))
        };
        let upsert_sql = format!(
            "INSERT INTO {} ({column_list}) SELECT {column_list} FROM {STAGING_TABLE} ON CONFLICT ({key_list}) {action}; TRUNCATE {STAGING_TABLE}",
            self.table.quoted()
        );
        let copy_sql = format!("COPY {STAGING_TABLE} ({column_list}) FROM STDIN (FORMAT binary)");
        Ok(Target {
            copy_statement: self.prepare_copy(client, &copy_sql).await?,
            names,
            types,
            upsert_sql: Some(upsert_sql),
        })
    }

    /// The error of a COPY that failed for another reason than a refused row.
    fn copy_failed(&self, error: tokio_postgres::Error) -> ConnectorError {
        ConnectorError::postgres(format!("copy rows into {}", self.table))(error)
    }

    async fn prepare_copy(&self, client: &Client, sql: &str) -> Result<Statement> {
        client
            .prepare(sql)
            .await
            .map_err(ConnectorError::postgres(format!(
                "prepare COPY into {}",
                self.table
            )))
    }

    /// Sends rows through one COPY (and the upsert statement), without savepoint handling.
    async fn copy_rows(
        client: &Client,
        target: &Target,
        rows: Bytes,
    ) -> std::result::Result<(), tokio_postgres::Error> {
        let sink = client.copy_in::<_, Bytes>(&target.copy_statement).await?;
        pin_mut!(sink);
        sink.send(copy_header()).await?;
        sink.send(rows).await?;
        Self::end_copy(client, target, sink).await
    }

    /// Ends a COPY whose rows were sent, then runs the upsert statement.
    async fn end_copy(
        client: &Client,
        target: &Target,
        mut sink: Pin<&mut CopyInSink<Bytes>>,
    ) -> std::result::Result<(), tokio_postgres::Error> {
        sink.send(copy_trailer()).await?;
        sink.as_mut().finish().await?;
        if let Some(upsert) = &target.upsert_sql {
            client.batch_execute(upsert).await?;
        }
        Ok(())
    }

    /// Streams `encoded` into the running piece, starting it (savepoint, COPY) at its first
    /// batch.
    async fn add_to_piece(
        &self,
        client: &Client,
        target: &Target,
        piece: &mut Piece,
        batch: RecordBatch,
        encoded: EncodedRows,
        input: &BatchReceiver,
    ) -> Result<()> {
        if piece.copy.is_none() {
            Savepoint::Set.run(client).await?;
            let mut sink = Box::pin(
                client
                    .copy_in::<_, Bytes>(&target.copy_statement)
                    .await
                    .map_err(ConnectorError::postgres(format!(
                        "start COPY into {}",
                        self.table
                    )))?,
            );
            piece.copy = Some(match sink.send(copy_header()).await {
                Ok(()) => PieceCopy::Streaming(sink),
                Err(error) => PieceCopy::Failed(error),
            });
        }
        if let Some(PieceCopy::Streaming(sink)) = &mut piece.copy {
            match sink.send(encoded.rows(0, encoded.len())).await {
                Ok(()) => {
                    let counted = record_written(input, &batch, encoded.len() as u64);
                    piece.counted.0 += counted.0;
                    piece.counted.1 += counted.1;
                }
                Err(error) => piece.copy = Some(PieceCopy::Failed(error)),
            }
        }
        piece.bytes += encoded.bytes.len();
        piece.batches.push((batch, encoded));
        Ok(())
    }

    /// Ends the running piece; when the database refused one of its rows, rolls it back and
    /// writes its batches again in halves. Returns how many rows were written.
    async fn close_piece(
        &self,
        client: &Client,
        target: &Target,
        piece: &mut Piece,
        input: &BatchReceiver,
    ) -> Result<u64> {
        let Piece {
            copy,
            batches,
            counted,
            ..
        } = std::mem::take(piece);
        let outcome = match copy {
            None => return Ok(0),
            Some(PieceCopy::Failed(error)) => Err(error),
            Some(PieceCopy::Streaming(mut sink)) => {
                Self::end_copy(client, target, sink.as_mut()).await
            }
        };
        let mut written = 0u64;
        match outcome {
            Ok(()) => {
                Savepoint::Release.run(client).await?;
                written = batches
                    .iter()
                    .map(|(_, encoded)| encoded.len() as u64)
                    .sum();
            }
            Err(error) if is_row_error(&error) => {
                Savepoint::RollBack.run(client).await?;
                input.counters().retract_written(counted.0, counted.1);
                for (batch, encoded) in &batches {
                    let rows = self
                        .write_encoded(client, target, batch, encoded, input)
                        .await?;
                    record_written(input, batch, rows);
                    written += rows;
                }
            }
            Err(error) => return Err(self.copy_failed(error)),
        }
        Ok(written)
    }

    /// Writes the encoded rows of `batch`, isolating the rows the database refuses; returns how
    /// many were written.
    async fn write_encoded(
        &self,
        client: &Client,
        target: &Target,
        batch: &RecordBatch,
        encoded: &EncodedRows,
        input: &BatchReceiver,
    ) -> Result<u64> {
        let mut written = 0u64;
        let mut pending = vec![(0usize, encoded.len())];
        while let Some((start, end)) = pending.pop() {
            if start >= end {
                continue;
            }
            Savepoint::Set.run(client).await?;
            match Self::copy_rows(client, target, encoded.rows(start, end)).await {
                Ok(()) => {
                    Savepoint::Release.run(client).await?;
                    written += (end - start) as u64;
                }
                Err(error) if is_row_error(&error) => {
                    Savepoint::RollBack.run(client).await?;
                    if end - start == 1 {
                        let row = encoded.row_indexes[start];
                        let column = error
                            .as_db_error()
                            .and_then(|db| db.column())
                            .unwrap_or_default()
                            .to_string();
                        let mut reason = describe_error(&error);
                        if let Some(constraint) = error.as_db_error().and_then(|db| db.constraint())
                        {
                            reason.push_str(&format!("; constraint: {constraint}"));
                        }
                        input.counters().record_dirty(
                            crate::DirtyStage::Write,
                            DirtySample {
                                column,
                                reason,
                                row: describe_row(batch, &target.names, row),
                            },
                        );
                    } else {
                        let middle = start + (end - start) / 2;
                        pending.push((middle, end));
                        pending.push((start, middle));
                    }
                }
                Err(error) => return Err(self.copy_failed(error)),
            }
        }
        Ok(written)
    }
}

/// The steps of the savepoint each COPY piece, and each retry of part of one, runs inside.
#[derive(Debug, Clone, Copy)]
enum Savepoint {
    Set,
    Release,
    /// Roll back to it and release it.
    RollBack,
}

impl Savepoint {
    async fn run(self, client: &Client) -> Result<()> {
        let (sql, context) = match self {
            Savepoint::Set => ("SAVEPOINT sluice_batch", "set batch savepoint"),
            Savepoint::Release => ("RELEASE SAVEPOINT sluice_batch", "release batch savepoint"),
            Savepoint::RollBack => (
                "ROLLBACK TO SAVEPOINT sluice_batch; RELEASE SAVEPOINT sluice_batch",
                "roll back to batch savepoint",
            ),
        };
        client
            .batch_execute(sql)
            .await
            .map_err(ConnectorError::postgres(context))
    }
}

/// Counts `rows` written of `batch`, with their share of its bytes; returns both.
fn record_written(input: &BatchReceiver, batch: &RecordBatch, rows: u64) -> (u64, u64) {
    let bytes = batch.get_array_memory_size() as u64 * rows / batch.num_rows().max(1) as u64;
    input.counters().add_written(rows, bytes);
    (rows, bytes)
}

#[async_trait]
impl Sink for PostgresSink {
    async fn max_value(&self, column: &str) -> Result<Option<String>> {
        let client = self.settings.connect().await?;
        let exists: Option<String> = client
            .query_one("SELECT to_regclass($1)::text", &[&self.table.quoted()])
            .await
            .map_err(ConnectorError::postgres(format!(
                "look up table {}",
                self.table
            )))?
            .get(0);
        if exists.is_none() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT max({})::text FROM {}",
            quote_identifier(column),
            self.table.quoted()
        );
        let row = client
            .query_one(sql.as_str(), &[])
            .await
            .map_err(ConnectorError::postgres(format!(
                "read the largest {column} of {} (source.incremental)",
                self.table
            )))?;
        Ok(row.get(0))
    }

    async fn prepare(&self, source_schema: SchemaRef) -> Result<()> {
        let client = self.settings.connect().await?;
        self.ensure_commit_table(&client).await?;
        if let Some(table) = &self.dirty_table {
            client
                .batch_execute(&dirty_table::create_sql(&table.quoted(), Dialect::Postgres))
                .await
                .map_err(ConnectorError::postgres(format!(
                    "create dirty table {table} (settings.dirty_table)"
                )))?;
        }
        let exists: Option<String> = client
            .query_one("SELECT to_regclass($1)::text", &[&self.table.quoted()])
            .await
            .map_err(ConnectorError::postgres(format!(
                "look up table {}",
                self.table
            )))?
            .get(0);
        if exists.is_none() {
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
                    sql_type_for_field(name, field)?
                ));
            }
            let key_list = self
                .keys
                .iter()
                .map(|key| quote_identifier(key))
                .collect::<Vec<_>>()
                .join(", ");
            if !self.keys.is_empty() {
                definitions.push(format!("PRIMARY KEY ({key_list})"));
            }
            let distribution = match (self.settings.flavor, self.keys.is_empty()) {
                (PgFlavor::Postgres, _) => String::new(),
                (PgFlavor::AnalyticDb, true) => " DISTRIBUTED RANDOMLY".to_string(),
                (PgFlavor::AnalyticDb, false) => format!(" DISTRIBUTED BY ({key_list})"),
            };
            client
                .batch_execute(&format!(
                    "CREATE TABLE IF NOT EXISTS {} ({}){distribution}",
                    self.table.quoted(),
                    definitions.join(", ")
                ))
                .await
                .map_err(ConnectorError::postgres(format!(
                    "create table {}",
                    self.table
                )))?;
        }
        if self.write_mode == WriteMode::Truncate {
            client
                .batch_execute(&format!("TRUNCATE {}", self.table.quoted()))
                .await
                .map_err(ConnectorError::postgres(format!("truncate {}", self.table)))?;
        }
        for (index, statement) in self.pre_sql.iter().enumerate() {
            client
                .batch_execute(statement)
                .await
                .map_err(ConnectorError::postgres(format!("sink.pre_sql[{index}]")))?;
        }
        Ok(())
    }

    async fn write_shard(
        &self,
        shard: &ShardIdentity,
        mut input: BatchReceiver,
    ) -> Result<WriteOutcome> {
        let client = self.settings.connect().await?;
        self.ensure_commit_table(&client).await?;
        client
            .batch_execute("BEGIN")
            .await
            .map_err(ConnectorError::postgres("begin shard transaction"))?;
        let marker = client
            .query_opt(
                &format!(
                    "INSERT INTO {} (job_id, shard_id, attempt) VALUES ($1, $2, $3) ON CONFLICT (job_id, shard_id) DO NOTHING RETURNING attempt",
                    self.commit_table.quoted()
                ),
                &[&shard.job_id.as_str(), &i64::from(shard.shard_id.0), &i64::from(shard.attempt.0)],
            )
            .await
            .map_err(ConnectorError::postgres(format!("insert commit marker into {}", self.commit_table)))?;
        if marker.is_none() {
            client
                .batch_execute("ROLLBACK")
                .await
                .map_err(ConnectorError::postgres("roll back shard transaction"))?;
            self.settings.release(client);
            return Ok(WriteOutcome::AlreadyCommitted);
        }
        let mut target: Option<Target> = None;
        let mut scratch = Scratch::default();
        let mut dirty = Vec::new();
        let mut rows_written = 0u64;
        let mut piece = Piece::default();
        while let Some(batch) = input.next().await? {
            if batch.num_rows() == 0 {
                continue;
            }
            if target.is_none() {
                target = Some(self.resolve_target(&client, &batch.schema()).await?);
            }
            let Some(resolved) = target.as_ref() else {
                break;
            };
            let encoded = encode_batch(
                &batch,
                &resolved.names,
                &resolved.types,
                &mut scratch,
                &mut dirty,
            );
            for sample in dirty.drain(..) {
                input
                    .counters()
                    .record_dirty(crate::DirtyStage::Write, sample);
            }
            if encoded.is_empty() {
                continue;
            }
            self.add_to_piece(&client, resolved, &mut piece, batch, encoded, &input)
                .await?;
            if piece.bytes >= PIECE_BYTES {
                rows_written += self
                    .close_piece(&client, resolved, &mut piece, &input)
                    .await?;
            }
        }
        if let Some(resolved) = &target {
            rows_written += self
                .close_piece(&client, resolved, &mut piece, &input)
                .await?;
        }
        self.write_dirty_table(&client, shard, &input).await?;
        client
            .batch_execute("COMMIT")
            .await
            .map_err(ConnectorError::postgres(format!(
                "commit shard into {}",
                self.table
            )))?;
        // The prepared COPY is closed before the session goes back.
        drop(target);
        self.settings.release(client);
        Ok(WriteOutcome::Committed { rows: rows_written })
    }

    async fn finalize(&self) -> Result<()> {
        let client = self.settings.connect().await?;
        for (index, statement) in self.post_sql.iter().enumerate() {
            client
                .batch_execute(statement)
                .await
                .map_err(ConnectorError::postgres(format!("sink.post_sql[{index}]")))?;
        }
        Ok(())
    }
}
