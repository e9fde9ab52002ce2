//! `sluice.v1.WorkspaceService`: workspaces stored under `workspaces/{ws}`.

use crate::convert;
use crate::error::{CoordinatorError, Result};
use crate::workspaces;
use sluice_common::meta::{keys, DeleteOutcome, Precondition, PutOutcome, SharedMetaStore};
use sluice_common::records::{
    self, now_ms, JobRecord, WorkspaceMode, WorkspaceRecord, RECORD_VERSION,
};
use sluice_common::spec::is_valid_name;
use sluice_common::DEFAULT_WORKSPACE;
use sluice_proto::v1 as pb;
use sluice_proto::v1::workspace_service_server::WorkspaceService;
use tonic::{Request, Response, Status};

/// Serves the workspace API.
pub struct WorkspaceServiceImpl {
    store: SharedMetaStore,
}

impl WorkspaceServiceImpl {
    /// Returns the service over the metadata store.
    pub fn new(store: SharedMetaStore) -> Self {
        WorkspaceServiceImpl { store }
    }

    async fn write(&self, record: &WorkspaceRecord, revision: i64) -> Result<()> {
        let condition = if revision == 0 {
            Precondition::Absent
        } else {
            Precondition::ModRevision(revision)
        };
        match self
            .store
            .put(
                &keys::workspace(&record.name),
                records::encode(record),
                condition,
                None,
            )
            .await?
        {
            PutOutcome::Written { .. } => Ok(()),
            PutOutcome::Conflict { .. } if revision == 0 && record.name != DEFAULT_WORKSPACE => {
                Err(CoordinatorError::AlreadyExists {
                    kind: "workspace",
                    name: record.name.clone(),
                })
            }
            PutOutcome::Conflict { .. } => Err(CoordinatorError::FailedPrecondition(format!(
                "workspace {} changed while it was being updated; read it again and retry",
                record.name
            ))),
        }
    }

    /// Returns why the workspace cannot be deleted, if it cannot.
    async fn still_in_use(&self, workspace: &str) -> Result<Option<String>> {
        let data_sources: Vec<String> = self
            .store
            .list_prefix(&keys::datasources_prefix(workspace))
            .await?
            .into_iter()
            .filter_map(|kv| kv.key.rsplit('/').next().map(str::to_string))
            .collect();
        if !data_sources.is_empty() {
            return Ok(Some(format!(
                "workspace {workspace} still has {} data source(s): {}; delete them first with `sluice ds delete NAME --workspace {workspace}`",
                data_sources.len(),
                data_sources.join(", ")
            )));
        }
        let mut unfinished = Vec::new();
        for key_value in self.store.list_prefix(keys::JOBS_PREFIX).await? {
            let Ok(job) = records::decode::<JobRecord>(&key_value) else {
                continue;
            };
            if job.workspace == workspace && !job.state.is_terminal() {
                unfinished.push(job.id.to_string());
            }
        }
        if !unfinished.is_empty() {
            return Ok(Some(format!(
                "workspace {workspace} still has {} unfinished job(s): {}; wait for them or cancel them with `sluice job cancel ID`",
                unfinished.len(),
                unfinished.join(", ")
            )));
        }
        Ok(None)
    }
}

fn mode_from_proto(mode: i32) -> Option<WorkspaceMode> {
    match pb::WorkspaceMode::try_from(mode).unwrap_or(pb::WorkspaceMode::Unspecified) {
        pb::WorkspaceMode::Unspecified => None,
        pb::WorkspaceMode::Basic => Some(WorkspaceMode::Basic),
        pb::WorkspaceMode::Standard => Some(WorkspaceMode::Standard),
    }
}

fn mode_to_proto(mode: WorkspaceMode) -> pb::WorkspaceMode {
    match mode {
        WorkspaceMode::Basic => pb::WorkspaceMode::Basic,
        WorkspaceMode::Standard => pb::WorkspaceMode::Standard,
    }
}

/// Returns the API view of a workspace.
pub fn to_proto(record: &WorkspaceRecord) -> pb::Workspace {
    pb::Workspace {
        name: record.name.clone(),
        mode: mode_to_proto(record.mode) as i32,
        description: record.description.clone(),
        environments: record
            .mode
            .environments()
            .iter()
            .map(|environment| environment.to_string())
            .collect(),
        created_at: (record.created_at_ms > 0).then(|| convert::timestamp(record.created_at_ms)),
        updated_at: (record.updated_at_ms > 0).then(|| convert::timestamp(record.updated_at_ms)),
    }
}

#[tonic::async_trait]
impl WorkspaceService for WorkspaceServiceImpl {
    async fn create(
        &self,
        request: Request<pb::CreateWorkspaceRequest>,
    ) -> std::result::Result<Response<pb::Workspace>, Status> {
        let message = request
            .into_inner()
            .workspace
            .ok_or_else(|| CoordinatorError::invalid("workspace", "is required"))?;
        if !is_valid_name(&message.name) {
            return Err(CoordinatorError::invalid(
                "workspace.name",
                format!(
                    "\"{}\" is not a valid name: use letters, digits, `_` and `-` (at most 128)",
                    message.name
                ),
            )
            .into());
        }
        if message.name == DEFAULT_WORKSPACE {
            return Err(CoordinatorError::AlreadyExists {
                kind: "workspace",
                name: message.name,
            }
            .into());
        }
        let now = now_ms();
        let record = WorkspaceRecord {
            v: RECORD_VERSION,
            name: message.name,
            mode: mode_from_proto(message.mode).unwrap_or(WorkspaceMode::Basic),
            description: message.description,
            created_at_ms: now,
            updated_at_ms: now,
        };
        self.write(&record, 0).await?;
        tracing::info!(workspace = %record.name, mode = record.mode.name(), "workspace created");
        Ok(Response::new(to_proto(&record)))
    }

    async fn get(
        &self,
        request: Request<pb::GetWorkspaceRequest>,
    ) -> std::result::Result<Response<pb::Workspace>, Status> {
        let name = workspaces::name_or_default(&request.into_inner().name);
        let (record, _) = workspaces::load(self.store.as_ref(), &name).await?;
        Ok(Response::new(to_proto(&record)))
    }

    async fn list(
        &self,
        _request: Request<pb::ListWorkspacesRequest>,
    ) -> std::result::Result<Response<pb::ListWorkspacesResponse>, Status> {
        let mut all = Vec::new();
        for key_value in self
            .store
            .list_prefix(keys::WORKSPACES_PREFIX)
            .await
            .map_err(CoordinatorError::from)?
        {
            let record: WorkspaceRecord =
                records::decode(&key_value).map_err(CoordinatorError::from)?;
            all.push(record);
        }
        if !all.iter().any(|record| record.name == DEFAULT_WORKSPACE) {
            all.push(WorkspaceRecord::implicit_default());
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Response::new(pb::ListWorkspacesResponse {
            workspaces: all.iter().map(to_proto).collect(),
        }))
    }

    async fn update(
        &self,
        request: Request<pb::UpdateWorkspaceRequest>,
    ) -> std::result::Result<Response<pb::Workspace>, Status> {
        let message = request
            .into_inner()
            .workspace
            .ok_or_else(|| CoordinatorError::invalid("workspace", "is required"))?;
        let name = workspaces::name_or_default(&message.name);
        let (mut record, revision) = workspaces::load(self.store.as_ref(), &name).await?;
        let previous_mode = record.mode;
        if let Some(mode) = mode_from_proto(message.mode) {
            if previous_mode == WorkspaceMode::Standard && mode == WorkspaceMode::Basic {
                return Err(CoordinatorError::invalid(
                    "workspace.mode",
                    format!(
                        "workspace {name} is standard and cannot become basic (its dev configs would be orphaned); create a new basic workspace instead"
                    ),
                )
                .into());
            }
            record.mode = mode;
        }
        if !message.description.is_empty() {
            record.description = message.description;
        }
        let now = now_ms();
        if record.created_at_ms == 0 {
            record.created_at_ms = now;
        }
        record.updated_at_ms = now;
        self.write(&record, revision).await?;
        if previous_mode != record.mode {
            // Data sources keep their one config, which already is their prod config: nothing
            // else to migrate. Dev configs are added per data source before dev jobs run.
            tracing::info!(workspace = %name, from = previous_mode.name(), to = record.mode.name(), "workspace mode changed");
        }
        Ok(Response::new(to_proto(&record)))
    }

    async fn delete(
        &self,
        request: Request<pb::DeleteWorkspaceRequest>,
    ) -> std::result::Result<Response<pb::DeleteWorkspaceResponse>, Status> {
        let name = request.into_inner().name;
        if name.trim().is_empty() || name == DEFAULT_WORKSPACE {
            return Err(CoordinatorError::invalid(
                "name",
                "the default workspace cannot be deleted; name another workspace",
            )
            .into());
        }
        let (_, revision) = workspaces::load(self.store.as_ref(), &name).await?;
        if let Some(reason) = self.still_in_use(&name).await? {
            return Err(CoordinatorError::FailedPrecondition(reason).into());
        }
        match self
            .store
            .delete(&keys::workspace(&name), Precondition::ModRevision(revision))
            .await
            .map_err(CoordinatorError::from)?
        {
            DeleteOutcome::Deleted => {
                tracing::info!(workspace = %name, "workspace deleted");
                Ok(Response::new(pb::DeleteWorkspaceResponse {}))
            }
            DeleteOutcome::NotFound | DeleteOutcome::Conflict => {
                Err(CoordinatorError::FailedPrecondition(format!(
                    "workspace {name} changed while it was being deleted; retry"
                ))
                .into())
            }
        }
    }
}
