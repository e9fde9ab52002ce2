//! `sluice.v1.DataSourceService`: data sources stored under `datasources/{ws}/{name}`, their
//! grants to other workspaces under `grants/{ws}/{name}/{grantee}`.

mod importing;
mod sharing;

use crate::convert;
use crate::engine::Event;
use crate::error::{CoordinatorError, Result};
use crate::leader::LeaderSlot;
use crate::{grants, workspaces};
use sluice_common::meta::{keys, DeleteOutcome, Precondition, PutOutcome, SharedMetaStore};
use sluice_common::records::{
    self, now_ms, DataSourceRecord, EnvironmentConfig, SealedConnection,
    DATA_SOURCE_RECORD_VERSION, SECRET_MASK,
};
use sluice_common::secrets::SecretCipher;
use sluice_common::spec::{
    check_connection, connection_type, is_valid_name, ConnectionType, Role, CONNECTION_TYPES,
    DEFAULT_RESOURCE_GROUP,
};
use sluice_common::SpecErrors;
use sluice_proto::v1 as pb;
use sluice_proto::v1::data_source_service_server::DataSourceService;
use std::collections::{BTreeMap, HashMap};
use tonic::{Request, Response, Status};

/// How long a connectivity test may take on its worker.
const CONNECTIVITY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Shown instead of a secret value.
pub const MASK: &str = SECRET_MASK;

/// Serves the data source API.
pub struct DataSourceServiceImpl {
    store: SharedMetaStore,
    secrets: SecretCipher,
    leader: LeaderSlot,
}

impl DataSourceServiceImpl {
    /// Returns the service over the metadata store; `secrets` seals secret options before
    /// they are stored.
    /// Connectivity tests go to the workers through the `leader`'s engine.
    pub fn new(store: SharedMetaStore, secrets: SecretCipher, leader: LeaderSlot) -> Self {
        DataSourceServiceImpl {
            store,
            secrets,
            leader,
        }
    }

    async fn load(&self, workspace: &str, name: &str) -> Result<(DataSourceRecord, i64)> {
        let key_value = self
            .store
            .get(&keys::datasource(workspace, name))
            .await?
            .ok_or_else(|| CoordinatorError::NotFound {
                kind: "data source",
                name: name.to_string(),
                hint: format!(" in workspace {workspace}"),
            })?;
        Ok((records::decode(&key_value)?, key_value.mod_revision))
    }

    /// Checks that the workspace exists and has `environment`; returns the workspace name.
    async fn workspace_with(&self, workspace: &str, environment: &str) -> Result<String> {
        let workspace = workspaces::name_or_default(workspace);
        let (record, _) = workspaces::load(self.store.as_ref(), &workspace).await?;
        workspaces::check_environment(&record, environment, "data_source.environment")?;
        Ok(workspace)
    }

    /// Builds the config of one environment: options split into options and secrets by the
    /// type's declaration, secrets not given (or given as `***`) kept from `existing`, every
    /// new secret sealed, the whole checked against the type.
    fn config(
        &self,
        kind: &ConnectionType,
        given_options: HashMap<String, String>,
        given_secrets: HashMap<String, String>,
        existing: Option<&EnvironmentConfig>,
    ) -> Result<EnvironmentConfig> {
        let mut options = BTreeMap::new();
        let mut plain_secrets: BTreeMap<String, String> = given_secrets.into_iter().collect();
        for (name, value) in given_options {
            // A secret given as a plain option is still stored (and shown) as a secret.
            if kind.secrets.contains(&name.as_str()) {
                plain_secrets.insert(name, value);
            } else {
                options.insert(name, value);
            }
        }
        let mut secrets = BTreeMap::new();
        for (name, value) in plain_secrets {
            if value == MASK {
                continue;
            }
            let sealed = self
                .secrets
                .seal(&value)
                .map_err(CoordinatorError::secret(format!(
                    "data_source.secrets.{name}"
                )))?;
            secrets.insert(name, sealed);
        }
        if let Some(existing) = existing {
            for (name, sealed) in &existing.secrets {
                secrets
                    .entry(name.clone())
                    .or_insert_with(|| sealed.clone());
            }
        }
        let config = EnvironmentConfig { options, secrets };
        let role = if kind.can_write {
            Role::Sink
        } else {
            Role::Source
        };
        let masked = SealedConnection {
            kind: kind.name.to_string(),
            options: config.options.clone(),
            secrets: config.secrets.clone(),
        }
        .masked();
        let problems = check_connection("data_source.options", role, &masked);
        if !problems.is_empty() {
            return Err(CoordinatorError::InvalidSpec(SpecErrors(problems)));
        }
        Ok(config)
    }

    async fn write(&self, record: &DataSourceRecord, revision: i64) -> Result<()> {
        let condition = Precondition::unchanged_since(revision);
        match self
            .store
            .put(
                &keys::datasource(&record.workspace, &record.name),
                records::encode(record),
                condition,
                None,
            )
            .await?
        {
            PutOutcome::Written { .. } => Ok(()),
            PutOutcome::Conflict { .. } if revision == 0 => Err(CoordinatorError::AlreadyExists {
                kind: "data source",
                name: record.name.clone(),
            }),
            PutOutcome::Conflict { .. } => Err(CoordinatorError::FailedPrecondition(format!(
                "data source {} changed while it was being updated; read it again and retry",
                record.name
            ))),
        }
    }
}

fn valid_name(field: &str, name: &str) -> Result<()> {
    if is_valid_name(name) {
        return Ok(());
    }
    Err(CoordinatorError::invalid(
        field,
        format!("\"{name}\" is not a valid name: use letters, digits, `_` and `-` (at most 128)"),
    ))
}

fn kind_of(name: &str) -> Result<&'static ConnectionType> {
    connection_type(name).ok_or_else(|| {
        let names: Vec<&str> = CONNECTION_TYPES.iter().map(|kind| kind.name).collect();
        CoordinatorError::invalid(
            "data_source.type",
            format!("\"{name}\" is not one of {}", names.join(", ")),
        )
    })
}

fn no_configs_in_requests(message: &pb::DataSource) -> Result<()> {
    if message.configs.is_empty() {
        return Ok(());
    }
    Err(CoordinatorError::invalid(
        "data_source.configs",
        "is only filled in responses: set one environment's config with `environment`, `options` and `secrets`",
    ))
}

fn masked_config(config: &EnvironmentConfig) -> pb::EnvironmentConfig {
    pb::EnvironmentConfig {
        options: config.options.clone().into_iter().collect(),
        secrets: config
            .secrets
            .keys()
            .map(|key| (key.clone(), MASK.to_string()))
            .collect(),
    }
}

/// Returns the API view of a record, secrets masked: every config in `configs`, the `prod`
/// config also in `options` and `secrets`.
pub fn to_proto(record: &DataSourceRecord) -> pb::DataSource {
    let prod = record
        .configs
        .get(records::ENV_PROD)
        .map(masked_config)
        .unwrap_or_default();
    pb::DataSource {
        workspace: record.workspace.clone(),
        name: record.name.clone(),
        r#type: record.kind.clone(),
        description: record.description.clone(),
        options: prod.options,
        secrets: prod.secrets,
        created_at: Some(convert::timestamp(record.created_at_ms)),
        updated_at: Some(convert::timestamp(record.updated_at_ms)),
        environment: String::new(),
        shared_from: String::new(),
        shared_permissions: HashMap::new(),
        shared_as: String::new(),
        configs: record
            .configs
            .iter()
            .map(|(environment, config)| (environment.clone(), masked_config(config)))
            .collect(),
    }
}

#[tonic::async_trait]
impl DataSourceService for DataSourceServiceImpl {
    async fn create(
        &self,
        request: Request<pb::CreateDataSourceRequest>,
    ) -> std::result::Result<Response<pb::DataSource>, Status> {
        let message = request
            .into_inner()
            .data_source
            .ok_or_else(|| CoordinatorError::invalid("data_source", "is required"))?;
        no_configs_in_requests(&message)?;
        let environment = workspaces::environment_or_prod(&message.environment);
        let workspace = self
            .workspace_with(&message.workspace, &environment)
            .await?;
        valid_name("data_source.name", &message.name)?;
        let kind = kind_of(&message.r#type)?;
        let config = self.config(kind, message.options, message.secrets, None)?;
        let now = now_ms();
        let record = DataSourceRecord {
            v: DATA_SOURCE_RECORD_VERSION,
            workspace,
            name: message.name,
            kind: kind.name.to_string(),
            description: message.description,
            configs: BTreeMap::from([(environment.clone(), config)]),
            created_at_ms: now,
            updated_at_ms: now,
        };
        self.write(&record, 0).await?;
        tracing::info!(workspace = %record.workspace, name = %record.name, kind = %record.kind, environment = %environment, "data source created");
        Ok(Response::new(to_proto(&record)))
    }

    async fn get(
        &self,
        request: Request<pb::GetDataSourceRequest>,
    ) -> std::result::Result<Response<pb::DataSource>, Status> {
        let request = request.into_inner();
        let workspace = workspaces::name_or_default(&request.workspace);
        let own = if grants::is_qualified(&request.name) {
            None
        } else {
            self.store
                .get(&keys::datasource(&workspace, &request.name))
                .await
                .map_err(CoordinatorError::from)?
        };
        if let Some(key_value) = own {
            let record: DataSourceRecord =
                records::decode(&key_value).map_err(CoordinatorError::from)?;
            return Ok(Response::new(to_proto(&record)));
        }
        // Not its own: a data source shared with the workspace, by `OWNER/NAME` or shared name.
        match grants::find_shared(self.store.as_ref(), &workspace, &request.name).await? {
            Some((grant, record)) => Ok(Response::new(sharing::shared_to_proto(&record, &grant))),
            None => Err(CoordinatorError::NotFound {
                kind: "data source",
                name: request.name,
                hint: format!(" in workspace {workspace}, nor shared with it"),
            }
            .into()),
        }
    }

    async fn list(
        &self,
        request: Request<pb::ListDataSourcesRequest>,
    ) -> std::result::Result<Response<pb::ListDataSourcesResponse>, Status> {
        let request = request.into_inner();
        let workspace = workspaces::name_or_default(&request.workspace);
        let page_size = match request.page_size {
            0 => 100,
            size => size.min(1000),
        } as usize;
        let all = self
            .store
            .list_prefix(&keys::datasources_prefix(&workspace))
            .await
            .map_err(CoordinatorError::from)?;
        let mut data_sources = Vec::new();
        let mut next_page_token = String::new();
        for key_value in all.iter().filter(|kv| {
            request.page_token.is_empty() || kv.key.as_str() > request.page_token.as_str()
        }) {
            if data_sources.len() == page_size {
                if let Some(last) = data_sources
                    .last()
                    .map(|ds: &pb::DataSource| keys::datasource(&workspace, &ds.name))
                {
                    next_page_token = last;
                }
                break;
            }
            let record: DataSourceRecord =
                records::decode(key_value).map_err(CoordinatorError::from)?;
            data_sources.push(to_proto(&record));
        }
        // The data sources shared with the workspace follow its own, on the last page.
        if next_page_token.is_empty() {
            data_sources.extend(self.shared_with(&workspace).await?);
        }
        Ok(Response::new(pb::ListDataSourcesResponse {
            data_sources,
            next_page_token,
        }))
    }

    async fn update(
        &self,
        request: Request<pb::UpdateDataSourceRequest>,
    ) -> std::result::Result<Response<pb::DataSource>, Status> {
        let message = request
            .into_inner()
            .data_source
            .ok_or_else(|| CoordinatorError::invalid("data_source", "is required"))?;
        no_configs_in_requests(&message)?;
        let environment = workspaces::environment_or_prod(&message.environment);
        let workspace = self
            .workspace_with(&message.workspace, &environment)
            .await?;
        let (mut record, revision) = self.load(&workspace, &message.name).await?;
        if !message.r#type.is_empty() && message.r#type != record.kind {
            return Err(CoordinatorError::invalid(
                "data_source.type",
                format!(
                    "cannot change from {} to {}; create a new data source instead",
                    record.kind, message.r#type
                ),
            )
            .into());
        }
        let kind = kind_of(&record.kind)?;
        let description_only = message.options.is_empty() && message.secrets.is_empty();
        if description_only && !record.configs.contains_key(&environment) {
            return Err(CoordinatorError::invalid(
                "data_source.options",
                format!(
                    "data source {} has no {environment} config yet: give its options (and secrets)",
                    record.name
                ),
            )
            .into());
        }
        if !description_only {
            let config = self.config(
                kind,
                message.options,
                message.secrets,
                record.configs.get(&environment),
            )?;
            record.configs.insert(environment.clone(), config);
        }
        if !message.description.is_empty() {
            record.description = message.description;
        }
        record.v = DATA_SOURCE_RECORD_VERSION;
        record.updated_at_ms = now_ms();
        self.write(&record, revision).await?;
        tracing::info!(workspace = %record.workspace, name = %record.name, environment = %environment, "data source updated");
        Ok(Response::new(to_proto(&record)))
    }

    async fn clone_data_source(
        &self,
        request: Request<pb::CloneDataSourceRequest>,
    ) -> std::result::Result<Response<pb::DataSource>, Status> {
        let request = request.into_inner();
        let workspace = workspaces::name_or_default(&request.workspace);
        valid_name("new_name", &request.new_name)?;
        let (original, _) = self.load(&workspace, &request.name).await?;
        let now = now_ms();
        // The sealed secrets are copied as they are: they are never opened here.
        let copy = DataSourceRecord {
            v: DATA_SOURCE_RECORD_VERSION,
            name: request.new_name,
            description: if request.description.is_empty() {
                original.description.clone()
            } else {
                request.description
            },
            created_at_ms: now,
            updated_at_ms: now,
            ..original
        };
        self.write(&copy, 0).await?;
        tracing::info!(workspace = %workspace, from = %request.name, name = %copy.name, "data source cloned");
        Ok(Response::new(to_proto(&copy)))
    }

    async fn test_connectivity(
        &self,
        request: Request<pb::TestConnectivityRequest>,
    ) -> std::result::Result<Response<pb::TestConnectivityResponse>, Status> {
        let request = request.into_inner();
        let environment = workspaces::environment_or_prod(&request.environment);
        let workspace = self
            .workspace_with(&request.workspace, &environment)
            .await?;
        let group = if request.resource_group.is_empty() {
            DEFAULT_RESOURCE_GROUP.to_string()
        } else {
            valid_name("resource_group", &request.resource_group)?;
            request.resource_group
        };
        let role = match request.role.as_str() {
            "" | "source" => "source",
            "sink" => "sink",
            other => {
                return Err(CoordinatorError::InvalidArgument {
                    field: "role".into(),
                    message: format!("\"{other}\" is not one of source, sink"),
                }
                .into())
            }
        };
        let (record, _) = self.load(&workspace, &request.name).await?;
        let Some(sealed) = record.connection(&environment) else {
            let has: Vec<&str> = record.configs.keys().map(String::as_str).collect();
            return Err(CoordinatorError::FailedPrecondition(format!(
                "data source \"{}\" has no {environment} config (it has: {}); add one with `sluice ds update {} --env {environment} --option KEY=VALUE ...`",
                record.name,
                if has.is_empty() { "none".to_string() } else { has.join(", ") },
                record.name
            ))
            .into());
        };
        let connection = sealed
            .open(&self.secrets)
            .map_err(CoordinatorError::secret(format!(
                "data source {}, {environment} config",
                record.name
            )))?;
        let engine = self.leader.engine()?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        engine
            .send(Event::TestConnectivity {
                group: group.clone(),
                task: Box::new(pb::TestConnectivityTask {
                    request_id: String::new(),
                    connection: Some(sluice_proto::convert::connection_to_proto(&connection)),
                    role: role.to_string(),
                }),
                reply,
            })
            .await?;
        let response = match tokio::time::timeout(CONNECTIVITY_TIMEOUT, answer).await {
            Ok(Ok(result)) => result?,
            Ok(Err(_)) => return Err(CoordinatorError::ShuttingDown.into()),
            Err(_) => {
                return Err(CoordinatorError::Unavailable(format!(
                    "no worker of resource group \"{group}\" answered the connectivity test within {} s",
                    CONNECTIVITY_TIMEOUT.as_secs()
                ))
                .into())
            }
        };
        tracing::info!(workspace = %workspace, name = %record.name, environment = %environment, group = %group, worker_id = %response.worker_id, status = response.status, "connectivity tested");
        Ok(Response::new(response))
    }

    async fn share_data_source(
        &self,
        request: Request<pb::ShareDataSourceRequest>,
    ) -> std::result::Result<Response<pb::DataSourceGrant>, Status> {
        Ok(Response::new(self.share(request.into_inner()).await?))
    }

    async fn unshare_data_source(
        &self,
        request: Request<pb::UnshareDataSourceRequest>,
    ) -> std::result::Result<Response<pb::UnshareDataSourceResponse>, Status> {
        Ok(Response::new(self.unshare(request.into_inner()).await?))
    }

    async fn list_shares(
        &self,
        request: Request<pb::ListSharesRequest>,
    ) -> std::result::Result<Response<pb::ListSharesResponse>, Status> {
        Ok(Response::new(self.list_grants(request.into_inner()).await?))
    }

    async fn import_data_sources(
        &self,
        request: Request<pb::ImportDataSourcesRequest>,
    ) -> std::result::Result<Response<pb::ImportDataSourcesResponse>, Status> {
        Ok(Response::new(self.import(request.into_inner()).await?))
    }

    async fn delete(
        &self,
        request: Request<pb::DeleteDataSourceRequest>,
    ) -> std::result::Result<Response<pb::DeleteDataSourceResponse>, Status> {
        let request = request.into_inner();
        let workspace = workspaces::name_or_default(&request.workspace);
        self.refuse_if_shared(&workspace, &request.name).await?;
        match self
            .store
            .delete(
                &keys::datasource(&workspace, &request.name),
                Precondition::None,
            )
            .await
            .map_err(CoordinatorError::from)?
        {
            DeleteOutcome::Deleted => Ok(Response::new(pb::DeleteDataSourceResponse {})),
            DeleteOutcome::NotFound | DeleteOutcome::Conflict => Err(CoordinatorError::NotFound {
                kind: "data source",
                name: request.name,
                hint: format!(" in workspace {workspace}"),
            }
            .into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_common::meta::embedded::EmbeddedStore;
    use sluice_common::records::ENV_PROD;
    use sluice_common::secrets::{SealedSecret, SecretKey};
    use std::sync::Arc;

    async fn service() -> (tempfile::TempDir, DataSourceServiceImpl, SecretCipher) {
        let directory = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(directory.path().join("meta.redb"))
            .await
            .expect("store");
        let cipher = SecretCipher::new(SecretKey::generate().expect("key"));
        let service =
            DataSourceServiceImpl::new(Arc::new(store), cipher.clone(), LeaderSlot::default());
        (directory, service, cipher)
    }

    fn message(password: &str) -> pb::DataSource {
        pb::DataSource {
            name: "db".into(),
            r#type: "mysql".into(),
            options: HashMap::from([
                ("host".to_string(), "h".to_string()),
                ("database".to_string(), "d".to_string()),
                ("user".to_string(), "u".to_string()),
            ]),
            secrets: HashMap::from([("password".to_string(), password.to_string())]),
            ..Default::default()
        }
    }

    async fn stored_password(service: &DataSourceServiceImpl, name: &str) -> SealedSecret {
        let (record, _) = service.load("default", name).await.expect("load");
        record.configs[ENV_PROD].secrets["password"].clone()
    }

    #[tokio::test]
    async fn secrets_are_sealed_masked_kept_replaced_and_cloned_without_leaving_the_server() {
        let (_directory, service, cipher) = service().await;
        let created = service
            .create(Request::new(pb::CreateDataSourceRequest {
                data_source: Some(message("first-secret")),
            }))
            .await
            .expect("create")
            .into_inner();
        assert_eq!(created.secrets["password"], MASK);
        assert!(!format!("{created:?}").contains("first-secret"));
        let first = stored_password(&service, "db").await;
        assert_eq!(cipher.open(&first).expect("open"), "first-secret");

        // Not given, or given masked: kept as it is.
        for kept in [
            HashMap::new(),
            HashMap::from([("password".to_string(), MASK.to_string())]),
        ] {
            let mut update = message("unused");
            update.secrets = kept;
            service
                .update(Request::new(pb::UpdateDataSourceRequest {
                    data_source: Some(update),
                }))
                .await
                .expect("update");
            assert_eq!(stored_password(&service, "db").await, first);
        }
        service
            .update(Request::new(pb::UpdateDataSourceRequest {
                data_source: Some(message("second-secret")),
            }))
            .await
            .expect("update");
        let second = stored_password(&service, "db").await;
        assert_eq!(cipher.open(&second).expect("open"), "second-secret");

        let copy = service
            .clone_data_source(Request::new(pb::CloneDataSourceRequest {
                name: "db".into(),
                new_name: "db2".into(),
                ..Default::default()
            }))
            .await
            .expect("clone")
            .into_inner();
        assert_eq!(copy.secrets["password"], MASK);
        assert_eq!(stored_password(&service, "db2").await, second);

        // Neither options nor secrets: only the description changes.
        let description_only = pb::DataSource {
            name: "db".into(),
            description: "renamed".into(),
            ..Default::default()
        };
        let described = service
            .update(Request::new(pb::UpdateDataSourceRequest {
                data_source: Some(description_only),
            }))
            .await
            .expect("description only")
            .into_inner();
        assert_eq!(described.description, "renamed");
        assert_eq!(described.options["host"], "h");
        assert_eq!(stored_password(&service, "db").await, second);

        // A basic workspace has no dev config to set.
        let mut dev = message("x");
        dev.environment = "dev".into();
        let refused = service
            .update(Request::new(pb::UpdateDataSourceRequest {
                data_source: Some(dev),
            }))
            .await
            .expect_err("basic has no dev");
        assert!(
            refused.message().contains("--mode standard"),
            "{}",
            refused.message()
        );
    }
}
