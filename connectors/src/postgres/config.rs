//! Connection options of a `postgresql` / `adb_postgresql` connection, and opening a session.

use super::pool;
use crate::error::{ConnectorError, Result};
use crate::options::OptionReader;
use sluice_common::spec::ConnectionConfig;
use std::time::Duration;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, NoTls};

/// Default port of a PostgreSQL server.
pub const DEFAULT_PORT: u16 = 5432;
/// Default schema of unqualified table names.
pub const DEFAULT_SCHEMA: &str = "public";
/// Default name of the commit-marker table (created in the connection's schema).
pub const DEFAULT_COMMIT_TABLE: &str = "_sluice_commits";

/// Which flavour of server the connection points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgFlavor {
    /// PostgreSQL itself.
    Postgres,
    /// AnalyticDB for PostgreSQL / Greenplum (MPP: distribution keys, no `TABLESAMPLE`).
    AnalyticDb,
}

/// Resolved options of a PostgreSQL connection. `Debug` never shows the password.
#[derive(Clone)]
pub struct PgSettings {
    /// Server host name or address.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Database name.
    pub database: String,
    /// User name.
    pub user: String,
    password: Option<String>,
    /// Schema of unqualified table names.
    pub schema: String,
    /// Commit-marker table (schema-qualified when it contains a dot).
    pub commit_table: String,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// Server flavour.
    pub flavor: PgFlavor,
}

impl std::fmt::Debug for PgSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PgSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("schema", &self.schema)
            .field("commit_table", &self.commit_table)
            .field("flavor", &self.flavor)
            .finish()
    }
}

impl PgSettings {
    /// Reads the options of `connection`; `role` (`source` or `sink`) prefixes field paths in
    /// errors.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] naming the option for a missing or malformed value, or for an
    /// `sslmode` other than `disable`.
    pub fn from_connection(connection: &ConnectionConfig, role: &str) -> Result<Self> {
        let options = OptionReader::new(connection, role);
        let flavor = match connection.kind.as_str() {
            "adb_postgresql" => PgFlavor::AnalyticDb,
            _ => PgFlavor::Postgres,
        };
        let port = options.port(DEFAULT_PORT)?;
        if let Some(mode) = connection.option("sslmode") {
            if mode != "disable" {
                return Err(ConnectorError::config(
                    options.field("sslmode"),
                    format!("\"{mode}\" is not supported yet: only \"disable\" is (TLS to PostgreSQL is not implemented)"),
                ));
            }
        }
        let connect_timeout = options.millis("connect_timeout_ms", Duration::from_secs(30))?;
        let schema = connection
            .option("schema")
            .unwrap_or(DEFAULT_SCHEMA)
            .to_string();
        let commit_table = connection
            .option("commit_table")
            .unwrap_or(DEFAULT_COMMIT_TABLE)
            .to_string();
        Ok(PgSettings {
            host: options.required("host")?,
            port,
            database: options.required("database")?,
            user: options.required("user")?,
            password: options.password(),
            schema,
            commit_table,
            connect_timeout,
            flavor,
        })
    }

    /// Gives a session at rest (no transaction open, no COPY running) back for the next shard.
    pub fn release(&self, client: Client) {
        pool::give_back(&self.session_key(), client);
    }

    fn session_key(&self) -> pool::SessionKey {
        pool::SessionKey {
            host: self.host.clone(),
            port: self.port,
            database: self.database.clone(),
            user: self.user.clone(),
            password: self.password.clone(),
        }
    }

    /// Returns `host:port/database` for messages (never the password).
    pub fn describe(&self) -> String {
        format!("{}:{}/{}", self.host, self.port, self.database)
    }

    /// Opens a session with the settings the connector relies on: UTF-8, ISO dates, UTC,
    /// standard-conforming strings; a session an earlier shard gave back ([`Self::release`])
    /// when one is idle.
    ///
    /// # Errors
    /// [`ConnectorError::Postgres`] when the server cannot be reached or refuses the login.
    pub async fn connect(&self) -> Result<Client> {
        if let Some(client) = pool::take(&self.session_key()) {
            return Ok(client);
        }
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .dbname(&self.database)
            .user(&self.user)
            .application_name("sluice")
            .connect_timeout(self.connect_timeout)
            .ssl_mode(SslMode::Disable);
        if let Some(password) = &self.password {
            config.password(password);
        }
        let (client, connection) =
            config
                .connect(NoTls)
                .await
                .map_err(ConnectorError::postgres(format!(
                    "connect to {} as {}",
                    self.describe(),
                    self.user
                )))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "postgres connection ended with an error");
            }
        });
        client
            .batch_execute(
                "SET client_encoding = 'UTF8'; SET DateStyle = 'ISO, YMD'; SET TIME ZONE 'UTC'; \
                 SET standard_conforming_strings = on; SET IntervalStyle = 'postgres'",
            )
            .await
            .map_err(ConnectorError::postgres("set session options"))?;
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(pairs: &[(&str, &str)]) -> ConnectionConfig {
        let mut config = ConnectionConfig {
            kind: "postgresql".into(),
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
        let settings = PgSettings::from_connection(
            &connection(&[("host", "h"), ("database", "d"), ("user", "u")]),
            "source",
        )
        .expect("valid");
        assert_eq!(settings.port, DEFAULT_PORT);
        assert_eq!(settings.schema, "public");
        let debug = format!("{settings:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn bad_options_are_named() {
        let error =
            PgSettings::from_connection(&connection(&[("host", "h"), ("user", "u")]), "sink")
                .expect_err("no database");
        assert_eq!(
            error.to_string(),
            "sink.connection.database: is required for a postgresql connection"
        );
        let error = PgSettings::from_connection(
            &connection(&[
                ("host", "h"),
                ("database", "d"),
                ("user", "u"),
                ("sslmode", "require"),
            ]),
            "source",
        )
        .expect_err("tls");
        assert!(error.to_string().contains("only \"disable\""), "{error}");
    }
}
