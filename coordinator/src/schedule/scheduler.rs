//! The leader's scheduler: every tick it reads the schedules, submits the jobs of due fires,
//! queued fires and backfill dates, and writes each schedule back with a compare-and-swap.

use super::CronTimes;
use crate::engine::EngineHandle;
use crate::error::{CoordinatorError, Result};
use crate::submit::submit_job;
use chrono::{DateTime, NaiveDate, Utc};
use sluice_common::ids::JobId;
use sluice_common::meta::{keys, MetaStore, Precondition, PutOutcome, SharedMetaStore};
use sluice_common::records::{
    self, now_ms, BackfillDate, OverlapPolicy, ScheduleRecord, ScheduleRun,
};
use sluice_common::secrets::SecretCipher;
use sluice_proto::v1 as pb;
use std::future::Future;
use std::time::Duration;

/// How often the scheduler looks at the schedules.
pub const TICK: Duration = Duration::from_millis(500);

/// Fires handled per schedule and tick (a leader elected after a long outage catches up over
/// several ticks).
const MAX_FIRES_PER_TICK: usize = 50;

/// Runs the scheduler until `stop` resolves.
pub async fn run(
    store: SharedMetaStore,
    engine: EngineHandle,
    secrets: SecretCipher,
    stop: impl Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            _ = &mut stop => return,
        }
        if let Err(error) = tick(store.as_ref(), &engine, &secrets, now_ms()).await {
            tracing::warn!(%error, "scheduler tick failed; retrying");
        }
    }
}

/// Handles every schedule once at `now_ms`.
///
/// # Errors
/// When the schedules cannot be listed.
pub async fn tick(
    store: &dyn MetaStore,
    engine: &EngineHandle,
    secrets: &SecretCipher,
    now_ms: i64,
) -> Result<()> {
    for key_value in store.list_prefix(keys::SCHEDULES_PREFIX).await? {
        let record: ScheduleRecord = match records::decode(&key_value) {
            Ok(record) => record,
            Err(error) => {
                tracing::warn!(%error, "unreadable schedule record; skipping it");
                continue;
            }
        };
        let before = record.clone();
        let updated = advance(store, engine, secrets, record, now_ms).await;
        if updated == before {
            continue;
        }
        let outcome = store
            .put(
                &key_value.key,
                records::encode(&updated),
                Precondition::ModRevision(key_value.mod_revision),
                None,
            )
            .await?;
        if let PutOutcome::Conflict { .. } = outcome {
            // Paused, resumed or deleted meanwhile: the next tick starts from the new record,
            // and fires already submitted are found again by their job ids.
            tracing::debug!(schedule = %updated.name, "schedule changed while firing; will retry");
        }
    }
    Ok(())
}

/// Returns the schedule after handling what is due at `now_ms`.
async fn advance(
    store: &dyn MetaStore,
    engine: &EngineHandle,
    secrets: &SecretCipher,
    mut record: ScheduleRecord,
    now_ms: i64,
) -> ScheduleRecord {
    let times = match CronTimes::parse(&record.cron, &record.time_zone) {
        Ok(times) => times,
        Err(error) => {
            tracing::warn!(schedule = %record.name, %error, "schedule cannot fire");
            return record;
        }
    };
    if !record.paused {
        run_queued_fire(store, engine, secrets, &mut record, now_ms).await;
        let mut handled = 0;
        while let Some(cycle_ms) = record.next_fire_ms.filter(|next| *next <= now_ms) {
            if handled == MAX_FIRES_PER_TICK {
                break;
            }
            fire(store, engine, secrets, &mut record, cycle_ms, now_ms).await;
            record.next_fire_ms = times.next_after(cycle_ms);
            handled += 1;
        }
    }
    run_backfill(store, engine, secrets, &mut record, &times).await;
    record
}

/// Handles one fire: submits its job, or skips or queues it while the previous job runs.
async fn fire(
    store: &dyn MetaStore,
    engine: &EngineHandle,
    secrets: &SecretCipher,
    record: &mut ScheduleRecord,
    cycle_ms: i64,
    now_ms: i64,
) {
    let busy = previous_job_running(engine, record);
    match (busy, record.overlap) {
        (Some(previous), OverlapPolicy::Skip) => record.record_run(ScheduleRun {
            cycle_time_ms: cycle_ms,
            job_id: None,
            outcome: "skipped".into(),
            message: format!("job {previous} of the previous fire is still running"),
            handled_at_ms: now_ms,
        }),
        (Some(_), OverlapPolicy::Queue) => record.queued_fires_ms.push(cycle_ms),
        (None, OverlapPolicy::Queue) if !record.queued_fires_ms.is_empty() => {
            record.queued_fires_ms.push(cycle_ms)
        }
        (None, _) => {
            let run = submit_fire(store, engine, secrets, record, cycle_ms, now_ms).await;
            record.record_run(run);
        }
    }
}

/// Submits the oldest queued fire when the previous job has ended.
async fn run_queued_fire(
    store: &dyn MetaStore,
    engine: &EngineHandle,
    secrets: &SecretCipher,
    record: &mut ScheduleRecord,
    now_ms: i64,
) {
    if record.queued_fires_ms.is_empty() || previous_job_running(engine, record).is_some() {
        return;
    }
    let cycle_ms = record.queued_fires_ms.remove(0);
    let run = submit_fire(store, engine, secrets, record, cycle_ms, now_ms).await;
    record.record_run(run);
}

/// Returns the id of the schedule's latest job when it has not ended.
fn previous_job_running(engine: &EngineHandle, record: &ScheduleRecord) -> Option<String> {
    let job_id = record.last_job_id()?;
    let view = engine.job(&JobId(job_id.to_string()))?;
    let ended = matches!(
        pb::JobState::try_from(view.job.state),
        Ok(pb::JobState::Succeeded | pb::JobState::Failed | pb::JobState::Cancelled)
    );
    (!ended).then(|| job_id.to_string())
}

/// Submits the job of one cycle and describes the outcome.
async fn submit_fire(
    store: &dyn MetaStore,
    engine: &EngineHandle,
    secrets: &SecretCipher,
    record: &ScheduleRecord,
    cycle_ms: i64,
    now_ms: i64,
) -> ScheduleRun {
    let job_id = fire_job_id(record, cycle_ms);
    let outcome = submit_cycle(store, engine, secrets, record, cycle_ms, job_id.clone()).await;
    match outcome {
        Ok(()) => {
            tracing::info!(schedule = %record.name, workspace = %record.workspace, %job_id, cycle_time_ms = cycle_ms, "schedule fired");
            ScheduleRun {
                cycle_time_ms: cycle_ms,
                job_id: Some(job_id.to_string()),
                outcome: "submitted".into(),
                message: String::new(),
                handled_at_ms: now_ms,
            }
        }
        Err(error) => {
            tracing::warn!(schedule = %record.name, workspace = %record.workspace, %error, "schedule fire could not submit its job");
            ScheduleRun {
                cycle_time_ms: cycle_ms,
                job_id: None,
                outcome: "failed".into(),
                message: error.to_string(),
                handled_at_ms: now_ms,
            }
        }
    }
}

/// Submits the schedule's spec for `cycle_ms` as `job_id`; a job that already exists under
/// that id (submitted before a failover or a lost compare-and-swap) counts as submitted.
async fn submit_cycle(
    store: &dyn MetaStore,
    engine: &EngineHandle,
    secrets: &SecretCipher,
    record: &ScheduleRecord,
    cycle_ms: i64,
    job_id: JobId,
) -> Result<()> {
    let request = pb::SubmitJobRequest {
        workspace: record.workspace.clone(),
        environment: record.environment.clone(),
        spec: record.spec.clone(),
        format: format_code(&record.format),
        params: record.params.clone().into_iter().collect(),
        cycle_time: Some(crate::convert::timestamp(cycle_ms)),
        time_zone: record.time_zone.clone(),
    };
    match submit_job(store, engine, secrets, request, job_id).await {
        Ok(_) | Err(CoordinatorError::AlreadyExists { .. }) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Starts backfill dates, in order, while fewer than `parallelism` of its jobs run.
async fn run_backfill(
    store: &dyn MetaStore,
    engine: &EngineHandle,
    secrets: &SecretCipher,
    record: &mut ScheduleRecord,
    times: &CronTimes,
) {
    let Some(mut backfill) = record.backfill.clone() else {
        return;
    };
    if backfill.pending.is_empty() {
        return;
    }
    let running = backfill
        .submitted
        .iter()
        .filter_map(|date| date.job_id.as_deref())
        .filter(|job_id| {
            engine.job(&JobId(job_id.to_string())).is_some_and(|view| {
                !matches!(
                    pb::JobState::try_from(view.job.state),
                    Ok(pb::JobState::Succeeded | pb::JobState::Failed | pb::JobState::Cancelled)
                )
            })
        })
        .count();
    let mut free = usize::try_from(backfill.parallelism)
        .unwrap_or(1)
        .saturating_sub(running);
    while free > 0 && !backfill.pending.is_empty() {
        let date_text = backfill.pending.remove(0);
        let cycle = NaiveDate::parse_from_str(&date_text, "%Y-%m-%d")
            .ok()
            .and_then(|date| times.cycle_time_for_business_date(date));
        let entry = match cycle {
            None => BackfillDate {
                date: date_text,
                job_id: None,
                message: "no cycle time for this business date".into(),
            },
            Some(cycle_ms) => {
                let job_id = JobId(format!(
                    "{}-backfill{}-{}",
                    job_id_prefix(record),
                    backfill.requested_at_ms,
                    date_text.replace('-', "")
                ));
                match submit_cycle(store, engine, secrets, record, cycle_ms, job_id.clone()).await {
                    Ok(()) => {
                        tracing::info!(schedule = %record.name, date = %date_text, %job_id, "backfill date submitted");
                        free -= 1;
                        BackfillDate {
                            date: date_text,
                            job_id: Some(job_id.to_string()),
                            message: String::new(),
                        }
                    }
                    Err(error) => BackfillDate {
                        date: date_text,
                        job_id: None,
                        message: error.to_string(),
                    },
                }
            }
        };
        backfill.submitted.push(entry);
    }
    record.backfill = Some(backfill);
}

/// Returns the id of the job of one fire: the same for every leader that handles it.
pub fn fire_job_id(record: &ScheduleRecord, cycle_ms: i64) -> JobId {
    let cycle = DateTime::<Utc>::from_timestamp_millis(cycle_ms)
        .map(|time| time.format("%Y%m%dT%H%M%S%.3fZ").to_string())
        .unwrap_or_else(|| cycle_ms.to_string());
    JobId(format!("{}-{cycle}", job_id_prefix(record)))
}

/// Job ids of a schedule start with its workspace, name and creation time (so a schedule
/// deleted and created again under the same name does not find the old one's jobs).
fn job_id_prefix(record: &ScheduleRecord) -> String {
    format!(
        "{}.{}.{}",
        record.workspace, record.name, record.created_at_ms
    )
}

/// Converts a stored format name to the API's code.
pub fn format_code(format: &str) -> i32 {
    match format {
        "json" => pb::SpecFormat::Json as i32,
        "yaml" => pb::SpecFormat::Yaml as i32,
        _ => pb::SpecFormat::Unspecified as i32,
    }
}
