//! MySQL and MariaDB reader and writer over mysql_async.
//!
//! - [`MySqlSource`] plans key-range shards of a table (integer and date keys: even ranges
//!   between `MIN` and `MAX`; character keys: boundaries sampled from the table and compared in
//!   the column's collation; a `split_pk IS NULL` shard for nullable keys) and reads each with a
//!   streamed result set (binary protocol, one row in memory at a time on the driver side),
//!   decoded straight into Arrow builders ([`decode`]).
//! - [`MySqlSink`] writes each shard with multi-row `INSERT` statements rendered from Arrow
//!   arrays as escaped literals ([`encode`]), inside one transaction with the shard's commit
//!   marker; a statement the server refuses for its data is retried in halves, then row by row
//!   inside savepoints, so only the rows the server refuses become dirty records.
//!
//! Every session runs with utf8mb4, `time_zone = '+00:00'` and a strict SQL mode
//! ([`config::SESSION_SETUP`]). See [`types`] for the type mapping and
//! `docs/connectors/mysql.md` for options, splitting and exactly-once.

pub mod config;
pub mod decode;
pub mod encode;
mod sink;
mod source;
pub mod split;
pub mod types;

pub use config::{MySqlSettings, ZeroDate};
pub use sink::MySqlSink;
pub use source::MySqlSource;

/// Returns `name` quoted as a MySQL identifier.
pub fn quote_identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Returns `value` quoted as a MySQL string literal. Only valid in sessions with
/// `NO_BACKSLASH_ESCAPES` (every session of this connector), where a quote is escaped by
/// doubling it and no other character is special.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A table name, optionally qualified by its database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    /// Database (schema).
    pub database: String,
    /// Table.
    pub table: String,
}

impl TableName {
    /// Parses `table`, `database.table` or their backquoted forms.
    pub fn parse(name: &str, default_database: &str) -> TableName {
        let trimmed = name.trim();
        let unquote = |part: &str| {
            let part = part.trim();
            if part.len() >= 2 && part.starts_with('`') && part.ends_with('`') {
                part[1..part.len() - 1].replace("``", "`")
            } else {
                part.to_string()
            }
        };
        if trimmed.starts_with('`') && trimmed.ends_with('`') && !trimmed.contains("`.`") {
            return TableName {
                database: default_database.to_string(),
                table: unquote(trimmed),
            };
        }
        match trimmed.split_once('.') {
            Some((database, table)) => TableName {
                database: unquote(database),
                table: unquote(table),
            },
            None => TableName {
                database: default_database.to_string(),
                table: unquote(trimmed),
            },
        }
    }

    /// Returns `` `database`.`table` ``.
    pub fn quoted(&self) -> String {
        format!(
            "{}.{}",
            quote_identifier(&self.database),
            quote_identifier(&self.table)
        )
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}.{}", self.database, self.table)
    }
}

/// Renders a driver error with the server's code, SQLSTATE and message.
pub fn describe_error(error: &mysql_async::Error) -> String {
    match error {
        mysql_async::Error::Server(server) => format!(
            "{} (error {}, SQLSTATE {})",
            server.message, server.code, server.state
        ),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            text
        }
    }
}

/// Server error codes that are about the data of the rows being written, beyond SQLSTATE
/// classes 22 and 23: incorrect value (1366), incorrect datetime (1292), truncated (1265),
/// check constraint (3819 in MySQL, 4025 in MariaDB), out of range (1690).
const ROW_ERROR_CODES: &[u16] = &[1366, 1292, 1265, 1367, 3819, 4025, 1690, 1411];

/// Server error codes worth another attempt: lock wait timeout (1205), deadlock (1213),
/// too many connections (1040), server shutdown (1053), lost connection (2013), gone away
/// (2006), read-only (1290, a failover in progress).
const RETRYABLE_CODES: &[u16] = &[1205, 1213, 1040, 1053, 2013, 2006, 1290];

/// Returns whether a driver error is about the data of the rows being written (a constraint,
/// a value out of range), so that retrying smaller pieces isolates the bad rows.
pub fn is_row_error(error: &mysql_async::Error) -> bool {
    match error {
        mysql_async::Error::Server(server) => {
            server.state.starts_with("22")
                || server.state.starts_with("23")
                || ROW_ERROR_CODES.contains(&server.code)
        }
        _ => false,
    }
}

/// Returns whether a driver error may go away on another attempt: I/O errors, lost
/// connections, deadlocks, lock timeouts.
pub fn is_retryable_error(error: &mysql_async::Error) -> bool {
    match error {
        mysql_async::Error::Server(server) => {
            RETRYABLE_CODES.contains(&server.code) || server.state.starts_with("08")
        }
        mysql_async::Error::Io(_) => true,
        mysql_async::Error::Driver(_) => true,
        mysql_async::Error::Other(_) | mysql_async::Error::Url(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_quote_and_parse() {
        assert_eq!(quote_identifier("a`b"), "`a``b`");
        assert_eq!(quote_literal("it's \\ ok"), "'it''s \\ ok'");
        assert_eq!(
            TableName::parse("d.t", "x"),
            TableName {
                database: "d".into(),
                table: "t".into()
            }
        );
        assert_eq!(TableName::parse("t", "x").quoted(), "`x`.`t`");
        assert_eq!(TableName::parse("`a.b`", "x").table, "a.b");
        assert_eq!(TableName::parse("`d`.`t`", "x").database, "d");
    }
}
