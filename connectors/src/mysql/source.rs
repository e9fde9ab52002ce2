//! Reads a MySQL table (or a query) by key range with a streamed result set.

use super::config::MySqlSettings;
use super::decode::RowDecoder;
use super::split::{self, KeyInfo};
use super::types::MySqlType;
use super::{quote_identifier, quote_literal, TableName};
use crate::channel::BatchSender;
use crate::error::{ConnectorError, Result};
use crate::mapping::{read_list, source_filter, SourceExpression};
use crate::{PlanOutput, PlanRequest, Source};
use arrow_schema::{Schema, SchemaRef};
use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use sluice_common::records::KeyRange;
use sluice_common::spec::{ConnectionConfig, JobSpec};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone)]
enum Target {
    Table {
        name: TableName,
        columns: Vec<String>,
        /// Expressions of the job's mapping, selected after the columns.
        expressions: Vec<SourceExpression>,
        where_clause: Option<String>,
        split_pk: Option<String>,
        split_bounds: Vec<serde_json::Value>,
    },
    Query(String),
}

/// Reads rows of one MySQL table or query.
#[derive(Debug, Clone)]
pub struct MySqlSource {
    settings: MySqlSettings,
    target: Target,
    batch_rows: usize,
    /// Field path prefix for errors (`source`, or `sink` when reading a sink back).
    role: String,
    /// Whether the columns read are those of the job's `mapping`.
    mapped: bool,
}

/// The resolved projection of a read.
struct Projection {
    schema: SchemaRef,
    types: Vec<MySqlType>,
    select: String,
}

impl MySqlSource {
    /// Builds the reader of a job's source side.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad connection option or when neither `table` nor
    /// `query` is given.
    pub fn new(spec: &JobSpec, connection: &ConnectionConfig) -> Result<Self> {
        let settings = MySqlSettings::from_connection(connection, "source")?;
        let source = &spec.source;
        let read = read_list(spec);
        let target = match (&source.query, &source.table) {
            (Some(query), _) => Target::Query(query.trim().trim_end_matches(';').to_string()),
            (None, Some(table)) => Target::Table {
                name: TableName::parse(table, &settings.database),
                columns: read.columns,
                expressions: read.expressions,
                where_clause: source_filter(spec, quote_identifier, quote_literal),
                split_pk: source.split_pk.clone(),
                split_bounds: source.split_bounds.clone(),
            },
            (None, None) => {
                return Err(ConnectorError::config(
                    "source.table",
                    format!(
                        "is required for a {} source (or give source.query)",
                        connection.kind
                    ),
                ))
            }
        };
        Ok(MySqlSource {
            settings,
            target,
            batch_rows: spec.settings.batch_rows.max(1) as usize,
            role: "source".into(),
            mapped: spec.mapping.as_ref().is_some_and(|m| !m.columns.is_empty()),
        })
    }

    /// Builds a reader of what a job wrote: the sink table's target columns.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad connection option or a missing `sink.table`.
    pub fn sink_reader(spec: &JobSpec, connection: &ConnectionConfig) -> Result<Self> {
        let settings = MySqlSettings::from_connection(connection, "sink")?;
        let table = spec.sink.table.as_deref().ok_or_else(|| {
            ConnectorError::config(
                "sink.table",
                format!("is required for a {} sink", connection.kind),
            )
        })?;
        let columns = crate::mapping::target_column_names(spec);
        Ok(MySqlSource {
            target: Target::Table {
                name: TableName::parse(table, &settings.database),
                columns,
                expressions: Vec::new(),
                where_clause: None,
                split_pk: None,
                split_bounds: Vec::new(),
            },
            settings,
            batch_rows: spec.settings.batch_rows.max(1) as usize,
            role: "sink".into(),
            mapped: false,
        })
    }

    async fn project(&self, conn: &mut Conn) -> Result<Projection> {
        let (sql, field_prefix, declared) = match &self.target {
            Target::Query(query) => (
                query.clone(),
                format!("{}.query", self.role),
                HashMap::new(),
            ),
            Target::Table {
                name,
                columns,
                expressions,
                ..
            } => {
                let existing = table_columns(conn, name, &format!("{}.table", self.role)).await?;
                let names: Vec<&String> = existing.iter().map(|(column, _)| column).collect();
                for (position, column) in columns.iter().enumerate() {
                    if !names.contains(&column) {
                        return Err(ConnectorError::config(
                            self.column_path(position),
                            format!(
                                "\"{column}\" is not a column of {name}; columns are: {}",
                                names
                                    .iter()
                                    .map(|name| name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ));
                    }
                }
                let selected: Vec<String> = if columns.is_empty() {
                    names.iter().map(|name| (*name).clone()).collect()
                } else {
                    columns.clone()
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
                    existing.into_iter().collect::<HashMap<_, _>>(),
                )
            }
        };
        let statement = conn
            .prep(sql.as_str())
            .await
            .map_err(ConnectorError::mysql(format!(
                "describe {}",
                self.describe_target()
            )))?;
        let mut fields = Vec::with_capacity(statement.columns().len());
        let mut types = Vec::with_capacity(statement.columns().len());
        for column in statement.columns().iter() {
            let name = column.name_str().to_string();
            let mysql_type = MySqlType::resolve(column, self.settings.tinyint1_as_boolean)
                .map_err(|message| {
                    ConnectorError::config(
                        field_prefix.clone(),
                        format!("column \"{name}\": {message}"),
                    )
                })?;
            let declared_type = declared.get(&name).map(String::as_str);
            // A tinyint(1) read as a number must not be recreated as a boolean, and vice versa.
            let declared_type = match (mysql_type, declared_type) {
                (MySqlType::Int { .. }, Some(text)) if text.starts_with("tinyint(1)") => {
                    Some("tinyint")
                }
                (_, other) => other,
            };
            fields.push(mysql_type.arrow_field(&name, declared_type));
            types.push(mysql_type);
        }
        conn.close(statement)
            .await
            .map_err(ConnectorError::mysql("close a prepared statement"))?;
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

/// Returns the columns of `table` with their declared types, or a configuration error at
/// `field` listing the database's tables when it does not exist.
pub(crate) async fn table_columns(
    conn: &mut Conn,
    table: &TableName,
    field: &str,
) -> Result<Vec<(String, String)>> {
    let columns: Vec<(String, String)> = conn
        .exec(
            "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (&table.database, &table.table),
        )
        .await
        .map_err(ConnectorError::mysql(format!("read columns of {table}")))?;
    if !columns.is_empty() {
        return Ok(columns);
    }
    let tables: Vec<String> = conn
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? \
             AND TABLE_NAME NOT LIKE '\\_sluice%' ORDER BY 1 LIMIT 50",
            (&table.database,),
        )
        .await
        .map_err(ConnectorError::mysql(format!(
            "list tables of database {}",
            table.database
        )))?;
    Err(ConnectorError::config(
        field,
        format!(
            "table {table} does not exist; tables in database {}: {}",
            table.database,
            if tables.is_empty() {
                "(none)".to_string()
            } else {
                tables.join(", ")
            }
        ),
    ))
}

#[async_trait]
impl Source for MySqlSource {
    async fn schema(&self) -> Result<SchemaRef> {
        let mut conn = self.settings.connect().await?;
        Ok(self.project(&mut conn).await?.schema)
    }

    async fn plan(&self, request: &PlanRequest) -> Result<PlanOutput> {
        let mut conn = self.settings.connect().await?;
        self.project(&mut conn).await?;
        let Target::Table {
            name,
            where_clause,
            split_pk,
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
        let key = match split_pk {
            Some(column) => Some(KeyInfo::load(&mut conn, name, column).await?),
            None => KeyInfo::primary_key(&mut conn, name).await?,
        };
        split::plan(
            &mut conn,
            name,
            where_clause.as_deref(),
            key.as_ref(),
            split_bounds,
            request,
        )
        .await
    }

    async fn read(&self, range: &KeyRange, output: &BatchSender) -> Result<()> {
        let mut conn = self.settings.connect().await?;
        let projection = self.project(&mut conn).await?;
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
                split_pk,
                ..
            } => {
                let key = match (split_pk, range) {
                    (
                        Some(column),
                        KeyRange::Int { .. } | KeyRange::Text { .. } | KeyRange::Null,
                    ) => Some(KeyInfo::load(&mut conn, name, column).await?),
                    (None, KeyRange::Int { .. } | KeyRange::Text { .. } | KeyRange::Null) => {
                        let Some(key) = KeyInfo::primary_key(&mut conn, name).await? else {
                            return Err(ConnectorError::primary_key_gone(range, name));
                        };
                        Some(key)
                    }
                    _ => None,
                };
                let mut conditions = Vec::new();
                if let Some(condition) = split::range_condition(range, key.as_ref())? {
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
        let target = self.describe_target();
        let mut decoder = RowDecoder::new(
            Arc::clone(&projection.schema),
            projection.types,
            self.settings.zero_date,
            self.batch_rows,
        )?;
        let mut dirty = Vec::new();
        let mut result = conn
            .exec_iter(select.as_str(), ())
            .await
            .map_err(ConnectorError::mysql(format!("query {target} ({range})")))?;
        // The error's context is built only when a read fails, not once per row.
        while let Some(row) = result.next().await.map_err(|error| {
            ConnectorError::mysql(format!("read rows of {target} ({range})"))(error)
        })? {
            let batch = decoder.push(&row, &mut dirty)?;
            for sample in dirty.drain(..) {
                output
                    .counters()
                    .record_dirty(crate::DirtyStage::Read, sample);
            }
            if let Some(batch) = batch {
                output.send(batch).await?;
            }
        }
        drop(result);
        if decoder.pending() > 0 {
            output.send(decoder.take()?).await?;
        }
        Ok(())
    }
}
