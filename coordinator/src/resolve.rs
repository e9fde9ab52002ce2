//! Resolves the data sources a job names into connections, for the job's workspace and
//! environment.
//!
//! Isolation: a data source resolves to the config of the job's environment and of no other;
//! a data source without a config there is a submit error that says how to add one. In the
//! `dev` environment of a standard workspace inline connections are refused (the `generator`
//! aside, which touches no store), so a dev job opens only what dev configs name.
//!
//! A data source of another workspace resolves only through a grant ([`crate::grants`]) of
//! the job's environment, READ for a source and WRITE for a sink.

use crate::error::{CoordinatorError, Result};
use crate::grants;
use sluice_common::meta::{keys, MetaStore};
use sluice_common::records::{
    self, DataSourceRecord, GrantRecord, WorkspaceMode, WorkspaceRecord, ENV_DEV,
};
use sluice_common::secrets::SecretCipher;
use sluice_common::spec::{
    check_connection, connection_type, inline_connection_config, ConnectionConfig,
    InlineConnection, Role, ValidatedJobSpec,
};
use sluice_common::{SpecError, SpecErrors};

/// Where a job resolves its data sources.
pub struct ResolveScope<'a> {
    /// The job's workspace.
    pub workspace: &'a WorkspaceRecord,
    /// The job's environment (already checked to be one of the workspace's).
    pub environment: &'a str,
    /// Opens the data sources' sealed secrets.
    pub secrets: &'a SecretCipher,
}

/// Returns the source and sink connections of a validated spec, secrets opened.
///
/// # Errors
/// [`CoordinatorError::InvalidSpec`] naming the field when a data source is missing, has no
/// config in the job's environment, does not fit its role, or lacks what the spec needs, or
/// when a dev job of a standard workspace gives an inline connection;
/// [`CoordinatorError::Secret`] when a stored secret cannot be opened.
pub async fn resolve_connections(
    store: &dyn MetaStore,
    scope: &ResolveScope<'_>,
    spec: &ValidatedJobSpec,
) -> Result<(ConnectionConfig, ConnectionConfig)> {
    let source = &spec.spec.source;
    let sink = &spec.spec.sink;
    let mut errors = Vec::new();
    let source_connection = resolve_one(
        store,
        scope,
        Role::Source,
        "source",
        source.datasource.as_deref(),
        source.connection.as_ref(),
        &mut errors,
    )
    .await?;
    let sink_connection = resolve_one(
        store,
        scope,
        Role::Sink,
        "sink",
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

/// Returns the connection of `settings.dirty_data.datasource` (written like a sink), or `None`
/// when the spec has no dirty-data table in a data source.
///
/// # Errors
/// As [`resolve_connections`], naming `settings.dirty_data.datasource`.
pub async fn resolve_dirty_store(
    store: &dyn MetaStore,
    scope: &ResolveScope<'_>,
    spec: &ValidatedJobSpec,
) -> Result<Option<ConnectionConfig>> {
    let Some(dirty) = &spec.spec.settings.dirty_data else {
        return Ok(None);
    };
    let mut errors = Vec::new();
    let connection = resolve_one(
        store,
        scope,
        Role::Sink,
        "settings.dirty_data",
        Some(dirty.datasource.as_str()),
        None,
        &mut errors,
    )
    .await?;
    if let Some(connection) = &connection {
        if !matches!(
            connection.kind.as_str(),
            "postgresql" | "adb_postgresql" | "mysql" | "mariadb" | "sqlite"
        ) {
            errors.push(SpecError::new(
                "settings.dirty_data.datasource",
                format!(
                    "\"{}\" is a {} data source; dirty-data tables live in postgresql, adb_postgresql, mysql, mariadb or sqlite",
                    dirty.datasource, connection.kind
                ),
            ));
        }
    }
    match connection {
        Some(connection) if errors.is_empty() => Ok(Some(connection)),
        _ => Err(CoordinatorError::InvalidSpec(SpecErrors(errors))),
    }
}

async fn resolve_one(
    store: &dyn MetaStore,
    scope: &ResolveScope<'_>,
    role: Role,
    path: &str,
    datasource: Option<&str>,
    inline: Option<&InlineConnection>,
    errors: &mut Vec<SpecError>,
) -> Result<Option<ConnectionConfig>> {
    let workspace = scope.workspace.name.as_str();
    let environment = scope.environment;
    if let Some(inline) = inline {
        if scope.workspace.mode == WorkspaceMode::Standard
            && environment == ENV_DEV
            && !connection_type(&inline.kind).is_some_and(|kind| kind.self_contained)
        {
            errors.push(SpecError::new(
                format!("{path}.connection"),
                format!(
                    "dev jobs of workspace {workspace} cannot use inline connections (only generator and stream): name a data source with a dev config (`{path}.datasource`), so the job can only reach what its dev config names"
                ),
            ));
            return Ok(None);
        }
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
    let own = if grants::is_qualified(name) {
        None
    } else {
        store.get(&keys::datasource(workspace, name)).await?
    };
    let record: DataSourceRecord = match own {
        Some(key_value) => records::decode(&key_value)?,
        None => match grants::find_shared(store, workspace, name).await? {
            Some((grant, record)) => {
                if let Err(refused) =
                    grants::check_use(&grant, environment, role, &format!("{path}.datasource"))
                {
                    errors.push(refused);
                    return Ok(None);
                }
                record
            }
            None if grants::is_qualified(name) => {
                errors.push(SpecError::new(
                    format!("{path}.datasource"),
                    grants::not_shared_message(name, workspace),
                ));
                return Ok(None);
            }
            None => {
                let mut known: Vec<String> = store
                    .list_prefix(&keys::datasources_prefix(workspace))
                    .await?
                    .into_iter()
                    .filter_map(|kv| kv.key.rsplit('/').next().map(str::to_string))
                    .collect();
                known.extend(
                    grants::received(store, workspace)
                        .await?
                        .iter()
                        .map(GrantRecord::shared_as),
                );
                errors.push(SpecError::new(
                    format!("{path}.datasource"),
                    format!(
                        "\"{name}\" is not a data source of workspace {workspace}; known: {}; create it with `sluice ds create`",
                        if known.is_empty() { "(none)".to_string() } else { known.join(", ") }
                    ),
                ));
                return Ok(None);
            }
        },
    };
    let Some(sealed) = record.connection(environment) else {
        let has: Vec<&str> = record.configs.keys().map(String::as_str).collect();
        errors.push(SpecError::new(
            format!("{path}.datasource"),
            format!(
                "data source \"{name}\" has no {environment} config (it has: {}); add one with `sluice ds update {} --workspace {} --env {environment} --option KEY=VALUE ... --secret KEY=VALUE`",
                if has.is_empty() { "none".to_string() } else { has.join(", ") },
                record.name,
                record.workspace
            ),
        ));
        return Ok(None);
    };
    let problems = check_connection(
        &format!("{path}.datasource({name})"),
        role,
        &sealed.masked(),
    );
    if !problems.is_empty() {
        errors.extend(problems);
        return Ok(None);
    }
    let connection = sealed
        .open(scope.secrets)
        .map_err(CoordinatorError::secret(format!(
            "{path}.datasource({name}), {environment} config"
        )))?;
    Ok(Some(connection))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_common::meta::embedded::EmbeddedStore;
    use sluice_common::records::{EnvironmentConfig, SealedConnection, ENV_PROD};
    use sluice_common::secrets::SecretKey;
    use sluice_common::spec::{parse_job_spec, validate, SpecFormat};
    use std::collections::BTreeMap;

    fn standard() -> WorkspaceRecord {
        WorkspaceRecord {
            name: "ws".into(),
            mode: WorkspaceMode::Standard,
            ..WorkspaceRecord::implicit_default()
        }
    }

    fn config(database: &str, cipher: &SecretCipher) -> EnvironmentConfig {
        let connection = ConnectionConfig {
            kind: "postgresql".into(),
            options: BTreeMap::from([
                ("host".to_string(), "h".to_string()),
                ("database".to_string(), database.to_string()),
                ("user".to_string(), "u".to_string()),
            ]),
            secrets: BTreeMap::from([("password".to_string(), format!("pw-{database}"))]),
        };
        let sealed = SealedConnection::seal(&connection, cipher).expect("seal");
        EnvironmentConfig {
            options: sealed.options,
            secrets: sealed.secrets,
        }
    }

    async fn store_with(
        configs: &[(&str, &str)],
        cipher: &SecretCipher,
    ) -> (tempfile::TempDir, EmbeddedStore) {
        let directory = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(directory.path().join("meta.redb"))
            .await
            .expect("store");
        let record = DataSourceRecord {
            v: 2,
            workspace: "ws".into(),
            name: "pg".into(),
            kind: "postgresql".into(),
            description: String::new(),
            configs: configs
                .iter()
                .map(|(environment, database)| (environment.to_string(), config(database, cipher)))
                .collect(),
            created_at_ms: 1,
            updated_at_ms: 1,
        };
        records::put_record(&store, &keys::datasource("ws", "pg"), &record)
            .await
            .expect("put");
        (directory, store)
    }

    fn spec(sink: &str) -> ValidatedJobSpec {
        let text = format!("source: {{connection: {{type: generator, rows: 5}}}}\nsink: {sink}\n");
        validate(parse_job_spec(&text, SpecFormat::Yaml).expect("parse")).expect("valid")
    }

    #[tokio::test]
    async fn each_environment_resolves_to_its_own_config_only() {
        let cipher = SecretCipher::new(SecretKey::generate().expect("key"));
        let (_directory, store) =
            store_with(&[(ENV_PROD, "prod_db"), (ENV_DEV, "dev_db")], &cipher).await;
        let workspace = standard();
        for (environment, database) in [(ENV_DEV, "dev_db"), (ENV_PROD, "prod_db")] {
            let scope = ResolveScope {
                workspace: &workspace,
                environment,
                secrets: &cipher,
            };
            let (_, sink) =
                resolve_connections(&store, &scope, &spec("{datasource: pg, table: t}"))
                    .await
                    .expect("resolves");
            assert_eq!(sink.option("database"), Some(database));
            assert_eq!(sink.secrets["password"], format!("pw-{database}"));
        }
    }

    #[tokio::test]
    async fn a_missing_dev_config_and_inline_dev_connections_are_refused() {
        let cipher = SecretCipher::new(SecretKey::generate().expect("key"));
        let (_directory, store) = store_with(&[(ENV_PROD, "prod_db")], &cipher).await;
        let workspace = standard();
        let scope = ResolveScope {
            workspace: &workspace,
            environment: ENV_DEV,
            secrets: &cipher,
        };
        let error = resolve_connections(&store, &scope, &spec("{datasource: pg, table: t}"))
            .await
            .expect_err("no dev config");
        let message = error.to_string();
        assert!(
            message.contains("has no dev config (it has: prod)"),
            "{message}"
        );
        assert!(
            message.contains("sluice ds update pg --workspace ws --env dev"),
            "{message}"
        );
        let inline =
            spec("{connection: {type: postgresql, host: h, database: prod_db, user: u}, table: t}");
        let error = resolve_connections(&store, &scope, &inline)
            .await
            .expect_err("inline in dev");
        assert!(
            error.to_string().contains(
                "sink.connection: dev jobs of workspace ws cannot use inline connections"
            ),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_grantee_resolves_only_what_its_grant_allows() {
        use sluice_common::records::{GrantRecord, SharePermission};
        let cipher = SecretCipher::new(SecretKey::generate().expect("key"));
        let (_directory, store) =
            store_with(&[(ENV_PROD, "prod_db"), (ENV_DEV, "dev_db")], &cipher).await;
        let grantee = WorkspaceRecord {
            name: "other".into(),
            ..standard()
        };
        let scope = |environment| ResolveScope {
            workspace: &grantee,
            environment,
            secrets: &cipher,
        };
        let read_spec = "{datasource: ws/pg, table: t}";
        let source_spec = |name: &str| {
            let text = format!(
                "source: {{datasource: {name}, table: t}}\nsink: {{connection: {{type: sqlite, path: x.db}}, table: t}}\n"
            );
            validate(parse_job_spec(&text, SpecFormat::Yaml).expect("parse")).expect("valid")
        };
        let error = resolve_connections(&store, &scope(ENV_PROD), &source_spec("ws/pg"))
            .await
            .expect_err("no grant yet");
        assert!(
            error
                .to_string()
                .contains("is not shared with workspace other"),
            "{error}"
        );
        let mut grant = GrantRecord {
            v: 1,
            workspace: "ws".into(),
            name: "pg".into(),
            grantee: "other".into(),
            shared_name: Some("their_pg".into()),
            environments: BTreeMap::from([(ENV_PROD.to_string(), SharePermission::Read)]),
            updated_at_ms: 1,
        };
        records::put_record(&store, &keys::grant("ws", "pg", "other"), &grant)
            .await
            .expect("put");
        for name in ["ws/pg", "their_pg"] {
            let (source, _) = resolve_connections(&store, &scope(ENV_PROD), &source_spec(name))
                .await
                .expect("a READ grant is a source");
            assert_eq!(source.option("database"), Some("prod_db"));
        }
        let error = resolve_connections(&store, &scope(ENV_DEV), &source_spec("ws/pg"))
            .await
            .expect_err("dev is not granted");
        assert!(
            error.to_string().contains("for prod only, not dev"),
            "{error}"
        );
        let error = resolve_connections(&store, &scope(ENV_PROD), &spec(read_spec))
            .await
            .expect_err("READ is not a sink");
        assert!(error.to_string().contains("is READ"), "{error}");
        grant
            .environments
            .insert(ENV_PROD.to_string(), SharePermission::Write);
        records::put_record(&store, &keys::grant("ws", "pg", "other"), &grant)
            .await
            .expect("put");
        let (_, sink) = resolve_connections(&store, &scope(ENV_PROD), &spec(read_spec))
            .await
            .expect("WRITE is a sink");
        assert_eq!(sink.secrets["password"], "pw-prod_db");
    }
}
