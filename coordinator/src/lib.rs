//! The Sluice coordinator: the control plane.
//!
//! It serves the public API (workspaces, members, data sources, jobs, schedules) behind bearer
//! tokens ([`auth`]), the internal worker protocol, gRPC health and reflection, keeps its truth in a [`MetaStore`](sluice_common::meta::MetaStore), and hands
//! shards to workers as they have free slots. It never connects to a user's data store:
//! planning and finalisation run on workers too.

#![deny(rustdoc::broken_intra_doc_links)]

pub mod auth;
pub mod config;
pub use sluice_proto::convert;
pub mod engine;
pub mod error;
pub mod grants;
pub mod import;
pub mod leader;
pub mod members;
pub mod resolve;
pub mod rotate;
pub mod schedule;
pub mod service;
pub mod submit;
pub mod tls;
pub mod workspaces;

pub use config::CoordinatorConfig;
pub use error::{CoordinatorError, Result};

use sluice_common::meta::SharedMetaStore;
use sluice_proto::v1::data_source_service_server::DataSourceServiceServer;
use sluice_proto::v1::job_service_server::JobServiceServer;
use sluice_proto::v1::member_service_server::MemberServiceServer;
use sluice_proto::v1::schedule_service_server::ScheduleServiceServer;
use sluice_proto::v1::worker_service_server::WorkerServiceServer;
use sluice_proto::v1::workspace_service_server::WorkspaceServiceServer;
use std::future::Future;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

/// How long open streams may keep a stopping coordinator alive.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Error starting or running the coordinator's server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The engine could not start (the metadata store could not be read).
    #[error("coordinator could not start: {0}")]
    Start(#[from] CoordinatorError),
    /// The reflection service could not be built from the descriptors.
    #[error("reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The gRPC server failed.
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Serves the coordinator on an already bound `listener` until `shutdown` resolves.
///
/// # Errors
/// [`ServeError`] when the store cannot be loaded or the server fails.
pub async fn serve(
    listener: TcpListener,
    store: SharedMetaStore,
    config: CoordinatorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let mut config = config;
    let local_address = listener.local_addr().ok();
    if config.advertise_url.is_empty() {
        config.advertise_url = local_address
            .map(|address| format!("{}://{address}", tls::scheme(config.tls.as_ref())))
            .unwrap_or_default();
    }
    let slot = leader::LeaderSlot::default();
    let (stop_leading, stop_signal) = tokio::sync::watch::channel(false);
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    // The data source API works on every coordinator; jobs and workers only on the leader.
    health_reporter
        .set_serving::<DataSourceServiceServer<service::datasource::DataSourceServiceImpl>>()
        .await;
    health_reporter
        .set_serving::<ScheduleServiceServer<service::schedule::ScheduleServiceImpl>>()
        .await;
    health_reporter
        .set_serving::<WorkspaceServiceServer<service::workspace::WorkspaceServiceImpl>>()
        .await;
    health_reporter
        .set_serving::<MemberServiceServer<service::member::MemberServiceImpl>>()
        .await;
    set_leader_services(&health_reporter, false).await;
    let leadership = tokio::spawn(lead_while_elected(
        store.clone(),
        config.clone(),
        slot.clone(),
        health_reporter.clone(),
        stop_signal,
    ));
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(sluice_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(sluice_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    if config.secrets.is_insecure() {
        tracing::warn!("secrets are sealed under the public development key (--insecure-dev-secrets): anyone who can read the metadata store can read them; give --secret-key-file in production");
    }
    if !config.auth.is_enabled() {
        if local_address.is_some_and(|address| address.ip().is_loopback()) {
            tracing::info!(
                "authentication is off: every call from this machine is allowed without a token"
            );
        } else {
            tracing::warn!("authentication is off: every call is allowed without a token; give --admin-token-file and --cluster-token-file in production");
        }
    }
    tracing::info!(address = ?local_address, tls = config.tls.is_some(), store = %store.describe(), coordinator_id = %config.coordinator_id, secret_key_id = %config.secrets.primary_key_id(), "coordinator serving");
    // Open worker streams would hold a graceful shutdown forever: give them a grace period.
    let (stopping_sender, stopping) = tokio::sync::oneshot::channel::<()>();
    let shutdown_then_notify = async move {
        shutdown.await;
        let _ = stopping_sender.send(());
    };
    let guard =
        auth::guarded::Guard::new(auth::Authenticator::new(config.auth.clone(), store.clone()));
    let server = tls::server_builder(config.tls.as_ref())?
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(JobServiceServer::new(
            auth::guarded::GuardedJobService::new(
                service::job::JobServiceImpl::new(
                    slot.clone(),
                    store.clone(),
                    config.secrets.clone(),
                    config.data_location.clone(),
                ),
                guard.clone(),
            ),
        ))
        .add_service(DataSourceServiceServer::new(
            auth::guarded::GuardedDataSourceService::new(
                service::datasource::DataSourceServiceImpl::new(
                    store.clone(),
                    config.secrets.clone(),
                    slot.clone(),
                ),
                guard.clone(),
            ),
        ))
        .add_service(WorkspaceServiceServer::new(
            auth::guarded::GuardedWorkspaceService::new(
                service::workspace::WorkspaceServiceImpl::new(store.clone()),
                guard.clone(),
            ),
        ))
        .add_service(ScheduleServiceServer::new(
            auth::guarded::GuardedScheduleService::new(
                service::schedule::ScheduleServiceImpl::new(store.clone()),
                guard.clone(),
            ),
        ))
        .add_service(MemberServiceServer::new(
            service::member::MemberServiceImpl::new(store.clone(), guard.clone()),
        ))
        .add_service(WorkerServiceServer::new(
            auth::guarded::GuardedWorkerService::new(
                service::worker::WorkerServiceImpl::new(slot, config),
                guard,
            ),
        ))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown_then_notify);
    let grace_expired = async move {
        if stopping.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let result = tokio::select! {
        result = server => result,
        _ = grace_expired => {
            tracing::warn!(grace_s = SHUTDOWN_GRACE.as_secs(), "streams still open after the shutdown grace period; closing them");
            Ok(())
        }
    };
    let _ = stop_leading.send(true);
    let _ = leadership.await;
    result.map_err(ServeError::from)
}

/// Campaigns for leadership; while elected runs the engine; on losing the lease stops it and
/// campaigns again; on `stop` steps down cleanly (revoking the lease, so a standby takes over
/// at once).
async fn lead_while_elected(
    store: SharedMetaStore,
    config: CoordinatorConfig,
    slot: leader::LeaderSlot,
    health: tonic_health::server::HealthReporter,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let me = leader::record(&config.coordinator_id, &config.advertise_url);
    loop {
        let lease = tokio::select! {
            lease = leader::campaign(store.as_ref(), &me, config.leader_ttl, &slot) => lease,
            _ = stop.wait_for(|stopping| *stopping) => return,
        };
        tracing::info!(coordinator_id = %config.coordinator_id, url = %config.advertise_url, "elected leader");
        let (engine_stop, engine_stopped) = tokio::sync::oneshot::channel::<()>();
        let started = engine::start(store.clone(), config.clone(), async move {
            let _ = engine_stopped.await;
        })
        .await;
        let (engine, engine_task) = match started {
            Ok(started) => started,
            Err(error) => {
                tracing::error!(%error, "cannot load jobs as the new leader; stepping down");
                let _ = store.revoke_lease(lease).await;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        let (scheduler_stop, scheduler_stopped) = tokio::sync::oneshot::channel::<()>();
        let scheduler_task = tokio::spawn(schedule::scheduler::run(
            store.clone(),
            engine.clone(),
            config.secrets.clone(),
            async move {
                let _ = scheduler_stopped.await;
            },
        ));
        slot.set_engine(Some(engine));
        set_leader_services(&health, true).await;
        let stopping = tokio::select! {
            _ = leader::hold(store.as_ref(), lease, config.leader_ttl) => false,
            _ = stop.wait_for(|stopping| *stopping) => true,
        };
        let _ = scheduler_stop.send(());
        let _ = scheduler_task.await;
        slot.set_engine(None);
        set_leader_services(&health, false).await;
        let _ = engine_stop.send(());
        let _ = engine_task.await;
        if stopping {
            let _ = store.revoke_lease(lease).await;
            tracing::info!("stepped down");
            return;
        }
        tracing::warn!("lost leadership; standing by");
    }
}

/// Reports the leader-only services as serving (or not) on the gRPC health protocol, so a
/// readiness probe on `sluice.v1.WorkerService` selects the leader.
async fn set_leader_services(health: &tonic_health::server::HealthReporter, leading: bool) {
    if leading {
        health
            .set_serving::<JobServiceServer<service::job::JobServiceImpl>>()
            .await;
        health
            .set_serving::<WorkerServiceServer<service::worker::WorkerServiceImpl>>()
            .await;
    } else {
        health
            .set_not_serving::<JobServiceServer<service::job::JobServiceImpl>>()
            .await;
        health
            .set_not_serving::<WorkerServiceServer<service::worker::WorkerServiceImpl>>()
            .await;
    }
}
