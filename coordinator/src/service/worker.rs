//! `sluice.v1.WorkerService`: one bidirectional stream per worker.

use crate::config::CoordinatorConfig;
use crate::engine::model::WorkerRuntime;
use crate::engine::Event;
use crate::leader::LeaderSlot;
use sluice_common::ids::{Attempt, JobId, ShardId, WorkerId};
use sluice_proto::v1 as pb;
use sluice_proto::v1::worker_service_server::WorkerService;
use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

/// Serves the worker protocol.
pub struct WorkerServiceImpl {
    leader: LeaderSlot,
    config: CoordinatorConfig,
    next_connection_id: AtomicU64,
}

impl WorkerServiceImpl {
    /// Returns the service over the leader's engine.
    pub fn new(leader: LeaderSlot, config: CoordinatorConfig) -> Self {
        WorkerServiceImpl {
            leader,
            config,
            next_connection_id: AtomicU64::new(1),
        }
    }
}

/// Stream type of `Session`.
pub type SessionStream = Pin<Box<dyn Stream<Item = Result<pb::CoordinatorMessage, Status>> + Send>>;

#[tonic::async_trait]
impl WorkerService for WorkerServiceImpl {
    type SessionStream = SessionStream;

    async fn session(
        &self,
        request: Request<Streaming<pb::WorkerMessage>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let engine = self.leader.engine().map_err(Status::from)?;
        let mut inbound = request.into_inner();
        let first = inbound
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("the stream closed before Register"))?;
        let Some(pb::worker_message::Body::Register(register)) = first.body else {
            return Err(Status::invalid_argument(
                "the first message of a worker stream must be Register",
            ));
        };
        if register.worker_id.trim().is_empty() {
            return Err(Status::invalid_argument(
                "register.worker_id: must not be empty",
            ));
        }
        if register.slots == 0 {
            return Err(Status::invalid_argument(
                "register.slots: must be at least 1",
            ));
        }
        let worker_id = WorkerId(register.worker_id.clone());
        let connection_id = self.next_connection_id.fetch_add(1, Ordering::Relaxed);
        let (outbound, receiver) = mpsc::channel(1024);
        let registered = pb::CoordinatorMessage {
            body: Some(pb::coordinator_message::Body::Registered(pb::Registered {
                coordinator_id: self.config.coordinator_id.clone(),
                heartbeat_interval_ms: u32::try_from(self.config.heartbeat_interval.as_millis())
                    .unwrap_or(1000),
                data_location: self.config.data_location.clone().unwrap_or_default(),
            })),
        };
        outbound
            .send(Ok(registered))
            .await
            .map_err(|_| Status::unavailable("worker stream closed"))?;
        let claimed: Vec<(JobId, ShardId, Attempt)> = register
            .running
            .iter()
            .map(|running| {
                (
                    JobId(running.job_id.clone()),
                    ShardId(running.shard_id),
                    Attempt(running.attempt),
                )
            })
            .collect();
        let worker = WorkerRuntime {
            worker_id: worker_id.clone(),
            connection_id,
            resource_group: if register.resource_group.is_empty() {
                "default".to_string()
            } else {
                register.resource_group
            },
            slots: register.slots,
            version: register.version,
            last_seen: Instant::now(),
            running: BTreeSet::new(),
            tasks: 0,
            draining: false,
        };
        engine
            .send(Event::WorkerJoined {
                worker: Box::new(worker),
                claimed,
                outbound,
            })
            .await
            .map_err(Status::from)?;
        tokio::spawn(async move {
            loop {
                match inbound.message().await {
                    Ok(Some(message)) => {
                        let Some(body) = message.body else { continue };
                        let event = Event::WorkerMessage {
                            worker_id: worker_id.clone(),
                            connection_id,
                            body,
                        };
                        if engine.send(event).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(status) => {
                        tracing::info!(worker_id = %worker_id, error = %status.message(), "worker stream failed");
                        break;
                    }
                }
            }
            let _ = engine
                .send(Event::WorkerLeft {
                    worker_id,
                    connection_id,
                })
                .await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}
