//! Connectivity test of a PostgreSQL (or AnalyticDB for PostgreSQL) connection.
//!
//! Privileges: a source needs `CONNECT` on the database and `USAGE` on the schema; a sink also
//! needs `CREATE` on the schema (it creates its commit-marker table and, when asked, the
//! target table). Table-level grants are not checked (the table is the job's, not the data
//! source's).

use super::network::{bad_options, reach, unreachable};
use super::{after, ProbeReport, ProbeRole, ProbeStatus, Steps};
use crate::error::ConnectorError;
use crate::postgres::config::PgSettings;
use sluice_common::spec::ConnectionConfig;
use std::time::Duration;

/// Tests a PostgreSQL connection.
pub(crate) async fn probe(connection: &ConnectionConfig, role: ProbeRole) -> ProbeReport {
    let mut steps = Steps::default();
    let settings = match PgSettings::from_connection(connection, "data_source") {
        Ok(settings) => settings,
        Err(error) => return bad_options(steps, error.to_string()),
    };
    let timeout = settings.connect_timeout.min(Duration::from_secs(10));
    if reach(&mut steps, &settings.host, settings.port, timeout)
        .await
        .is_err()
    {
        let failed = steps_last(&steps);
        return unreachable(steps, &failed);
    }
    steps.skip(
        "tls",
        "sslmode is disable: the postgresql connector does not use TLS yet",
    );
    let mut unreachable_login = false;
    let client = steps
        .run("authenticate", async {
            match tokio::time::timeout(timeout, settings.connect()).await {
                Ok(Ok(client)) => Ok((
                    client,
                    format!("logged in to {} as {}", settings.describe(), settings.user),
                )),
                Ok(Err(error)) => {
                    if let ConnectorError::Postgres { source, .. } = &error {
                        unreachable_login = source.as_db_error().is_none();
                    }
                    Err(error.to_string())
                }
                Err(_) => {
                    unreachable_login = true;
                    Err(format!(
                        "no login answer from {} within {} ms",
                        settings.describe(),
                        timeout.as_millis()
                    ))
                }
            }
        })
        .await;
    let Some(client) = client else {
        let status = if unreachable_login {
            ProbeStatus::Unreachable
        } else {
            ProbeStatus::ConfigError
        };
        return steps.fail(status, after("authenticate"));
    };
    let schema = settings.schema.clone();
    let privileges = steps
        .run("privileges", async {
            let row = client
                .query_one(
                    "SELECT has_database_privilege(current_database(), 'CONNECT'), \
                     has_schema_privilege($1, 'USAGE'), has_schema_privilege($1, 'CREATE')",
                    &[&schema],
                )
                .await
                .map_err(|error| {
                    format!(
                        "checking privileges on schema {schema}: {}",
                        crate::postgres::describe_error(&error)
                    )
                })?;
            let connect: bool = row.get(0);
            let usage: bool = row.get(1);
            let create: bool = row.get(2);
            let mut missing = Vec::new();
            if !connect {
                missing.push(format!("CONNECT on database {}", settings.database));
            }
            if !usage {
                missing.push(format!("USAGE on schema {schema}"));
            }
            if role == ProbeRole::Sink && !create {
                missing.push(format!("CREATE on schema {schema}"));
            }
            if missing.is_empty() {
                let checked = match role {
                    ProbeRole::Source => "CONNECT, USAGE",
                    ProbeRole::Sink => "CONNECT, USAGE, CREATE",
                };
                Ok((
                    (),
                    format!("{} has {checked} on schema {schema}", settings.user),
                ))
            } else {
                Err(format!(
                    "{} lacks {} needed by a {}; grant it on the server",
                    settings.user,
                    missing.join(", "),
                    role.name()
                ))
            }
        })
        .await;
    if privileges.is_none() {
        return steps.fail(ProbeStatus::ConfigError, after("privileges"));
    }
    let version = steps
        .run("server_version", async {
            let row = client
                .query_one("SHOW server_version", &[])
                .await
                .map_err(|error| crate::postgres::describe_error(&error))?;
            let version: String = row.get(0);
            Ok((version.clone(), format!("PostgreSQL {version}")))
        })
        .await;
    match version {
        Some(version) => {
            steps.set_server_version(version);
            steps.finish(ProbeStatus::Connectable)
        }
        None => steps.fail(ProbeStatus::ConfigError, after("server_version")),
    }
}

/// Name of the last step recorded.
pub(crate) fn steps_last(steps: &Steps) -> String {
    steps.last_name()
}
