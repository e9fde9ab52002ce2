//! `sluice.v1.ScheduleService`: schedules stored under `schedules/{ws}/{name}`. Any coordinator
//! serves it; the leader's scheduler fires them (see [`crate::schedule`]).

use crate::convert;
use crate::error::{CoordinatorError, Result};
use crate::schedule::CronTimes;
use crate::submit::spec_format;
use chrono::NaiveDate;
use sluice_common::meta::{keys, DeleteOutcome, Precondition, PutOutcome, SharedMetaStore};
use sluice_common::records::{
    self, now_ms, Backfill, OverlapPolicy, ScheduleRecord, RECORD_VERSION,
};
use sluice_common::spec::{
    is_valid_name, parse_job_spec, substitute_params, validate, ParamContext, SpecFormat,
};
use sluice_common::{SpecError, SpecErrors};
use sluice_proto::v1 as pb;
use sluice_proto::v1::schedule_service_server::ScheduleService;
use tonic::{Request, Response, Status};

/// Most business dates one backfill may cover.
pub const MAX_BACKFILL_DATES: i64 = 366;

/// Most jobs a backfill runs at once.
pub const MAX_BACKFILL_PARALLELISM: u32 = 16;

/// Serves the schedule API.
pub struct ScheduleServiceImpl {
    store: SharedMetaStore,
}

impl ScheduleServiceImpl {
    /// Returns the service over the metadata store.
    pub fn new(store: SharedMetaStore) -> Self {
        ScheduleServiceImpl { store }
    }

    async fn load(&self, workspace: &str, name: &str) -> Result<(ScheduleRecord, i64)> {
        let key_value = self
            .store
            .get(&keys::schedule(workspace, name))
            .await?
            .ok_or_else(|| CoordinatorError::NotFound {
                kind: "schedule",
                name: name.to_string(),
                hint: format!(" in workspace {workspace}"),
            })?;
        Ok((records::decode(&key_value)?, key_value.mod_revision))
    }

    /// Applies `change` to a schedule with a compare-and-swap, retrying when the scheduler
    /// wrote it meanwhile.
    async fn update(
        &self,
        workspace: &str,
        name: &str,
        change: impl Fn(&mut ScheduleRecord) -> Result<()>,
    ) -> Result<ScheduleRecord> {
        for _ in 0..20 {
            let (mut record, revision) = self.load(workspace, name).await?;
            change(&mut record)?;
            record.updated_at_ms = now_ms();
            match self
                .store
                .put(
                    &keys::schedule(workspace, name),
                    records::encode(&record),
                    Precondition::ModRevision(revision),
                    None,
                )
                .await?
            {
                PutOutcome::Written { .. } => return Ok(record),
                PutOutcome::Conflict { .. } => continue,
            }
        }
        Err(CoordinatorError::FailedPrecondition(format!(
            "schedule {name} kept changing; try again"
        )))
    }
}

fn workspace_of(workspace: &str) -> String {
    if workspace.trim().is_empty() {
        sluice_common::DEFAULT_WORKSPACE.to_string()
    } else {
        workspace.to_string()
    }
}

/// Checks a new schedule and returns its record, with its first fire after `now`.
fn validated_record(message: pb::Schedule, now: i64) -> Result<ScheduleRecord> {
    let workspace = workspace_of(&message.workspace);
    for (field, value) in [
        ("schedule.workspace", &workspace),
        ("schedule.name", &message.name),
    ] {
        if !is_valid_name(value) {
            return Err(CoordinatorError::invalid(
                field,
                format!("\"{value}\" is not a valid name: use letters, digits, `_` and `-`"),
            ));
        }
    }
    let times = CronTimes::parse(&message.cron, &message.time_zone)?;
    let environment = if message.environment.trim().is_empty() {
        sluice_common::DEFAULT_ENVIRONMENT.to_string()
    } else {
        message.environment.clone()
    };
    if environment != "prod" && environment != "dev" {
        return Err(CoordinatorError::invalid(
            "schedule.environment",
            format!("\"{environment}\" is not one of prod, dev"),
        ));
    }
    let format = spec_format(message.format);
    check_spec(&message, format, now)?;
    let overlap = match pb::OverlapPolicy::try_from(message.overlap) {
        Ok(pb::OverlapPolicy::Queue) => OverlapPolicy::Queue,
        _ => OverlapPolicy::Skip,
    };
    Ok(ScheduleRecord {
        v: RECORD_VERSION,
        workspace,
        name: message.name,
        cron: message.cron.trim().to_string(),
        time_zone: times.zone().name().to_string(),
        environment,
        spec: message.spec,
        format: match format {
            SpecFormat::Json => "json",
            SpecFormat::Yaml => "yaml",
            SpecFormat::Auto => "auto",
        }
        .to_string(),
        params: message.params.into_iter().collect(),
        overlap,
        paused: false,
        next_fire_ms: times.next_after(now),
        queued_fires_ms: Vec::new(),
        runs: Vec::new(),
        backfill: None,
        created_at_ms: now,
        updated_at_ms: now,
    })
}

/// Checks that the spec parses and validates with the schedule's parameters at `now`, so a
/// schedule that could never submit is refused at once (data sources are resolved at each fire).
fn check_spec(message: &pb::Schedule, format: SpecFormat, now: i64) -> Result<()> {
    if message.spec.trim().is_empty() {
        return Err(CoordinatorError::invalid(
            "schedule.spec",
            "is empty: give the job spec document (JSON or YAML)",
        ));
    }
    let instant = chrono::DateTime::from_timestamp_millis(now)
        .ok_or_else(|| CoordinatorError::Internal("clock out of range".into()))?;
    let params = message.params.clone().into_iter().collect();
    let context = ParamContext::for_run(params, instant, &message.time_zone)
        .map_err(|error| CoordinatorError::InvalidSpec(SpecErrors(vec![error])))?;
    let in_spec = |errors: SpecErrors| {
        CoordinatorError::InvalidSpec(SpecErrors(
            errors
                .0
                .into_iter()
                .map(|error| {
                    let path = if error.path.is_empty() {
                        "schedule.spec".to_string()
                    } else {
                        format!("schedule.spec.{}", error.path)
                    };
                    SpecError::new(path, error.message)
                })
                .collect(),
        ))
    };
    let (text, format) = substitute_params(&message.spec, format, &context).map_err(in_spec)?;
    let spec = parse_job_spec(&text, format).map_err(in_spec)?;
    // The schedule keeps its spec text in the metadata store and shows it in answers: a
    // password in an inline connection would be stored and shown in the clear.
    if spec.with_inline_secrets_masked() != spec {
        return Err(CoordinatorError::invalid(
            "schedule.spec",
            "has a secret option (such as a password) in an inline connection: create a data \
             source for it (`sluice ds create`, its secrets are encrypted) and name it with \
             `datasource:`",
        ));
    }
    validate(spec).map_err(in_spec)?;
    Ok(())
}

/// Returns the API view of a schedule.
pub fn to_proto(record: &ScheduleRecord) -> pb::Schedule {
    pb::Schedule {
        workspace: record.workspace.clone(),
        name: record.name.clone(),
        cron: record.cron.clone(),
        time_zone: record.time_zone.clone(),
        environment: record.environment.clone(),
        spec: record.spec.clone(),
        format: crate::schedule::scheduler::format_code(&record.format),
        params: record.params.clone().into_iter().collect(),
        overlap: match record.overlap {
            OverlapPolicy::Skip => pb::OverlapPolicy::Skip as i32,
            OverlapPolicy::Queue => pb::OverlapPolicy::Queue as i32,
        },
        paused: record.paused,
        next_fire_time: record
            .next_fire_ms
            .filter(|_| !record.paused)
            .map(convert::timestamp),
        queued_fires: record
            .queued_fires_ms
            .iter()
            .copied()
            .map(convert::timestamp)
            .collect(),
        runs: record
            .runs
            .iter()
            .map(|run| pb::ScheduleRun {
                cycle_time: Some(convert::timestamp(run.cycle_time_ms)),
                job_id: run.job_id.clone().unwrap_or_default(),
                outcome: run.outcome.clone(),
                message: run.message.clone(),
            })
            .collect(),
        backfill: record.backfill.as_ref().map(|backfill| pb::BackfillStatus {
            from_date: backfill.from_date.clone(),
            to_date: backfill.to_date.clone(),
            parallelism: backfill.parallelism,
            pending: backfill.pending.clone(),
            submitted: backfill
                .submitted
                .iter()
                .map(|date| pb::BackfillDate {
                    date: date.date.clone(),
                    job_id: date.job_id.clone().unwrap_or_default(),
                    message: date.message.clone(),
                })
                .collect(),
        }),
        created_at: Some(convert::timestamp(record.created_at_ms)),
    }
}

/// Returns the business dates from `from` to `to`, inclusive.
fn backfill_dates(from: &str, to: &str) -> Result<Vec<String>> {
    let parse = |field: &str, text: &str| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
            CoordinatorError::invalid(field, format!("\"{text}\" is not a date: write YYYY-MM-DD"))
        })
    };
    let first = parse("from_date", from)?;
    let last = parse("to_date", to)?;
    let days = (last - first).num_days() + 1;
    if days < 1 {
        return Err(CoordinatorError::invalid(
            "to_date",
            format!("{to} is before from_date {from}"),
        ));
    }
    if days > MAX_BACKFILL_DATES {
        return Err(CoordinatorError::invalid(
            "to_date",
            format!("the range has {days} dates; a backfill covers at most {MAX_BACKFILL_DATES}: split it"),
        ));
    }
    Ok(first
        .iter_days()
        .take(usize::try_from(days).unwrap_or(0))
        .map(|date| date.format("%Y-%m-%d").to_string())
        .collect())
}

#[tonic::async_trait]
impl ScheduleService for ScheduleServiceImpl {
    async fn create(
        &self,
        request: Request<pb::CreateScheduleRequest>,
    ) -> std::result::Result<Response<pb::Schedule>, Status> {
        let message = request
            .into_inner()
            .schedule
            .ok_or_else(|| CoordinatorError::invalid("schedule", "is required"))?;
        let record = validated_record(message, now_ms())?;
        let key = keys::schedule(&record.workspace, &record.name);
        match self
            .store
            .put(&key, records::encode(&record), Precondition::Absent, None)
            .await
            .map_err(CoordinatorError::from)?
        {
            PutOutcome::Written { .. } => {
                tracing::info!(workspace = %record.workspace, name = %record.name, cron = %record.cron, time_zone = %record.time_zone, "schedule created");
                Ok(Response::new(to_proto(&record)))
            }
            PutOutcome::Conflict { .. } => Err(CoordinatorError::AlreadyExists {
                kind: "schedule",
                name: record.name,
            }
            .into()),
        }
    }

    async fn get(
        &self,
        request: Request<pb::GetScheduleRequest>,
    ) -> std::result::Result<Response<pb::Schedule>, Status> {
        let request = request.into_inner();
        let (record, _) = self
            .load(&workspace_of(&request.workspace), &request.name)
            .await?;
        Ok(Response::new(to_proto(&record)))
    }

    async fn list(
        &self,
        request: Request<pb::ListSchedulesRequest>,
    ) -> std::result::Result<Response<pb::ListSchedulesResponse>, Status> {
        let workspace = workspace_of(&request.into_inner().workspace);
        let all = self
            .store
            .list_prefix(&keys::schedules_prefix(&workspace))
            .await
            .map_err(CoordinatorError::from)?;
        let mut schedules = Vec::with_capacity(all.len());
        for key_value in &all {
            let record: ScheduleRecord =
                records::decode(key_value).map_err(CoordinatorError::from)?;
            schedules.push(to_proto(&record));
        }
        Ok(Response::new(pb::ListSchedulesResponse { schedules }))
    }

    async fn pause(
        &self,
        request: Request<pb::PauseScheduleRequest>,
    ) -> std::result::Result<Response<pb::Schedule>, Status> {
        let request = request.into_inner();
        let workspace = workspace_of(&request.workspace);
        let record = self
            .update(&workspace, &request.name, |record| {
                record.paused = true;
                Ok(())
            })
            .await?;
        tracing::info!(%workspace, name = %record.name, "schedule paused");
        Ok(Response::new(to_proto(&record)))
    }

    async fn resume(
        &self,
        request: Request<pb::ResumeScheduleRequest>,
    ) -> std::result::Result<Response<pb::Schedule>, Status> {
        let request = request.into_inner();
        let workspace = workspace_of(&request.workspace);
        let record = self
            .update(&workspace, &request.name, |record| {
                let times = CronTimes::parse(&record.cron, &record.time_zone)?;
                if record.paused {
                    record.paused = false;
                    record.next_fire_ms = times.next_after(now_ms());
                }
                Ok(())
            })
            .await?;
        tracing::info!(%workspace, name = %record.name, "schedule resumed");
        Ok(Response::new(to_proto(&record)))
    }

    async fn backfill(
        &self,
        request: Request<pb::BackfillRequest>,
    ) -> std::result::Result<Response<pb::Schedule>, Status> {
        let request = request.into_inner();
        let workspace = workspace_of(&request.workspace);
        let dates = backfill_dates(&request.from_date, &request.to_date)?;
        let parallelism = match request.parallelism {
            0 => 1,
            value if value > MAX_BACKFILL_PARALLELISM => {
                return Err(CoordinatorError::invalid(
                    "parallelism",
                    format!("{value} is out of range: from 1 to {MAX_BACKFILL_PARALLELISM}"),
                )
                .into())
            }
            value => value,
        };
        let record = self
            .update(&workspace, &request.name, |record| {
                if record
                    .backfill
                    .as_ref()
                    .is_some_and(|backfill| !backfill.pending.is_empty())
                {
                    return Err(CoordinatorError::FailedPrecondition(format!(
                        "schedule {} has a backfill with dates still to submit; wait for it",
                        record.name
                    )));
                }
                record.backfill = Some(Backfill {
                    from_date: request.from_date.clone(),
                    to_date: request.to_date.clone(),
                    parallelism,
                    requested_at_ms: now_ms(),
                    pending: dates.clone(),
                    submitted: Vec::new(),
                });
                Ok(())
            })
            .await?;
        tracing::info!(%workspace, name = %record.name, from = %request.from_date, to = %request.to_date, parallelism, "backfill requested");
        Ok(Response::new(to_proto(&record)))
    }

    async fn delete(
        &self,
        request: Request<pb::DeleteScheduleRequest>,
    ) -> std::result::Result<Response<pb::DeleteScheduleResponse>, Status> {
        let request = request.into_inner();
        let workspace = workspace_of(&request.workspace);
        match self
            .store
            .delete(
                &keys::schedule(&workspace, &request.name),
                Precondition::None,
            )
            .await
            .map_err(CoordinatorError::from)?
        {
            DeleteOutcome::Deleted => {
                tracing::info!(%workspace, name = %request.name, "schedule deleted");
                Ok(Response::new(pb::DeleteScheduleResponse {}))
            }
            _ => Err(CoordinatorError::NotFound {
                kind: "schedule",
                name: request.name,
                hint: format!(" in workspace {workspace}"),
            }
            .into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backfill_ranges_are_inclusive_and_bounded() {
        let dates = backfill_dates("2025-02-27", "2025-03-01").expect("valid");
        assert_eq!(dates, vec!["2025-02-27", "2025-02-28", "2025-03-01"]);
        assert!(backfill_dates("2025-03-01", "2025-02-27").is_err());
        assert!(backfill_dates("2024-01-01", "2025-03-01").is_err());
        let error = backfill_dates("1 March", "2025-03-01").expect_err("bad date");
        assert!(error.to_string().starts_with("from_date:"), "{error}");
    }

    #[test]
    fn a_schedule_with_a_missing_parameter_is_refused_naming_the_field() {
        let message = pb::Schedule {
            name: "daily".into(),
            cron: "0 2 * * *".into(),
            spec: "source: {connection: {type: generator, rows: 5}}\nsink:\n  connection: {type: sqlite, path: /tmp/x.db}\n  table: t_${region}\n".into(),
            ..Default::default()
        };
        let error = validated_record(message.clone(), 0).expect_err("missing parameter");
        assert!(
            error.to_string().contains("schedule.spec.sink.table"),
            "{error}"
        );
        let mut with_region = message;
        with_region.params.insert("region".into(), "eu".into());
        let record = validated_record(with_region.clone(), 0).expect("valid");
        assert_eq!(record.next_fire_ms, Some(2 * 3600 * 1000));
        assert_eq!(record.time_zone, "UTC");
        let mut with_password = with_region;
        with_password.spec = "source: {connection: {type: generator, rows: 5}}\nsink: {connection: {type: postgresql, host: h, database: d, user: u, password: hunter2}, table: t}\n".into();
        let error = validated_record(with_password, 0).expect_err("inline secret");
        assert!(
            error.to_string().contains("create a data source"),
            "{error}"
        );
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
