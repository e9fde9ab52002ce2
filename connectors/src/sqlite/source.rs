//! Reads an SQLite table (or a projection of it) by key range.

use super::column_metadata::recorded_columns;
use super::types::{arrow_type_for_declared, field_for_declared, ColumnBuilder};
use super::{quote_identifier, run_blocking, table_columns, SqliteLocation};
use crate::channel::BatchSender;
use crate::error::{ConnectorError, Result};
use crate::{PlanOutput, PlanRequest, Source};
use arrow_array::RecordBatch;
use arrow_schema::{Field, Schema, SchemaRef};
use async_trait::async_trait;
use rusqlite::types::Value;
use sluice_common::records::{KeyBounds, KeyRange};
use sluice_common::spec::ConnectionConfig;
use std::sync::Arc;

/// Reads rows of one SQLite table.
#[derive(Debug, Clone)]
pub struct SqliteSource {
    location: SqliteLocation,
    table: String,
    columns: Vec<String>,
    where_clause: Option<String>,
    split_pk: Option<String>,
    batch_rows: usize,
    /// Field path prefix for error messages (`source` or `sink` when reading a sink back).
    role: String,
}

impl SqliteSource {
    /// Builds a reader of `table` (all columns when `columns` is empty).
    ///
    /// # Errors
    /// [`ConnectorError::Config`] when the connection lacks `path`.
    pub fn new(
        connection: &ConnectionConfig,
        role: &str,
        table: &str,
        columns: Vec<String>,
        where_clause: Option<String>,
        split_pk: Option<String>,
        batch_rows: usize,
    ) -> Result<Self> {
        Ok(SqliteSource {
            location: SqliteLocation::from_connection(connection, role)?,
            table: table.to_string(),
            columns,
            where_clause,
            split_pk,
            batch_rows: batch_rows.max(1),
            role: role.to_string(),
        })
    }

    /// Resolves the projected columns and their Arrow fields: the type from the declared type,
    /// the metadata from `_sluice_columns` when it still describes the column.
    fn resolve_schema(&self, connection: &rusqlite::Connection) -> Result<Schema> {
        let table_field = format!("{}.table", self.role);
        let declared = table_columns(connection, &self.table, &self.location.path, &table_field)?;
        let selected: Vec<(String, String)> = if self.columns.is_empty() {
            declared
        } else {
            let mut chosen = Vec::with_capacity(self.columns.len());
            for (position, column) in self.columns.iter().enumerate() {
                let found = declared
                    .iter()
                    .find(|(name, _)| name == column)
                    .ok_or_else(|| {
                        let names: Vec<&str> =
                            declared.iter().map(|(name, _)| name.as_str()).collect();
                        ConnectorError::config(
                            format!("{}.columns[{position}]", self.role),
                            format!(
                                "\"{column}\" is not a column of {}; columns are: {}",
                                self.table,
                                names.join(", ")
                            ),
                        )
                    })?;
                chosen.push(found.clone());
            }
            chosen
        };
        let recorded = recorded_columns(connection, &self.table)?;
        let fields: Vec<Field> = selected
            .iter()
            .map(|(name, declared_type)| {
                let field = field_for_declared(name, declared_type);
                match recorded.get(name) {
                    Some(column) if column.declared_type == *declared_type => {
                        let mut metadata = field.metadata().clone();
                        metadata.extend(column.metadata.clone());
                        field.with_metadata(metadata)
                    }
                    _ => field,
                }
            })
            .collect();
        Ok(Schema::new(fields))
    }

    fn filter_sql(&self, range: &KeyRange) -> (String, Vec<Value>) {
        let mut conditions = Vec::new();
        let mut parameters = Vec::new();
        if let KeyRange::Pages { lo, hi } = range {
            // SQLite's physical order is its rowid.
            parameters.push(Value::Integer(i64::try_from(*lo).unwrap_or(i64::MAX)));
            conditions.push(format!("rowid >= ?{}", parameters.len()));
            if let Some(upper) = hi {
                parameters.push(Value::Integer(i64::try_from(*upper).unwrap_or(i64::MAX)));
                conditions.push(format!("rowid < ?{}", parameters.len()));
            }
        }
        if let Some(split_pk) = &self.split_pk {
            let key = quote_identifier(split_pk);
            match range {
                KeyRange::Pages { .. } => {}
                KeyRange::Text { lo, hi } => {
                    if let Some(lower) = lo {
                        parameters.push(Value::Text(lower.clone()));
                        conditions.push(format!("{key} >= ?{}", parameters.len()));
                    }
                    if let Some(upper) = hi {
                        parameters.push(Value::Text(upper.clone()));
                        conditions.push(format!("{key} < ?{}", parameters.len()));
                    }
                    if lo.is_none() && hi.is_none() {
                        conditions.push(format!("{key} IS NOT NULL"));
                    }
                }
                KeyRange::All => {}
                KeyRange::Null => conditions.push(format!("{key} IS NULL")),
                KeyRange::Int { lo, hi } => {
                    if let Some(lower) = lo {
                        parameters.push(Value::Integer(*lower));
                        conditions.push(format!("{key} >= ?{}", parameters.len()));
                    }
                    if let Some(upper) = hi {
                        parameters.push(Value::Integer(*upper));
                        conditions.push(format!("{key} < ?{}", parameters.len()));
                    }
                    if lo.is_none() && hi.is_none() {
                        conditions.push(format!("{key} IS NOT NULL"));
                    }
                }
            }
        }
        if let Some(where_clause) = &self.where_clause {
            conditions.push(format!("({where_clause})"));
        }
        let sql = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        (sql, parameters)
    }
}

#[async_trait]
impl Source for SqliteSource {
    async fn schema(&self) -> Result<SchemaRef> {
        let source = self.clone();
        run_blocking(move || {
            let connection = source.location.open(true)?;
            Ok(Arc::new(source.resolve_schema(&connection)?))
        })
        .await
    }

    async fn plan(&self, request: &PlanRequest) -> Result<PlanOutput> {
        let source = self.clone();
        let request = *request;
        run_blocking(move || {
            let connection = source.location.open(true)?;
            let table_field = format!("{}.table", source.role);
            let declared = table_columns(&connection, &source.table, &source.location.path, &table_field)?;
            source.resolve_schema(&connection)?;
            let Some(split_pk) = &source.split_pk else {
                let (filter, parameters) = source.filter_sql(&KeyRange::All);
                let count: i64 = connection
                    .query_row(
                        &format!("SELECT COUNT(*) FROM {}{filter}", quote_identifier(&source.table)),
                        rusqlite::params_from_iter(parameters),
                        |row| row.get(0),
                    )
                    .map_err(ConnectorError::sqlite("count rows"))?;
                return Ok(PlanOutput { ranges: vec![KeyRange::All], estimated_rows: u64::try_from(count).unwrap_or(0), key_bounds: None });
            };
            let key_type = declared.iter().find(|(name, _)| name == split_pk).map(|(_, declared)| declared.clone());
            match key_type.as_deref().map(arrow_type_for_declared) {
                Some(integer) if integer.is_integer() => {}
                Some(other) => {
                    return Err(ConnectorError::config(
                        "source.split_pk",
                        format!("column \"{split_pk}\" is {other}; SQLite tables split on integer keys only (omit split_pk for one shard)"),
                    ))
                }
                None => {
                    let names: Vec<&str> = declared.iter().map(|(name, _)| name.as_str()).collect();
                    return Err(ConnectorError::config(
                        "source.split_pk",
                        format!("\"{split_pk}\" is not a column of {}; columns are: {}", source.table, names.join(", ")),
                    ));
                }
            }
            let (filter, parameters) = source.filter_sql(&KeyRange::All);
            let key = quote_identifier(split_pk);
            let (min, max, count): (Option<i64>, Option<i64>, i64) = connection
                .query_row(
                    &format!("SELECT MIN({key}), MAX({key}), COUNT(*) FROM {}{filter}", quote_identifier(&source.table)),
                    rusqlite::params_from_iter(parameters),
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .map_err(ConnectorError::sqlite("read split key bounds"))?;
            let estimated_rows = u64::try_from(count).unwrap_or(0);
            let mut ranges = match (min, max) {
                (Some(low), Some(high)) => even_ranges(low, high, request.target_shard_count(estimated_rows)),
                _ => vec![KeyRange::Int { lo: None, hi: None }],
            };
            let key_bounds = min.zip(max).map(|(min, max)| KeyBounds { min, max });
            ranges.push(KeyRange::Null);
            Ok(PlanOutput { ranges, estimated_rows, key_bounds })
        })
        .await
    }

    async fn read(&self, range: &KeyRange, output: &BatchSender) -> Result<()> {
        let source = self.clone();
        let range = range.clone();
        let sender = output.clone();
        run_blocking(move || {
            let connection = source.location.open(true)?;
            let schema = Arc::new(source.resolve_schema(&connection)?);
            let column_list: Vec<String> = schema
                .fields()
                .iter()
                .map(|field| quote_identifier(field.name()))
                .collect();
            let (filter, parameters) = source.filter_sql(&range);
            let sql = format!(
                "SELECT {} FROM {}{filter}",
                column_list.join(", "),
                quote_identifier(&source.table)
            );
            let mut statement = connection
                .prepare(&sql)
                .map_err(ConnectorError::sqlite("prepare read"))?;
            let mut rows = statement
                .query(rusqlite::params_from_iter(parameters))
                .map_err(ConnectorError::sqlite("start read"))?;
            let mut builders: Vec<ColumnBuilder> = schema
                .fields()
                .iter()
                .map(|field| {
                    ColumnBuilder::new(field.data_type(), source.batch_rows).map_err(|message| {
                        ConnectorError::Conversion {
                            column: field.name().clone(),
                            message,
                        }
                    })
                })
                .collect::<Result<_>>()?;
            let mut buffered = 0usize;
            while let Some(row) = rows.next().map_err(ConnectorError::sqlite("read row"))? {
                for (index, builder) in builders.iter_mut().enumerate() {
                    let value = row
                        .get_ref(index)
                        .map_err(ConnectorError::sqlite("read value"))?;
                    builder
                        .append(value)
                        .map_err(|message| ConnectorError::Conversion {
                            column: schema.field(index).name().clone(),
                            message,
                        })?;
                }
                buffered += 1;
                if buffered == source.batch_rows {
                    send_batch(&schema, &mut builders, &sender)?;
                    buffered = 0;
                }
            }
            if buffered > 0 {
                send_batch(&schema, &mut builders, &sender)?;
            }
            Ok(())
        })
        .await
    }
}

fn send_batch(
    schema: &SchemaRef,
    builders: &mut [ColumnBuilder],
    sender: &BatchSender,
) -> Result<()> {
    let columns = builders.iter_mut().map(ColumnBuilder::finish).collect();
    let batch = RecordBatch::try_new(Arc::clone(schema), columns).map_err(|source| {
        ConnectorError::Arrow {
            context: "assemble batch".into(),
            source,
        }
    })?;
    sender.blocking_send(batch)
}

/// Splits `[low, high]` into `count` even ranges; the first is open below and the last open
/// above, so keys outside the planned bounds are still read exactly once.
pub fn even_ranges(low: i64, high: i64, count: u64) -> Vec<KeyRange> {
    let span = i128::from(high) - i128::from(low) + 1;
    let shard_count = i128::from(count.max(1)).min(span.max(1));
    let step = (span + shard_count - 1) / shard_count;
    let mut ranges = Vec::new();
    let mut boundaries = Vec::new();
    let mut next = i128::from(low) + step;
    while next <= i128::from(high) {
        if let Ok(boundary) = i64::try_from(next) {
            boundaries.push(boundary);
        }
        next += step;
    }
    let mut lower = None;
    for boundary in boundaries {
        ranges.push(KeyRange::Int {
            lo: lower,
            hi: Some(boundary),
        });
        lower = Some(boundary);
    }
    ranges.push(KeyRange::Int {
        lo: lower,
        hi: None,
    });
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_ranges_cover_the_span_open_ended() {
        let ranges = even_ranges(1, 100, 4);
        assert_eq!(ranges.len(), 4);
        assert_eq!(
            ranges[0],
            KeyRange::Int {
                lo: None,
                hi: Some(26)
            }
        );
        assert_eq!(
            ranges[3],
            KeyRange::Int {
                lo: Some(76),
                hi: None
            }
        );
        assert_eq!(
            even_ranges(5, 5, 8),
            vec![KeyRange::Int { lo: None, hi: None }]
        );
        assert_eq!(even_ranges(i64::MIN, i64::MAX, 3).len(), 3);
    }
}
