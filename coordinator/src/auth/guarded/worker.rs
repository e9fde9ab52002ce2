//! The guard of `sluice.v1.WorkerService`: only the cluster token opens a session.

use super::Guard;
use crate::auth::permissions::Operation;
use sluice_proto::v1 as pb;
use sluice_proto::v1::worker_service_server::WorkerService;
use tonic::{Request, Response, Status, Streaming};

/// `WorkerService` open only to the cluster token.
pub struct GuardedWorkerService<S> {
    inner: S,
    guard: Guard,
}

impl<S> GuardedWorkerService<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, guard: Guard) -> Self {
        GuardedWorkerService { inner, guard }
    }
}

#[tonic::async_trait]
impl<S: WorkerService> WorkerService for GuardedWorkerService<S> {
    type SessionStream = S::SessionStream;

    async fn session(
        &self,
        request: Request<Streaming<pb::WorkerMessage>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let principal = self.guard.principal(&request).await.map_err(|status| {
            if status.code() != tonic::Code::Unauthenticated {
                return status;
            }
            Status::unauthenticated(
                "a worker session needs the cluster token: start the worker with --cluster-token-file FILE (or SLUICE_CLUSTER_TOKEN_FILE), the file the coordinator got as --cluster-token-file",
            )
        })?;
        principal.authorize("WorkerService.Session", None, Operation::WorkerSession)?;
        self.inner.session(request).await
    }
}
