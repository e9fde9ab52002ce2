//! Turning a submit request into a job: placeholders, validation, data sources, and the
//! engine's create-once write. Shared by `JobService.Submit` and the scheduler.

use crate::engine::model::OpenConnections;
use crate::engine::{EngineHandle, Event};
use crate::error::{CoordinatorError, Result};
use crate::{resolve, workspaces};
use sluice_common::ids::JobId;
use sluice_common::meta::MetaStore;
use sluice_common::records::{
    now_ms, Counters, JobRecord, JobState, SealedConnection, RECORD_VERSION,
};
use sluice_common::secrets::SecretCipher;
use sluice_common::spec::{parse_job_spec, substitute_params, validate, ParamContext, SpecFormat};
use sluice_common::SpecErrors;
use sluice_proto::v1 as pb;
use tokio::sync::oneshot;

/// Validates `request` and creates the job `job_id` on the engine.
///
/// # Errors
/// [`CoordinatorError::InvalidSpec`] / [`CoordinatorError::InvalidArgument`] naming the field,
/// [`CoordinatorError::AlreadyExists`] when a job with this id exists (a scheduler that fires
/// the same cycle twice finds its first job this way), or the engine's errors.
pub async fn submit_job(
    store: &dyn MetaStore,
    engine: &EngineHandle,
    secrets: &SecretCipher,
    request: pb::SubmitJobRequest,
    job_id: JobId,
) -> Result<JobId> {
    let workspace_name = non_empty_or(request.workspace, sluice_common::DEFAULT_WORKSPACE);
    let environment = non_empty_or(request.environment, sluice_common::DEFAULT_ENVIRONMENT);
    let (workspace, _) = workspaces::load(store, &workspace_name).await?;
    workspaces::check_environment(&workspace, &environment, "environment")?;
    let format = spec_format(request.format);
    if request.spec.trim().is_empty() {
        return Err(CoordinatorError::invalid(
            "spec",
            "is empty: send a job spec document (JSON or YAML)",
        ));
    }
    let cycle_time = match request.cycle_time {
        Some(timestamp) => chrono::DateTime::from_timestamp(
            timestamp.seconds,
            u32::try_from(timestamp.nanos).unwrap_or(0),
        )
        .ok_or_else(|| CoordinatorError::invalid("cycle_time", "is out of the range of dates"))?,
        None => chrono::Utc::now(),
    };
    let context = ParamContext::for_run(
        request.params.into_iter().collect(),
        cycle_time,
        &request.time_zone,
    )
    .map_err(|error| CoordinatorError::InvalidSpec(SpecErrors(vec![error])))?;
    let (text, format) = substitute_params(&request.spec, format, &context)?;
    let spec = parse_job_spec(&text, format)?;
    let mut validated = validate(spec)?;
    let scope = resolve::ResolveScope {
        workspace: &workspace,
        environment: &environment,
        secrets,
    };
    let (source_connection, sink_connection) =
        resolve::resolve_connections(store, &scope, &validated).await?;
    let dirty_connection = resolve::resolve_dirty_store(store, &scope, &validated).await?;
    // Neither the stored job nor what workers are sent as the spec holds a secret: the record
    // keeps the connections sealed, and the spec's inline secrets are masked.
    validated.spec = validated.spec.with_inline_secrets_masked();
    let record = JobRecord {
        v: RECORD_VERSION,
        id: job_id.clone(),
        workspace: workspace_name,
        environment,
        state: JobState::Planning,
        error: None,
        spec: validated.spec.clone(),
        source_connection: SealedConnection::seal(&source_connection, secrets)
            .map_err(CoordinatorError::secret("source connection"))?,
        sink_connection: SealedConnection::seal(&sink_connection, secrets)
            .map_err(CoordinatorError::secret("sink connection"))?,
        dirty_connection: match &dirty_connection {
            Some(connection) => Some(
                SealedConnection::seal(connection, secrets)
                    .map_err(CoordinatorError::secret("dirty-data connection"))?,
            ),
            None => None,
        },
        created_at_ms: now_ms(),
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
    let (reply, answer) = oneshot::channel();
    engine
        .send(Event::Submit {
            record: Box::new(record),
            validated: Box::new(validated),
            connections: Box::new(OpenConnections {
                source: source_connection,
                sink: sink_connection,
                dirty: dirty_connection,
            }),
            reply,
        })
        .await?;
    answer.await.map_err(|_| CoordinatorError::ShuttingDown)??;
    Ok(job_id)
}

/// Converts the API's spec format.
pub fn spec_format(format: i32) -> SpecFormat {
    match pb::SpecFormat::try_from(format).unwrap_or(pb::SpecFormat::Unspecified) {
        pb::SpecFormat::Json => SpecFormat::Json,
        pb::SpecFormat::Yaml => SpecFormat::Yaml,
        pb::SpecFormat::Unspecified => SpecFormat::Auto,
    }
}

fn non_empty_or(value: String, default: &str) -> String {
    if value.trim().is_empty() {
        default.to_string()
    } else {
        value
    }
}
