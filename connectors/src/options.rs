//! Reading a connection's options with errors that name the field, shared by the connectors.

use crate::error::{ConnectorError, Result};
use sluice_common::spec::ConnectionConfig;
use std::time::Duration;

/// Reads the options of one connection; `role` (`source` or `sink`) prefixes field paths.
pub struct OptionReader<'a> {
    connection: &'a ConnectionConfig,
    role: &'a str,
}

impl<'a> OptionReader<'a> {
    /// Returns a reader of `connection`'s options for the job's `role`.
    pub fn new(connection: &'a ConnectionConfig, role: &'a str) -> Self {
        OptionReader { connection, role }
    }

    /// Returns the field path of option `name`, e.g. `sink.connection.port`.
    pub fn field(&self, name: &str) -> String {
        format!("{}.connection.{name}", self.role)
    }

    /// Returns a non-blank option.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] when it is missing or blank.
    pub fn required(&self, name: &str) -> Result<String> {
        self.connection
            .option(name)
            .map(str::to_string)
            .filter(|value| !value.trim().is_empty())
            .ok_or_else(|| {
                ConnectorError::config(
                    self.field(name),
                    format!("is required for a {} connection", self.connection.kind),
                )
            })
    }

    /// Returns the `port` option, or `default`.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] when it is not a port number.
    pub fn port(&self, default: u16) -> Result<u16> {
        match self.connection.option("port") {
            Some(text) => text.trim().parse::<u16>().map_err(|_| {
                ConnectorError::config(
                    self.field("port"),
                    format!("\"{text}\" is not a port number (1 to 65535)"),
                )
            }),
            None => Ok(default),
        }
    }

    /// Returns a duration option given in milliseconds, or `default`.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] when it is not a whole number.
    pub fn millis(&self, name: &str, default: Duration) -> Result<Duration> {
        match self.connection.option(name) {
            Some(text) => text
                .trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| {
                    ConnectorError::config(
                        self.field(name),
                        format!("\"{text}\" is not a number of milliseconds"),
                    )
                }),
            None => Ok(default),
        }
    }

    /// Returns a `true`/`false` option, or `default`.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for any other value.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool> {
        match self.connection.option(name).map(str::trim) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(ConnectorError::config(
                self.field(name),
                format!("\"{other}\" is not one of true, false"),
            )),
        }
    }

    /// Returns the `password` secret, if any.
    pub fn password(&self) -> Option<String> {
        self.connection.secrets.get("password").cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(options: &[(&str, &str)]) -> ConnectionConfig {
        ConnectionConfig {
            kind: "mysql".into(),
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn errors_name_the_field_and_what_is_allowed() {
        let config = connection(&[("port", "x"), ("load_data", "yes"), ("host", " ")]);
        let reader = OptionReader::new(&config, "sink");
        let port = reader.port(3306).expect_err("bad port").to_string();
        assert_eq!(
            port,
            "sink.connection.port: \"x\" is not a port number (1 to 65535)"
        );
        let flag = reader
            .flag("load_data", false)
            .expect_err("bad flag")
            .to_string();
        assert_eq!(
            flag,
            "sink.connection.load_data: \"yes\" is not one of true, false"
        );
        let host = reader.required("host").expect_err("blank").to_string();
        assert_eq!(
            host,
            "sink.connection.host: is required for a mysql connection"
        );
        assert_eq!(
            reader
                .millis("connect_timeout_ms", Duration::from_secs(30))
                .ok(),
            Some(Duration::from_secs(30))
        );
    }
}
