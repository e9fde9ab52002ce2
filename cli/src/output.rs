//! Rendering API messages as text or JSON.

use prost_types::Timestamp;
use serde_json::{json, Value};
use sluice_proto::v1 as pb;

/// Formats a timestamp as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn time_text(timestamp: Option<&Timestamp>) -> String {
    timestamp
        .and_then(|t| {
            chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
        })
        .map(|moment| moment.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "-".to_string())
}

fn time_json(timestamp: Option<&Timestamp>) -> Value {
    timestamp
        .and_then(|t| {
            chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
        })
        .map_or(Value::Null, |moment| {
            Value::String(moment.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        })
}

/// Returns the lowercase name of a job state.
pub fn job_state_name(state: i32) -> &'static str {
    match pb::JobState::try_from(state) {
        Ok(pb::JobState::Planning) => "planning",
        Ok(pb::JobState::Running) => "running",
        Ok(pb::JobState::Finalizing) => "finalizing",
        Ok(pb::JobState::Succeeded) => "succeeded",
        Ok(pb::JobState::Failed) => "failed",
        Ok(pb::JobState::Cancelled) => "cancelled",
        _ => "unknown",
    }
}

fn shard_state_name(state: i32) -> &'static str {
    match pb::ShardState::try_from(state) {
        Ok(pb::ShardState::Pending) => "pending",
        Ok(pb::ShardState::Assigned) => "assigned",
        Ok(pb::ShardState::Running) => "running",
        Ok(pb::ShardState::Committed) => "committed",
        Ok(pb::ShardState::Failed) => "failed",
        _ => "unknown",
    }
}

fn counters_json(counters: Option<&pb::Counters>) -> Value {
    let c = counters.copied().unwrap_or_default();
    json!({
        "rows_read": c.rows_read,
        "bytes_read": c.bytes_read,
        "rows_written": c.rows_written,
        "bytes_written": c.bytes_written,
        "dirty_records": c.dirty_records,
    })
}

/// Renders a key range as text.
pub fn range_text(range: Option<&pb::KeyRange>) -> String {
    use pb::key_range::Kind;
    let bound = |value: Option<String>, open: &str| value.unwrap_or_else(|| open.to_string());
    match range.and_then(|r| r.kind.as_ref()) {
        None | Some(Kind::All(_)) => "all".to_string(),
        Some(Kind::NullKeys(_)) => "null keys".to_string(),
        Some(Kind::IntRange(int)) => format!(
            "[{}, {})",
            bound(int.lo.map(|v| v.to_string()), "-inf"),
            bound(int.hi.map(|v| v.to_string()), "+inf")
        ),
        Some(Kind::TextRange(text)) => format!(
            "[{}, {})",
            bound(text.lo.clone().map(|v| format!("{v:?}")), "-inf"),
            bound(text.hi.clone().map(|v| format!("{v:?}")), "+inf")
        ),
        Some(Kind::PageRange(pages)) => format!(
            "pages [{}, {})",
            pages.lo,
            pages.hi.map_or("end".to_string(), |v| v.to_string())
        ),
    }
}

/// Returns a job as JSON.
pub fn job_json(job: &pb::Job) -> Value {
    json!({
        "id": job.id,
        "workspace": job.workspace,
        "environment": job.environment,
        "state": job_state_name(job.state),
        "error": if job.error.is_empty() { Value::Null } else { Value::String(job.error.clone()) },
        "source": job.source,
        "sink": job.sink,
        "counters": counters_json(job.counters.as_ref()),
        "estimated_rows": job.estimated_rows,
        "shards_total": job.shards_total,
        "shards_committed": job.shards_committed,
        "shards_running": job.shards_running,
        "shards_pending": job.shards_pending,
        "retries": job.retries,
        "waiting": if job.waiting.is_empty() { Value::Null } else { Value::String(job.waiting.clone()) },
        "created_at": time_json(job.created_at.as_ref()),
        "started_at": time_json(job.started_at.as_ref()),
        "finished_at": time_json(job.finished_at.as_ref()),
        "transformers": job.transformers.iter().map(|t| json!({
            "name": t.name,
            "rows_in": t.rows_in,
            "rows_out": t.rows_out,
            "filtered": t.filtered,
            "failed": t.failed,
        })).collect::<Vec<_>>(),
        "shards": job.shards.iter().map(|shard| json!({
            "shard_id": shard.shard_id,
            "range": range_text(shard.range.as_ref()),
            "state": shard_state_name(shard.state),
            "attempt": shard.attempt,
            "worker_id": shard.worker_id,
            "counters": counters_json(shard.counters.as_ref()),
            "error": if shard.error.is_empty() { Value::Null } else { Value::String(shard.error.clone()) },
        })).collect::<Vec<_>>(),
    })
}

/// Returns a job as text lines.
pub fn job_text(job: &pb::Job) -> String {
    let counters = job.counters.unwrap_or_default();
    let mut lines = vec![
        format!("job        {}", job.id),
        format!("state      {}", job_state_name(job.state)),
        format!("workspace  {} ({})", job.workspace, job.environment),
        format!("source     {}", job.source),
        format!("sink       {}", job.sink),
        format!(
            "rows       {} read, {} written, {} dirty",
            group(counters.rows_read),
            group(counters.rows_written),
            group(counters.dirty_records)
        ),
        format!(
            "shards     {} total, {} committed, {} running, {} pending, {} retries",
            job.shards_total,
            job.shards_committed,
            job.shards_running,
            job.shards_pending,
            job.retries
        ),
        format!("created    {}", time_text(job.created_at.as_ref())),
        format!("finished   {}", time_text(job.finished_at.as_ref())),
    ];
    if !job.waiting.is_empty() {
        lines.push(format!("waiting    {}", job.waiting));
    }
    if !job.error.is_empty() {
        lines.push(format!("error      {}", job.error));
    }
    lines.extend(transformer_lines(job, "transform  "));
    if !job.shards.is_empty() {
        lines.push(String::new());
        lines.push(format!(
            "{:>5}  {:<10} {:>7}  {:<24} {:>12}  {}",
            "SHARD", "STATE", "ATTEMPT", "WORKER", "ROWS", "RANGE"
        ));
        for shard in &job.shards {
            let rows = shard.counters.as_ref().map_or(0, |c| c.rows_written);
            lines.push(format!(
                "{:>5}  {:<10} {:>7}  {:<24} {:>12}  {}",
                shard.shard_id,
                shard_state_name(shard.state),
                shard.attempt,
                shard.worker_id,
                group(rows),
                range_text(shard.range.as_ref())
            ));
        }
    }
    lines.join("\n")
}

/// Returns one line per transformer of the job (`transformers[i] name: in, out, filtered,
/// failed`), each starting with `prefix`; none without transformers.
pub fn transformer_lines(job: &pb::Job, prefix: &str) -> Vec<String> {
    job.transformers
        .iter()
        .enumerate()
        .map(|(index, counts)| {
            format!(
                "{prefix}[{index}] {:<18} {} in, {} out, {} filtered, {} failed",
                counts.name,
                group(counts.rows_in),
                group(counts.rows_out),
                group(counts.filtered),
                group(counts.failed)
            )
        })
        .collect()
}

/// Returns a data source as JSON (secrets are already masked by the server): `options` and
/// `secrets` of the prod config, and every environment's config under `configs`.
pub fn data_source_json(data_source: &pb::DataSource) -> Value {
    let configs: serde_json::Map<String, Value> = data_source
        .configs
        .iter()
        .map(|(environment, config)| {
            (
                environment.clone(),
                json!({"options": config.options, "secrets": config.secrets}),
            )
        })
        .collect();
    json!({
        "workspace": data_source.workspace,
        "name": data_source.name,
        "type": data_source.r#type,
        "description": data_source.description,
        "options": data_source.options,
        "secrets": data_source.secrets,
        "configs": configs,
        "created_at": time_json(data_source.created_at.as_ref()),
        "updated_at": time_json(data_source.updated_at.as_ref()),
        "shared_from": data_source.shared_from,
        "shared_as": data_source.shared_as,
        "shared_permissions": data_source.shared_permissions,
    })
}

/// Returns `read` or `write`.
pub fn permission_name(permission: i32) -> &'static str {
    match pb::SharePermission::try_from(permission) {
        Ok(pb::SharePermission::Write) => "write",
        Ok(pb::SharePermission::Read) => "read",
        _ => "unspecified",
    }
}

/// Returns a grant as JSON.
pub fn grant_json(grant: &pb::DataSourceGrant) -> Value {
    json!({
        "workspace": grant.workspace,
        "name": grant.name,
        "environment": grant.environment,
        "grantee_workspace": grant.grantee_workspace,
        "permission": permission_name(grant.permission),
        "shared_name": grant.shared_name,
        "granted_at": time_json(grant.granted_at.as_ref()),
    })
}

/// Returns the given and received grants as two tables.
pub fn grants_text(response: &pb::ListSharesResponse) -> String {
    let mut lines = vec![format!(
        "{:<12} {:<24} {:<6} {:<16} {:<10} SHARED NAME",
        "GIVEN", "DATA SOURCE", "ENV", "TO", "PERMISSION"
    )];
    for grant in &response.given {
        lines.push(format!(
            "{:<12} {:<24} {:<6} {:<16} {:<10} {}",
            "",
            grant.name,
            grant.environment,
            grant.grantee_workspace,
            permission_name(grant.permission),
            grant.shared_name
        ));
    }
    lines.push(format!(
        "{:<12} {:<24} {:<6} {:<16} {:<10} SHARED NAME",
        "RECEIVED", "DATA SOURCE", "ENV", "FROM", "PERMISSION"
    ));
    for grant in &response.received {
        lines.push(format!(
            "{:<12} {:<24} {:<6} {:<16} {:<10} {}",
            "",
            grant.name,
            grant.environment,
            grant.workspace,
            permission_name(grant.permission),
            grant.shared_name
        ));
    }
    lines.join("\n")
}

fn sorted_pairs(pairs: &std::collections::HashMap<String, String>) -> String {
    let mut rendered: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    rendered.sort();
    rendered.join(" ")
}

/// Returns a data source as text lines, one block per environment config.
pub fn data_source_text(data_source: &pb::DataSource) -> String {
    let mut lines = vec![
        format!("name         {}", data_source.name),
        format!("workspace    {}", data_source.workspace),
        format!("type         {}", data_source.r#type),
        format!("description  {}", data_source.description),
    ];
    if !data_source.shared_from.is_empty() {
        lines.push(format!(
            "shared from  workspace {} as {} ({})",
            data_source.shared_from,
            data_source.shared_as,
            sorted_pairs(&data_source.shared_permissions)
        ));
    }
    let mut environments: Vec<&String> = data_source.configs.keys().collect();
    environments.sort();
    for environment in environments {
        let config = &data_source.configs[environment];
        lines.push(format!("[{environment}]"));
        lines.push(format!("  options    {}", sorted_pairs(&config.options)));
        lines.push(format!("  secrets    {}", sorted_pairs(&config.secrets)));
    }
    lines.push(format!(
        "updated      {}",
        time_text(data_source.updated_at.as_ref())
    ));
    lines.join("\n")
}

/// Returns a workspace as JSON.
pub fn workspace_json(workspace: &pb::Workspace) -> Value {
    json!({
        "name": workspace.name,
        "mode": workspace_mode_name(workspace.mode),
        "description": workspace.description,
        "environments": workspace.environments,
        "created_at": time_json(workspace.created_at.as_ref()),
        "updated_at": time_json(workspace.updated_at.as_ref()),
    })
}

/// Returns a workspace as text lines.
pub fn workspace_text(workspace: &pb::Workspace) -> String {
    [
        format!("name          {}", workspace.name),
        format!("mode          {}", workspace_mode_name(workspace.mode)),
        format!("environments  {}", workspace.environments.join(", ")),
        format!("description   {}", workspace.description),
    ]
    .join("\n")
}

/// Returns the lowercase name of a workspace mode.
pub fn workspace_mode_name(mode: i32) -> &'static str {
    match pb::WorkspaceMode::try_from(mode) {
        Ok(pb::WorkspaceMode::Standard) => "standard",
        _ => "basic",
    }
}

/// Formats a number with thousands separators.
pub fn group(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, character) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(character);
    }
    grouped
}

/// Prints a JSON value, pretty.
pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

fn connectivity_status_name(status: i32) -> &'static str {
    match pb::ConnectivityStatus::try_from(status) {
        Ok(pb::ConnectivityStatus::Connectable) => "CONNECTABLE",
        Ok(pb::ConnectivityStatus::ConfigError) => "CONFIG_ERROR",
        Ok(pb::ConnectivityStatus::Unreachable) => "UNREACHABLE",
        Ok(pb::ConnectivityStatus::Unsupported) => "UNSUPPORTED",
        _ => "UNKNOWN",
    }
}

fn step_outcome_name(outcome: i32) -> &'static str {
    match pb::StepOutcome::try_from(outcome) {
        Ok(pb::StepOutcome::Ok) => "ok",
        Ok(pb::StepOutcome::Failed) => "failed",
        Ok(pb::StepOutcome::Skipped) => "skipped",
        _ => "unknown",
    }
}

/// Returns a connectivity test result as JSON.
pub fn connectivity_json(response: &pb::TestConnectivityResponse) -> Value {
    let steps: Vec<Value> = response
        .steps
        .iter()
        .map(|step| {
            json!({
                "name": step.name,
                "outcome": step_outcome_name(step.outcome),
                "message": step.message,
                "duration_ms": step.duration_ms,
            })
        })
        .collect();
    json!({
        "status": connectivity_status_name(response.status),
        "server_version": response.server_version,
        "worker_id": response.worker_id,
        "resource_group": response.resource_group,
        "steps": steps,
    })
}

/// Returns a connectivity test result as a table of steps.
pub fn connectivity_text(response: &pb::TestConnectivityResponse) -> String {
    let mut lines = vec![format!(
        "{} (worker {}, group {})",
        connectivity_status_name(response.status),
        response.worker_id,
        response.resource_group
    )];
    if !response.server_version.is_empty() {
        lines.push(format!("server version: {}", response.server_version));
    }
    lines.push(format!(
        "{:<16} {:<8} {:>8}  MESSAGE",
        "STEP", "OUTCOME", "MS"
    ));
    for step in &response.steps {
        lines.push(format!(
            "{:<16} {:<8} {:>8}  {}",
            step.name,
            step_outcome_name(step.outcome),
            step.duration_ms,
            step.message
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1_000_000), "1,000,000");
        assert_eq!(group(12_345), "12,345");
    }
}
