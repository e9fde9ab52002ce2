//! Connection options of a `mysql` / `mariadb` connection, and opening a session.

use crate::error::{ConnectorError, Result};
use crate::options::OptionReader;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use sluice_common::spec::ConnectionConfig;
use std::time::Duration;

/// Default port of a MySQL / MariaDB server.
pub const DEFAULT_PORT: u16 = 3306;
/// Default name of the commit-marker table (created in the connection's database).
pub const DEFAULT_COMMIT_TABLE: &str = "_sluice_commits";

/// The session settings every connection of this connector runs with: utf8mb4, UTC (so
/// `timestamp` columns read and write UTC instants), strict SQL mode (a value that does not fit
/// is an error, never a silent truncation), and no backslash escapes in string literals (the
/// writer escapes by doubling quotes only).
pub const SESSION_SETUP: &[&str] = &[
    "SET NAMES utf8mb4",
    "SET time_zone = '+00:00'",
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_BACKSLASH_ESCAPES,NO_AUTO_VALUE_ON_ZERO,ERROR_FOR_DIVISION_BY_ZERO'",
];

/// What a zero date (`0000-00-00`, or a date with a zero month or day) becomes when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroDate {
    /// The row is a dirty record naming the column (default).
    Dirty,
    /// The value is read as NULL.
    Null,
}

/// Resolved options of a MySQL connection. `Debug` never shows the password.
#[derive(Clone)]
pub struct MySqlSettings {
    /// Server host name or address.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Database (schema) name.
    pub database: String,
    /// User name.
    pub user: String,
    password: Option<String>,
    /// Commit-marker table in the connection's database.
    pub commit_table: String,
    /// Whether `tinyint(1)` columns are read as booleans.
    pub tinyint1_as_boolean: bool,
    /// What zero dates become.
    pub zero_date: ZeroDate,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// Whether the sink loads `insert`/`truncate` batches with `LOAD DATA LOCAL INFILE`.
    pub load_data: bool,
}

impl std::fmt::Debug for MySqlSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("MySqlSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("commit_table", &self.commit_table)
            .field("tinyint1_as_boolean", &self.tinyint1_as_boolean)
            .field("zero_date", &self.zero_date)
            .field("load_data", &self.load_data)
            .finish()
    }
}

impl MySqlSettings {
    /// Reads the options of `connection`; `role` (`source` or `sink`) prefixes field paths in
    /// errors.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] naming the option for a missing or malformed value.
    pub fn from_connection(connection: &ConnectionConfig, role: &str) -> Result<Self> {
        let options = OptionReader::new(connection, role);
        let port = options.port(DEFAULT_PORT)?;
        let load_data = options.flag("load_data", false)?;
        let tinyint1_as_boolean = options.flag("tinyint1_as_boolean", true)?;
        let zero_date = match connection.option("zero_date").map(str::trim) {
            None | Some("dirty") => ZeroDate::Dirty,
            Some("null") => ZeroDate::Null,
            Some(other) => {
                return Err(ConnectorError::config(
                    options.field("zero_date"),
                    format!("\"{other}\" is not one of dirty, null"),
                ))
            }
        };
        let connect_timeout = options.millis("connect_timeout_ms", Duration::from_secs(30))?;
        let commit_table = connection
            .option("commit_table")
            .unwrap_or(DEFAULT_COMMIT_TABLE)
            .to_string();
        Ok(MySqlSettings {
            host: options.required("host")?,
            port,
            database: options.required("database")?,
            user: options.required("user")?,
            password: options.password(),
            commit_table,
            tinyint1_as_boolean,
            zero_date,
            connect_timeout,
            load_data,
        })
    }

    /// Returns `host:port/database` for messages (never the password).
    pub fn describe(&self) -> String {
        format!("{}:{}/{}", self.host, self.port, self.database)
    }

    /// Opens a session with [`SESSION_SETUP`] applied.
    ///
    /// # Errors
    /// [`ConnectorError::MySql`] when the server cannot be reached in time or refuses the login.
    pub async fn connect(&self) -> Result<Conn> {
        let options = OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(self.password.clone())
            .db_name(Some(self.database.clone()))
            .prefer_socket(false)
            .init(
                SESSION_SETUP
                    .iter()
                    .map(|statement| statement.to_string())
                    .collect(),
            );
        let context = format!("connect to {} as {}", self.describe(), self.user);
        let mut conn = match tokio::time::timeout(self.connect_timeout, Conn::new(options)).await {
            Ok(result) => result.map_err(ConnectorError::mysql(context))?,
            Err(_) => {
                return Err(ConnectorError::Task(format!(
                    "{context}: no answer within {} ms",
                    self.connect_timeout.as_millis()
                )))
            }
        };
        // `init` statements ran; check that the character set really is utf8mb4.
        let charset: Option<String> = conn
            .query_first("SELECT @@character_set_client")
            .await
            .map_err(ConnectorError::mysql("read session character set"))?;
        if charset.as_deref() != Some("utf8mb4") {
            return Err(ConnectorError::Unsupported(format!(
                "{} does not accept the utf8mb4 character set (session has {charset:?})",
                self.describe()
            )));
        }
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(pairs: &[(&str, &str)]) -> ConnectionConfig {
        let mut config = ConnectionConfig {
            kind: "mysql".into(),
            ..Default::default()
        };
        for (name, value) in pairs {
            config.options.insert((*name).into(), (*value).into());
        }
        config.secrets.insert("password".into(), "hunter2".into());
        config
    }

    #[test]
    fn defaults_and_masking() {
        let settings = MySqlSettings::from_connection(
            &connection(&[("host", "h"), ("database", "d"), ("user", "u")]),
            "source",
        )
        .expect("valid");
        assert_eq!(settings.port, DEFAULT_PORT);
        assert!(settings.tinyint1_as_boolean);
        assert_eq!(settings.zero_date, ZeroDate::Dirty);
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn bad_options_are_named() {
        let error =
            MySqlSettings::from_connection(&connection(&[("host", "h"), ("user", "u")]), "sink")
                .expect_err("no database");
        assert_eq!(
            error.to_string(),
            "sink.connection.database: is required for a mysql connection"
        );
        let error = MySqlSettings::from_connection(
            &connection(&[
                ("host", "h"),
                ("database", "d"),
                ("user", "u"),
                ("zero_date", "zero"),
            ]),
            "source",
        )
        .expect_err("zero_date");
        assert_eq!(
            error.to_string(),
            "source.connection.zero_date: \"zero\" is not one of dirty, null"
        );
    }
}
