//! The guard of `sluice.v1.ScheduleService`: schedules follow the rules of the jobs they run.

use super::{Guard, Stored};
use crate::auth::permissions::Operation;
use sluice_proto::v1 as pb;
use sluice_proto::v1::schedule_service_server::ScheduleService;
use tonic::{Request, Response, Status};

/// `ScheduleService` behind the permission table: reads for every role; changes need the
/// right to run jobs in the schedule's environment.
pub struct GuardedScheduleService<S> {
    inner: S,
    guard: Guard,
}

impl<S> GuardedScheduleService<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, guard: Guard) -> Self {
        GuardedScheduleService { inner, guard }
    }

    /// Checks a change of the stored schedule `name` of `workspace` (blank: the caller's).
    async fn check_change<T>(
        &self,
        request: &mut Request<T>,
        call: &str,
        workspace_and_name: impl FnOnce(&mut T) -> (&mut String, String),
    ) -> Result<(), Status> {
        self.guard
            .admit_stored(
                request,
                call,
                Stored::Schedule,
                workspace_and_name,
                Operation::RunJobs,
            )
            .await
    }
}

#[tonic::async_trait]
impl<S: ScheduleService> ScheduleService for GuardedScheduleService<S> {
    async fn create(
        &self,
        mut request: Request<pb::CreateScheduleRequest>,
    ) -> Result<Response<pb::Schedule>, Status> {
        self.guard
            .admit_record(
                &mut request,
                "ScheduleService.Create",
                |message| message.schedule.as_mut(),
                |record| (&mut record.workspace, record.environment.as_str()),
                Operation::RunJobs,
            )
            .await?;
        self.inner.create(request).await
    }

    async fn get(
        &self,
        mut request: Request<pb::GetScheduleRequest>,
    ) -> Result<Response<pb::Schedule>, Status> {
        self.guard
            .admit(
                &mut request,
                "ScheduleService.Get",
                |message| &mut message.workspace,
                Operation::Read,
            )
            .await?;
        self.inner.get(request).await
    }

    async fn list(
        &self,
        mut request: Request<pb::ListSchedulesRequest>,
    ) -> Result<Response<pb::ListSchedulesResponse>, Status> {
        self.guard
            .admit(
                &mut request,
                "ScheduleService.List",
                |message| &mut message.workspace,
                Operation::Read,
            )
            .await?;
        self.inner.list(request).await
    }

    async fn pause(
        &self,
        mut request: Request<pb::PauseScheduleRequest>,
    ) -> Result<Response<pb::Schedule>, Status> {
        self.check_change(&mut request, "ScheduleService.Pause", |message| {
            (&mut message.workspace, message.name.clone())
        })
        .await?;
        self.inner.pause(request).await
    }

    async fn resume(
        &self,
        mut request: Request<pb::ResumeScheduleRequest>,
    ) -> Result<Response<pb::Schedule>, Status> {
        self.check_change(&mut request, "ScheduleService.Resume", |message| {
            (&mut message.workspace, message.name.clone())
        })
        .await?;
        self.inner.resume(request).await
    }

    async fn backfill(
        &self,
        mut request: Request<pb::BackfillRequest>,
    ) -> Result<Response<pb::Schedule>, Status> {
        self.check_change(&mut request, "ScheduleService.Backfill", |message| {
            (&mut message.workspace, message.name.clone())
        })
        .await?;
        self.inner.backfill(request).await
    }

    async fn delete(
        &self,
        mut request: Request<pb::DeleteScheduleRequest>,
    ) -> Result<Response<pb::DeleteScheduleResponse>, Status> {
        self.check_change(&mut request, "ScheduleService.Delete", |message| {
            (&mut message.workspace, message.name.clone())
        })
        .await?;
        self.inner.delete(request).await
    }
}
