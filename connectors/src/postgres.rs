//! PostgreSQL reader and writer (also AnalyticDB for PostgreSQL / Greenplum), speaking binary
//! `COPY` both ways over tokio-postgres.
//!
//! - [`PostgresSource`] plans shards from the split key's statistics and reads each with
//!   `COPY (SELECT ...) TO STDOUT (FORMAT binary)`, decoded straight into Arrow arrays
//!   ([`copy_decode`]).
//! - [`PostgresSink`] writes each shard with `COPY ... FROM STDIN (FORMAT binary)` encoded
//!   straight from Arrow arrays ([`copy_encode`]), inside one transaction with the shard's
//!   commit marker; failed batches are retried in smaller pieces, then row by row inside
//!   savepoints, so only the rows the database refuses become dirty records.
//!
//! See [`types`] for the type mapping and `docs/connectors/postgresql.md` for options,
//! splitting and exactly-once.

mod column_buffers;
mod column_encode;
pub mod config;
pub mod copy_decode;
pub mod copy_encode;
pub mod numeric;
pub mod pool;
mod sink;
mod source;
pub mod split;
pub mod types;

pub use config::{PgFlavor, PgSettings};
pub use sink::PostgresSink;
pub use source::PostgresSource;

use tokio_postgres::error::SqlState;

/// Returns `name` quoted as a PostgreSQL identifier.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Returns `value` quoted as a PostgreSQL string literal (standard-conforming strings, which
/// every session of this connector turns on).
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A table name resolved against the connection's default schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    /// Schema.
    pub schema: String,
    /// Table.
    pub table: String,
}

impl TableName {
    /// Parses `table` or `schema.table` (a name containing a dot can be written
    /// `"my.table"`, in double quotes).
    pub fn parse(name: &str, default_schema: &str) -> TableName {
        let trimmed = name.trim();
        if trimmed.starts_with('"')
            && trimmed.ends_with('"')
            && trimmed.len() >= 2
            && !trimmed[1..trimmed.len() - 1].contains("\".\"")
        {
            return TableName {
                schema: default_schema.to_string(),
                table: trimmed[1..trimmed.len() - 1].replace("\"\"", "\""),
            };
        }
        match trimmed.split_once('.') {
            Some((schema, table)) => TableName {
                schema: schema.trim_matches('"').to_string(),
                table: table.trim_matches('"').to_string(),
            },
            None => TableName {
                schema: default_schema.to_string(),
                table: trimmed.to_string(),
            },
        }
    }

    /// Returns `"schema"."table"`.
    pub fn quoted(&self) -> String {
        format!(
            "{}.{}",
            quote_identifier(&self.schema),
            quote_identifier(&self.table)
        )
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}.{}", self.schema, self.table)
    }
}

/// Renders a driver error with the server's message, SQLSTATE, detail and hint.
pub fn describe_error(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => {
            let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                text.push_str(&format!("; detail: {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text
        }
    }
}

/// Returns whether a driver error may go away on another attempt: lost connections, server
/// shutdowns, serialization failures, deadlocks, lock timeouts and resource shortages are;
/// SQL errors (undefined table, permission denied, syntax) are not.
pub fn is_retryable_error(error: &tokio_postgres::Error) -> bool {
    let Some(code) = error.code() else {
        // No SQLSTATE: an I/O or protocol error, a closed connection, a timeout.
        return true;
    };
    let class = &code.code()[..2];
    matches!(class, "08" | "40" | "53" | "57") && *code != SqlState::QUERY_CANCELED
        || *code == SqlState::LOCK_NOT_AVAILABLE
}

/// Returns whether a driver error is about the data of the rows being written (a constraint,
/// a value out of range), so that retrying smaller pieces isolates the bad rows.
pub fn is_row_error(error: &tokio_postgres::Error) -> bool {
    error
        .code()
        .is_some_and(|code| matches!(&code.code()[..2], "22" | "23"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_quote_and_parse() {
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(
            TableName::parse("s.t", "public"),
            TableName {
                schema: "s".into(),
                table: "t".into()
            }
        );
        assert_eq!(TableName::parse("t", "public").quoted(), "\"public\".\"t\"");
        assert_eq!(
            TableName::parse("\"a.b\"", "x"),
            TableName {
                schema: "x".into(),
                table: "a.b".into()
            }
        );
    }
}
