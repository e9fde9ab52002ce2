//! The `_sluice_columns` side table: the Arrow field metadata of the columns of tables a
//! SQLite sink created (for example `sluice.pg_type = varchar(20)`), which a declared column
//! type cannot carry. See [`super::types`] for why metadata lives here and types do not.
//!
//! One row per column that had metadata: `(table_name, column_name, declared_type, metadata)`,
//! `metadata` a JSON object of strings. The reader applies a row only while the column's
//! declared type is still the one recorded, so a table dropped and recreated by another tool
//! does not inherit stale metadata.

use super::quote_identifier;
use crate::error::{ConnectorError, Result};
use rusqlite::{Connection, OptionalExtension};
use std::collections::{BTreeMap, HashMap};

/// Name of the side table holding field metadata of sink-created tables.
pub const COLUMNS_TABLE: &str = "_sluice_columns";

/// What the side table records about one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordedColumn {
    /// The declared type the sink gave the column.
    pub(crate) declared_type: String,
    /// The Arrow field's metadata.
    pub(crate) metadata: BTreeMap<String, String>,
}

/// Replaces what the side table holds for `table` by `columns` (name, declared type,
/// metadata); columns without metadata get no row. Runs inside the caller's transaction.
pub(crate) fn record_columns(
    connection: &Connection,
    table: &str,
    columns: &[(String, String, BTreeMap<String, String>)],
) -> Result<()> {
    connection
        .execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {} (table_name TEXT NOT NULL, column_name TEXT NOT NULL, \
             declared_type TEXT NOT NULL, metadata TEXT NOT NULL, PRIMARY KEY (table_name, column_name))",
            quote_identifier(COLUMNS_TABLE)
        ))
        .map_err(ConnectorError::sqlite("create column-metadata table"))?;
    connection
        .execute(
            &format!(
                "DELETE FROM {} WHERE table_name = ?1",
                quote_identifier(COLUMNS_TABLE)
            ),
            [table],
        )
        .map_err(ConnectorError::sqlite("clear column metadata"))?;
    let mut insert = connection
        .prepare(&format!(
            "INSERT INTO {} (table_name, column_name, declared_type, metadata) VALUES (?1, ?2, ?3, ?4)",
            quote_identifier(COLUMNS_TABLE)
        ))
        .map_err(ConnectorError::sqlite("prepare column metadata"))?;
    for (column, declared_type, metadata) in columns {
        if metadata.is_empty() {
            continue;
        }
        let metadata_json =
            serde_json::to_string(metadata).map_err(|error| ConnectorError::Conversion {
                column: column.clone(),
                message: format!("cannot encode field metadata as JSON: {error}"),
            })?;
        insert
            .execute(rusqlite::params![
                table,
                column,
                declared_type,
                metadata_json
            ])
            .map_err(ConnectorError::sqlite(format!(
                "record metadata of column {column}"
            )))?;
    }
    Ok(())
}

/// Returns what the side table records for the columns of `table`, by column name; empty when
/// the file has no side table (a file written by another tool). Rows whose metadata is not a
/// JSON object of strings are skipped with a warning.
pub(crate) fn recorded_columns(
    connection: &Connection,
    table: &str,
) -> Result<HashMap<String, RecordedColumn>> {
    let exists: Option<i64> = connection
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [COLUMNS_TABLE],
            |row| row.get(0),
        )
        .optional()
        .map_err(ConnectorError::sqlite("look for the column-metadata table"))?;
    if exists.is_none() {
        return Ok(HashMap::new());
    }
    let mut statement = connection
        .prepare(&format!(
            "SELECT column_name, declared_type, metadata FROM {} WHERE table_name = ?1",
            quote_identifier(COLUMNS_TABLE)
        ))
        .map_err(ConnectorError::sqlite("read column metadata"))?;
    let rows = statement
        .query_map([table], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .map_err(ConnectorError::sqlite("read column metadata"))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(ConnectorError::sqlite("read column metadata"))?;
    let mut recorded = HashMap::with_capacity(rows.len());
    for (column, declared_type, metadata_json) in rows {
        match serde_json::from_str::<BTreeMap<String, String>>(&metadata_json) {
            Ok(metadata) => {
                recorded.insert(
                    column,
                    RecordedColumn {
                        declared_type,
                        metadata,
                    },
                );
            }
            Err(error) => tracing::warn!(
                table,
                column,
                %error,
                "ignoring unreadable field metadata in {COLUMNS_TABLE}"
            ),
        }
    }
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_replaced_per_table_and_read_back() {
        let connection = Connection::open_in_memory().expect("open");
        assert!(recorded_columns(&connection, "t")
            .expect("no side table")
            .is_empty());
        let metadata = BTreeMap::from([("sluice.pg_type".to_string(), "varchar(20)".to_string())]);
        record_columns(
            &connection,
            "t",
            &[
                ("a".into(), "TEXT".into(), metadata.clone()),
                ("b".into(), "INTEGER".into(), BTreeMap::new()),
            ],
        )
        .expect("record");
        record_columns(
            &connection,
            "other",
            &[("a".into(), "BLOB".into(), metadata.clone())],
        )
        .expect("record other");
        let recorded = recorded_columns(&connection, "t").expect("read");
        assert_eq!(recorded.len(), 1);
        assert_eq!(
            recorded.get("a"),
            Some(&RecordedColumn {
                declared_type: "TEXT".into(),
                metadata
            })
        );
        record_columns(&connection, "t", &[]).expect("replace");
        assert!(recorded_columns(&connection, "t").expect("read").is_empty());
        assert_eq!(
            recorded_columns(&connection, "other").expect("read").len(),
            1
        );
    }
}
