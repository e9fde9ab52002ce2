//! The worker's connection to the coordinator: register, receive work, report, reconnect.
//!
//! Results and task outcomes go through an outbox that outlives any one stream, so a result
//! produced while the coordinator is unreachable is delivered after the reconnect (the
//! coordinator fences it by attempt number if the shard was re-queued meanwhile).

use crate::config::WorkerConfig;
use crate::error::WorkerError;
use crate::pieces::{PieceCursor, PiecePlan, SplitAnswer};
use crate::pipeline::{run_shard, ShardEnd, ShardWork};
use crate::report::Reporter;
use crate::slots::{AttemptKey, Slots};
use crate::tasks;
use sluice_common::ids::{Attempt, JobId, ShardId};
use sluice_connectors::{DirtyRecord, DirtyStore, ShardCounters};
use sluice_proto::v1 as pb;
use sluice_proto::v1::worker_service_client::WorkerServiceClient;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};

const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs the worker until `shutdown` resolves and its shards have drained.
///
/// On `shutdown` the worker takes no new shards, lets running ones finish for up to
/// `drain_timeout` (then cancels them, rolling them back), delivers their results and returns.
///
/// # Errors
/// [`WorkerError`] for an invalid configuration; connection problems are retried forever.
pub async fn run(
    config: WorkerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    if config.coordinators.is_empty() {
        return Err(WorkerError::NoCoordinator);
    }
    if config.slots == 0 {
        return Err(WorkerError::Config {
            field: "--slots".into(),
            message: "must be at least 1".into(),
        });
    }
    let mut endpoints = Vec::with_capacity(config.coordinators.len());
    for url in &config.coordinators {
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|error| WorkerError::BadAddress {
                url: url.clone(),
                message: error.to_string(),
            })?
            .connect_timeout(Duration::from_secs(5))
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true);
        let endpoint = config
            .tls
            .apply(endpoint)
            .map_err(|error| WorkerError::BadAddress {
                url: url.clone(),
                message: format!("TLS settings (--tls-ca, --tls-client-cert): {error}"),
            })?;
        endpoints.push(endpoint);
    }
    let (shutdown_sender, mut shutdown_receiver) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = shutdown_sender.send(true);
    });
    metrics::gauge!("sluice_worker_slots_total").set(f64::from(config.slots));
    let mut state = WorkerState {
        config,
        slots: Slots::default(),
        outbox: mpsc::unbounded_channel(),
        draining: false,
        drain_deadline: None,
        dirty_store: None,
    };
    let mut backoff = Duration::from_millis(200);
    let mut endpoint_index = 0usize;
    loop {
        let endpoint = &endpoints[endpoint_index % endpoints.len()];
        endpoint_index += 1;
        match endpoint.connect().await {
            Ok(channel) => match state.session(channel, &mut shutdown_receiver).await {
                SessionEnd::Finished => return Ok(()),
                // Refused (wrong cluster token): keep backing off rather than hammering.
                SessionEnd::Refused => {}
                SessionEnd::Lost => backoff = Duration::from_millis(200),
            },
            Err(error) => {
                tracing::warn!(coordinator = %endpoint.uri(), error = %error, "cannot reach the coordinator; retrying");
            }
        }
        if state.draining && state.slots.is_empty() {
            tracing::info!("drained while disconnected; exiting");
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown_receiver.changed(), if !state.draining => state.start_draining(),
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[derive(Debug, PartialEq, Eq)]
enum SessionEnd {
    /// The coordinator refused the worker's credentials; retry after a growing pause.
    Refused,
    /// The stream broke; reconnect.
    Lost,
    /// Drained; exit.
    Finished,
}

struct WorkerState {
    config: WorkerConfig,
    slots: Slots,
    outbox: (
        mpsc::UnboundedSender<pb::WorkerMessage>,
        mpsc::UnboundedReceiver<pb::WorkerMessage>,
    ),
    draining: bool,
    drain_deadline: Option<Instant>,
    /// Where attempts' dirty records go, as the coordinator said at registration.
    dirty_store: Option<DirtyStore>,
}

impl WorkerState {
    fn start_draining(&mut self) {
        if self.draining {
            return;
        }
        self.draining = true;
        self.drain_deadline = Some(Instant::now() + self.config.drain_timeout);
        tracing::info!(
            running = self.slots.len(),
            drain_timeout_s = self.config.drain_timeout.as_secs(),
            "draining: taking no new shards"
        );
    }

    async fn session(
        &mut self,
        channel: Channel,
        shutdown: &mut watch::Receiver<bool>,
    ) -> SessionEnd {
        let (stream_sender, stream_receiver) = mpsc::channel::<pb::WorkerMessage>(1024);
        let running = self
            .slots
            .snapshot()
            .into_iter()
            .map(|((job_id, shard_id, attempt), _)| pb::RunningShard {
                job_id: job_id.to_string(),
                shard_id: shard_id.0,
                attempt: attempt.0,
            })
            .collect();
        let register = pb::WorkerMessage {
            body: Some(pb::worker_message::Body::Register(pb::Register {
                worker_id: self.config.worker_id.to_string(),
                resource_group: self.config.resource_group.clone(),
                slots: self.config.slots,
                version: sluice_common::VERSION.to_string(),
                running,
            })),
        };
        if stream_sender.send(register).await.is_err() {
            return SessionEnd::Lost;
        }
        // A split proposed to a coordinator that may have died: ask its successor again (the
        // coordinator answers the same proposal twice without splitting twice).
        for (key, split_at) in self.slots.pending_splits() {
            if stream_sender
                .send(split_proposal(&key, false, split_at))
                .await
                .is_err()
            {
                return SessionEnd::Lost;
            }
        }
        let mut client = WorkerServiceClient::new(channel);
        let mut request = tonic::Request::new(ReceiverStream::new(stream_receiver));
        if let Some(token) = &self.config.cluster_token {
            match format!("Bearer {}", token.expose()).parse() {
                Ok(value) => {
                    request.metadata_mut().insert("authorization", value);
                }
                Err(_) => {
                    tracing::error!("the cluster token is not a valid header value");
                    return SessionEnd::Lost;
                }
            }
        }
        let mut inbound = match client.session(request).await {
            Ok(response) => response.into_inner(),
            Err(status)
                if matches!(
                    status.code(),
                    tonic::Code::Unauthenticated | tonic::Code::PermissionDenied
                ) =>
            {
                tracing::error!(error = %status.message(), "coordinator refused the worker: check the cluster token");
                return SessionEnd::Refused;
            }
            Err(status) => {
                tracing::warn!(error = %status.message(), "coordinator refused the worker stream");
                return SessionEnd::Lost;
            }
        };
        let mut reporter = Reporter::default();
        let mut report_timer = tokio::time::interval(self.config.report_interval);
        report_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = inbound.message() => match message {
                    Ok(Some(message)) => {
                        if let Some(body) = message.body {
                            self.handle(body);
                        }
                    }
                    Ok(None) => {
                        tracing::warn!("coordinator closed the stream; reconnecting");
                        return SessionEnd::Lost;
                    }
                    Err(status) => {
                        tracing::warn!(error = %status.message(), "lost the coordinator stream; reconnecting");
                        return SessionEnd::Lost;
                    }
                },
                Some(outgoing) = self.outbox.1.recv() => {
                    if stream_sender.send(outgoing.clone()).await.is_err() {
                        // Keep it for the next stream.
                        let _ = self.outbox.0.send(outgoing);
                        return SessionEnd::Lost;
                    }
                }
                _ = report_timer.tick() => {
                    for message in reporter.collect(&self.slots, self.config.slots, self.draining) {
                        if stream_sender.try_send(message).is_err() {
                            return SessionEnd::Lost;
                        }
                    }
                    metrics::gauge!("sluice_worker_slots_busy").set(self.slots.len() as f64);
                    if self.draining {
                        if self.slots.is_empty() && self.outbox.1.is_empty() {
                            tracing::info!("drained: every shard finished and reported; exiting");
                            return SessionEnd::Finished;
                        }
                        if self.drain_deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                            tracing::warn!(running = self.slots.len(), "drain timeout reached: cancelling running shards");
                            self.slots.cancel_all();
                        }
                    }
                }
                _ = shutdown.changed(), if !self.draining => {
                    self.start_draining();
                    // Report (and exit when idle) at once rather than at the next tick: a
                    // `sluice run` that has finished its job should not wait a report interval.
                    report_timer.reset_immediately();
                    let heartbeat = pb::WorkerMessage {
                        body: Some(pb::worker_message::Body::Heartbeat(pb::Heartbeat {
                            free_slots: 0,
                            draining: true,
                        })),
                    };
                    let _ = stream_sender.try_send(heartbeat);
                }
            }
        }
    }

    fn handle(&mut self, body: pb::coordinator_message::Body) {
        use pb::coordinator_message::Body;
        match body {
            Body::Registered(registered) => {
                tracing::info!(coordinator_id = %registered.coordinator_id, worker_id = %self.config.worker_id, slots = self.config.slots, data_location = %registered.data_location, "registered with the coordinator");
                self.dirty_store = if registered.data_location.is_empty() {
                    None
                } else {
                    match DirtyStore::open(&registered.data_location) {
                        Ok(store) => Some(store),
                        Err(error) => {
                            tracing::warn!(%error, "cannot open the dirty-data store; dirty records will only be sampled");
                            None
                        }
                    }
                };
            }
            Body::Assign(assign) => self.start_shard(assign),
            Body::Cancel(cancel) => {
                let key = (
                    JobId(cancel.job_id),
                    ShardId(cancel.shard_id),
                    Attempt(cancel.attempt),
                );
                if self.slots.cancel(&key) {
                    tracing::info!(job_id = %key.0, shard_id = %key.1, attempt = %key.2, "cancelling shard");
                }
            }
            Body::Drain(_) => self.start_draining(),
            Body::RateShare(update) => {
                let key = (
                    JobId(update.job_id),
                    ShardId(update.shard_id),
                    Attempt(update.attempt),
                );
                let share = update.share.unwrap_or_default();
                if let Some(counters) = self.slots.counters(&key) {
                    counters
                        .rate()
                        .set_share(share.records_per_second, share.bytes_per_second);
                    tracing::debug!(job_id = %key.0, shard_id = %key.1, attempt = %key.2, records_per_second = share.records_per_second, bytes_per_second = share.bytes_per_second, "new rate share");
                }
            }
            Body::Split(request) => self.answer_split(&request),
            Body::SplitDecision(decision) => {
                let key = (
                    JobId(decision.job_id),
                    ShardId(decision.shard_id),
                    Attempt(decision.attempt),
                );
                if let Some(cursor) = self.slots.pieces(&key) {
                    if cursor.decide(decision.split_at, decision.confirmed) {
                        tracing::info!(job_id = %key.0, shard_id = %key.1, attempt = %key.2, split_at = decision.split_at, confirmed = decision.confirmed, "split decided");
                    }
                }
            }
            Body::Plan(plan) => {
                let Some(job) = plan.job else { return };
                let outbox = self.outbox.0.clone();
                tokio::spawn(async move {
                    let result = tasks::plan(job).await;
                    let _ = outbox.send(pb::WorkerMessage {
                        body: Some(pb::worker_message::Body::PlanResult(result)),
                    });
                });
            }
            Body::TestConnectivity(task) => {
                let outbox = self.outbox.0.clone();
                let worker_id = self.config.worker_id.to_string();
                let group = self.config.resource_group.clone();
                tokio::spawn(async move {
                    let result = tasks::test_connectivity(task, worker_id, group).await;
                    let _ = outbox.send(pb::WorkerMessage {
                        body: Some(pb::worker_message::Body::ConnectivityResult(result)),
                    });
                });
            }
            Body::Finalize(finalize) => {
                let Some(job) = finalize.job else { return };
                let outbox = self.outbox.0.clone();
                tokio::spawn(async move {
                    let result = tasks::finalize(job).await;
                    let _ = outbox.send(pb::WorkerMessage {
                        body: Some(pb::worker_message::Body::FinalizeResult(result)),
                    });
                });
            }
        }
    }

    /// Answers a split request through the outbox (so a reconnect does not lose it).
    fn answer_split(&mut self, request: &pb::SplitShard) {
        let key = (
            JobId(request.job_id.clone()),
            ShardId(request.shard_id),
            Attempt(request.attempt),
        );
        let answer = self
            .slots
            .pieces(&key)
            .map_or(SplitAnswer::Declined, |cursor| cursor.propose_split());
        let (declined, split_at) = match answer {
            SplitAnswer::Declined => (true, 0),
            SplitAnswer::Proposed(split_at) => {
                tracing::info!(job_id = %key.0, shard_id = %key.1, attempt = %key.2, split_at, "proposing to split the shard");
                (false, split_at)
            }
        };
        let _ = self.outbox.0.send(split_proposal(&key, declined, split_at));
    }

    fn start_shard(&mut self, assign: pb::AssignShard) {
        let Some(job) = assign.job else { return };
        let range = sluice_proto::convert::key_range_from_proto(assign.range.as_ref());
        let pieces = assign.sub_ranges.and_then(|plan| {
            PieceCursor::new(
                &range,
                PiecePlan {
                    lo: plan.lo,
                    hi: plan.hi,
                    pieces: plan.pieces,
                },
            )
            .map(Arc::new)
        });
        let work = ShardWork {
            job_id: JobId(job.job_id.clone()),
            shard_id: ShardId(assign.shard_id),
            attempt: Attempt(assign.attempt),
            range,
            spec_json: job.spec_json,
            source_connection: sluice_proto::convert::connection_from_proto(
                job.source_connection.as_ref(),
            ),
            sink_connection: sluice_proto::convert::connection_from_proto(
                job.sink_connection.as_ref(),
            ),
            dirty_connection: job
                .dirty_connection
                .as_ref()
                .map(|connection| sluice_proto::convert::connection_from_proto(Some(connection))),
            pieces,
        };
        let key = (work.job_id.clone(), work.shard_id, work.attempt);
        let counters = self.slots.start(key.clone(), work.pieces.clone());
        if let Some(share) = assign.rate_share {
            counters
                .rate()
                .set_share(share.records_per_second, share.bytes_per_second);
        }
        let slots = self.slots.clone();
        let outbox = self.outbox.0.clone();
        let worker_id = self.config.worker_id.clone();
        let channel_batches = self.config.channel_batches;
        let dirty_store = self.dirty_store.clone();
        tokio::spawn(async move {
            let live = Arc::clone(&counters);
            let (end, counters) = run_shard(work, worker_id, counters, channel_batches).await;
            // Before the result: the coordinator lists dirty records of committed attempts.
            store_dirty_records(dirty_store.as_ref(), &key, &live).await;
            slots.finish(&key);
            let (outcome, reason, retryable) = match end {
                ShardEnd::Committed => (pb::ShardOutcome::Committed, String::new(), false),
                ShardEnd::AlreadyCommitted => {
                    (pb::ShardOutcome::AlreadyCommitted, String::new(), false)
                }
                ShardEnd::Cancelled => (pb::ShardOutcome::Cancelled, "cancelled".to_string(), true),
                ShardEnd::Failed { reason, retryable } => {
                    tracing::warn!(job_id = %key.0, shard_id = %key.1, attempt = %key.2, %reason, retryable, "shard failed");
                    (pb::ShardOutcome::Failed, reason, retryable)
                }
            };
            metrics::counter!("sluice_worker_shards_total", "outcome" => outcome.as_str_name())
                .increment(1);
            let result = pb::ShardResult {
                job_id: key.0.to_string(),
                shard_id: key.1 .0,
                attempt: key.2 .0,
                outcome: outcome as i32,
                reason,
                retryable,
                counters: Some(sluice_proto::convert::counters_to_proto(counters)),
                transformers: sluice_proto::convert::transformer_counts_to_proto(
                    &live.transformer_counts(),
                    &[],
                ),
            };
            let _ = outbox.send(pb::WorkerMessage {
                body: Some(pb::worker_message::Body::Result(result)),
            });
        });
    }
}

fn split_proposal(key: &AttemptKey, declined: bool, split_at: i64) -> pb::WorkerMessage {
    pb::WorkerMessage {
        body: Some(pb::worker_message::Body::SplitProposal(pb::SplitProposal {
            job_id: key.0.to_string(),
            shard_id: key.1 .0,
            attempt: key.2 .0,
            declined,
            split_at,
        })),
    }
}

/// Writes an ended attempt's dirty records to the dirty-data store (when there is one).
async fn store_dirty_records(
    store: Option<&DirtyStore>,
    key: &(JobId, ShardId, Attempt),
    counters: &ShardCounters,
) {
    let stored = counters.take_stored_dirty();
    let Some(store) = store else { return };
    if stored.is_empty() {
        return;
    }
    let records: Vec<DirtyRecord> = stored
        .into_iter()
        .map(|(stage, sample)| DirtyRecord {
            shard_id: key.1 .0,
            attempt: key.2 .0,
            stage,
            column: sample.column,
            error: sample.reason,
            row: sample.row,
        })
        .collect();
    if let Err(error) = store
        .write_attempt(key.0.as_str(), key.1 .0, key.2 .0, &records)
        .await
    {
        tracing::warn!(job_id = %key.0, shard_id = %key.1, attempt = %key.2, %error, "cannot store dirty records; they stay counted and sampled");
    }
}
