//! `settings.dirty_table`: a table in the sink's own database that receives the dirty records of
//! each shard inside the shard's transaction, so it holds exactly the records of the attempt that
//! committed (a rolled-back or already-committed attempt leaves nothing there).
//!
//! Columns: `job_id`, `shard_id`, `attempt`, `stage` (`read`, `transform`, `write`),
//! `column_name`, `error`, `row_values` (the row as JSON) and `recorded_at`. Each sink creates the
//! table when missing (in `prepare`) and inserts with its own parameter syntax.

use crate::channel::DirtySample;
use crate::dirty_store::DirtyStage;
use crate::ShardIdentity;

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
