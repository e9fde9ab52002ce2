//! Connectivity test of a MySQL / MariaDB connection.
//!
//! Privileges are read from `information_schema.USER_PRIVILEGES` (global grants) and
//! `SCHEMA_PRIVILEGES` (grants on the connection's database) of the current account: a source
//! needs `SELECT`; a sink needs `SELECT`, `INSERT` and `CREATE` (it creates and reads its
//! commit-marker table). Grants on single tables, through roles, or on database patterns
//! (`db\_%`) are not seen, so such an account is reported as lacking the privilege.

use super::network::{bad_options, reach, unreachable};
use super::postgres::steps_last;
use super::{after, ProbeReport, ProbeRole, ProbeStatus, Steps};
use crate::error::ConnectorError;
use crate::mysql::config::MySqlSettings;
use mysql_async::prelude::Queryable;
use sluice_common::spec::ConnectionConfig;
use std::collections::BTreeSet;
use std::time::Duration;

const PRIVILEGES: &str = "SELECT PRIVILEGE_TYPE FROM information_schema.USER_PRIVILEGES \
     WHERE GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', \
     SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''') \
     UNION SELECT PRIVILEGE_TYPE FROM information_schema.SCHEMA_PRIVILEGES \
     WHERE GRANTEE = CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''', \
     SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''') AND TABLE_SCHEMA = DATABASE()";

/// Tests a MySQL connection.
pub(crate) async fn probe(connection: &ConnectionConfig, role: ProbeRole) -> ProbeReport {
    let mut steps = Steps::default();
    let mut settings = match MySqlSettings::from_connection(connection, "data_source") {
        Ok(settings) => settings,
        Err(error) => return bad_options(steps, error.to_string()),
    };
    let timeout = settings.connect_timeout.min(Duration::from_secs(10));
    settings.connect_timeout = timeout;
    if reach(&mut steps, &settings.host, settings.port, timeout)
        .await
        .is_err()
    {
        let failed = steps_last(&steps);
        return unreachable(steps, &failed);
    }
    steps.skip(
        "tls",
        "the mysql connector does not use TLS yet (plain connection)",
    );
    let mut unreachable_login = false;
    let conn = steps
        .run("authenticate", async {
            match settings.connect().await {
                Ok(conn) => Ok((
                    conn,
                    format!("logged in to {} as {}", settings.describe(), settings.user),
                )),
                Err(error) => {
                    unreachable_login = match &error {
                        ConnectorError::MySql { source, .. } => {
                            matches!(source, mysql_async::Error::Io(_))
                        }
                        ConnectorError::Task(_) => true,
                        _ => false,
                    };
                    Err(error.to_string())
                }
            }
        })
        .await;
    let Some(mut conn) = conn else {
        let status = if unreachable_login {
            ProbeStatus::Unreachable
        } else {
            ProbeStatus::ConfigError
        };
        return steps.fail(status, after("authenticate"));
    };
    let needed: &[&str] = match role {
        ProbeRole::Source => &["SELECT"],
        ProbeRole::Sink => &["SELECT", "INSERT", "CREATE"],
    };
    let database = settings.database.clone();
    let user = settings.user.clone();
    let privileges = steps
        .run("privileges", async {
            let granted: Vec<String> = conn
                .query(PRIVILEGES)
                .await
                .map_err(|error| format!("reading the account's privileges: {error}"))?;
            let granted: BTreeSet<String> = granted.into_iter().collect();
            let missing: Vec<&str> = needed
                .iter()
                .copied()
                .filter(|privilege| !granted.contains(*privilege))
                .collect();
            if missing.is_empty() {
                Ok((
                    (),
                    format!("{user} has {} on {database}", needed.join(", ")),
                ))
            } else {
                Err(format!(
                    "{user} lacks {} on database {database} needed by a {} (global and database grants checked); grant it on the server",
                    missing.join(", "),
                    role.name()
                ))
            }
        })
        .await;
    if privileges.is_none() {
        let _ = conn.disconnect().await;
        return steps.fail(ProbeStatus::ConfigError, after("privileges"));
    }
    let version = steps
        .run("server_version", async {
            let version: Option<String> = conn
                .query_first("SELECT VERSION()")
                .await
                .map_err(|error| error.to_string())?;
            let version = version.unwrap_or_default();
            Ok((version.clone(), version))
        })
        .await;
    let _ = conn.disconnect().await;
    match version {
        Some(version) => {
            steps.set_server_version(version);
            steps.finish(ProbeStatus::Connectable)
        }
        None => steps.fail(ProbeStatus::ConfigError, after("server_version")),
    }
}
