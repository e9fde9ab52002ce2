//! The guard of `sluice.v1.JobService`.

use super::Guard;
use crate::auth::permissions::{Environment, Operation};
use crate::auth::Principal;
use sluice_proto::v1 as pb;
use sluice_proto::v1::job_service_server::JobService;
use tonic::{Request, Response, Status};

/// `JobService` behind the permission table: reads for every role, submit, cancel and dirty
/// records by the job's environment.
pub struct GuardedJobService<S> {
    inner: S,
    guard: Guard,
}

impl<S> GuardedJobService<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, guard: Guard) -> Self {
        GuardedJobService { inner, guard }
    }
}

#[tonic::async_trait]
impl<S: JobService> JobService for GuardedJobService<S> {
    type WatchStream = S::WatchStream;

    async fn submit(
        &self,
        mut request: Request<pb::SubmitJobRequest>,
    ) -> Result<Response<pb::SubmitJobResponse>, Status> {
        let principal = self.guard.principal(&request).await?;
        let message = request.get_mut();
        principal.fill_workspace(&mut message.workspace);
        principal.authorize(
            "JobService.Submit",
            Some(&message.workspace),
            Operation::RunJobs(Environment::from_request(&message.environment)),
        )?;
        self.inner.submit(request).await
    }

    async fn get(&self, request: Request<pb::GetJobRequest>) -> Result<Response<pb::Job>, Status> {
        let job_id = request.get_ref().job_id.clone();
        self.guard
            .check_job(&request, "JobService.Get", &job_id, |_| Operation::Read)
            .await?;
        self.inner.get(request).await
    }

    async fn list(
        &self,
        mut request: Request<pb::ListJobsRequest>,
    ) -> Result<Response<pb::ListJobsResponse>, Status> {
        let principal = self.guard.principal(&request).await?;
        let message = request.get_mut();
        // An empty workspace lists every workspace: a member sees only its own.
        if let Principal::Member { workspace, .. } = &principal {
            if message.workspace.trim().is_empty() {
                message.workspace = workspace.clone();
            }
        }
        let workspace =
            (!message.workspace.trim().is_empty()).then_some(message.workspace.as_str());
        principal.authorize("JobService.List", workspace, Operation::Read)?;
        self.inner.list(request).await
    }

    async fn cancel(
        &self,
        request: Request<pb::CancelJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let job_id = request.get_ref().job_id.clone();
        self.guard
            .check_job(&request, "JobService.Cancel", &job_id, Operation::RunJobs)
            .await?;
        self.inner.cancel(request).await
    }

    async fn watch(
        &self,
        request: Request<pb::WatchJobRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let job_id = request.get_ref().job_id.clone();
        self.guard
            .check_job(&request, "JobService.Watch", &job_id, |_| Operation::Read)
            .await?;
        self.inner.watch(request).await
    }

    async fn list_dirty_records(
        &self,
        request: Request<pb::ListDirtyRecordsRequest>,
    ) -> Result<Response<pb::ListDirtyRecordsResponse>, Status> {
        let job_id = request.get_ref().job_id.clone();
        self.guard
            .check_job(
                &request,
                "JobService.ListDirtyRecords",
                &job_id,
                Operation::RunJobs,
            )
            .await?;
        self.inner.list_dirty_records(request).await
    }
}
