//! `sluice.v1.JobService`.

use crate::engine::model::REFUSED_AT_PLANNING;
use crate::engine::{EngineHandle, Event};
use crate::error::{CoordinatorError, Result};
use crate::leader::LeaderSlot;
use crate::{convert, submit};
use sluice_common::ids::JobId;
use sluice_common::meta::SharedMetaStore;
use sluice_common::secrets::SecretCipher;
use sluice_connectors::{DirtyStage, DirtyStore};
use sluice_proto::v1 as pb;
use sluice_proto::v1::job_service_server::JobService;
use std::pin::Pin;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

/// Serves the job API.
pub struct JobServiceImpl {
    leader: LeaderSlot,
    store: SharedMetaStore,
    secrets: SecretCipher,
    data_location: Option<String>,
}

impl JobServiceImpl {
    /// Returns the service over the leader's engine and the metadata store; `secrets` opens
    /// data sources' secrets and seals the job's; `data_location` holds the dirty-data store.
    pub fn new(
        leader: LeaderSlot,
        store: SharedMetaStore,
        secrets: SecretCipher,
        data_location: Option<String>,
    ) -> Self {
        JobServiceImpl {
            leader,
            store,
            secrets,
            data_location,
        }
    }

    async fn submit_job(&self, request: pb::SubmitJobRequest) -> Result<JobId> {
        let engine = self.leader.engine()?;
        submit::submit_job(
            self.store.as_ref(),
            &engine,
            &self.secrets,
            request,
            JobId::generate(),
        )
        .await
    }

    /// Waits (at most [`PLAN_WAIT`]) while a worker plans the new job; returns the job's error
    /// as a refusal when planning found that it can never work as written (an incompatible
    /// mapping). Returns at once while no worker can plan the job, and `Ok` for any other
    /// outcome: ordinary failures are the job's, seen with `Get`.
    async fn refusal_at_planning(&self, job_id: &JobId) -> std::result::Result<(), Status> {
        let deadline = Instant::now() + PLAN_WAIT;
        while Instant::now() < deadline {
            let Ok(job) = self.view(job_id.as_str()) else {
                return Ok(());
            };
            if job.state == pb::JobState::Failed as i32 {
                if let Some(reason) = job.error.strip_prefix(REFUSED_AT_PLANNING) {
                    return Err(Status::failed_precondition(format!(
                        "job {job_id} refused: {reason}"
                    )));
                }
                return Ok(());
            }
            if job.state != pb::JobState::Planning as i32 || !job.waiting.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    fn view(&self, job_id: &str) -> Result<pb::Job> {
        self.leader
            .engine()?
            .job(&JobId(job_id.to_string()))
            .map(|view| view.job)
            .ok_or_else(|| CoordinatorError::NotFound {
                kind: "job",
                name: job_id.to_string(),
                hint: String::new(),
            })
    }
}

/// How long `Submit` waits for the plan of a new job, to return a refusal found by planning.
const PLAN_WAIT: Duration = Duration::from_secs(10);

/// Stream type of `Watch`.
pub type WatchStream =
    Pin<Box<dyn Stream<Item = std::result::Result<pb::JobProgress, Status>> + Send>>;

#[tonic::async_trait]
impl JobService for JobServiceImpl {
    async fn submit(
        &self,
        request: Request<pb::SubmitJobRequest>,
    ) -> std::result::Result<Response<pb::SubmitJobResponse>, Status> {
        let job_id = self.submit_job(request.into_inner()).await?;
        self.refusal_at_planning(&job_id).await?;
        Ok(Response::new(pb::SubmitJobResponse {
            job_id: job_id.to_string(),
        }))
    }

    async fn get(
        &self,
        request: Request<pb::GetJobRequest>,
    ) -> std::result::Result<Response<pb::Job>, Status> {
        let request = request.into_inner();
        let mut job = self.view(&request.job_id)?;
        if !request.include_shards {
            job.shards.clear();
        }
        Ok(Response::new(job))
    }

    async fn list(
        &self,
        request: Request<pb::ListJobsRequest>,
    ) -> std::result::Result<Response<pb::ListJobsResponse>, Status> {
        let request = request.into_inner();
        let state_filter = convert::job_state_from_proto(
            pb::JobState::try_from(request.state).unwrap_or(pb::JobState::Unspecified),
        );
        let page_size = match request.page_size {
            0 => 50,
            size => size.min(1000),
        } as usize;
        let offset: usize = if request.page_token.is_empty() {
            0
        } else {
            request.page_token.parse().map_err(|_| {
                CoordinatorError::invalid(
                    "page_token",
                    "is not a token returned by a previous List",
                )
            })?
        };
        let matching: Vec<pb::Job> = self
            .leader
            .engine()?
            .jobs()
            .into_iter()
            .map(|view| view.job)
            .filter(|job| request.workspace.is_empty() || job.workspace == request.workspace)
            .filter(|job| {
                state_filter
                    .is_none_or(|state| job.state == convert::job_state_to_proto(state) as i32)
            })
            .collect();
        let jobs: Vec<pb::Job> = matching
            .iter()
            .skip(offset)
            .take(page_size)
            .cloned()
            .map(|mut job| {
                job.shards.clear();
                job
            })
            .collect();
        let next = offset + jobs.len();
        let next_page_token = if next < matching.len() {
            next.to_string()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListJobsResponse {
            jobs,
            next_page_token,
        }))
    }

    async fn cancel(
        &self,
        request: Request<pb::CancelJobRequest>,
    ) -> std::result::Result<Response<pb::Job>, Status> {
        let job_id = JobId(request.into_inner().job_id);
        let (reply, answer) = oneshot::channel();
        let engine = self.leader.engine()?;
        engine
            .send(Event::Cancel {
                job_id: job_id.clone(),
                reply,
            })
            .await?;
        answer.await.map_err(|_| CoordinatorError::ShuttingDown)??;
        // The view is published right after the event is applied.
        let mut changes = engine.changes();
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let job = self.view(job_id.as_str())?;
            if job.state == pb::JobState::Cancelled as i32 || Instant::now() > deadline {
                return Ok(Response::new(job));
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), changes.changed()).await;
        }
    }

    type WatchStream = WatchStream;

    async fn list_dirty_records(
        &self,
        request: Request<pb::ListDirtyRecordsRequest>,
    ) -> std::result::Result<Response<pb::ListDirtyRecordsResponse>, Status> {
        let request = request.into_inner();
        let job = self.view(&request.job_id)?;
        let Some(location) = self.data_location.as_deref() else {
            return Err(CoordinatorError::FailedPrecondition(
                "this cluster has no data location, so dirty records are only sampled (see `sluice job get`): start coordinators with --data-location".into(),
            )
            .into());
        };
        let store = DirtyStore::open(location)
            .map_err(|error| CoordinatorError::Internal(format!("dirty-data store: {error}")))?;
        let committed: std::collections::BTreeMap<u32, u32> = job
            .shards
            .iter()
            .filter(|shard| shard.state == pb::ShardState::Committed as i32)
            .map(|shard| (shard.shard_id, shard.attempt))
            .collect();
        let records = store
            .read_job(&request.job_id, |shard| committed.get(&shard).copied())
            .await
            .map_err(|error| CoordinatorError::Internal(format!("dirty-data store: {error}")))?;
        let page_size = match request.page_size {
            0 => 100,
            size => size.min(1000),
        } as usize;
        let offset: usize = if request.page_token.is_empty() {
            0
        } else {
            request.page_token.parse().map_err(|_| {
                CoordinatorError::invalid("page_token", "is not a token from a previous answer")
            })?
        };
        let total = records.len();
        let page: Vec<pb::DirtyRecord> = records
            .into_iter()
            .skip(offset)
            .take(page_size)
            .map(|record| pb::DirtyRecord {
                shard_id: record.shard_id,
                attempt: record.attempt,
                stage: match record.stage {
                    DirtyStage::Read => "read",
                    DirtyStage::Transform => "transform",
                    DirtyStage::Write => "write",
                }
                .to_string(),
                column: record.column,
                error: record.error,
                row: record.row,
            })
            .collect();
        let next = offset + page.len();
        Ok(Response::new(pb::ListDirtyRecordsResponse {
            records: page,
            next_page_token: if next < total {
                next.to_string()
            } else {
                String::new()
            },
            total: total as u64,
        }))
    }

    async fn watch(
        &self,
        request: Request<pb::WatchJobRequest>,
    ) -> std::result::Result<Response<Self::WatchStream>, Status> {
        let job_id = JobId(request.into_inner().job_id);
        self.view(job_id.as_str())?;
        let engine = self.leader.engine()?;
        let stream = async_stream_of_progress(engine, job_id);
        Ok(Response::new(Box::pin(stream)))
    }
}

/// Streams a snapshot about once a second (and at every state change) until the job ends.
fn async_stream_of_progress(
    engine: EngineHandle,
    job_id: JobId,
) -> impl Stream<Item = std::result::Result<pb::JobProgress, Status>> {
    struct State {
        engine: EngineHandle,
        job_id: JobId,
        changes: tokio::sync::watch::Receiver<u64>,
        previous: Option<(Instant, u64, u64)>,
        last_state: i32,
        done: bool,
        first: bool,
    }
    let changes = engine.changes();
    let initial = State {
        engine,
        job_id,
        changes,
        previous: None,
        last_state: -1,
        done: false,
        first: true,
    };
    futures::stream::unfold(initial, |mut state| async move {
        if state.done {
            return None;
        }
        if !state.first {
            // Wake at the next second, or earlier on a state change.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
            loop {
                let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
                if remaining.is_zero() {
                    break;
                }
                match tokio::time::timeout(remaining, state.changes.changed()).await {
                    Ok(Ok(())) => {
                        let current = state.engine.job(&state.job_id).map(|view| view.job.state);
                        if current.is_some_and(|job_state| job_state != state.last_state) {
                            break;
                        }
                    }
                    Ok(Err(_)) => {
                        // The engine stopped: this coordinator lost leadership or is stopping.
                        state.done = true;
                        let status = Status::unavailable(
                            "the coordinator stopped leading; watch the job again on the leader",
                        );
                        return Some((Err(status), state));
                    }
                    Err(_) => break,
                }
            }
        }
        state.first = false;
        let Some(view) = state.engine.job(&state.job_id) else {
            state.done = true;
            return Some((
                Err(Status::not_found(format!(
                    "job \"{}\" not found",
                    state.job_id
                ))),
                state,
            ));
        };
        let counters = view.job.counters.unwrap_or_default();
        let now = Instant::now();
        let (rows_per_second, bytes_per_second) = match state.previous {
            Some((at, rows, bytes)) => {
                let seconds = now.duration_since(at).as_secs_f64().max(0.001);
                (
                    counters.rows_written.saturating_sub(rows) as f64 / seconds,
                    counters.bytes_written.saturating_sub(bytes) as f64 / seconds,
                )
            }
            None => (0.0, 0.0),
        };
        state.previous = Some((now, counters.rows_written, counters.bytes_written));
        state.last_state = view.job.state;
        let terminal = matches!(
            pb::JobState::try_from(view.job.state),
            Ok(pb::JobState::Succeeded | pb::JobState::Failed | pb::JobState::Cancelled)
        );
        state.done = terminal;
        let mut job = view.job;
        job.shards.clear();
        let progress = pb::JobProgress {
            job: Some(job),
            rows_per_second,
            bytes_per_second,
            dirty_samples: view.dirty_samples,
        };
        Some((Ok(progress), state))
    })
}
