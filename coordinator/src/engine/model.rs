//! The coordinator's in-memory model of jobs, shards and workers, and every state transition.
//!
//! The model does no IO: each transition returns [`Effect`]s (persist this record, send that
//! message) that the engine loop carries out. This keeps the state machines testable without
//! a store or a network, with time passed in.

use super::scheduler::{choose_worker_for_shard, choose_worker_for_task, WorkerCapacity};
use super::split;
use crate::convert;
use sluice_common::ids::{Attempt, JobId, ShardId, WorkerId};
use sluice_common::records::{
    now_ms, sum_transformer_counts, Counters, JobRecord, JobState, KeyBounds, KeyRange,
    ShardRecord, ShardState, TransformerCounts, RECORD_VERSION,
};
use sluice_common::spec::{
    parse_job_spec, validate, ConnectionConfig, SpecFormat, ValidatedJobSpec,
};
use sluice_proto::v1 as pb;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// Dirty samples kept per job for `Watch`.
const DIRTY_SAMPLES_KEPT: usize = 50;

/// How the error of a job refused at planning begins (an incompatible mapping): `Submit`,
/// when still waiting for the plan, returns such a job's error as its own refusal.
pub const REFUSED_AT_PLANNING: &str = "refused at planning: ";

/// Something the engine must do after a transition.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Write the job record.
    PersistJob(JobId),
    /// Write a shard record.
    PersistShard(JobId, ShardId),
    /// Send a message to a worker.
    Send(WorkerId, Box<pb::coordinator_message::Body>),
    /// Write the worker's registration (bound to a lease).
    RegisterWorker(WorkerId),
    /// Remove the worker's registration.
    UnregisterWorker(WorkerId),
    /// Write a split in one transaction: the parent shard (range cut at the split point), the
    /// new shard holding the rest of its range, and the job record.
    PersistSplit {
        /// The job.
        job_id: JobId,
        /// The shard that was cut.
        parent: ShardId,
        /// The shard split off it.
        child: ShardId,
    },
    /// Tell a worker its split is recorded, but only once [`Effect::PersistSplit`] of the same
    /// shards has been written: the worker commits its shortened range after this message.
    ConfirmSplit {
        /// The worker running the parent.
        worker_id: WorkerId,
        /// The decision to send.
        decision: pb::SplitDecision,
        /// The job.
        job_id: JobId,
        /// The shard that was cut.
        parent: ShardId,
        /// The shard split off it.
        child: ShardId,
    },
}

/// A planning or finalisation task of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// Nothing to do.
    Idle,
    /// Needs a worker.
    Waiting,
    /// Sent to this worker.
    Running(WorkerId),
}

/// A shard and the live counters of its current attempt.
#[derive(Debug, Clone)]
pub struct ShardRuntime {
    /// The persisted record.
    pub record: ShardRecord,
    /// Counters of the running attempt (committed counters live in the record).
    pub live: Counters,
    /// Per-transformer counts of the running attempt (committed ones live in the record).
    pub live_transformers: Vec<TransformerCounts>,
    /// Last key the worker reported.
    pub current_key: String,
    /// For a shard found running when this coordinator took over: when to give up waiting for
    /// its worker to reconnect and claim it, and re-queue it.
    pub orphaned_until: Option<Instant>,
    /// How the running attempt reads its range in pieces (`None`: in one piece, not splittable).
    pub pieces: Option<pb::SubRanges>,
    /// When a split of the running attempt was last asked for, while no answer has come.
    pub split_requested_at: Option<Instant>,
    /// The running attempt said it has too little left to split.
    pub split_declined: bool,
    /// A failed attempt's retry waits until then (backoff).
    pub not_before: Option<Instant>,
    /// The share of the job's rate limit last sent for the running attempt (records/s, bytes/s).
    pub rate_sent: Option<(u64, u64)>,
}

impl ShardRuntime {
    /// Returns a runtime for a record with no attempt running here yet.
    pub fn new(record: ShardRecord) -> Self {
        ShardRuntime {
            record,
            live: Counters::default(),
            live_transformers: Vec::new(),
            current_key: String::new(),
            orphaned_until: None,
            pieces: None,
            split_requested_at: None,
            split_declined: false,
            not_before: None,
            rate_sent: None,
        }
    }
}

impl ShardRuntime {
    fn counters(&self) -> Counters {
        match self.record.state {
            ShardState::Committed => self.record.counters,
            ShardState::Assigned | ShardState::Running => self.live,
            ShardState::Pending | ShardState::Failed => Counters::default(),
        }
    }

    fn transformer_counts(&self) -> &[TransformerCounts] {
        match self.record.state {
            ShardState::Committed => &self.record.transformers,
            ShardState::Assigned | ShardState::Running => &self.live_transformers,
            ShardState::Pending | ShardState::Failed => &[],
        }
    }
}

/// A job's connections with their secrets opened: held in memory only and sent to the workers
/// that run the job (the job record holds them sealed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenConnections {
    /// The source connection.
    pub source: ConnectionConfig,
    /// The sink connection.
    pub sink: ConnectionConfig,
    /// The connection of `settings.dirty_data`, when the job has one.
    pub dirty: Option<ConnectionConfig>,
}

/// A job with its shards.
#[derive(Debug, Clone)]
pub struct JobRuntime {
    /// The persisted record (counters refreshed on flush).
    pub record: JobRecord,
    /// The validated spec.
    pub validated: ValidatedJobSpec,
    /// The spec as JSON, sent to workers.
    pub spec_json: String,
    /// The connections, secrets opened, sent to workers.
    pub connections: OpenConnections,
    /// Shards, by shard id.
    pub shards: Vec<ShardRuntime>,
    /// Planning task.
    pub plan: Task,
    /// Finalisation task.
    pub finalize: Task,
    /// Planning attempts so far.
    pub plan_attempts: u32,
    /// Counters changed since the last flush.
    pub counters_changed: bool,
    /// Recent dirty samples.
    pub dirty_samples: VecDeque<pb::DirtySample>,
    /// Why the job waits (no live worker in its resource group), shown by `sluice job get`.
    pub waiting: Option<String>,
}

impl JobRuntime {
    /// Returns the counters summed over shards.
    pub fn counters(&self) -> Counters {
        if self.shards.is_empty() {
            return self.record.counters;
        }
        self.shards
            .iter()
            .fold(Counters::default(), |sum, shard| sum.plus(shard.counters()))
    }

    /// Returns the per-transformer counts summed over shards, in spec order.
    pub fn transformer_counts(&self) -> Vec<TransformerCounts> {
        if self.shards.is_empty() {
            return self.record.transformers.clone();
        }
        self.shards.iter().fold(Vec::new(), |sum, shard| {
            sum_transformer_counts(&sum, shard.transformer_counts())
        })
    }

    /// Takes over what planning resolved (`PlanResult.planned_spec_json`): the mapping's
    /// entries and the incremental lower bound, and nothing else of the worker's copy, into the
    /// job's stored spec and the spec its shards receive.
    fn adopt_planned_spec(&mut self, planned_json: &str) -> Result<(), String> {
        let planned = parse_job_spec(planned_json, SpecFormat::Json)
            .map_err(|errors| format!("the planned spec does not parse: {errors}"))?;
        let mut spec = self.validated.spec.clone();
        spec.mapping = planned.mapping;
        spec.source.incremental = planned.source.incremental;
        let validated =
            validate(spec).map_err(|errors| format!("the planned spec is not valid: {errors}"))?;
        self.spec_json = serde_json::to_string(&validated.spec)
            .map_err(|error| format!("cannot encode the planned spec: {error}"))?;
        self.record.spec = validated.spec.clone();
        self.validated = validated;
        Ok(())
    }

    pub(crate) fn running_shards(&self) -> usize {
        self.shards
            .iter()
            .filter(|shard| shard.record.state.is_in_flight())
            .count()
    }

    fn resolved(&self) -> pb::ResolvedJob {
        pb::ResolvedJob {
            job_id: self.record.id.to_string(),
            spec_json: self.spec_json.clone(),
            source_connection: Some(convert::connection_to_proto(&self.connections.source)),
            sink_connection: Some(convert::connection_to_proto(&self.connections.sink)),
            dirty_connection: self
                .connections
                .dirty
                .as_ref()
                .map(convert::connection_to_proto),
        }
    }

    /// Returns the API view of the job.
    pub fn to_proto(&self, include_shards: bool) -> pb::Job {
        let count = |state: ShardState| {
            self.shards
                .iter()
                .filter(|s| s.record.state == state)
                .count() as u32
        };
        let source = describe_endpoint(
            &self.record.source_connection.kind,
            self.validated.spec.source.table.as_deref().or(self
                .validated
                .spec
                .source
                .query
                .as_ref()
                .map(|_| "(query)")),
        );
        let sink = describe_endpoint(
            &self.record.sink_connection.kind,
            self.validated.spec.sink.table.as_deref(),
        );
        pb::Job {
            id: self.record.id.to_string(),
            workspace: self.record.workspace.clone(),
            environment: self.record.environment.clone(),
            state: convert::job_state_to_proto(self.record.state) as i32,
            error: self.record.error.clone().unwrap_or_default(),
            counters: Some(convert::counters_to_proto(self.counters())),
            shards_total: self.shards.len() as u32,
            shards_committed: count(ShardState::Committed),
            shards_running: count(ShardState::Assigned) + count(ShardState::Running),
            shards_pending: count(ShardState::Pending),
            estimated_rows: self.record.estimated_rows,
            created_at: Some(convert::timestamp(self.record.created_at_ms)),
            started_at: self.record.started_at_ms.map(convert::timestamp),
            finished_at: self.record.finished_at_ms.map(convert::timestamp),
            source,
            sink,
            shards: if include_shards {
                self.shards
                    .iter()
                    .map(|shard| pb::Shard {
                        shard_id: shard.record.shard_id.0,
                        range: Some(convert::key_range_to_proto(&shard.record.range)),
                        state: convert::shard_state_to_proto(shard.record.state) as i32,
                        attempt: shard.record.attempt.0,
                        worker_id: shard
                            .record
                            .worker_id
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                        counters: Some(convert::counters_to_proto(shard.counters())),
                        error: shard.record.error.clone().unwrap_or_default(),
                    })
                    .collect()
            } else {
                Vec::new()
            },
            retries: self.record.retries,
            transformers: self.transformers_to_proto(),
            waiting: self.waiting.clone().unwrap_or_default(),
        }
    }

    /// One entry per transformer of the spec (zeros before any row reached it), named.
    fn transformers_to_proto(&self) -> Vec<pb::TransformerCounters> {
        let specs = &self.validated.spec.transformers;
        if specs.is_empty() {
            return Vec::new();
        }
        let mut counts = self.transformer_counts();
        counts.resize(specs.len().max(counts.len()), TransformerCounts::default());
        let names: Vec<&str> = specs.iter().map(|spec| spec.name.as_str()).collect();
        convert::transformer_counts_to_proto(&counts, &names)
    }
}

fn describe_endpoint(kind: &str, table: Option<&str>) -> String {
    match table {
        Some(name) => format!("{kind}:{name}"),
        None => kind.to_string(),
    }
}

/// A connected worker.
#[derive(Debug, Clone)]
pub struct WorkerRuntime {
    /// Worker id.
    pub worker_id: WorkerId,
    /// Identifies the stream, so a late disconnect of an old stream is ignored.
    pub connection_id: u64,
    /// Resource group.
    pub resource_group: String,
    /// Slots.
    pub slots: u32,
    /// Sluice version.
    pub version: String,
    /// Last message received.
    pub last_seen: Instant,
    /// Shard attempts it runs.
    pub running: BTreeSet<(JobId, ShardId)>,
    /// Planning / finalisation tasks it runs.
    pub tasks: u32,
    /// Takes no new work.
    pub draining: bool,
}

impl WorkerRuntime {
    pub(crate) fn free_slots(&self) -> u32 {
        if self.draining {
            return 0;
        }
        self.slots.saturating_sub(self.running.len() as u32)
    }
}

/// The whole model.
#[derive(Debug, Default)]
pub struct Model {
    /// Jobs by id.
    pub jobs: BTreeMap<JobId, JobRuntime>,
    /// Job ids in submission order (scheduling is first come, first served).
    pub job_order: Vec<JobId>,
    /// Connected workers.
    pub workers: BTreeMap<WorkerId, WorkerRuntime>,
    /// Jobs whose API view changed since the engine last looked.
    pub changed_jobs: BTreeSet<JobId>,
}

impl Model {
    /// Adds a job loaded from the store or just submitted, making whatever it was doing
    /// resumable: planning and finalisation are re-queued, and shards that were assigned to a
    /// worker go back to pending with a higher attempt (the attempt fences the old one).
    ///
    /// With `adopt_until`, shards found assigned or running are kept as they are until that
    /// instant, waiting for their worker to reconnect and claim them ([`Model::worker_joined`]);
    /// [`Model::expire_orphans`] re-queues those nobody claimed.
    pub fn add_job(
        &mut self,
        record: JobRecord,
        validated: ValidatedJobSpec,
        connections: OpenConnections,
        shards: Vec<ShardRecord>,
        adopt_until: Option<Instant>,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        let job_id = record.id.clone();
        let spec_json = serde_json::to_string(&validated.spec).unwrap_or_default();
        let mut runtime = JobRuntime {
            plan: if record.state == JobState::Planning {
                Task::Waiting
            } else {
                Task::Idle
            },
            finalize: if record.state == JobState::Finalizing {
                Task::Waiting
            } else {
                Task::Idle
            },
            record,
            validated,
            spec_json,
            connections,
            shards: Vec::new(),
            plan_attempts: 0,
            counters_changed: false,
            dirty_samples: VecDeque::new(),
            waiting: None,
        };
        let terminal = runtime.record.state.is_terminal();
        for mut shard in shards {
            let in_flight = shard.state.is_in_flight();
            if !terminal && in_flight && adopt_until.is_some() && shard.worker_id.is_some() {
                runtime.shards.push(ShardRuntime {
                    orphaned_until: adopt_until,
                    ..ShardRuntime::new(shard)
                });
                continue;
            }
            if !terminal && in_flight {
                shard.state = ShardState::Pending;
                shard.attempt = shard.attempt.next();
                shard.worker_id = None;
                shard.earlier_attempt_may_commit = true;
                runtime.record.retries += 1;
                effects.push(Effect::PersistShard(job_id.clone(), shard.shard_id));
            }
            runtime.shards.push(ShardRuntime::new(shard));
        }
        runtime.shards.sort_by_key(|shard| shard.record.shard_id);
        self.jobs.insert(job_id.clone(), runtime);
        self.job_order.push(job_id.clone());
        self.changed_jobs.insert(job_id);
        effects
    }

    /// Registers a worker's stream. A second stream of the same worker replaces the first.
    pub fn worker_joined(
        &mut self,
        worker: WorkerRuntime,
        claimed: &[(JobId, ShardId, Attempt)],
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        if let Some(previous) = self.workers.get(&worker.worker_id) {
            let previous_connection = previous.connection_id;
            effects.extend(self.worker_left(&worker.worker_id, previous_connection));
        }
        let worker_id = worker.worker_id.clone();
        let mut worker = worker;
        effects.push(Effect::RegisterWorker(worker_id.clone()));
        for (job_id, shard_id, attempt) in claimed {
            let adoptable = self.jobs.get_mut(job_id).and_then(|job| {
                if job.record.state != JobState::Running {
                    return None;
                }
                job.shards.get_mut(shard_id.0 as usize).filter(|shard| {
                    shard.record.state.is_in_flight()
                        && shard.record.attempt == *attempt
                        && shard.record.worker_id.as_ref() == Some(&worker_id)
                })
            });
            match adoptable {
                Some(shard) => {
                    shard.orphaned_until = None;
                    worker.running.insert((job_id.clone(), *shard_id));
                    tracing::info!(job_id = %job_id, shard_id = %shard_id, attempt = %attempt, worker_id = %worker_id, "adopted a running shard");
                }
                None => {
                    // Re-queued (or finished) meanwhile: the worker must stop it.
                    effects.push(Effect::Send(
                        worker_id.clone(),
                        Box::new(pb::coordinator_message::Body::Cancel(pb::CancelShard {
                            job_id: job_id.to_string(),
                            shard_id: shard_id.0,
                            attempt: attempt.0,
                        })),
                    ));
                }
            }
        }
        self.workers.insert(worker_id, worker);
        effects
    }

    /// Forgets a worker's stream (closed, timed out or replaced): its shards go back to pending
    /// with a higher attempt and its tasks are re-queued.
    pub fn worker_left(&mut self, worker_id: &WorkerId, connection_id: u64) -> Vec<Effect> {
        let mut effects = Vec::new();
        let Some(worker) = self.workers.get(worker_id) else {
            return effects;
        };
        if worker.connection_id != connection_id {
            return effects;
        }
        let Some(worker) = self.workers.remove(worker_id) else {
            return effects;
        };
        for (job_id, shard_id) in &worker.running {
            let Some(job) = self.jobs.get_mut(job_id) else {
                continue;
            };
            if job.record.state.is_terminal() {
                continue;
            }
            if let Some(shard) = job.shards.get_mut(shard_id.0 as usize) {
                if shard.record.state.is_in_flight()
                    && shard.record.worker_id.as_ref() == Some(worker_id)
                {
                    requeue_shard(
                        job,
                        *shard_id,
                        format!("worker {worker_id} was lost"),
                        PreviousAttempt::MayStillCommit,
                    );
                    effects.push(Effect::PersistShard(job_id.clone(), *shard_id));
                    effects.push(Effect::PersistJob(job_id.clone()));
                    self.changed_jobs.insert(job_id.clone());
                }
            }
        }
        for job in self.jobs.values_mut() {
            if job.plan == Task::Running(worker_id.clone()) {
                job.plan = Task::Waiting;
            }
            if job.finalize == Task::Running(worker_id.clone()) {
                job.finalize = Task::Waiting;
            }
        }
        effects.push(Effect::UnregisterWorker(worker_id.clone()));
        effects
    }

    /// Re-queues shards found running at take-over whose worker did not claim them in time.
    pub fn expire_orphans(&mut self, now: Instant) -> Vec<Effect> {
        let mut effects = Vec::new();
        for (job_id, job) in &mut self.jobs {
            let expired: Vec<ShardId> = job
                .shards
                .iter()
                .filter(|shard| shard.orphaned_until.is_some_and(|deadline| deadline <= now))
                .map(|shard| shard.record.shard_id)
                .collect();
            for shard_id in expired {
                if let Some(shard) = job.shards.get_mut(shard_id.0 as usize) {
                    shard.orphaned_until = None;
                }
                if job.record.state.is_terminal() {
                    continue;
                }
                tracing::info!(job_id = %job_id, shard_id = %shard_id, "no worker claimed the shard after take-over; re-queuing it");
                requeue_shard(
                    job,
                    shard_id,
                    "no worker claimed it after a coordinator change".to_string(),
                    PreviousAttempt::MayStillCommit,
                );
                effects.push(Effect::PersistShard(job_id.clone(), shard_id));
                effects.push(Effect::PersistJob(job_id.clone()));
                self.changed_jobs.insert(job_id.clone());
            }
        }
        effects
    }

    /// Declares workers silent for longer than `timeout` dead.
    pub fn expire_workers(&mut self, now: Instant, timeout: Duration) -> Vec<Effect> {
        let silent: Vec<(WorkerId, u64)> = self
            .workers
            .values()
            .filter(|worker| now.duration_since(worker.last_seen) > timeout)
            .map(|worker| (worker.worker_id.clone(), worker.connection_id))
            .collect();
        let mut effects = Vec::new();
        for (worker_id, connection_id) in silent {
            tracing::warn!(worker_id = %worker_id, timeout_s = timeout.as_secs(), "worker missed its heartbeats; declaring it dead");
            effects.extend(self.worker_left(&worker_id, connection_id));
        }
        effects
    }

    /// Handles one message from a worker.
    pub fn worker_message(
        &mut self,
        worker_id: &WorkerId,
        connection_id: u64,
        body: pb::worker_message::Body,
        now: Instant,
    ) -> Vec<Effect> {
        use pb::worker_message::Body;
        let Some(worker) = self.workers.get_mut(worker_id) else {
            return Vec::new();
        };
        if worker.connection_id != connection_id {
            return Vec::new();
        }
        worker.last_seen = now;
        match body {
            Body::Register(_) => Vec::new(),
            Body::Heartbeat(heartbeat) => {
                worker.draining = heartbeat.draining;
                Vec::new()
            }
            Body::Progress(progress) => self.shard_progress(worker_id, progress),
            Body::Result(result) => self.shard_result(worker_id, result, now),
            Body::PlanResult(result) => self.plan_result(worker_id, result),
            Body::FinalizeResult(result) => self.finalize_result(worker_id, result),
            Body::SplitProposal(proposal) => self.split_proposal(worker_id, &proposal),
            // Answered by the engine, which keeps the tests in flight.
            Body::ConnectivityResult(_) => Vec::new(),
        }
    }

    fn shard_progress(&mut self, worker_id: &WorkerId, progress: pb::ShardProgress) -> Vec<Effect> {
        let mut effects = Vec::new();
        let job_id = JobId(progress.job_id.clone());
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return effects;
        };
        if job.record.state != JobState::Running {
            return effects;
        }
        let Some(shard) = job.shards.get_mut(progress.shard_id as usize) else {
            return effects;
        };
        if shard.record.attempt.0 != progress.attempt
            || shard.record.worker_id.as_ref() != Some(worker_id)
        {
            return effects;
        }
        if !shard.record.state.is_in_flight() {
            return effects;
        }
        if shard.record.state == ShardState::Assigned {
            shard.record.state = ShardState::Running;
            effects.push(Effect::PersistShard(job_id.clone(), shard.record.shard_id));
        }
        shard.live = convert::counters_from_proto(progress.counters.as_ref());
        shard.live_transformers = convert::transformer_counts_from_proto(&progress.transformers);
        shard.current_key = progress.current_key;
        for sample in progress.dirty_samples {
            if job.dirty_samples.len() == DIRTY_SAMPLES_KEPT {
                job.dirty_samples.pop_front();
            }
            job.dirty_samples.push_back(sample);
        }
        job.counters_changed = true;
        self.changed_jobs.insert(job_id.clone());
        effects.extend(self.check_record_error_limit(&job_id));
        effects
    }

    fn check_record_error_limit(&mut self, job_id: &JobId) -> Vec<Effect> {
        let Some(job) = self.jobs.get(job_id) else {
            return Vec::new();
        };
        let Some(limit) = job
            .validated
            .spec
            .settings
            .error_limit
            .and_then(|limit| limit.record)
        else {
            return Vec::new();
        };
        let dirty = job.counters().dirty_records;
        if dirty > limit {
            return self.end_job(
                job_id,
                JobState::Failed,
                Some(format!(
                    "{dirty} dirty records exceed settings.error_limit.record ({limit})"
                )),
            );
        }
        Vec::new()
    }

    fn shard_result(
        &mut self,
        worker_id: &WorkerId,
        result: pb::ShardResult,
        now: Instant,
    ) -> Vec<Effect> {
        let mut effects = Vec::new();
        let job_id = JobId(result.job_id.clone());
        let shard_id = ShardId(result.shard_id);
        if let Some(worker) = self.workers.get_mut(worker_id) {
            worker.running.remove(&(job_id.clone(), shard_id));
        }
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return effects;
        };
        if job.record.state != JobState::Running {
            return effects;
        }
        let max_attempts = job.validated.spec.settings.max_attempts;
        let Some(shard) = job.shards.get_mut(shard_id.0 as usize) else {
            return effects;
        };
        if shard.record.attempt.0 != result.attempt
            || shard.record.worker_id.as_ref() != Some(worker_id)
        {
            tracing::info!(job_id = %job_id, shard_id = %shard_id, attempt = result.attempt, "ignoring the result of a fenced attempt");
            return effects;
        }
        if !shard.record.state.is_in_flight() {
            return effects;
        }
        let counters = convert::counters_from_proto(result.counters.as_ref());
        let outcome =
            pb::ShardOutcome::try_from(result.outcome).unwrap_or(pb::ShardOutcome::Unspecified);
        self.changed_jobs.insert(job_id.clone());
        match outcome {
            pb::ShardOutcome::Committed | pb::ShardOutcome::AlreadyCommitted => {
                shard.record.state = ShardState::Committed;
                shard.record.counters = counters;
                shard.record.transformers =
                    convert::transformer_counts_from_proto(&result.transformers);
                shard.record.error = None;
                shard.live = Counters::default();
                shard.live_transformers.clear();
                if outcome == pb::ShardOutcome::AlreadyCommitted {
                    tracing::info!(job_id = %job_id, shard_id = %shard_id, "shard was already committed by an earlier attempt");
                }
                effects.push(Effect::PersistShard(job_id.clone(), shard_id));
                effects.push(Effect::PersistJob(job_id.clone()));
                effects.extend(self.check_record_error_limit(&job_id));
                effects.extend(self.maybe_finish_shards(&job_id));
            }
            pb::ShardOutcome::Failed
            | pb::ShardOutcome::Unspecified
            | pb::ShardOutcome::Cancelled => {
                let reason = if result.reason.is_empty() {
                    "shard failed".to_string()
                } else {
                    result.reason.clone()
                };
                let attempt = shard.record.attempt;
                if !result.retryable {
                    shard.record.state = ShardState::Failed;
                    shard.record.error = Some(reason.clone());
                    effects.push(Effect::PersistShard(job_id.clone(), shard_id));
                    effects.extend(self.end_job(
                        &job_id,
                        JobState::Failed,
                        Some(format!("shard {shard_id}: {reason}")),
                    ));
                } else if attempt.0 >= max_attempts {
                    shard.record.state = ShardState::Failed;
                    shard.record.error = Some(reason.clone());
                    effects.push(Effect::PersistShard(job_id.clone(), shard_id));
                    effects.extend(self.end_job(
                        &job_id,
                        JobState::Failed,
                        Some(format!(
                            "shard {shard_id} failed after {} attempts: {reason}",
                            attempt.0
                        )),
                    ));
                } else {
                    let delay = retry_backoff(attempt);
                    tracing::warn!(job_id = %job_id, shard_id = %shard_id, attempt = attempt.0, reason = %reason, retry_in_ms = delay.as_millis() as u64, "shard attempt failed; retrying");
                    requeue_shard(job, shard_id, reason, PreviousAttempt::Ended);
                    if let Some(shard) = job.shards.get_mut(shard_id.0 as usize) {
                        shard.not_before = Some(now + delay);
                    }
                    effects.push(Effect::PersistShard(job_id.clone(), shard_id));
                    effects.push(Effect::PersistJob(job_id.clone()));
                }
            }
        }
        effects
    }

    /// Moves a job whose shards all committed to finalisation (or fails it on the percentage
    /// error limit).
    fn maybe_finish_shards(&mut self, job_id: &JobId) -> Vec<Effect> {
        let Some(job) = self.jobs.get_mut(job_id) else {
            return Vec::new();
        };
        if job.record.state != JobState::Running
            || job
                .shards
                .iter()
                .any(|s| s.record.state != ShardState::Committed)
        {
            return Vec::new();
        }
        let counters = job.counters();
        if let Some(percentage) = job
            .validated
            .spec
            .settings
            .error_limit
            .and_then(|limit| limit.percentage)
        {
            let total = counters.rows_read.max(1) as f64;
            let dirty_percentage = counters.dirty_records as f64 * 100.0 / total;
            if dirty_percentage > percentage {
                return self.end_job(
                    job_id,
                    JobState::Failed,
                    Some(format!(
                        "{:.2}% dirty records exceed settings.error_limit.percentage ({percentage}%)",
                        dirty_percentage
                    )),
                );
            }
        }
        job.record.counters = counters;
        job.record.transformers = job.transformer_counts();
        job.record.state = JobState::Finalizing;
        job.finalize = Task::Waiting;
        self.changed_jobs.insert(job_id.clone());
        vec![Effect::PersistJob(job_id.clone())]
    }

    fn plan_result(&mut self, worker_id: &WorkerId, result: pb::PlanResult) -> Vec<Effect> {
        let mut effects = Vec::new();
        if let Some(worker) = self.workers.get_mut(worker_id) {
            worker.tasks = worker.tasks.saturating_sub(1);
        }
        let job_id = JobId(result.job_id.clone());
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return effects;
        };
        if job.record.state != JobState::Planning || job.plan != Task::Running(worker_id.clone()) {
            return effects;
        }
        job.plan = Task::Idle;
        self.changed_jobs.insert(job_id.clone());
        if result.refused {
            return self.end_job(
                &job_id,
                JobState::Failed,
                Some(format!("{REFUSED_AT_PLANNING}{}", result.error)),
            );
        }
        if !result.error.is_empty() {
            let max_attempts = job.validated.spec.settings.max_attempts;
            if result.retryable && job.plan_attempts < max_attempts {
                tracing::warn!(job_id = %job_id, error = %result.error, "planning failed; retrying");
                job.plan = Task::Waiting;
                return effects;
            }
            return self.end_job(
                &job_id,
                JobState::Failed,
                Some(format!("planning failed: {}", result.error)),
            );
        }
        if !result.planned_spec_json.is_empty() {
            if let Err(reason) = job.adopt_planned_spec(&result.planned_spec_json) {
                return self.end_job(
                    &job_id,
                    JobState::Failed,
                    Some(format!("planning failed: {reason}")),
                );
            }
        }
        let ranges: Vec<KeyRange> = result
            .shards
            .iter()
            .map(|range| convert::key_range_from_proto(Some(range)))
            .collect();
        job.shards = ranges
            .into_iter()
            .enumerate()
            .map(|(index, range)| {
                ShardRuntime::new(ShardRecord {
                    v: RECORD_VERSION,
                    job_id: job_id.clone(),
                    shard_id: ShardId(index as u32),
                    range,
                    state: ShardState::Pending,
                    attempt: Attempt::FIRST,
                    worker_id: None,
                    counters: Counters::default(),
                    error: None,
                    earlier_attempt_may_commit: false,
                    transformers: Vec::new(),
                })
            })
            .collect();
        job.record.shard_count = job.shards.len() as u32;
        job.record.estimated_rows = result.estimated_rows;
        job.record.key_bounds = match (result.key_min, result.key_max) {
            (Some(min), Some(max)) if min <= max => Some(KeyBounds { min, max }),
            _ => None,
        };
        job.record.state = JobState::Running;
        for shard in &job.shards {
            effects.push(Effect::PersistShard(job_id.clone(), shard.record.shard_id));
        }
        effects.push(Effect::PersistJob(job_id.clone()));
        tracing::info!(job_id = %job_id, shards = job.shards.len(), estimated_rows = result.estimated_rows, "job planned");
        effects
    }

    fn finalize_result(&mut self, worker_id: &WorkerId, result: pb::FinalizeResult) -> Vec<Effect> {
        if let Some(worker) = self.workers.get_mut(worker_id) {
            worker.tasks = worker.tasks.saturating_sub(1);
        }
        let job_id = JobId(result.job_id.clone());
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return Vec::new();
        };
        if job.record.state != JobState::Finalizing
            || job.finalize != Task::Running(worker_id.clone())
        {
            return Vec::new();
        }
        job.finalize = Task::Idle;
        if result.error.is_empty() {
            self.end_job(&job_id, JobState::Succeeded, None)
        } else {
            self.end_job(
                &job_id,
                JobState::Failed,
                Some(format!("finalisation failed: {}", result.error)),
            )
        }
    }

    /// Cancels a job that has not ended.
    pub fn cancel_job(&mut self, job_id: &JobId) -> Vec<Effect> {
        self.end_job(
            job_id,
            JobState::Cancelled,
            Some("cancelled on request".to_string()),
        )
    }

    /// Ends a job: records the state and stops every shard still running.
    fn end_job(&mut self, job_id: &JobId, state: JobState, error: Option<String>) -> Vec<Effect> {
        let mut effects = Vec::new();
        let Some(job) = self.jobs.get_mut(job_id) else {
            return effects;
        };
        if job.record.state.is_terminal() {
            return effects;
        }
        job.record.counters = job.counters();
        job.record.transformers = job.transformer_counts();
        job.record.state = state;
        job.record.error = error.clone();
        job.record.finished_at_ms = Some(now_ms());
        job.plan = Task::Idle;
        job.finalize = Task::Idle;
        for shard in &job.shards {
            if !shard.record.state.is_in_flight() {
                continue;
            }
            let Some(worker_id) = shard.record.worker_id.clone() else {
                continue;
            };
            if let Some(worker) = self.workers.get_mut(&worker_id) {
                worker
                    .running
                    .remove(&(job_id.clone(), shard.record.shard_id));
            }
            effects.push(Effect::Send(
                worker_id,
                Box::new(pb::coordinator_message::Body::Cancel(pb::CancelShard {
                    job_id: job_id.to_string(),
                    shard_id: shard.record.shard_id.0,
                    attempt: shard.record.attempt.0,
                })),
            ));
        }
        match state {
            JobState::Succeeded => {
                tracing::info!(job_id = %job_id, rows = job.record.counters.rows_written, "job succeeded")
            }
            _ => {
                tracing::warn!(job_id = %job_id, state = state.name(), error = error.as_deref().unwrap_or(""), "job ended")
            }
        }
        self.changed_jobs.insert(job_id.clone());
        effects.push(Effect::PersistJob(job_id.clone()));
        effects
    }

    /// Hands out work: planning and finalisation tasks to the least busy worker, pending shards
    /// (first job first, within each job's parallelism, failed ones once their backoff has
    /// passed) to workers with free slots.
    pub fn dispatch(&mut self, now: Instant) -> Vec<Effect> {
        let mut effects = Vec::new();
        let job_ids: Vec<JobId> = self.job_order.clone();
        for job_id in &job_ids {
            let Some(job) = self.jobs.get(job_id) else {
                continue;
            };
            let wants_plan = job.plan == Task::Waiting;
            let wants_finalize = job.finalize == Task::Waiting;
            if !wants_plan && !wants_finalize {
                continue;
            }
            let capacities = self.capacities(job.validated.spec.settings.resource_group());
            let Some(worker_id) = choose_worker_for_task(&capacities).cloned() else {
                // No worker of this job's group: others may still have theirs.
                continue;
            };
            let Some(job) = self.jobs.get_mut(job_id) else {
                continue;
            };
            let resolved = job.resolved();
            let body = if wants_plan {
                job.plan = Task::Running(worker_id.clone());
                job.plan_attempts += 1;
                pb::coordinator_message::Body::Plan(pb::PlanJob {
                    job: Some(resolved),
                })
            } else {
                job.finalize = Task::Running(worker_id.clone());
                pb::coordinator_message::Body::Finalize(pb::FinalizeJob {
                    job: Some(resolved),
                })
            };
            if let Some(worker) = self.workers.get_mut(&worker_id) {
                worker.tasks += 1;
            }
            effects.push(Effect::Send(worker_id, Box::new(body)));
        }
        self.note_waiting();
        while let Some((job_id, shard_index, worker_id)) = self.next_pending_shard(now) {
            let Some(job) = self.jobs.get_mut(&job_id) else {
                break;
            };
            let resolved = job.resolved();
            let Some(shard) = job.shards.get_mut(shard_index) else {
                break;
            };
            shard.record.state = ShardState::Assigned;
            shard.record.worker_id = Some(worker_id.clone());
            shard.live = Counters::default();
            shard.live_transformers.clear();
            shard.current_key.clear();
            shard.pieces = split::pieces_for(
                &shard.record.range,
                job.record.key_bounds,
                job.record.estimated_rows,
                job.record.shard_count,
            );
            shard.split_requested_at = None;
            shard.split_declined = false;
            shard.rate_sent = None;
            let shard_id = shard.record.shard_id;
            let attempt = shard.record.attempt;
            let range = convert::key_range_to_proto(&shard.record.range);
            let sub_ranges = shard.pieces;
            // The share counts this shard; the others' shares shrink in `rebalance_rates`.
            let share = super::rates::share_of(job);
            if let Some(shard) = job.shards.get_mut(shard_index) {
                shard.rate_sent = share;
            }
            let message = pb::AssignShard {
                job: Some(resolved),
                shard_id: shard_id.0,
                attempt: attempt.0,
                range: Some(range),
                rate_share: Some(super::rates::share_message(share.unwrap_or((0, 0)))),
                sub_ranges,
            };
            if job.record.started_at_ms.is_none() {
                job.record.started_at_ms = Some(now_ms());
                effects.push(Effect::PersistJob(job_id.clone()));
            }
            if let Some(worker) = self.workers.get_mut(&worker_id) {
                worker.running.insert((job_id.clone(), shard_id));
            }
            self.changed_jobs.insert(job_id.clone());
            effects.push(Effect::PersistShard(job_id.clone(), shard_id));
            effects.push(Effect::Send(
                worker_id,
                Box::new(pb::coordinator_message::Body::Assign(message)),
            ));
        }
        effects
    }

    /// Records, for every unfinished job, whether it waits for a worker of its resource group.
    fn note_waiting(&mut self) {
        let groups: BTreeSet<&str> = self
            .workers
            .values()
            .filter(|worker| !worker.draining)
            .map(|worker| worker.resource_group.as_str())
            .collect();
        let mut changed = Vec::new();
        for (job_id, job) in &mut self.jobs {
            let group = job.validated.spec.settings.resource_group();
            let waiting = if job.record.state.is_terminal() || groups.contains(group) {
                None
            } else {
                Some(format!(
                    "no live worker in resource group \"{group}\" (settings.resource_group); start one with `sluice worker --group {group}`"
                ))
            };
            if job.waiting != waiting {
                job.waiting = waiting;
                changed.push(job_id.clone());
            }
        }
        self.changed_jobs.extend(changed);
    }

    /// Capacities of the live workers of resource group `group`.
    fn capacities(&self, group: &str) -> Vec<WorkerCapacity> {
        self.workers
            .values()
            .filter(|worker| !worker.draining && worker.resource_group == group)
            .map(|worker| WorkerCapacity {
                worker_id: worker.worker_id.clone(),
                free_slots: worker.free_slots(),
                tasks: worker.tasks,
            })
            .collect()
    }

    /// Returns the first pending shard (first job first) that a worker of its job's resource
    /// group has a free slot for, with that worker.
    fn next_pending_shard(&self, now: Instant) -> Option<(JobId, usize, WorkerId)> {
        for job_id in &self.job_order {
            let Some(job) = self.jobs.get(job_id) else {
                continue;
            };
            if job.record.state != JobState::Running {
                continue;
            }
            if job.running_shards() >= job.validated.spec.settings.parallelism as usize {
                continue;
            }
            let Some(index) = job.shards.iter().position(|shard| {
                shard.record.state == ShardState::Pending
                    && shard.not_before.is_none_or(|ready| ready <= now)
            }) else {
                continue;
            };
            let capacities = self.capacities(job.validated.spec.settings.resource_group());
            if let Some(worker_id) = choose_worker_for_shard(&capacities) {
                return Some((job_id.clone(), index, worker_id.clone()));
            }
        }
        None
    }

    /// Returns the jobs whose counters changed since the last flush, marking them flushed.
    pub fn take_counter_flushes(&mut self) -> Vec<JobId> {
        let mut flushed = Vec::new();
        for (job_id, job) in &mut self.jobs {
            if job.counters_changed && !job.record.state.is_terminal() {
                job.counters_changed = false;
                job.record.counters = job.counters();
                job.record.transformers = job.transformer_counts();
                flushed.push(job_id.clone());
            }
        }
        flushed
    }
}

/// How long a shard waits before its next attempt after attempt `failed` reported a failure:
/// 1 s, 2 s, 4 s, ... up to 30 s.
pub fn retry_backoff(failed: Attempt) -> Duration {
    let doublings = failed.0.saturating_sub(1).min(5);
    Duration::from_secs(1u64 << doublings).min(Duration::from_secs(30))
}

/// Whether the attempt being re-queued is known to have ended (it reported a failure) or may
/// still be running somewhere and commit later (its worker was lost or never came back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PreviousAttempt {
    Ended,
    MayStillCommit,
}

fn requeue_shard(
    job: &mut JobRuntime,
    shard_id: ShardId,
    reason: String,
    previous: PreviousAttempt,
) {
    let Some(shard) = job.shards.get_mut(shard_id.0 as usize) else {
        return;
    };
    if previous == PreviousAttempt::MayStillCommit {
        shard.record.earlier_attempt_may_commit = true;
    }
    shard.not_before = None;
    shard.record.state = ShardState::Pending;
    shard.record.attempt = shard.record.attempt.next();
    shard.record.worker_id = None;
    shard.orphaned_until = None;
    shard.record.error = Some(reason);
    shard.live = Counters::default();
    shard.live_transformers.clear();
    job.record.retries += 1;
    job.counters_changed = true;
}

/// Builders shared by the model's tests and the splitting tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use sluice_common::records::SealedConnection;
    use sluice_common::spec::{parse_job_spec, validate, SpecFormat};

    pub(crate) fn job(parallelism: u32) -> (JobRecord, ValidatedJobSpec) {
        let text = format!(
            "source: {{connection: {{type: generator, rows: 100}}}}\nsink: {{connection: {{type: sqlite, path: x.db}}, table: t}}\nsettings: {{parallelism: {parallelism}, max_attempts: 2}}"
        );
        let validated =
            validate(parse_job_spec(&text, SpecFormat::Yaml).expect("parse")).expect("valid");
        let record = JobRecord {
            v: RECORD_VERSION,
            id: JobId("job-1".into()),
            workspace: "default".into(),
            environment: "prod".into(),
            state: JobState::Planning,
            error: None,
            spec: validated.spec.clone(),
            source_connection: SealedConnection {
                kind: "generator".into(),
                ..Default::default()
            },
            sink_connection: SealedConnection {
                kind: "sqlite".into(),
                ..Default::default()
            },
            dirty_connection: None,
            created_at_ms: 0,
            started_at_ms: None,
            finished_at_ms: None,
            counters: Counters::default(),
            estimated_rows: 0,
            shard_count: 0,
            retries: 0,
            key_bounds: None,
            splits: 0,
            transformers: Vec::new(),
        };
        (record, validated)
    }

    pub(crate) fn worker(model: &mut Model, id: &str, slots: u32, connection_id: u64) -> WorkerId {
        let worker_id = WorkerId(id.into());
        model.worker_joined(
            WorkerRuntime {
                worker_id: worker_id.clone(),
                connection_id,
                resource_group: "default".into(),
                slots,
                version: "test".into(),
                last_seen: Instant::now(),
                running: BTreeSet::new(),
                tasks: 0,
                draining: false,
            },
            &[],
        );
        worker_id
    }

    pub(crate) fn sends(effects: &[Effect]) -> Vec<(WorkerId, pb::coordinator_message::Body)> {
        effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::Send(worker, body) => Some((worker.clone(), (**body).clone())),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{job, sends, worker};
    use super::*;

    #[test]
    fn a_job_runs_only_on_workers_of_its_resource_group() {
        let mut model = Model::default();
        let (record, mut validated) = job(2);
        validated.spec.settings.resource_group = Some("etl".into());
        let job_id = record.id.clone();
        model.add_job(
            record,
            validated,
            OpenConnections::default(),
            Vec::new(),
            None,
        );
        worker(&mut model, "w-default", 4, 1);
        let effects = model.dispatch(Instant::now());
        assert!(sends(&effects).is_empty(), "no plan outside the group");
        let waiting = model.jobs[&job_id].waiting.clone().expect("waiting");
        assert!(waiting.contains("\"etl\""), "{waiting}");
        let etl = worker(&mut model, "w-etl", 1, 2);
        if let Some(runtime) = model.workers.get_mut(&etl) {
            runtime.resource_group = "etl".into();
        }
        let effects = model.dispatch(Instant::now());
        let sent = sends(&effects);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, etl);
        assert!(matches!(sent[0].1, pb::coordinator_message::Body::Plan(_)));
        assert!(model.jobs[&job_id].waiting.is_none());
    }

    #[test]
    fn a_planned_spec_brings_its_mapping_and_incremental_bound_and_nothing_else() {
        let mut model = Model::default();
        let (record, validated) = job(2);
        let job_id = record.id.clone();
        model.add_job(
            record,
            validated.clone(),
            OpenConnections::default(),
            Vec::new(),
            None,
        );
        let planner = worker(&mut model, "w1", 2, 1);
        model.dispatch(Instant::now());
        let mut planned = validated.spec.clone();
        planned.mapping = Some(sluice_common::spec::MappingSpec {
            by: sluice_common::spec::MappingBy::Name,
            columns: vec![sluice_common::spec::MappingEntry {
                source: Some("id".into()),
                target: Some("key".into()),
                ..Default::default()
            }],
        });
        // A worker's copy may not change anything else.
        planned.settings.parallelism = 99;
        model.worker_message(
            &planner,
            1,
            pb::worker_message::Body::PlanResult(pb::PlanResult {
                job_id: job_id.to_string(),
                shards: vec![convert::key_range_to_proto(&KeyRange::All)],
                planned_spec_json: serde_json::to_string(&planned).expect("json"),
                ..Default::default()
            }),
            Instant::now(),
        );
        let runtime = &model.jobs[&job_id];
        assert_eq!(runtime.record.state, JobState::Running);
        assert_eq!(runtime.record.spec.mapping, planned.mapping);
        assert_eq!(runtime.validated.spec.settings.parallelism, 2);
        assert!(
            runtime.spec_json.contains("\"target\":\"key\""),
            "{}",
            runtime.spec_json
        );
    }

    fn planned_model(shards: usize, parallelism: u32) -> (Model, JobId, WorkerId, WorkerId) {
        let mut model = Model::default();
        let (record, validated) = job(parallelism);
        let job_id = record.id.clone();
        model.add_job(
            record,
            validated,
            OpenConnections::default(),
            Vec::new(),
            None,
        );
        let first = worker(&mut model, "w1", 2, 1);
        let second = worker(&mut model, "w2", 2, 2);
        let effects = model.dispatch(Instant::now());
        let planned_by = match &sends(&effects)[0] {
            (worker, pb::coordinator_message::Body::Plan(_)) => worker.clone(),
            other => panic!("expected a plan task, got {other:?}"),
        };
        let ranges = (0..shards)
            .map(|index| {
                convert::key_range_to_proto(&KeyRange::Int {
                    lo: Some(index as i64),
                    hi: Some(index as i64 + 1),
                })
            })
            .collect();
        model.worker_message(
            &planned_by,
            if planned_by == first { 1 } else { 2 },
            pb::worker_message::Body::PlanResult(pb::PlanResult {
                job_id: job_id.to_string(),
                shards: ranges,
                estimated_rows: shards as u64,
                error: String::new(),
                retryable: false,
                key_min: None,
                key_max: None,
                planned_spec_json: String::new(),
                refused: false,
            }),
            Instant::now(),
        );
        (model, job_id, first, second)
    }

    fn result(
        job_id: &JobId,
        shard: u32,
        attempt: u32,
        outcome: pb::ShardOutcome,
        retryable: bool,
    ) -> pb::worker_message::Body {
        pb::worker_message::Body::Result(pb::ShardResult {
            job_id: job_id.to_string(),
            shard_id: shard,
            attempt,
            outcome: outcome as i32,
            reason: "boom".into(),
            retryable,
            counters: Some(pb::Counters {
                rows_written: 1,
                ..Default::default()
            }),
            transformers: Vec::new(),
        })
    }

    #[test]
    fn shards_fill_free_slots_within_parallelism() {
        let (mut model, _job_id, _first, _second) = planned_model(10, 3);
        let assigned = sends(&model.dispatch(Instant::now()));
        assert_eq!(
            assigned.len(),
            3,
            "parallelism 3 caps running shards although 4 slots are free"
        );
        let workers: BTreeSet<WorkerId> =
            assigned.iter().map(|(worker, _)| worker.clone()).collect();
        assert_eq!(workers.len(), 2, "work is spread over both workers");
    }

    #[test]
    fn lost_worker_requeues_with_higher_attempt() {
        let (mut model, job_id, first, _second) = planned_model(4, 4);
        model.dispatch(Instant::now());
        let owned: Vec<u32> = model.jobs[&job_id]
            .shards
            .iter()
            .filter(|s| s.record.worker_id.as_ref() == Some(&first))
            .map(|s| s.record.shard_id.0)
            .collect();
        assert!(!owned.is_empty());
        model.worker_left(&first, 1);
        for shard_id in &owned {
            let shard = &model.jobs[&job_id].shards[*shard_id as usize];
            assert_eq!(shard.record.state, ShardState::Pending);
            assert_eq!(shard.record.attempt, Attempt(2));
        }
        // A late result of the lost attempt is fenced.
        model.workers.insert(
            first.clone(),
            model.workers.values().next().expect("a worker").clone(),
        );
        let stale = model.worker_message(
            &first,
            2,
            result(&job_id, owned[0], 1, pb::ShardOutcome::Committed, false),
            Instant::now(),
        );
        assert!(stale.is_empty());
        assert_eq!(
            model.jobs[&job_id].shards[owned[0] as usize].record.state,
            ShardState::Pending
        );
    }

    #[test]
    fn transformer_counts_sum_committed_and_running_attempts_with_spec_names() {
        use sluice_common::spec::{ColumnRef, TransformerSpec};
        let (mut model, job_id, first, _second) = planned_model(2, 4);
        model
            .jobs
            .get_mut(&job_id)
            .expect("the job")
            .validated
            .spec
            .transformers = ["dx_filter", "dx_substr", "dx_pad"]
            .iter()
            .map(|name| TransformerSpec {
                name: (*name).into(),
                column: ColumnRef::Index(0),
                params: Vec::new(),
            })
            .collect();
        model.dispatch(Instant::now());
        let counts = |rows_in: u64, filtered: u64, failed: u64| pb::TransformerCounters {
            name: String::new(),
            rows_in,
            rows_out: rows_in - filtered - failed,
            filtered,
            failed,
        };
        let shards = model.jobs[&job_id].shards.clone();
        let connection = |worker: &WorkerId| if *worker == first { 1 } else { 2 };
        let running_worker = shards[0].record.worker_id.clone().expect("assigned");
        model.worker_message(
            &running_worker,
            connection(&running_worker),
            pb::worker_message::Body::Progress(pb::ShardProgress {
                job_id: job_id.to_string(),
                shard_id: 0,
                attempt: 1,
                counters: None,
                current_key: String::new(),
                dirty_samples: Vec::new(),
                transformers: vec![counts(10, 4, 0), counts(6, 0, 1)],
            }),
            Instant::now(),
        );
        let committing_worker = shards[1].record.worker_id.clone().expect("assigned");
        let mut committed = result(&job_id, 1, 1, pb::ShardOutcome::Committed, false);
        if let pb::worker_message::Body::Result(shard_result) = &mut committed {
            shard_result.transformers = vec![counts(5, 1, 0)];
        }
        model.worker_message(
            &committing_worker,
            connection(&committing_worker),
            committed,
            Instant::now(),
        );
        let summary: Vec<(String, u64, u64, u64, u64)> = model.jobs[&job_id]
            .to_proto(false)
            .transformers
            .iter()
            .map(|t| (t.name.clone(), t.rows_in, t.rows_out, t.filtered, t.failed))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("dx_filter".to_string(), 15, 10, 5, 0),
                ("dx_substr".to_string(), 6, 5, 0, 1),
                ("dx_pad".to_string(), 0, 0, 0, 0),
            ]
        );
        assert_eq!(
            model.jobs[&job_id].shards[1].record.transformers[0].rows_in, 5,
            "a committed shard keeps its counts in its record"
        );
    }

    #[test]
    fn all_commits_lead_to_finalize_then_success() {
        let (mut model, job_id, first, second) = planned_model(2, 4);
        model.dispatch(Instant::now());
        for shard in model.jobs[&job_id].shards.clone() {
            let worker_id = shard.record.worker_id.clone().expect("assigned");
            let connection = if worker_id == first { 1 } else { 2 };
            model.worker_message(
                &worker_id,
                connection,
                result(
                    &job_id,
                    shard.record.shard_id.0,
                    1,
                    pb::ShardOutcome::Committed,
                    false,
                ),
                Instant::now(),
            );
        }
        assert_eq!(model.jobs[&job_id].record.state, JobState::Finalizing);
        let effects = model.dispatch(Instant::now());
        let (finalizer, body) = sends(&effects).remove(0);
        assert!(matches!(body, pb::coordinator_message::Body::Finalize(_)));
        let connection = if finalizer == second { 2 } else { 1 };
        model.worker_message(
            &finalizer,
            connection,
            pb::worker_message::Body::FinalizeResult(pb::FinalizeResult {
                job_id: job_id.to_string(),
                error: String::new(),
            }),
            Instant::now(),
        );
        assert_eq!(model.jobs[&job_id].record.state, JobState::Succeeded);
        assert_eq!(model.jobs[&job_id].counters().rows_written, 2);
    }

    #[test]
    fn retryable_failures_retry_after_a_backoff_until_max_attempts() {
        let (mut model, job_id, first, _second) = planned_model(1, 1);
        let mut clock = Instant::now();
        for attempt in 1..=2 {
            model.dispatch(clock);
            let shard = &model.jobs[&job_id].shards[0];
            let worker_id = shard.record.worker_id.clone().expect("assigned");
            let connection = if worker_id == first { 1 } else { 2 };
            model.worker_message(
                &worker_id,
                connection,
                result(&job_id, 0, attempt, pb::ShardOutcome::Failed, true),
                clock,
            );
            if attempt == 1 {
                let early = model.dispatch(clock + Duration::from_millis(900));
                assert!(
                    sends(&early).is_empty(),
                    "the retry waits for its backoff: {early:?}"
                );
                clock += retry_backoff(Attempt(attempt));
            }
        }
        let job = &model.jobs[&job_id];
        assert_eq!(job.record.state, JobState::Failed);
        assert!(
            job.record
                .error
                .as_deref()
                .unwrap_or("")
                .contains("after 2 attempts"),
            "{:?}",
            job.record.error
        );
    }

    #[test]
    fn retry_backoff_doubles_up_to_thirty_seconds() {
        let delays: Vec<u64> = (1..=8)
            .map(|attempt| retry_backoff(Attempt(attempt)).as_secs())
            .collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[test]
    fn non_retryable_failure_fails_at_once_and_cancels_others() {
        let (mut model, job_id, first, _second) = planned_model(4, 4);
        model.dispatch(Instant::now());
        let shard = model.jobs[&job_id]
            .shards
            .iter()
            .find(|s| s.record.worker_id.as_ref() == Some(&first))
            .cloned()
            .expect("one on w1");
        let effects = model.worker_message(
            &first,
            1,
            result(
                &job_id,
                shard.record.shard_id.0,
                1,
                pb::ShardOutcome::Failed,
                false,
            ),
            Instant::now(),
        );
        assert_eq!(model.jobs[&job_id].record.state, JobState::Failed);
        let cancels = sends(&effects)
            .into_iter()
            .filter(|(_, body)| matches!(body, pb::coordinator_message::Body::Cancel(_)))
            .count();
        assert_eq!(cancels, 3);
    }

    #[test]
    fn a_new_leader_adopts_claimed_shards_and_requeues_the_rest() {
        let (mut model, job_id, _first, _second) = planned_model(4, 4);
        model.dispatch(Instant::now());
        // Snapshot what was stored, as a new leader would load it.
        let record = model.jobs[&job_id].record.clone();
        let validated = model.jobs[&job_id].validated.clone();
        let shards: Vec<ShardRecord> = model.jobs[&job_id]
            .shards
            .iter()
            .map(|s| s.record.clone())
            .collect();
        let owner_of_zero = shards[0].worker_id.clone().expect("assigned");
        let mut successor = Model::default();
        let now = Instant::now();
        successor.add_job(
            record,
            validated,
            OpenConnections::default(),
            shards,
            Some(now + Duration::from_secs(5)),
        );
        let claimed = [(job_id.clone(), ShardId(0), Attempt(1))];
        let effects = successor.worker_joined(
            WorkerRuntime {
                worker_id: owner_of_zero.clone(),
                connection_id: 9,
                resource_group: "default".into(),
                slots: 2,
                version: "test".into(),
                last_seen: now,
                running: BTreeSet::new(),
                tasks: 0,
                draining: false,
            },
            &claimed,
        );
        assert!(
            sends(&effects).is_empty(),
            "a matching claim is adopted, not cancelled"
        );
        assert!(successor.workers[&owner_of_zero]
            .running
            .contains(&(job_id.clone(), ShardId(0))));
        successor.expire_orphans(now + Duration::from_secs(6));
        let job = &successor.jobs[&job_id];
        assert_eq!(
            job.shards[0].record.attempt,
            Attempt(1),
            "the adopted shard keeps its attempt"
        );
        assert!(job.shards[1..]
            .iter()
            .all(|s| s.record.state == ShardState::Pending && s.record.attempt == Attempt(2)));
    }

    #[test]
    fn silent_workers_expire() {
        let (mut model, job_id, _first, _second) = planned_model(2, 4);
        model.dispatch(Instant::now());
        let later = Instant::now() + Duration::from_secs(30);
        model.expire_workers(later, Duration::from_secs(10));
        assert!(model.workers.is_empty());
        assert!(model.jobs[&job_id]
            .shards
            .iter()
            .all(|s| s.record.state == ShardState::Pending));
    }
}
