//! Connectivity tests (`sluice ds test`): ordered, timed steps that check whether a connection
//! can be reached, logged into and used for its role, and what a failure means.
//!
//! Network connectors run `resolve`, `tcp_connect`, `tls`, `authenticate`, `privileges` and
//! `server_version`; the first failure ends the test and the remaining steps are reported as
//! skipped. No step message ever holds a secret: they are built from host, port, database,
//! user and server error texts only.

mod local;
mod mysql;
mod network;
mod postgres;

use sluice_common::spec::ConnectionConfig;
use std::time::{Duration, Instant};

/// What the connection is tested for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeRole {
    /// Reading: read privileges are checked.
    Source,
    /// Writing: write privileges are checked.
    Sink,
}

impl ProbeRole {
    /// Parses `source` or `sink`.
    pub fn parse(role: &str) -> Option<Self> {
        match role {
            "source" => Some(ProbeRole::Source),
            "sink" => Some(ProbeRole::Sink),
            _ => None,
        }
    }

    /// Returns `source` or `sink`.
    pub fn name(self) -> &'static str {
        match self {
            ProbeRole::Source => "source",
            ProbeRole::Sink => "sink",
        }
    }
}

/// Overall outcome of a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeStatus {
    /// Every step passed.
    Connectable,
    /// The server answered but refused the config (login, database, privileges, options).
    ConfigError,
    /// The server could not be reached.
    Unreachable,
    /// The type has nothing to test.
    Unsupported,
}

/// Outcome of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// Passed.
    Ok,
    /// Failed.
    Failed,
    /// Did not run.
    Skipped,
}

/// One step of a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeStep {
    /// Step name.
    pub name: String,
    /// Outcome.
    pub outcome: StepOutcome,
    /// What was checked, or why it failed.
    pub message: String,
    /// How long it took.
    pub duration: Duration,
}

/// Result of a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// Overall status.
    pub status: ProbeStatus,
    /// Steps in order.
    pub steps: Vec<ProbeStep>,
    /// Version the server reported, if reached.
    pub server_version: String,
}

/// Tests `connection` for `role`.
pub async fn probe(connection: &ConnectionConfig, role: ProbeRole) -> ProbeReport {
    match connection.kind.as_str() {
        "postgresql" | "adb_postgresql" => postgres::probe(connection, role).await,
        "mysql" | "mariadb" => mysql::probe(connection, role).await,
        "sqlite" => local::sqlite(connection, role),
        "generator" => local::generator(role),
        other => {
            let mut steps = Steps::default();
            steps.skip(
                "test",
                format!("connectivity tests are not implemented for {other} connections"),
            );
            steps.finish(ProbeStatus::Unsupported)
        }
    }
}

/// Collects steps in order, timing each.
#[derive(Debug, Default)]
pub(crate) struct Steps {
    steps: Vec<ProbeStep>,
    server_version: String,
}

impl Steps {
    /// Runs `step`, records its outcome and returns its value (or `None` when it failed).
    pub(crate) async fn run<T, F>(&mut self, name: &str, step: F) -> Option<T>
    where
        F: std::future::Future<Output = Result<(T, String), String>>,
    {
        let started = Instant::now();
        let result = step.await;
        let duration = started.elapsed();
        let (outcome, message, value) = match result {
            Ok((value, message)) => (StepOutcome::Ok, message, Some(value)),
            Err(message) => (StepOutcome::Failed, message, None),
        };
        self.steps.push(ProbeStep {
            name: name.to_string(),
            outcome,
            message,
            duration,
        });
        value
    }

    /// Records a step that did not run.
    pub(crate) fn skip(&mut self, name: &str, message: impl Into<String>) {
        self.steps.push(ProbeStep {
            name: name.to_string(),
            outcome: StepOutcome::Skipped,
            message: message.into(),
            duration: Duration::ZERO,
        });
    }

    /// Records a step that failed without running anything.
    pub(crate) fn failed(&mut self, name: &str, message: impl Into<String>) {
        self.steps.push(ProbeStep {
            name: name.to_string(),
            outcome: StepOutcome::Failed,
            message: message.into(),
            duration: Duration::ZERO,
        });
    }

    /// Returns the name of the last step recorded.
    pub(crate) fn last_name(&self) -> String {
        self.steps
            .last()
            .map(|step| step.name.clone())
            .unwrap_or_default()
    }

    /// Records the server version.
    pub(crate) fn set_server_version(&mut self, version: String) {
        self.server_version = version;
    }

    /// Ends the test with `status`, marking the `remaining` steps skipped.
    pub(crate) fn fail(mut self, status: ProbeStatus, remaining: &[&str]) -> ProbeReport {
        let failed = self
            .steps
            .last()
            .map(|step| step.name.clone())
            .unwrap_or_default();
        for name in remaining {
            self.skip(name, format!("not run: {failed} failed"));
        }
        self.finish(status)
    }

    /// Ends the test with `status`.
    pub(crate) fn finish(self, status: ProbeStatus) -> ProbeReport {
        ProbeReport {
            status,
            steps: self.steps,
            server_version: self.server_version,
        }
    }
}

/// Steps of a network connector after the one named, for [`Steps::fail`].
pub(crate) fn after(step: &str) -> &'static [&'static str] {
    const ORDER: [&str; 7] = [
        "options",
        "resolve",
        "tcp_connect",
        "tls",
        "authenticate",
        "privileges",
        "server_version",
    ];
    match ORDER.iter().position(|name| *name == step) {
        Some(index) => {
            let rest: &'static [&'static str] = &ORDER;
            &rest[index + 1..]
        }
        None => &[],
    }
}
