//! Job-level tasks that run on a worker: planning (split points, sink preparation, pre-SQL)
//! and finalisation (post-SQL).

use crate::pipeline::{error_chain, spec_of};
use sluice_common::spec::parse_transformers;
use sluice_connectors::mapping::{check_written_types, resolve_planned_spec};
use sluice_connectors::transform::TransformChain;
use sluice_connectors::{open_sink, open_source, PlanRequest};
use sluice_proto::convert::{connection_from_proto, key_range_to_proto};
use sluice_proto::v1 as pb;

/// Plans a job: resolves what the spec leaves to planning (mapping entries, the incremental
/// lower bound), reads the source's key bounds, computes shard ranges, checks the column types
/// against the sink table and prepares the sink. Nothing is written before the type check.
pub async fn plan(job: pb::ResolvedJob) -> pb::PlanResult {
    let job_id = job.job_id.clone();
    let failure = |error: String, retryable: bool| pb::PlanResult {
        job_id: job_id.clone(),
        shards: Vec::new(),
        estimated_rows: 0,
        error,
        retryable,
        key_min: None,
        key_max: None,
        planned_spec_json: String::new(),
        refused: false,
    };
    let submitted = match spec_of(&job.spec_json) {
        Ok(validated) => validated,
        Err(reason) => return failure(reason, false),
    };
    let source_connection = connection_from_proto(job.source_connection.as_ref());
    let sink_connection = connection_from_proto(job.sink_connection.as_ref());
    let planned = match resolve_planned_spec(&submitted, &source_connection, &sink_connection).await
    {
        Ok(planned) => planned,
        Err(error) => return failure(error_chain(&error), error.is_retryable()),
    };
    let validated = &planned.validated;
    let source = match open_source(validated, &source_connection) {
        Ok(source) => source,
        Err(error) => return failure(error_chain(&error), error.is_retryable()),
    };
    let request = PlanRequest {
        parallelism: validated.spec.settings.parallelism,
        shard_rows: validated.spec.settings.shard_rows,
    };
    let plan = match source.plan(&request).await {
        Ok(plan) => plan,
        Err(error) => return failure(error_chain(&error), error.is_retryable()),
    };
    let schema = match source.schema().await {
        Ok(schema) => schema,
        Err(error) => return failure(error_chain(&error), error.is_retryable()),
    };
    // Transformers bind to the mapped columns here, so a missing column fails the job before
    // any shard runs, and the sink is prepared for the rows the chain produces.
    let transformers = match parse_transformers(&validated.spec.transformers) {
        Ok(transformers) => transformers,
        Err(errors) => return failure(errors.to_string(), false),
    };
    let schema = if transformers.is_empty() {
        schema
    } else {
        match TransformChain::new(transformers, &schema) {
            Ok(chain) => chain.output_schema(),
            Err(error) => return failure(error_chain(&error), error.is_retryable()),
        }
    };
    if let Some(target) = &planned.target_schema {
        if let Err(error) = check_written_types(validated, &schema, target) {
            return pb::PlanResult {
                refused: true,
                ..failure(error_chain(&error), false)
            };
        }
    }
    let sink = match open_sink(validated, &sink_connection) {
        Ok(sink) => sink,
        Err(error) => return failure(error_chain(&error), error.is_retryable()),
    };
    if let Err(error) = sink.prepare(schema).await {
        return failure(error_chain(&error), error.is_retryable());
    }
    let planned_spec_json = if planned.changed {
        match serde_json::to_string(&validated.spec) {
            Ok(json) => json,
            Err(error) => {
                return failure(format!("cannot encode the planned spec: {error}"), false)
            }
        }
    } else {
        String::new()
    };
    tracing::info!(job_id = %job_id, shards = plan.ranges.len(), estimated_rows = plan.estimated_rows, "planned job");
    pb::PlanResult {
        job_id,
        shards: plan.ranges.iter().map(key_range_to_proto).collect(),
        estimated_rows: plan.estimated_rows,
        error: String::new(),
        retryable: false,
        key_min: plan.key_bounds.map(|bounds| bounds.min),
        key_max: plan.key_bounds.map(|bounds| bounds.max),
        planned_spec_json,
        refused: false,
    }
}

/// Finalises a job: runs the sink's post-SQL.
pub async fn finalize(job: pb::ResolvedJob) -> pb::FinalizeResult {
    let job_id = job.job_id.clone();
    let validated = match spec_of(&job.spec_json) {
        Ok(validated) => validated,
        Err(reason) => {
            return pb::FinalizeResult {
                job_id,
                error: reason,
            }
        }
    };
    let sink_connection = connection_from_proto(job.sink_connection.as_ref());
    let result = match open_sink(&validated, &sink_connection) {
        Ok(sink) => sink.finalize().await,
        Err(error) => Err(error),
    };
    pb::FinalizeResult {
        job_id,
        error: result
            .err()
            .map(|error| error_chain(&error))
            .unwrap_or_default(),
    }
}

/// Runs a connectivity test (`sluice ds test`) on this worker.
pub async fn test_connectivity(
    task: pb::TestConnectivityTask,
    worker_id: String,
    resource_group: String,
) -> pb::ConnectivityResult {
    use sluice_connectors::probe::{probe, ProbeRole, ProbeStatus, StepOutcome};
    let connection = connection_from_proto(task.connection.as_ref());
    let role = ProbeRole::parse(&task.role).unwrap_or(ProbeRole::Source);
    let report = probe(&connection, role).await;
    let status = match report.status {
        ProbeStatus::Connectable => pb::ConnectivityStatus::Connectable,
        ProbeStatus::ConfigError => pb::ConnectivityStatus::ConfigError,
        ProbeStatus::Unreachable => pb::ConnectivityStatus::Unreachable,
        ProbeStatus::Unsupported => pb::ConnectivityStatus::Unsupported,
    };
    tracing::info!(request_id = %task.request_id, kind = %connection.kind, role = role.name(), status = status.as_str_name(), "ran a connectivity test");
    let steps = report
        .steps
        .into_iter()
        .map(|step| pb::ConnectivityStep {
            name: step.name,
            outcome: match step.outcome {
                StepOutcome::Ok => pb::StepOutcome::Ok,
                StepOutcome::Failed => pb::StepOutcome::Failed,
                StepOutcome::Skipped => pb::StepOutcome::Skipped,
            } as i32,
            message: step.message,
            duration_ms: u64::try_from(step.duration.as_millis()).unwrap_or(u64::MAX),
        })
        .collect();
    pb::ConnectivityResult {
        request_id: task.request_id,
        response: Some(pb::TestConnectivityResponse {
            status: status as i32,
            steps,
            server_version: report.server_version,
            worker_id,
            resource_group,
        }),
    }
}
