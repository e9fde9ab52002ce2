//! `settings.dirty_table`: a table in the sink's own database that receives the dirty records of
//! each shard inside the shard's transaction, so it holds exactly the records of the attempt that
//! committed (a rolled-back or already-committed attempt leaves nothing there).
//!
//! Columns: `job_id`, `shard_id`, `attempt`, `stage` (`read`, `transform`, `write`),
//! `column_name`, `error`, `row_values` (the row as JSON) and `recorded_at`. Each sink creates the
//! table when missing (in `prepare`) and inserts with its own parameter syntax.

use crate::channel::DirtySample;
use crate::dirty_store::DirtyStage;
use crate::error::{ConnectorError, Result};
use crate::ShardIdentity;
use sluice_common::spec::ConnectionConfig;

/// Rows per INSERT statement.
pub const ROWS_PER_INSERT: usize = 500;

/// Column names of the dirty table, in insert order.
pub const COLUMNS: [&str; 7] = [
    "job_id",
    "shard_id",
    "attempt",
    "stage",
    "column_name",
    "error",
    "row_values",
];

/// One dirty record as the table stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirtyRow {
    /// Job id.
    pub job_id: String,
    /// Shard number.
    pub shard_id: i64,
    /// Attempt number.
    pub attempt: i64,
    /// `read`, `transform` or `write`.
    pub stage: &'static str,
    /// Column at fault ("" when unknown).
    pub column: String,
    /// The error.
    pub error: String,
    /// The row as JSON.
    pub row: String,
}

/// Turns a shard's kept dirty records into table rows.
pub fn rows(shard: &ShardIdentity, records: Vec<(DirtyStage, DirtySample)>) -> Vec<DirtyRow> {
    records
        .into_iter()
        .map(|(stage, sample)| DirtyRow {
            job_id: shard.job_id.as_str().to_string(),
            shard_id: i64::from(shard.shard_id.0),
            attempt: i64::from(shard.attempt.0),
            stage: match stage {
                DirtyStage::Read => "read",
                DirtyStage::Transform => "transform",
                DirtyStage::Write => "write",
            },
            column: sample.column,
            error: sample.reason,
            row: sample.row,
        })
        .collect()
}

/// The SQL dialect of the sink's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL and AnalyticDB for PostgreSQL (`$1` placeholders).
    Postgres,
    /// MySQL and MariaDB (`?` placeholders, InnoDB).
    MySql,
    /// SQLite (`?` placeholders).
    Sqlite,
}

/// `CREATE TABLE IF NOT EXISTS` for the dirty table.
pub fn create_sql(quoted_table: &str, dialect: Dialect) -> String {
    let (short, text, timestamp, now, suffix) = match dialect {
        Dialect::Postgres => ("TEXT", "TEXT", "TIMESTAMPTZ", "now()", ""),
        Dialect::MySql => (
            "VARCHAR(64)",
            "LONGTEXT",
            "TIMESTAMP(6)",
            "CURRENT_TIMESTAMP(6)",
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        ),
        Dialect::Sqlite => ("TEXT", "TEXT", "TEXT", "CURRENT_TIMESTAMP", ""),
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {quoted_table} (job_id {short} NOT NULL, shard_id BIGINT NOT NULL, \
         attempt BIGINT NOT NULL, stage {short} NOT NULL, column_name {text} NOT NULL, error {text} NOT NULL, \
         row_values {text} NOT NULL, recorded_at {timestamp} NOT NULL DEFAULT {now}){suffix}"
    )
}

/// `INSERT INTO table (columns) VALUES` with `rows` groups of placeholders.
pub fn insert_sql(quoted_table: &str, dialect: Dialect, rows: usize) -> String {
    let width = COLUMNS.len();
    let mut sql = format!(
        "INSERT INTO {quoted_table} ({}) VALUES ",
        COLUMNS.join(", ")
    );
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..width {
            if column > 0 {
                sql.push_str(", ");
            }
            if dialect == Dialect::Postgres {
                sql.push_str(&format!("${}", row * width + column + 1));
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

/// Inserts `rows` into the PostgreSQL table `quoted_table` (in the client's open transaction,
/// if any).
///
/// # Errors
/// [`ConnectorError::Postgres`] when an insert fails.
pub async fn insert_postgres(
    client: &tokio_postgres::Client,
    quoted_table: &str,
    rows: &[DirtyRow],
) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = insert_sql(quoted_table, Dialect::Postgres, chunk.len());
        let mut parameters: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            Vec::with_capacity(chunk.len() * COLUMNS.len());
        for row in chunk {
            parameters.push(&row.job_id);
            parameters.push(&row.shard_id);
            parameters.push(&row.attempt);
            parameters.push(&row.stage);
            parameters.push(&row.column);
            parameters.push(&row.error);
            parameters.push(&row.row);
        }
        client
            .execute(sql.as_str(), &parameters)
            .await
            .map_err(ConnectorError::postgres(format!(
                "write dirty records into {quoted_table}"
            )))?;
    }
    Ok(())
}

/// Inserts `rows` into the MySQL/MariaDB table `quoted_table` (in the connection's open
/// transaction, if any).
///
/// # Errors
/// [`ConnectorError::MySql`] when an insert fails.
pub async fn insert_mysql(
    conn: &mut mysql_async::Conn,
    quoted_table: &str,
    rows: &[DirtyRow],
) -> Result<()> {
    use mysql_async::prelude::Queryable;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = insert_sql(quoted_table, Dialect::MySql, chunk.len());
        let mut parameters: Vec<mysql_async::Value> =
            Vec::with_capacity(chunk.len() * COLUMNS.len());
        for row in chunk {
            parameters.push(row.job_id.as_str().into());
            parameters.push(row.shard_id.into());
            parameters.push(row.attempt.into());
            parameters.push(row.stage.into());
            parameters.push(row.column.as_str().into());
            parameters.push(row.error.as_str().into());
            parameters.push(row.row.as_str().into());
        }
        conn.exec_drop(sql, mysql_async::Params::Positional(parameters))
            .await
            .map_err(ConnectorError::mysql(format!(
                "write dirty records into {quoted_table}"
            )))?;
    }
    Ok(())
}

/// Inserts `rows` into the SQLite table `quoted_table` (in the open transaction, if any).
///
/// # Errors
/// [`ConnectorError::Sqlite`] when an insert fails.
pub fn insert_sqlite(
    connection: &rusqlite::Connection,
    quoted_table: &str,
    rows: &[DirtyRow],
) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = insert_sql(quoted_table, Dialect::Sqlite, chunk.len());
        let mut values: Vec<rusqlite::types::Value> =
            Vec::with_capacity(chunk.len() * COLUMNS.len());
        for row in chunk {
            values.push(row.job_id.clone().into());
            values.push(row.shard_id.into());
            values.push(row.attempt.into());
            values.push(row.stage.to_string().into());
            values.push(row.column.clone().into());
            values.push(row.error.clone().into());
            values.push(row.row.clone().into());
        }
        connection
            .execute(&sql, rusqlite::params_from_iter(values))
            .map_err(ConnectorError::sqlite(format!(
                "write dirty records into {quoted_table}"
            )))?;
    }
    Ok(())
}

/// Writes a committed shard's dirty records into `table` of the data source `connection`
/// (`settings.dirty_data`), creating the table when missing. Runs after the shard committed, in
/// its own transaction: a worker lost between the two leaves the records only in the cluster's
/// dirty-data store.
///
/// # Errors
/// [`ConnectorError::Config`] for a connection type without tables, or the store's errors.
pub async fn write_to_data_source(
    connection: &ConnectionConfig,
    table: &str,
    rows: Vec<DirtyRow>,
) -> Result<()> {
    const ROLE: &str = "settings.dirty_data";
    match connection.kind.as_str() {
        "postgresql" | "adb_postgresql" => {
            let settings = crate::postgres::config::PgSettings::from_connection(connection, ROLE)?;
            let quoted = crate::postgres::TableName::parse(table, &settings.schema).quoted();
            let client = settings.connect().await?;
            client
                .batch_execute(&create_sql(&quoted, Dialect::Postgres))
                .await
                .map_err(ConnectorError::postgres(format!(
                    "create dirty table {quoted}"
                )))?;
            insert_postgres(&client, &quoted, &rows).await
        }
        "mysql" | "mariadb" => {
            use mysql_async::prelude::Queryable;
            let settings = crate::mysql::config::MySqlSettings::from_connection(connection, ROLE)?;
            let quoted = crate::mysql::TableName::parse(table, &settings.database).quoted();
            let mut conn = settings.connect().await?;
            conn.query_drop(create_sql(&quoted, Dialect::MySql))
                .await
                .map_err(ConnectorError::mysql(format!(
                    "create dirty table {quoted}"
                )))?;
            insert_mysql(&mut conn, &quoted, &rows).await
        }
        "sqlite" => {
            let location = crate::sqlite::SqliteLocation::from_connection(connection, ROLE)?;
            let quoted = crate::sqlite::quote_identifier(table);
            crate::sqlite::run_blocking(move || {
                let sqlite = location.open(false)?;
                sqlite
                    .execute_batch(&create_sql(&quoted, Dialect::Sqlite))
                    .map_err(ConnectorError::sqlite(format!(
                        "create dirty table {quoted}"
                    )))?;
                insert_sqlite(&sqlite, &quoted, &rows)
            })
            .await
        }
        other => Err(ConnectorError::config(
            "settings.dirty_data.datasource",
            format!("a {other} data source has no tables for dirty records"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_number_their_placeholders_per_dialect() {
        let sql = insert_sql("d", Dialect::Postgres, 2);
        assert!(sql.ends_with("($8, $9, $10, $11, $12, $13, $14)"), "{sql}");
        let sql = insert_sql("d", Dialect::MySql, 1);
        assert!(sql.ends_with("(?, ?, ?, ?, ?, ?, ?)"), "{sql}");
    }
}
