//! Schedules: a job spec fired by cron in a time zone. Key `schedules/{ws}/{name}`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Runs of a schedule kept in its record, newest last.
pub const SCHEDULE_RUNS_KEPT: usize = 100;

/// What a fire does while the schedule's previous job is still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverlapPolicy {
    /// Record the fire as skipped.
    #[default]
    Skip,
    /// Keep the fire and submit it when the previous job ends (fires run one at a time, in
    /// order).
    Queue,
}

/// A schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRecord {
    /// Format version.
    pub v: u32,
    /// Workspace.
    pub workspace: String,
    /// Name, unique in the workspace.
    pub name: String,
    /// Cron expression: 5 fields (minute first) or 6 (second first).
    pub cron: String,
    /// IANA time zone the cron expression and the job's dates are read in.
    pub time_zone: String,
    /// Environment the jobs run in.
    pub environment: String,
    /// The job spec document, with its placeholders.
    pub spec: String,
    /// `json`, `yaml` or `auto`.
    pub format: String,
    /// Values of the spec's `${name}` placeholders.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Overlap policy.
    #[serde(default)]
    pub overlap: OverlapPolicy,
    /// Paused schedules do not fire; resuming starts from the next fire after the resume.
    #[serde(default)]
    pub paused: bool,
    /// The next fire not yet handled, Unix milliseconds (`None` when the expression never fires
    /// again).
    #[serde(default)]
    pub next_fire_ms: Option<i64>,
    /// Fires waiting for the previous job to end (policy `queue`), oldest first.
    #[serde(default)]
    pub queued_fires_ms: Vec<i64>,
    /// Recent runs, oldest first (at most [`SCHEDULE_RUNS_KEPT`]).
    #[serde(default)]
    pub runs: Vec<ScheduleRun>,
    /// A backfill in progress or finished.
    #[serde(default)]
    pub backfill: Option<Backfill>,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, Unix milliseconds.
    pub updated_at_ms: i64,
}

/// What one fire did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleRun {
    /// The cycle time of the fire, Unix milliseconds.
    pub cycle_time_ms: i64,
    /// The job submitted, if one was.
    #[serde(default)]
    pub job_id: Option<String>,
    /// `submitted`, `skipped` (previous job still running) or `failed` (the spec could not be
    /// submitted: see `message`).
    pub outcome: String,
    /// Why a fire was skipped or failed.
    #[serde(default)]
    pub message: String,
    /// When the fire was handled, Unix milliseconds.
    pub handled_at_ms: i64,
}

/// A backfill: one job per business date of a range, in order, at most `parallelism` at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backfill {
    /// First business date, `YYYY-MM-DD`.
    pub from_date: String,
    /// Last business date, inclusive.
    pub to_date: String,
    /// Jobs running at once.
    pub parallelism: u32,
    /// When the backfill was requested, Unix milliseconds (part of its job ids).
    pub requested_at_ms: i64,
    /// Business dates not yet submitted, in order.
    pub pending: Vec<String>,
    /// Business dates submitted, with their job ids, in order.
    pub submitted: Vec<BackfillDate>,
}

/// One business date of a backfill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillDate {
    /// Business date, `YYYY-MM-DD`.
    pub date: String,
    /// Its job, or `None` when it could not be submitted (see `message`).
    pub job_id: Option<String>,
    /// Why it could not be submitted.
    #[serde(default)]
    pub message: String,
}

impl ScheduleRecord {
    /// Appends a run, dropping the oldest beyond [`SCHEDULE_RUNS_KEPT`].
    pub fn record_run(&mut self, run: ScheduleRun) {
        self.runs.push(run);
        if self.runs.len() > SCHEDULE_RUNS_KEPT {
            let excess = self.runs.len() - SCHEDULE_RUNS_KEPT;
            self.runs.drain(..excess);
        }
    }

    /// Returns the job of the most recent run that submitted one.
    pub fn last_job_id(&self) -> Option<&str> {
        self.runs.iter().rev().find_map(|run| run.job_id.as_deref())
    }
}
