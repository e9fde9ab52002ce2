//! `sluice.v1.DataSourceService`: data sources stored under `datasources/{ws}/{name}`.

use crate::convert;
use crate::error::{CoordinatorError, Result};
use sluice_common::meta::{keys, DeleteOutcome, Precondition, PutOutcome, SharedMetaStore};
use sluice_common::records::{self, now_ms, DataSourceRecord, RECORD_VERSION};
use sluice_common::spec::{
    check_connection, connection_type, is_valid_name, Role, CONNECTION_TYPES,
};
use sluice_common::SpecErrors;
use sluice_proto::v1 as pb;
use sluice_proto::v1::data_source_service_server::DataSourceService;
use std::collections::BTreeMap;
use tonic::{Request, Response, Status};

/// Shown instead of a secret value.
pub const MASK: &str = "***";

/// Serves the data source API.
pub struct DataSourceServiceImpl {
    store: SharedMetaStore,
}

impl DataSourceServiceImpl {
    /// Returns the service over the metadata store.
    pub fn new(store: SharedMetaStore) -> Self {
        DataSourceServiceImpl { store }
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
}

fn workspace_of(workspace: &str) -> String {
    if workspace.trim().is_empty() {
        sluice_common::DEFAULT_WORKSPACE.to_string()
    } else {
        workspace.to_string()
    }
}

/// Checks the name, type and options of a data source; secrets split by the type's declaration.
fn validated_record(message: pb::DataSource, created_at_ms: i64) -> Result<DataSourceRecord> {
    let workspace = workspace_of(&message.workspace);
    if !is_valid_name(&workspace) {
        return Err(CoordinatorError::invalid(
            "data_source.workspace",
            format!("\"{workspace}\" is not a valid name: use letters, digits, `_` and `-`"),
        ));
    }
    if !is_valid_name(&message.name) {
        return Err(CoordinatorError::invalid(
            "data_source.name",
            format!(
                "\"{}\" is not a valid name: use letters, digits, `_` and `-`",
                message.name
            ),
        ));
    }
    let Some(kind) = connection_type(&message.r#type) else {
        let names: Vec<&str> = CONNECTION_TYPES.iter().map(|kind| kind.name).collect();
        return Err(CoordinatorError::invalid(
            "data_source.type",
            format!("\"{}\" is not one of {}", message.r#type, names.join(", ")),
        ));
    };
    let mut options: BTreeMap<String, String> = BTreeMap::new();
    let mut secrets: BTreeMap<String, String> = message.secrets.into_iter().collect();
    for (name, value) in message.options {
        // A secret given as a plain option is still stored (and shown) as a secret.
        if kind.secrets.contains(&name.as_str()) {
            secrets.insert(name, value);
        } else {
            options.insert(name, value);
        }
    }
    let record = DataSourceRecord {
        v: RECORD_VERSION,
        workspace,
        name: message.name,
        kind: kind.name.to_string(),
        description: message.description,
        options,
        secrets,
        created_at_ms,
        updated_at_ms: now_ms(),
    };
    let role = if kind.can_write {
        Role::Sink
    } else {
        Role::Source
    };
    let problems = check_connection("data_source.options", role, &record.connection());
    if !problems.is_empty() {
        return Err(CoordinatorError::InvalidSpec(SpecErrors(problems)));
    }
    Ok(record)
}

/// Returns the API view of a record, secrets masked.
pub fn to_proto(record: &DataSourceRecord) -> pb::DataSource {
    pb::DataSource {
        workspace: record.workspace.clone(),
        name: record.name.clone(),
        r#type: record.kind.clone(),
        description: record.description.clone(),
        options: record.options.clone().into_iter().collect(),
        secrets: record
            .secrets
            .keys()
            .map(|key| (key.clone(), MASK.to_string()))
            .collect(),
        created_at: Some(convert::timestamp(record.created_at_ms)),
        updated_at: Some(convert::timestamp(record.updated_at_ms)),
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
        let record = validated_record(message, now_ms())?;
        let key = keys::datasource(&record.workspace, &record.name);
        match self
            .store
            .put(&key, records::encode(&record), Precondition::Absent, None)
            .await
            .map_err(CoordinatorError::from)?
        {
            PutOutcome::Written { .. } => {
                tracing::info!(workspace = %record.workspace, name = %record.name, kind = %record.kind, "data source created");
                Ok(Response::new(to_proto(&record)))
            }
            PutOutcome::Conflict { .. } => Err(CoordinatorError::AlreadyExists {
                kind: "data source",
                name: record.name,
            }
            .into()),
        }
    }

    async fn get(
        &self,
        request: Request<pb::GetDataSourceRequest>,
    ) -> std::result::Result<Response<pb::DataSource>, Status> {
        let request = request.into_inner();
        let (record, _) = self
            .load(&workspace_of(&request.workspace), &request.name)
            .await?;
        Ok(Response::new(to_proto(&record)))
    }

    async fn list(
        &self,
        request: Request<pb::ListDataSourcesRequest>,
    ) -> std::result::Result<Response<pb::ListDataSourcesResponse>, Status> {
        let request = request.into_inner();
        let workspace = workspace_of(&request.workspace);
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
        Ok(Response::new(pb::ListDataSourcesResponse {
            data_sources,
            next_page_token,
        }))
    }

    async fn update(
        &self,
        request: Request<pb::UpdateDataSourceRequest>,
    ) -> std::result::Result<Response<pb::DataSource>, Status> {
        let mut message = request
            .into_inner()
            .data_source
            .ok_or_else(|| CoordinatorError::invalid("data_source", "is required"))?;
        let workspace = workspace_of(&message.workspace);
        let (existing, revision) = self.load(&workspace, &message.name).await?;
        if message.r#type.is_empty() {
            message.r#type = existing.kind.clone();
        }
        if message.r#type != existing.kind {
            return Err(CoordinatorError::invalid(
                "data_source.type",
                format!(
                    "cannot change from {} to {}; create a new data source instead",
                    existing.kind, message.r#type
                ),
            )
            .into());
        }
        // Secrets not given (or given masked) are kept.
        for (name, value) in &existing.secrets {
            let keep = message.secrets.get(name).is_none_or(|given| given == MASK);
            if keep {
                message.secrets.insert(name.clone(), value.clone());
            }
        }
        let record = validated_record(message, existing.created_at_ms)?;
        let key = keys::datasource(&record.workspace, &record.name);
        match self
            .store
            .put(
                &key,
                records::encode(&record),
                Precondition::ModRevision(revision),
                None,
            )
            .await
            .map_err(CoordinatorError::from)?
        {
            PutOutcome::Written { .. } => Ok(Response::new(to_proto(&record))),
            PutOutcome::Conflict { .. } => Err(CoordinatorError::FailedPrecondition(format!(
                "data source {} changed while it was being updated; read it again and retry",
                record.name
            ))
            .into()),
        }
    }

    async fn delete(
        &self,
        request: Request<pb::DeleteDataSourceRequest>,
    ) -> std::result::Result<Response<pb::DeleteDataSourceResponse>, Status> {
        let request = request.into_inner();
        let workspace = workspace_of(&request.workspace);
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
