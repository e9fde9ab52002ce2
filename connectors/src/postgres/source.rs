//! Reads a PostgreSQL table (or a query) by key range with binary `COPY`.

use super::config::PgSettings;
use super::copy_decode::CopyDecoder;
use super::split::{self, KeyInfo, PlanContext, SplitBy};
use super::types::PgType;
use super::{quote_identifier, quote_literal, TableName};
use crate::channel::BatchSender;
use crate::error::{ConnectorError, Result};
use crate::mapping::{read_list, source_filter, SourceExpression};
use crate::{PlanOutput, PlanRequest, Source};
use arrow_schema::{Schema, SchemaRef};
use async_trait::async_trait;
use futures_util::{pin_mut, TryStreamExt};
use sluice_common::records::KeyRange;
use sluice_common::spec::{ConnectionConfig, JobSpec};
use std::sync::Arc;
use tokio::sync::Mutex;
use tokio_postgres::Client;

#[derive(Debug, Clone)]
enum Target {
    Table {
        name: TableName,
        columns: Vec<String>,
        /// Expressions of the job's mapping, selected after the columns.
        expressions: Vec<SourceExpression>,
        where_clause: Option<String>,
        split_by: SplitBy,
        split_bounds: Vec<serde_json::Value>,
    },
    Query(String),
}

/// Reads rows of one PostgreSQL table or query.
#[derive(Debug, Clone)]
pub struct PostgresSource {
    settings: PgSettings,
    target: Target,
    batch_rows: usize,
    /// Field path prefix for errors (`source`, or `sink` when reading a sink back).
    role: String,
    /// Whether the columns read are those of the job's `mapping`.
    mapped: bool,
    /// The session of the last read, kept for the next piece of the same shard.
    session: Arc<Mutex<Option<ReadSession>>>,
}

/// An open connection with what a read looked up through it: consecutive pieces of one shard
/// reuse it instead of connecting and reading the catalog again.
struct ReadSession {
    client: Client,
    projection: Projection,
    /// The split key, once a range needed it.
    key: Option<KeyInfo>,
}

impl std::fmt::Debug for ReadSession {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ReadSession")
            .field("select", &self.projection.select)
            .finish_non_exhaustive()
    }
}

/// The resolved projection of a read.
#[derive(Clone)]
struct Projection {
    schema: SchemaRef,
    types: Vec<PgType>,
    select: String,
}

impl PostgresSource {
    /// Builds the reader of a job's source side.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad connection option or when neither `table` nor
    /// `query` is given.
    pub fn new(spec: &JobSpec, connection: &ConnectionConfig) -> Result<Self> {
        let settings = PgSettings::from_connection(connection, "source")?;
        let source = &spec.source;
        let read = read_list(spec);
        let target = match (&source.query, &source.table) {
            (Some(query), _) => Target::Query(query.trim().trim_end_matches(';').to_string()),
            (None, Some(table)) => {
                let split_by = SplitBy::from_spec(source.split_pk.as_deref());
                if split_by == SplitBy::Pages && !source.split_bounds.is_empty() {
                    return Err(ConnectorError::config(
                        "source.split_bounds",
                        "split_pk: ctid splits by page ranges, which take no bounds; name a key column in \
                         split_pk or drop split_bounds",
                    ));
                }
                Target::Table {
                    name: TableName::parse(table, &settings.schema),
                    columns: read.columns,
                    expressions: read.expressions,
                    where_clause: source_filter(spec, quote_identifier, quote_literal),
                    split_by,
                    split_bounds: source.split_bounds.clone(),
                }
            }
            (None, None) => {
                return Err(ConnectorError::config(
                    "source.table",
                    "is required for a postgresql source (or give source.query)",
                ))
            }
        };
        Ok(PostgresSource {
            settings,
            target,
            batch_rows: spec.settings.batch_rows.max(1) as usize,
            role: "source".into(),
            mapped: spec.mapping.as_ref().is_some_and(|m| !m.columns.is_empty()),
            session: Arc::default(),
        })
    }

    /// Builds a reader of what a job wrote: the sink table's target columns.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad connection option or a missing `sink.table`.
    pub fn sink_reader(spec: &JobSpec, connection: &ConnectionConfig) -> Result<Self> {
        let settings = PgSettings::from_connection(connection, "sink")?;
        let table = spec.sink.table.as_deref().ok_or_else(|| {
            ConnectorError::config("sink.table", "is required for a postgresql sink")
        })?;
        let columns = crate::mapping::target_column_names(spec);
        Ok(PostgresSource {
            target: Target::Table {
                name: TableName::parse(table, &settings.schema),
                columns,
                expressions: Vec::new(),
                where_clause: None,
                split_by: SplitBy::PrimaryKey,
                split_bounds: Vec::new(),
            },
            settings,
            batch_rows: spec.settings.batch_rows.max(1) as usize,
            role: "sink".into(),
            mapped: false,
            session: Arc::default(),
        })
    }

    async fn connect(&self) -> Result<Client> {
        self.settings.connect().await
    }

    async fn project(&self, client: &Client) -> Result<Projection> {
        let (sql, field_prefix) = match &self.target {
            Target::Query(query) => (query.clone(), format!("{}.query", self.role)),
            Target::Table {
                name,
                columns,
                expressions,
                ..
            } => {
                let existing = table_columns(client, name, &format!("{}.table", self.role)).await?;
                for (position, column) in columns.iter().enumerate() {
                    if !existing.contains(column) {
                        return Err(ConnectorError::config(
                            self.column_path(position),
                            format!(
                                "\"{column}\" is not a column of {name}; columns are: {}",
                                existing.join(", ")
                            ),
                        ));
                    }
                }
                let selected = if columns.is_empty() {
                    &existing
                } else {
                    columns
                };
                let list = selected
                    .iter()
                    .map(|column| quote_identifier(column))
                    .chain(expressions.iter().map(|expression| {
                        format!(
                            "({}) AS {}",
                            expression.sql,
                            quote_identifier(&expression.alias)
                        )
                    }))
                    .collect::<Vec<_>>()
                    .join(", ");
                (
                    format!("SELECT {list} FROM {}", name.quoted()),
                    format!("{}.columns", self.role),
                )
            }
        };
        let statement = client
            .prepare(&sql)
            .await
            .map_err(ConnectorError::postgres(format!(
                "describe {}",
                self.describe_target()
            )))?;
        let mut fields = Vec::with_capacity(statement.columns().len());
        let mut types = Vec::with_capacity(statement.columns().len());
        for column in statement.columns() {
            let pg_type =
                PgType::resolve(column.type_(), column.type_modifier()).map_err(|message| {
                    ConnectorError::config(
                        field_prefix.clone(),
                        format!("column \"{}\": {message}", column.name()),
                    )
                })?;
            fields.push(pg_type.arrow_field(column.name()));
            types.push(pg_type);
        }
        Ok(Projection {
            schema: Arc::new(Schema::new(fields)),
            types,
            select: sql,
        })
    }

    /// Returns the field path of selected column `position`: `mapping.columns` when the job
    /// maps its columns, else `{role}.columns[position]`.
    fn column_path(&self, position: usize) -> String {
        if self.mapped {
            "mapping.columns".to_string()
        } else {
            format!("{}.columns[{position}]", self.role)
        }
    }

    fn describe_target(&self) -> String {
        match &self.target {
            Target::Query(_) => format!("{}.query", self.role),
            Target::Table { name, .. } => name.to_string(),
        }
    }
}

/// Returns the column names of `table`, or a configuration error at `field` listing the
/// schema's tables when it does not exist.
pub(crate) async fn table_columns(
    client: &Client,
    table: &TableName,
    field: &str,
) -> Result<Vec<String>> {
    let exists: Option<String> = client
        .query_one("SELECT to_regclass($1)::text", &[&table.quoted()])
        .await
        .map_err(ConnectorError::postgres(format!("look up table {table}")))?
        .get(0);
    if exists.is_none() {
        let rows = client
            .query(
                "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relname NOT LIKE '\\_sluice%' \
                 ORDER BY 1 LIMIT 50",
                &[&table.schema],
            )
            .await
            .map_err(ConnectorError::postgres(format!("list tables of schema {}", table.schema)))?;
        let names: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
        return Err(ConnectorError::config(
            field,
            format!(
                "table {table} does not exist; tables in schema {}: {}",
                table.schema,
                if names.is_empty() {
                    "(none)".to_string()
                } else {
                    names.join(", ")
                }
            ),
        ));
    }
    let rows = client
        .query(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[&table.quoted()],
        )
        .await
        .map_err(ConnectorError::postgres(format!("read columns of {table}")))?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

#[async_trait]
impl Source for PostgresSource {
    async fn schema(&self) -> Result<SchemaRef> {
        let client = self.connect().await?;
        Ok(self.project(&client).await?.schema)
    }

    async fn plan(&self, request: &PlanRequest) -> Result<PlanOutput> {
        let client = self.connect().await?;
        self.project(&client).await?;
        let Target::Table {
            name,
            where_clause,
            split_by,
            split_bounds,
            ..
        } = &self.target
        else {
            return Ok(PlanOutput {
                ranges: vec![KeyRange::All],
                estimated_rows: 0,
                key_bounds: None,
            });
        };
        let key = split_by.resolve(&client, name).await?;
        let context = PlanContext {
            client: &client,
            table: name,
            where_clause: where_clause.as_deref(),
            flavor: self.settings.flavor,
        };
        split::plan(&context, key.as_ref(), split_bounds, request).await
    }

    async fn read(&self, range: &KeyRange, output: &BatchSender) -> Result<()> {
        let mut slot = self.session.lock().await;
        let mut session = match slot.take() {
            Some(session) if !session.client.is_closed() => session,
            _ => {
                let client = self.connect().await?;
                let projection = self.project(&client).await?;
                ReadSession {
                    client,
                    projection,
                    key: None,
                }
            }
        };
        // A failed read drops its session: the next one starts on a new connection.
        self.read_range(&mut session, range, output).await?;
        *slot = Some(session);
        Ok(())
    }

    async fn release(&self) {
        if let Some(session) = self.session.lock().await.take() {
            self.settings.release(session.client);
        }
    }
}

impl PostgresSource {
    /// Reads the rows of `range` through `session`.
    async fn read_range(
        &self,
        session: &mut ReadSession,
        range: &KeyRange,
        output: &BatchSender,
    ) -> Result<()> {
        let projection = session.projection.clone();
        let select = match &self.target {
            Target::Query(_) => {
                if !matches!(range, KeyRange::All) {
                    return Err(ConnectorError::config(
                        "source.query",
                        format!("a query runs as one shard; got shard range {range}"),
                    ));
                }
                projection.select.clone()
            }
            Target::Table {
                name,
                where_clause,
                split_by,
                ..
            } => {
                let key = match range {
                    KeyRange::Int { .. } | KeyRange::Text { .. } | KeyRange::Null => {
                        if session.key.is_none() {
                            session.key = split_by.resolve(&session.client, name).await?;
                        }
                        let Some(key) = session.key.as_ref() else {
                            return Err(ConnectorError::primary_key_gone(range, name));
                        };
                        Some(key)
                    }
                    KeyRange::All | KeyRange::Pages { .. } => None,
                };
                let mut conditions = Vec::new();
                if let Some(condition) = split::range_condition(range, key)? {
                    conditions.push(condition);
                }
                if let Some(filter) = where_clause {
                    conditions.push(format!("({filter})"));
                }
                if conditions.is_empty() {
                    projection.select.clone()
                } else {
                    format!("{} WHERE {}", projection.select, conditions.join(" AND "))
                }
            }
        };
        let client = &session.client;
        let copy = format!("COPY ({select}) TO STDOUT (FORMAT binary)");
        let target = self.describe_target();
        let stream = client
            .copy_out(copy.as_str())
            .await
            .map_err(ConnectorError::postgres(format!(
                "start COPY of {target} ({range})"
            )))?;
        pin_mut!(stream);
        let mut decoder = CopyDecoder::new(
            Arc::clone(&projection.schema),
            projection.types,
            self.batch_rows,
        );
        let mut batches = Vec::new();
        let mut dirty = Vec::new();
        // PostgreSQL sends one message per row: nothing in this loop allocates per chunk (the
        // error context is only formatted on an error).
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|error| ConnectorError::postgres(format!("read COPY of {target}"))(error))?
        {
            decoder.push(&chunk, &mut batches, &mut dirty)?;
            if !dirty.is_empty() {
                for sample in dirty.drain(..) {
                    output
                        .counters()
                        .record_dirty(crate::DirtyStage::Read, sample);
                }
            }
            if !batches.is_empty() {
                for batch in batches.drain(..) {
                    output.send(batch).await?;
                }
            }
        }
        decoder.finish(&mut batches)?;
        for batch in batches.drain(..) {
            output.send(batch).await?;
        }
        Ok(())
    }
}
