//! Resolves the data sources a job names into connections, for the job's workspace.

use crate::error::{CoordinatorError, Result};
use sluice_common::meta::{keys, MetaStore};
use sluice_common::records::{self, DataSourceRecord};
use sluice_common::spec::{
    check_connection, connection_type, inline_connection_config, ConnectionConfig,
    InlineConnection, Role, ValidatedJobSpec,
};
use sluice_common::{SpecError, SpecErrors};

/// Returns the source and sink connections of a validated spec.
///
/// # Errors
/// [`CoordinatorError::InvalidSpec`] naming the field when a data source is missing, does not
/// fit its role, or lacks what the spec needs.
pub async fn resolve_connections(
    store: &dyn MetaStore,
    workspace: &str,
    spec: &ValidatedJobSpec,
) -> Result<(ConnectionConfig, ConnectionConfig)> {
    let source = &spec.spec.source;
    let sink = &spec.spec.sink;
    let mut errors = Vec::new();
    let source_connection = resolve_one(
        store,
        workspace,
        Role::Source,
        source.datasource.as_deref(),
        source.connection.as_ref(),
        &mut errors,
    )
    .await?;
    let sink_connection = resolve_one(
        store,
        workspace,
        Role::Sink,
        sink.datasource.as_deref(),
        sink.connection.as_ref(),
        &mut errors,
    )
    .await?;
    if let Some(connection) = &source_connection {
        if source.datasource.is_some()
            && source.table.is_none()
            && source.query.is_none()
            && connection_type(&connection.kind).is_some_and(|kind| kind.needs_table)
        {
            errors.push(SpecError::new(
                "source.table",
                format!("is required for a {} data source", connection.kind),
            ));
        }
    }
    if let Some(connection) = &sink_connection {
        if sink.datasource.is_some()
            && sink.table.is_none()
            && connection_type(&connection.kind).is_some_and(|kind| kind.needs_table)
        {
            errors.push(SpecError::new(
                "sink.table",
                format!("is required for a {} data source", connection.kind),
            ));
        }
    }
    match (source_connection, sink_connection) {
        (Some(source_connection), Some(sink_connection)) if errors.is_empty() => {
            Ok((source_connection, sink_connection))
        }
        _ => Err(CoordinatorError::InvalidSpec(SpecErrors(errors))),
    }
}

async fn resolve_one(
    store: &dyn MetaStore,
    workspace: &str,
    role: Role,
    datasource: Option<&str>,
    inline: Option<&InlineConnection>,
    errors: &mut Vec<SpecError>,
) -> Result<Option<ConnectionConfig>> {
    let path = match role {
        Role::Source => "source",
        Role::Sink => "sink",
    };
    if let Some(inline) = inline {
        return Ok(match inline_connection_config(inline) {
            Ok(config) => Some(config),
            Err(problems) => {
                errors.extend(problems);
                None
            }
        });
    }
    let Some(name) = datasource else {
        return Ok(None);
    };
    let Some(key_value) = store.get(&keys::datasource(workspace, name)).await? else {
        let known: Vec<String> = store
            .list_prefix(&keys::datasources_prefix(workspace))
            .await?
            .into_iter()
            .filter_map(|kv| kv.key.rsplit('/').next().map(str::to_string))
            .collect();
        errors.push(SpecError::new(
            format!("{path}.datasource"),
            format!(
                "\"{name}\" is not a data source of workspace {workspace}; known: {}; create it with `sluice ds create`",
                if known.is_empty() { "(none)".to_string() } else { known.join(", ") }
            ),
        ));
        return Ok(None);
    };
    let record: DataSourceRecord = records::decode(&key_value)?;
    let connection = record.connection();
    let problems = check_connection(&format!("{path}.datasource({name})"), role, &connection);
    if !problems.is_empty() {
        errors.extend(problems);
        return Ok(None);
    }
    Ok(Some(connection))
}
