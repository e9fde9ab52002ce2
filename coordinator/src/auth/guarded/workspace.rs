//! The guard of `sluice.v1.WorkspaceService`.

use super::Guard;
use crate::auth::permissions::Operation;
use crate::auth::Principal;
use sluice_proto::v1 as pb;
use sluice_proto::v1::workspace_service_server::WorkspaceService;
use tonic::{Request, Response, Status};

/// `WorkspaceService` behind the permission table: creating and deleting workspaces is the
/// cluster admin's; a workspace's admin changes it; members see only their own.
pub struct GuardedWorkspaceService<S> {
    inner: S,
    guard: Guard,
}

impl<S> GuardedWorkspaceService<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, guard: Guard) -> Self {
        GuardedWorkspaceService { inner, guard }
    }
}

#[tonic::async_trait]
impl<S: WorkspaceService> WorkspaceService for GuardedWorkspaceService<S> {
    async fn create(
        &self,
        request: Request<pb::CreateWorkspaceRequest>,
    ) -> Result<Response<pb::Workspace>, Status> {
        self.guard
            .check(
                &request,
                "WorkspaceService.Create",
                None,
                Operation::AdministerCluster,
            )
            .await?;
        self.inner.create(request).await
    }

    async fn get(
        &self,
        mut request: Request<pb::GetWorkspaceRequest>,
    ) -> Result<Response<pb::Workspace>, Status> {
        let principal = self.guard.principal(&request).await?;
        principal.fill_workspace(&mut request.get_mut().name);
        principal.authorize(
            "WorkspaceService.Get",
            Some(&request.get_ref().name),
            Operation::Read,
        )?;
        self.inner.get(request).await
    }

    async fn list(
        &self,
        request: Request<pb::ListWorkspacesRequest>,
    ) -> Result<Response<pb::ListWorkspacesResponse>, Status> {
        let principal = self
            .guard
            .check(&request, "WorkspaceService.List", None, Operation::Read)
            .await?;
        let mut response = self.inner.list(request).await?;
        if let Principal::Member { workspace, .. } = &principal {
            response
                .get_mut()
                .workspaces
                .retain(|listed| &listed.name == workspace);
        }
        Ok(response)
    }

    async fn update(
        &self,
        mut request: Request<pb::UpdateWorkspaceRequest>,
    ) -> Result<Response<pb::Workspace>, Status> {
        let principal = self.guard.principal(&request).await?;
        if let Some(workspace) = request.get_mut().workspace.as_mut() {
            principal.fill_workspace(&mut workspace.name);
        }
        let name = request
            .get_ref()
            .workspace
            .as_ref()
            .map(|workspace| workspace.name.clone())
            .unwrap_or_else(|| principal.default_workspace().to_string());
        principal.authorize(
            "WorkspaceService.Update",
            Some(&name),
            Operation::ManageWorkspace,
        )?;
        self.inner.update(request).await
    }

    async fn delete(
        &self,
        request: Request<pb::DeleteWorkspaceRequest>,
    ) -> Result<Response<pb::DeleteWorkspaceResponse>, Status> {
        self.guard
            .check(
                &request,
                "WorkspaceService.Delete",
                None,
                Operation::AdministerCluster,
            )
            .await?;
        let name = request.get_ref().name.clone();
        let response = self.inner.delete(request).await?;
        // A workspace created again under the same name starts without members or tokens.
        crate::members::remove_workspace_members(self.guard.authenticator.store().as_ref(), &name)
            .await
            .map_err(Status::from)?;
        Ok(response)
    }
}
