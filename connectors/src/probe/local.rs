//! Connectivity tests of connectors without a server: `sqlite` (the file on the worker) and
//! `generator` (nothing to reach).

use super::{ProbeReport, ProbeRole, ProbeStatus, Steps};
use crate::sqlite::SqliteLocation;
use rusqlite::{Connection, OpenFlags};
use sluice_common::spec::ConnectionConfig;
use std::path::Path;

/// Tests a SQLite connection on this worker: a source's file must exist and be readable; a
/// sink's file must be writable, or (not created yet) its directory must exist and be writable.
/// Nothing is created.
pub(crate) fn sqlite(connection: &ConnectionConfig, role: ProbeRole) -> ProbeReport {
    let mut steps = Steps::default();
    let location = match SqliteLocation::from_connection(connection, "data_source") {
        Ok(location) => location,
        Err(error) => {
            steps.failed("options", error.to_string());
            return steps.fail(ProbeStatus::ConfigError, &["open", "server_version"]);
        }
    };
    let path = location.path.clone();
    let opened = futures_util::FutureExt::now_or_never(steps.run("open", async {
        check_sqlite(&path, role).map(|message| ((), message))
    }))
    .flatten();
    if opened.is_none() {
        return steps.fail(ProbeStatus::ConfigError, &["server_version"]);
    }
    let version = rusqlite::version().to_string();
    futures_util::FutureExt::now_or_never(steps.run("server_version", async {
        Ok(((), format!("SQLite library {version}")))
    }));
    steps.set_server_version(version);
    steps.finish(ProbeStatus::Connectable)
}

fn check_sqlite(path: &str, role: ProbeRole) -> Result<String, String> {
    let file = Path::new(path);
    if !file.exists() {
        if role == ProbeRole::Source {
            return Err(format!("{path} does not exist on this worker"));
        }
        let directory = file
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let metadata = std::fs::metadata(directory).map_err(|error| {
            format!(
                "directory {} of {path} is not usable: {error}",
                directory.display()
            )
        })?;
        if !metadata.is_dir() || metadata.permissions().readonly() {
            return Err(format!(
                "directory {} of {path} is not a writable directory",
                directory.display()
            ));
        }
        return Ok(format!(
            "{path} does not exist yet; its directory is writable (the sink creates it)"
        ));
    }
    let flags = match role {
        ProbeRole::Source => OpenFlags::SQLITE_OPEN_READ_ONLY,
        ProbeRole::Sink => OpenFlags::SQLITE_OPEN_READ_WRITE,
    };
    let connection = Connection::open_with_flags(path, flags)
        .map_err(|error| format!("cannot open {path}: {error}"))?;
    let tables: i64 = connection
        .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
        .map_err(|error| format!("{path} is not a readable SQLite database: {error}"))?;
    Ok(format!(
        "opened {path} {} ({tables} schema objects)",
        match role {
            ProbeRole::Source => "read-only",
            ProbeRole::Sink => "read-write",
        }
    ))
}

/// The generator makes rows itself: there is nothing to reach.
pub(crate) fn generator(_role: ProbeRole) -> ProbeReport {
    let mut steps = Steps::default();
    futures_util::FutureExt::now_or_never(steps.run("generate", async {
        Ok((
            (),
            "the generator makes its rows on the worker; nothing to connect to".to_string(),
        ))
    }));
    steps.finish(ProbeStatus::Connectable)
}
