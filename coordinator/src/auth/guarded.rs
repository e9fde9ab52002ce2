//! Guards: each wraps one gRPC service, authenticates the caller, checks the call against the
//! [permission table](super::permissions) and only then hands the request to the service.

mod data_source;
mod job;
mod schedule;
mod worker;
mod workspace;

pub use data_source::GuardedDataSourceService;
pub use job::GuardedJobService;
pub use schedule::GuardedScheduleService;
pub use worker::GuardedWorkerService;
pub use workspace::GuardedWorkspaceService;

use super::permissions::{Environment, Operation};
use super::{Authenticator, Principal};
use sluice_common::ids::JobId;
use sluice_common::meta::keys;
use sluice_common::records::{self, DataSourceRecord, JobRecord, ScheduleRecord, ENV_PROD};
use tonic::{Request, Status};

/// A kind of stored record whose environment decides what changing it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A schedule: its own environment.
    Schedule,
    /// A data source: prod when it has a prod config.
    DataSource,
}

/// What every guard shares: the authenticator and the store behind it.
#[derive(Clone)]
pub struct Guard {
    authenticator: Authenticator,
}

fn store_error(error: sluice_common::MetaError) -> Status {
    Status::unavailable(format!("metadata store: {error}"))
}

impl Guard {
    /// Returns a guard over the authenticator.
    pub fn new(authenticator: Authenticator) -> Self {
        Guard { authenticator }
    }

    /// Returns the caller of `request`.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` without a valid token.
    pub async fn principal<T>(&self, request: &Request<T>) -> Result<Principal, Status> {
        self.authenticator.authenticate(request.metadata()).await
    }

    /// Authenticates the caller and checks `operation` in `workspace`; returns the caller.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` or `PERMISSION_DENIED`.
    pub async fn check<T>(
        &self,
        request: &Request<T>,
        call: &str,
        workspace: Option<&str>,
        operation: Operation,
    ) -> Result<Principal, Status> {
        let principal = self.principal(request).await?;
        principal.authorize(call, workspace, operation)?;
        Ok(principal)
    }

    /// Authenticates the caller, fills the request's blank workspace field with the caller's
    /// own and checks `operation` there; returns the caller.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` or `PERMISSION_DENIED`.
    pub async fn admit<T>(
        &self,
        request: &mut Request<T>,
        call: &str,
        workspace: impl FnOnce(&mut T) -> &mut String,
        operation: Operation,
    ) -> Result<Principal, Status> {
        let principal = self.principal(request).await?;
        let field = workspace(request.get_mut());
        principal.fill_workspace(field);
        principal.authorize(call, Some(field), operation)?;
        Ok(principal)
    }

    /// Checks a create or update carrying a record (a data source, a schedule) with its own
    /// workspace (blank: the caller's) and environment: `operation` gets that environment. A
    /// request without the record is checked as a prod change in the caller's workspace (the
    /// service then refuses it as incomplete).
    ///
    /// # Errors
    /// `UNAUTHENTICATED` or `PERMISSION_DENIED`.
    pub async fn admit_record<T, R>(
        &self,
        request: &mut Request<T>,
        call: &str,
        record: impl FnOnce(&mut T) -> Option<&mut R>,
        workspace_and_environment: impl FnOnce(&mut R) -> (&mut String, &str),
        operation: impl FnOnce(Environment) -> Operation,
    ) -> Result<(), Status> {
        let principal = self.principal(request).await?;
        match record(request.get_mut()) {
            Some(record) => {
                let (workspace, environment) = workspace_and_environment(record);
                principal.fill_workspace(workspace);
                principal.authorize(
                    call,
                    Some(workspace),
                    operation(Environment::from_request(environment)),
                )
            }
            None => principal.authorize(
                call,
                Some(principal.default_workspace()),
                operation(Environment::Prod),
            ),
        }
    }

    /// Checks a change of the stored record (`stored`) named by the request's workspace (blank:
    /// the caller's) and name: `operation` gets the environment the change touches.
    ///
    /// # Errors
    /// `UNAUTHENTICATED`, `PERMISSION_DENIED`, or `UNAVAILABLE` when the store cannot be read.
    pub async fn admit_stored<T>(
        &self,
        request: &mut Request<T>,
        call: &str,
        stored: Stored,
        workspace_and_name: impl FnOnce(&mut T) -> (&mut String, String),
        operation: impl FnOnce(Environment) -> Operation,
    ) -> Result<(), Status> {
        let principal = self.principal(request).await?;
        let (workspace, name) = workspace_and_name(request.get_mut());
        principal.fill_workspace(workspace);
        let environment = match stored {
            Stored::Schedule => self.schedule_environment(workspace, &name).await?,
            Stored::DataSource => self.data_source_environment(workspace, &name).await?,
        };
        principal.authorize(call, Some(workspace), operation(environment))
    }

    /// Checks an operation on a stored job: `operation` gets the job's environment. Unknown
    /// jobs are left to the service (which answers `NOT_FOUND`) for unrestricted callers and
    /// answered `NOT_FOUND` here for members.
    ///
    /// # Errors
    /// `UNAUTHENTICATED`, `PERMISSION_DENIED` or `NOT_FOUND`.
    pub async fn check_job<T>(
        &self,
        request: &Request<T>,
        call: &str,
        job_id: &str,
        operation: impl Fn(Environment) -> Operation,
    ) -> Result<Principal, Status> {
        let principal = self.principal(request).await?;
        if matches!(principal, Principal::Unrestricted | Principal::ClusterAdmin) {
            return Ok(principal);
        }
        let stored = self
            .authenticator
            .store()
            .get(&keys::job(&JobId(job_id.to_string())))
            .await
            .map_err(store_error)?;
        let Some(stored) = stored else {
            // Members and workers get no hint of other workspaces' jobs.
            principal.authorize(call, None, operation(Environment::Prod))?;
            return Err(Status::not_found(format!("job \"{job_id}\" not found")));
        };
        let job: JobRecord = records::decode(&stored)
            .map_err(|error| Status::internal(format!("job record: {error}")))?;
        principal.authorize(
            call,
            Some(&job.workspace),
            operation(Environment::from_request(&job.environment)),
        )?;
        Ok(principal)
    }

    /// Returns the environment of a stored schedule (`prod` when it does not exist: the
    /// service then answers `NOT_FOUND` to whoever may act in prod).
    ///
    /// # Errors
    /// `UNAVAILABLE` when the store cannot be read.
    async fn schedule_environment(
        &self,
        workspace: &str,
        name: &str,
    ) -> Result<Environment, Status> {
        let stored = self
            .authenticator
            .store()
            .get(&keys::schedule(workspace, name))
            .await
            .map_err(store_error)?;
        Ok(stored
            .and_then(|value| records::decode::<ScheduleRecord>(&value).ok())
            .map_or(Environment::Prod, |schedule| {
                Environment::from_request(&schedule.environment)
            }))
    }

    /// Returns the environment that deleting or cloning a stored data source touches: `prod`
    /// when it has a prod config (or cannot be read), `dev` when it has only a dev config.
    ///
    /// # Errors
    /// `UNAVAILABLE` when the store cannot be read.
    async fn data_source_environment(
        &self,
        workspace: &str,
        name: &str,
    ) -> Result<Environment, Status> {
        let stored = self
            .authenticator
            .store()
            .get(&keys::datasource(workspace, name))
            .await
            .map_err(store_error)?;
        let Some(stored) = stored else {
            return Ok(Environment::Dev);
        };
        Ok(match records::decode::<DataSourceRecord>(&stored) {
            Ok(record) if !record.configs.contains_key(ENV_PROD) => Environment::Dev,
            _ => Environment::Prod,
        })
    }
}
