//! The engine: one task that owns the [`model::Model`], applies events to it in order, carries
//! out the resulting effects (metadata writes, messages to workers) and publishes read views
//! for the API. Hot counters stay in memory and are written on a timer, never per report.

pub mod connectivity;
pub mod model;
pub mod rates;
pub mod scheduler;
pub mod split;

use crate::config::CoordinatorConfig;
use crate::error::{CoordinatorError, Result};
use model::{Effect, JobRuntime, Model, OpenConnections, WorkerRuntime};
use sluice_common::ids::{Attempt, JobId, ShardId, WorkerId};
use sluice_common::meta::{keys, LeaseId, MetaStore, Precondition, PutOutcome, SharedMetaStore};
use sluice_common::records::{
    self, now_ms, JobRecord, JobState, ShardRecord, ShardState, WorkerRecord, RECORD_VERSION,
};
use sluice_common::secrets::SecretCipher;
use sluice_common::spec::{validate, ValidatedJobSpec};
use sluice_proto::v1 as pb;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// How long one metadata write may take before it is treated as failed and retried.
const PERSIST_TIMEOUT: Duration = Duration::from_secs(3);

/// Outbound half of a worker's stream.
pub type WorkerSender = mpsc::Sender<std::result::Result<pb::CoordinatorMessage, tonic::Status>>;

/// Something that happened, for the engine to apply.
pub enum Event {
    /// A validated job to create.
    Submit {
        /// The job record (state `Planning`).
        record: Box<JobRecord>,
        /// Its validated spec.
        validated: Box<ValidatedJobSpec>,
        /// Its connections, secrets opened (the record holds them sealed).
        connections: Box<OpenConnections>,
        /// Answered once the job is persisted.
        reply: oneshot::Sender<Result<()>>,
    },
    /// Cancel a job.
    Cancel {
        /// The job.
        job_id: JobId,
        /// Answered once the cancellation is applied.
        reply: oneshot::Sender<Result<()>>,
    },
    /// A worker opened a stream and registered.
    WorkerJoined {
        /// The worker.
        worker: Box<WorkerRuntime>,
        /// Shard attempts it says it still runs.
        claimed: Vec<(JobId, ShardId, Attempt)>,
        /// Where to send it messages.
        outbound: WorkerSender,
    },
    /// A message on a worker's stream.
    WorkerMessage {
        /// The worker.
        worker_id: WorkerId,
        /// Its stream.
        connection_id: u64,
        /// The message.
        body: pb::worker_message::Body,
    },
    /// Run a connectivity test on a worker of a resource group.
    TestConnectivity {
        /// Resource group whose worker runs the test.
        group: String,
        /// The task (its request id is set by the engine).
        task: Box<pb::TestConnectivityTask>,
        /// Answered with the worker's result, or an error naming the groups with workers.
        reply: connectivity::TestReply,
    },
    /// A worker's stream ended.
    WorkerLeft {
        /// The worker.
        worker_id: WorkerId,
        /// Its stream.
        connection_id: u64,
    },
}

/// A job as the API sees it.
#[derive(Debug, Clone)]
pub struct JobView {
    /// The job with its shards.
    pub job: pb::Job,
    /// Recent dirty samples.
    pub dirty_samples: Vec<pb::DirtySample>,
    /// Submission time, for ordering.
    pub created_at_ms: i64,
}

/// Read views published by the engine.
#[derive(Debug, Default)]
pub struct Views {
    /// Jobs by id.
    pub jobs: HashMap<JobId, JobView>,
}

/// The API's handle on the engine.
#[derive(Clone)]
pub struct EngineHandle {
    events: mpsc::Sender<Event>,
    views: Arc<RwLock<Views>>,
    changes: watch::Receiver<u64>,
}

impl EngineHandle {
    /// Sends an event to the engine.
    ///
    /// # Errors
    /// [`CoordinatorError::ShuttingDown`] when the engine has stopped.
    pub async fn send(&self, event: Event) -> Result<()> {
        self.events
            .send(event)
            .await
            .map_err(|_| CoordinatorError::ShuttingDown)
    }

    /// Returns the current view of a job.
    pub fn job(&self, job_id: &JobId) -> Option<JobView> {
        self.views.read().ok()?.jobs.get(job_id).cloned()
    }

    /// Returns every job view, newest first.
    pub fn jobs(&self) -> Vec<JobView> {
        let mut all: Vec<JobView> = self
            .views
            .read()
            .map(|views| views.jobs.values().cloned().collect())
            .unwrap_or_default();
        all.sort_by(|a, b| {
            b.created_at_ms
                .cmp(&a.created_at_ms)
                .then_with(|| b.job.id.cmp(&a.job.id))
        });
        all
    }

    /// Returns a receiver that changes whenever any view changes.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }
}

/// Loads every job from the store, then runs the engine until `shutdown` resolves.
///
/// # Errors
/// Fails only if the store cannot be read at start.
pub async fn start(
    store: SharedMetaStore,
    config: CoordinatorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(EngineHandle, tokio::task::JoinHandle<()>)> {
    let mut model = Model::default();
    let load_effects = load_jobs(
        store.as_ref(),
        &config.secrets,
        &mut model,
        Instant::now() + config.worker_timeout,
    )
    .await?;
    let (event_sender, event_receiver) = mpsc::channel(4096);
    let views = Arc::new(RwLock::new(Views::default()));
    let (change_sender, change_receiver) = watch::channel(0u64);
    let handle = EngineHandle {
        events: event_sender,
        views: Arc::clone(&views),
        changes: change_receiver,
    };
    let mut engine = Engine {
        model,
        store,
        config,
        views,
        change_sender,
        outbound: HashMap::new(),
        leases: HashMap::new(),
        unpersisted: BTreeSet::new(),
        held_confirmations: Vec::new(),
        last_flush: Instant::now(),
        tests: connectivity::PendingTests::default(),
    };
    let task = tokio::spawn(async move {
        engine.execute(load_effects).await;
        engine.publish();
        engine.run(event_receiver, shutdown).await;
    });
    Ok((handle, task))
}

async fn load_jobs(
    store: &dyn MetaStore,
    secrets: &SecretCipher,
    model: &mut Model,
    adopt_until: Instant,
) -> Result<Vec<Effect>> {
    let mut effects = Vec::new();
    let mut shards_by_job: HashMap<JobId, Vec<ShardRecord>> = HashMap::new();
    for key_value in store.list_prefix(keys::SHARDS_PREFIX).await? {
        match records::decode::<ShardRecord>(&key_value) {
            Ok(shard) => shards_by_job
                .entry(shard.job_id.clone())
                .or_default()
                .push(shard),
            Err(error) => tracing::error!(%error, "skipping an unreadable shard record"),
        }
    }
    let mut jobs: Vec<JobRecord> = Vec::new();
    for key_value in store.list_prefix(keys::JOBS_PREFIX).await? {
        match records::decode::<JobRecord>(&key_value) {
            Ok(job) => jobs.push(job),
            Err(error) => tracing::error!(%error, "skipping an unreadable job record"),
        }
    }
    jobs.sort_by_key(|job| job.created_at_ms);
    let mut resumed = 0;
    for mut job in jobs {
        let shards = shards_by_job.remove(&job.id).unwrap_or_default();
        let validated = match validate(job.spec.clone()) {
            Ok(validated) => validated,
            Err(errors) => {
                if !job.state.is_terminal() {
                    job.state = JobState::Failed;
                    job.error = Some(format!("stored spec no longer valid: {errors}"));
                    effects.push(Effect::PersistJob(job.id.clone()));
                }
                ValidatedJobSpec {
                    spec: job.spec.clone(),
                    write_mode: sluice_common::spec::WriteMode::Insert,
                }
            }
        };
        // Only jobs that still run need their secrets; a coordinator without the key they are
        // sealed under must not lead (it could hand out no work), so it fails to start here.
        let connections =
            if job.state.is_terminal() {
                OpenConnections::default()
            } else {
                resumed += 1;
                OpenConnections {
                    source: job.source_connection.open(secrets).map_err(
                        CoordinatorError::secret(format!("job {}: source connection", job.id)),
                    )?,
                    sink: job
                        .sink_connection
                        .open(secrets)
                        .map_err(CoordinatorError::secret(format!(
                            "job {}: sink connection",
                            job.id
                        )))?,
                    dirty: match &job.dirty_connection {
                        Some(sealed) => {
                            Some(sealed.open(secrets).map_err(CoordinatorError::secret(
                                format!("job {}: dirty-data connection", job.id),
                            ))?)
                        }
                        None => None,
                    },
                }
            };
        effects.extend(model.add_job(job, validated, connections, shards, Some(adopt_until)));
    }
    if resumed > 0 {
        tracing::info!(
            jobs = resumed,
            "resuming unfinished jobs from the metadata store"
        );
    }
    Ok(effects)
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum PersistKey {
    Job(JobId),
    Shard(JobId, ShardId),
    /// A split: parent shard, child shard and job record, written together.
    Split(JobId, ShardId, ShardId),
}

/// A split confirmation held back until its split is written.
struct HeldConfirmation {
    worker_id: WorkerId,
    decision: pb::SplitDecision,
    split: PersistKey,
}

struct Engine {
    model: Model,
    store: SharedMetaStore,
    config: CoordinatorConfig,
    views: Arc<RwLock<Views>>,
    change_sender: watch::Sender<u64>,
    outbound: HashMap<WorkerId, (u64, WorkerSender)>,
    leases: HashMap<WorkerId, LeaseId>,
    unpersisted: BTreeSet<PersistKey>,
    held_confirmations: Vec<HeldConfirmation>,
    last_flush: Instant,
    tests: connectivity::PendingTests,
}

impl Engine {
    async fn run(&mut self, mut events: mpsc::Receiver<Event>, shutdown: impl Future<Output = ()>) {
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                maybe_event = events.recv() => {
                    let Some(event) = maybe_event else { break };
                    self.handle(event).await;
                }
                _ = ticker.tick() => self.tick().await,
            }
            // While the store cannot take writes, hand out no new work: every assignment must be
            // recorded before it is acted on.
            if self.unpersisted.is_empty() {
                let effects = self.model.dispatch(Instant::now());
                self.execute(effects).await;
                let effects = self.model.request_splits(Instant::now());
                self.execute(effects).await;
                let effects = self.model.rebalance_rates();
                self.execute(effects).await;
            }
            self.publish();
        }
        // The store may be the reason we stop: do not wait for it forever.
        if tokio::time::timeout(Duration::from_secs(5), self.flush_counters(true))
            .await
            .is_err()
        {
            tracing::warn!("could not write the last counters before stopping");
        }
        tracing::info!("engine stopped");
    }

    async fn handle(&mut self, event: Event) {
        let now = Instant::now();
        let effects = match event {
            Event::Submit {
                record,
                validated,
                connections,
                reply,
            } => {
                let key = keys::job(&record.id);
                let outcome = self
                    .store
                    .put(&key, records::encode(&*record), Precondition::Absent, None)
                    .await;
                match outcome {
                    Ok(PutOutcome::Written { .. }) => {
                        tracing::info!(job_id = %record.id, workspace = %record.workspace, "job submitted");
                        let effects =
                            self.model
                                .add_job(*record, *validated, *connections, Vec::new(), None);
                        // Publish before answering, so a Get right after Submit finds the job.
                        self.publish();
                        let _ = reply.send(Ok(()));
                        effects
                    }
                    Ok(PutOutcome::Conflict { .. }) => {
                        let _ = reply.send(Err(CoordinatorError::AlreadyExists {
                            kind: "job",
                            name: record.id.to_string(),
                        }));
                        Vec::new()
                    }
                    Err(error) => {
                        let _ = reply.send(Err(error.into()));
                        Vec::new()
                    }
                }
            }
            Event::Cancel { job_id, reply } => {
                let Some(job) = self.model.jobs.get(&job_id) else {
                    let _ = reply.send(Err(CoordinatorError::NotFound {
                        kind: "job",
                        name: job_id.to_string(),
                        hint: String::new(),
                    }));
                    return;
                };
                if job.record.state.is_terminal() {
                    let state = job.record.state.name();
                    let _ = reply.send(Err(CoordinatorError::FailedPrecondition(format!(
                        "job {job_id} has already ended ({state})"
                    ))));
                    return;
                }
                let effects = self.model.cancel_job(&job_id);
                let _ = reply.send(Ok(()));
                effects
            }
            Event::TestConnectivity {
                group,
                mut task,
                reply,
            } => match connectivity::choose_worker(&self.model, &group) {
                Ok(worker_id) => {
                    task.request_id = self.tests.start(worker_id.clone(), reply);
                    tracing::info!(worker_id = %worker_id, group = %group, request_id = %task.request_id, "sending a connectivity test");
                    vec![Effect::Send(
                        worker_id,
                        Box::new(pb::coordinator_message::Body::TestConnectivity(*task)),
                    )]
                }
                Err(error) => {
                    let _ = reply.send(Err(error));
                    Vec::new()
                }
            },
            Event::WorkerJoined {
                worker,
                claimed,
                outbound,
            } => {
                tracing::info!(worker_id = %worker.worker_id, slots = worker.slots, group = %worker.resource_group, version = %worker.version, "worker joined");
                self.outbound
                    .insert(worker.worker_id.clone(), (worker.connection_id, outbound));
                self.model.worker_joined(*worker, &claimed)
            }
            Event::WorkerMessage {
                worker_id,
                connection_id,
                body,
            } => {
                if let pb::worker_message::Body::ConnectivityResult(result) = body {
                    self.tests.answer(&worker_id, result);
                    return;
                }
                if let pb::worker_message::Body::Result(result) = &body {
                    if result.outcome == pb::ShardOutcome::Committed as i32 {
                        if let Some(counters) = &result.counters {
                            metrics::counter!("sluice_rows_written_total")
                                .increment(counters.rows_written);
                            metrics::counter!("sluice_bytes_written_total")
                                .increment(counters.bytes_written);
                            metrics::counter!("sluice_rows_read_total")
                                .increment(counters.rows_read);
                        }
                    }
                    let outcome = pb::ShardOutcome::try_from(result.outcome)
                        .unwrap_or(pb::ShardOutcome::Unspecified);
                    metrics::counter!("sluice_shard_results_total", "outcome" => outcome.as_str_name()).increment(1);
                }
                self.model
                    .worker_message(&worker_id, connection_id, body, now)
            }
            Event::WorkerLeft {
                worker_id,
                connection_id,
            } => {
                if self
                    .outbound
                    .get(&worker_id)
                    .is_some_and(|(id, _)| *id == connection_id)
                {
                    tracing::info!(worker_id = %worker_id, "worker left");
                    self.outbound.remove(&worker_id);
                }
                self.model.worker_left(&worker_id, connection_id)
            }
        };
        self.execute(effects).await;
        self.tests.prune(&self.model);
    }

    async fn tick(&mut self) {
        let now = Instant::now();
        let mut effects = self.model.expire_workers(now, self.config.worker_timeout);
        // Shards found running at take-over that no reconnecting worker claimed (their worker
        // died with the old leader, or finished and reported to it alone) go back to pending.
        effects.extend(self.model.expire_orphans(now));
        self.execute(effects).await;
        self.tests.prune(&self.model);
        for (worker_id, lease) in self.leases.clone() {
            let renewal = tokio::time::timeout(PERSIST_TIMEOUT, self.store.keep_alive(lease)).await;
            if let Err(error) = renewal.unwrap_or_else(|_| {
                Err(sluice_common::MetaError::LeaseNotFound { lease_id: lease.0 })
            }) {
                tracing::warn!(worker_id = %worker_id, %error, "could not renew a worker registration");
                self.leases.remove(&worker_id);
            }
        }
        if self.last_flush.elapsed() >= self.config.counter_flush_interval {
            self.flush_counters(false).await;
        }
        self.retry_unpersisted().await;
        self.record_metrics();
    }

    async fn flush_counters(&mut self, everything: bool) {
        self.last_flush = Instant::now();
        let jobs = self.model.take_counter_flushes();
        for job_id in jobs {
            self.persist(PersistKey::Job(job_id)).await;
        }
        if everything {
            self.retry_unpersisted().await;
        }
    }

    async fn retry_unpersisted(&mut self) {
        // Splits first: a shard of a split still unwritten is only written with its split.
        let (splits, others): (Vec<PersistKey>, Vec<PersistKey>) = self
            .unpersisted
            .iter()
            .cloned()
            .partition(|key| matches!(key, PersistKey::Split(..)));
        for key in splits {
            self.persist(key).await;
        }
        for key in others {
            self.unpersisted.remove(&key);
            self.persist(key).await;
        }
        let held = std::mem::take(&mut self.held_confirmations);
        let mut effects = Vec::new();
        for confirmation in held {
            if self.unpersisted.contains(&confirmation.split) {
                self.held_confirmations.push(confirmation);
            } else {
                effects.push(Effect::Send(
                    confirmation.worker_id,
                    Box::new(pb::coordinator_message::Body::SplitDecision(
                        confirmation.decision,
                    )),
                ));
            }
        }
        self.execute(effects).await;
    }

    /// Carries out effects; sending to a worker whose stream is gone makes it leave, which may
    /// produce more effects.
    async fn execute(&mut self, effects: Vec<Effect>) {
        let mut queue: std::collections::VecDeque<Effect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            match effect {
                Effect::PersistJob(job_id) => self.persist(PersistKey::Job(job_id)).await,
                Effect::PersistShard(job_id, shard_id) => {
                    self.persist(PersistKey::Shard(job_id, shard_id)).await
                }
                Effect::PersistSplit {
                    job_id,
                    parent,
                    child,
                } => self.persist(PersistKey::Split(job_id, parent, child)).await,
                Effect::ConfirmSplit {
                    worker_id,
                    decision,
                    job_id,
                    parent,
                    child,
                } => {
                    let split = PersistKey::Split(job_id, parent, child);
                    if self.unpersisted.contains(&split) {
                        tracing::info!(worker_id = %worker_id, "holding a split confirmation until the split is written");
                        self.held_confirmations.push(HeldConfirmation {
                            worker_id,
                            decision,
                            split,
                        });
                    } else {
                        queue.push_back(Effect::Send(
                            worker_id,
                            Box::new(pb::coordinator_message::Body::SplitDecision(decision)),
                        ));
                    }
                }
                Effect::Send(worker_id, body) => {
                    let delivered = match self.outbound.get(&worker_id) {
                        Some((_, sender)) => sender
                            .try_send(Ok(pb::CoordinatorMessage { body: Some(*body) }))
                            .is_ok(),
                        None => false,
                    };
                    if !delivered {
                        let connection_id = self
                            .outbound
                            .remove(&worker_id)
                            .map(|(id, _)| id)
                            .or_else(|| {
                                self.model
                                    .workers
                                    .get(&worker_id)
                                    .map(|worker| worker.connection_id)
                            });
                        if let Some(connection_id) = connection_id {
                            tracing::warn!(worker_id = %worker_id, "worker stream is gone or full; dropping the worker");
                            queue.extend(self.model.worker_left(&worker_id, connection_id));
                        }
                    }
                }
                Effect::RegisterWorker(worker_id) => self.register_worker(&worker_id).await,
                Effect::UnregisterWorker(worker_id) => {
                    self.outbound.remove(&worker_id);
                    if let Some(lease) = self.leases.remove(&worker_id) {
                        if let Err(error) = self.store.revoke_lease(lease).await {
                            tracing::debug!(worker_id = %worker_id, %error, "worker lease already gone");
                        }
                    }
                }
            }
        }
    }

    async fn register_worker(&mut self, worker_id: &WorkerId) {
        let Some(worker) = self.model.workers.get(worker_id) else {
            return;
        };
        let record = WorkerRecord {
            v: RECORD_VERSION,
            worker_id: worker_id.clone(),
            resource_group: worker.resource_group.clone(),
            slots: worker.slots,
            version: worker.version.clone(),
            registered_at_ms: now_ms(),
        };
        let result = async {
            let lease = self.store.grant_lease(self.config.worker_timeout).await?;
            self.store
                .put(
                    &keys::worker(worker_id),
                    records::encode(&record),
                    Precondition::None,
                    Some(lease),
                )
                .await?;
            Ok::<LeaseId, sluice_common::MetaError>(lease)
        }
        .await;
        match result {
            Ok(lease) => {
                if let Some(previous) = self.leases.insert(worker_id.clone(), lease) {
                    let _ = self.store.revoke_lease(previous).await;
                }
            }
            Err(error) => {
                tracing::warn!(worker_id = %worker_id, %error, "could not record the worker registration")
            }
        }
    }

    async fn persist(&mut self, key: PersistKey) {
        // A shard of a split not yet written is only ever written together with the rest of
        // the split: alone, a shortened parent would lose the range of the missing child.
        let key = match key {
            PersistKey::Shard(job_id, shard_id) => {
                match self.unpersisted.iter().find(|pending| {
                    matches!(pending, PersistKey::Split(split_job, parent, child)
                        if *split_job == job_id && (*parent == shard_id || *child == shard_id))
                }) {
                    Some(split) => split.clone(),
                    None => PersistKey::Shard(job_id, shard_id),
                }
            }
            other => other,
        };
        if let PersistKey::Split(job_id, parent, child) = &key {
            self.persist_split(&key, job_id, *parent, *child).await;
            return;
        }
        let (store_key, bytes) = match &key {
            PersistKey::Job(job_id) => {
                let Some(job) = self.model.jobs.get_mut(job_id) else {
                    return;
                };
                job.record.counters = job.counters();
                (keys::job(job_id), records::encode(&job.record))
            }
            PersistKey::Shard(job_id, shard_id) => {
                let Some(shard) = self
                    .model
                    .jobs
                    .get(job_id)
                    .and_then(|job| job.shards.get(shard_id.0 as usize))
                else {
                    return;
                };
                (
                    keys::shard(job_id, *shard_id),
                    records::encode(&shard.record),
                )
            }
            PersistKey::Split(..) => return,
        };
        let write = self.store.put(&store_key, bytes, Precondition::None, None);
        match tokio::time::timeout(PERSIST_TIMEOUT, write).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                tracing::warn!(key = %store_key, %error, "could not persist; will retry");
                self.unpersisted.insert(key);
            }
            Err(_) => {
                tracing::warn!(key = %store_key, "persisting timed out; will retry");
                self.unpersisted.insert(key);
            }
        }
    }

    /// Writes a split (both shards and the job record) in one transaction.
    async fn persist_split(
        &mut self,
        key: &PersistKey,
        job_id: &JobId,
        parent: ShardId,
        child: ShardId,
    ) {
        let Some(job) = self.model.jobs.get_mut(job_id) else {
            return;
        };
        job.record.counters = job.counters();
        let mut entries = vec![(keys::job(job_id), records::encode(&job.record))];
        for shard_id in [parent, child] {
            if let Some(shard) = job.shards.get(shard_id.0 as usize) {
                entries.push((
                    keys::shard(job_id, shard_id),
                    records::encode(&shard.record),
                ));
            }
        }
        let write = self.store.put_all(entries);
        match tokio::time::timeout(PERSIST_TIMEOUT, write).await {
            Ok(Ok(_)) => {
                self.unpersisted.remove(key);
            }
            Ok(Err(error)) => {
                tracing::warn!(job_id = %job_id, %error, "could not persist a split; will retry");
                self.unpersisted.insert(key.clone());
            }
            Err(_) => {
                tracing::warn!(job_id = %job_id, "persisting a split timed out; will retry");
                self.unpersisted.insert(key.clone());
            }
        }
    }

    fn publish(&mut self) {
        // A job whose record is not persisted yet keeps its previous view: the API never shows
        // a state the store does not have.
        let (changed, held): (Vec<JobId>, Vec<JobId>) =
            std::mem::take(&mut self.model.changed_jobs)
                .into_iter()
                .partition(|job_id| !self.unpersisted.contains(&PersistKey::Job(job_id.clone())));
        self.model.changed_jobs.extend(held);
        if changed.is_empty() {
            return;
        }
        if let Ok(mut views) = self.views.write() {
            for job_id in &changed {
                if let Some(job) = self.model.jobs.get(job_id) {
                    views.jobs.insert(job_id.clone(), view_of(job));
                }
            }
        }
        self.change_sender.send_modify(|version| *version += 1);
    }

    fn record_metrics(&self) {
        for state in JobState::ALL {
            let count = self
                .model
                .jobs
                .values()
                .filter(|job| job.record.state == state)
                .count();
            metrics::gauge!("sluice_jobs", "state" => state.name()).set(count as f64);
        }
        for state in ShardState::ALL {
            let count: usize = self
                .model
                .jobs
                .values()
                .filter(|job| !job.record.state.is_terminal())
                .map(|job| {
                    job.shards
                        .iter()
                        .filter(|shard| shard.record.state == state)
                        .count()
                })
                .sum();
            metrics::gauge!("sluice_shards", "state" => state.name()).set(count as f64);
        }
        metrics::gauge!("sluice_workers").set(self.model.workers.len() as f64);
        let slots: u32 = self.model.workers.values().map(|worker| worker.slots).sum();
        let busy: usize = self
            .model
            .workers
            .values()
            .map(|worker| worker.running.len())
            .sum();
        metrics::gauge!("sluice_worker_slots", "kind" => "total").set(f64::from(slots));
        metrics::gauge!("sluice_worker_slots", "kind" => "busy").set(busy as f64);
    }
}

fn view_of(job: &JobRuntime) -> JobView {
    JobView {
        job: job.to_proto(true),
        dirty_samples: job.dirty_samples.iter().cloned().collect(),
        created_at_ms: job.record.created_at_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_common::meta::embedded::EmbeddedStore;
    use sluice_common::records::SealedConnection;
    use sluice_common::secrets::SecretKey;
    use sluice_common::spec::ConnectionConfig;

    /// Stores an unfinished job whose sink password is sealed under `sealing`, then starts an
    /// engine with `running`.
    async fn start_with(sealing: &SecretCipher, running: SecretCipher) -> Result<()> {
        let directory = tempfile::tempdir().expect("tempdir");
        let store: SharedMetaStore = Arc::new(
            EmbeddedStore::open(directory.path().join("meta.redb"))
                .await
                .expect("store"),
        );
        let (mut record, _) = model::testing::job(1);
        let mut sink = ConnectionConfig {
            kind: "sqlite".into(),
            ..Default::default()
        };
        sink.secrets
            .insert("password".into(), "opened-by-the-leader".into());
        record.sink_connection = SealedConnection::seal(&sink, sealing).expect("seal");
        records::put_record(store.as_ref(), &keys::job(&record.id), &record)
            .await
            .expect("put");
        let config = CoordinatorConfig {
            secrets: running,
            ..CoordinatorConfig::default()
        };
        let (_handle, task) = start(store, config, async {}).await?;
        let _ = task.await;
        Ok(())
    }

    #[tokio::test]
    async fn a_coordinator_without_the_key_of_a_running_job_does_not_lead() {
        let key = SecretKey::generate().expect("key");
        let sealing = SecretCipher::new(key.clone());
        start_with(&sealing, SecretCipher::new(key))
            .await
            .expect("the right key opens the job");
        let error = start_with(
            &sealing,
            SecretCipher::new(SecretKey::generate().expect("key")),
        )
        .await
        .expect_err("another key cannot lead");
        let message = error.to_string();
        assert!(message.contains("sink connection"), "{message}");
        assert!(message.contains(sealing.primary_key_id()), "{message}");
        assert!(!message.contains("opened-by-the-leader"), "{message}");
    }
}
