//! gRPC clients for the client commands. Every client carries the bearer token chosen at
//! start ([`set_token`]) in its `authorization` header.

use anyhow::Context;
use sluice_common::tokens::Token;
use sluice_proto::v1::data_source_service_client::DataSourceServiceClient;
use sluice_proto::v1::job_service_client::JobServiceClient;
use sluice_proto::v1::member_service_client::MemberServiceClient;
use sluice_proto::v1::schedule_service_client::ScheduleServiceClient;
use sluice_proto::v1::workspace_service_client::WorkspaceServiceClient;
use std::sync::OnceLock;
use std::time::Duration;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// The token client commands present, set once by [`set_token`] (none: no header).
static TOKEN: OnceLock<Option<Token>> = OnceLock::new();

/// Sets the token every client of this process presents (`--token`, `SLUICE_TOKEN`, the
/// profile). Later calls are ignored.
pub fn set_token(token: Option<Token>) {
    let _ = TOKEN.set(token);
}

/// Adds `authorization: Bearer <token>` to each request.
#[derive(Clone)]
pub struct BearerToken {
    header: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

impl BearerToken {
    /// Returns the interceptor of the process's token.
    fn current() -> BearerToken {
        let header = TOKEN
            .get()
            .and_then(Option::as_ref)
            .and_then(|token| format!("Bearer {}", token.expose()).parse().ok());
        BearerToken { header }
    }
}

impl tonic::service::Interceptor for BearerToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(header) = &self.header {
            request
                .metadata_mut()
                .insert("authorization", header.clone());
        }
        Ok(request)
    }
}

/// A channel whose requests carry the token.
pub type AuthChannel = InterceptedService<Channel, BearerToken>;

fn with_token(channel: Channel) -> AuthChannel {
    InterceptedService::new(channel, BearerToken::current())
}

/// Connects to the first reachable coordinator.
pub async fn channel(coordinators: &[String]) -> anyhow::Result<Channel> {
    let mut last_error = None;
    for url in coordinators {
        let endpoint = Endpoint::from_shared(url.clone())
            .with_context(|| {
                format!("coordinator address {url:?} is not a URL like http://127.0.0.1:7070")
            })?
            .connect_timeout(Duration::from_secs(5));
        let endpoint = crate::tls::apply(endpoint)?;
        match endpoint.connect().await {
            Ok(channel) => return Ok(channel),
            Err(error) => {
                last_error = Some(
                    anyhow::Error::new(error)
                        .context(format!("cannot reach the coordinator at {url}")),
                )
            }
        }
    }
    Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no coordinator address given (--coordinator)")))
        .context("is a coordinator running? start one with `sluice standalone` or `sluice coordinator --etcd ...`")
}

/// Returns a job API client connected to the leader: standbys answer "not the leader", and
/// the next address is tried.
pub async fn jobs(coordinators: &[String]) -> anyhow::Result<JobServiceClient<AuthChannel>> {
    // Right after a start or a failover no coordinator may lead yet: retry for a while.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mut last_error = None;
        for url in coordinators {
            let Ok(channel) = channel(std::slice::from_ref(url)).await else {
                continue;
            };
            let mut client = JobServiceClient::new(with_token(channel));
            let probe = client
                .list(sluice_proto::v1::ListJobsRequest {
                    page_size: 1,
                    ..Default::default()
                })
                .await;
            match probe {
                Err(status) if status.code() == tonic::Code::Unavailable => {
                    last_error = Some(anyhow::anyhow!("{url}: {}", status.message()));
                }
                _ => return Ok(client),
            }
        }
        match last_error {
            None => {
                return Ok(JobServiceClient::new(with_token(
                    channel(coordinators).await?,
                )))
            }
            Some(error) if std::time::Instant::now() > deadline => {
                return Err(error.context("no coordinator is leading; retry in a few seconds"));
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Returns a data source API client.
pub async fn data_sources(
    coordinators: &[String],
) -> anyhow::Result<DataSourceServiceClient<AuthChannel>> {
    Ok(DataSourceServiceClient::new(with_token(
        channel(coordinators).await?,
    )))
}

/// Returns a schedule API client.
pub async fn schedules(
    coordinators: &[String],
) -> anyhow::Result<ScheduleServiceClient<AuthChannel>> {
    Ok(ScheduleServiceClient::new(with_token(
        channel(coordinators).await?,
    )))
}

/// Returns a workspace API client.
pub async fn workspaces(
    coordinators: &[String],
) -> anyhow::Result<WorkspaceServiceClient<AuthChannel>> {
    Ok(WorkspaceServiceClient::new(with_token(
        channel(coordinators).await?,
    )))
}

/// Returns a member API client.
pub async fn members(coordinators: &[String]) -> anyhow::Result<MemberServiceClient<AuthChannel>> {
    Ok(MemberServiceClient::new(with_token(
        channel(coordinators).await?,
    )))
}

/// Turns a gRPC status into an error that shows the server's message.
pub fn status_error(status: tonic::Status) -> anyhow::Error {
    match status.code() {
        tonic::Code::Unauthenticated => anyhow::anyhow!("not authenticated: {}", status.message()),
        tonic::Code::PermissionDenied => anyhow::anyhow!("permission denied: {}", status.message()),
        _ => anyhow::anyhow!("{}", status.message()),
    }
}
