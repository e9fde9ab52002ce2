//! The key schema of the metadata store. Every key is relative to the cluster prefix
//! (default `/sluice/` on etcd); values are JSON documents carrying a `"v"` version field.
//!
//! | key | value | written by |
//! | --- | --- | --- |
//! | `workspaces/{ws}` | [`WorkspaceRecord`](crate::records::WorkspaceRecord): mode, description (`default` may have none: it is then basic) | WorkspaceService |
//! | `datasources/{ws}/{name}` | [`DataSourceRecord`](crate::records::DataSourceRecord): one config per environment, secrets sealed | DataSourceService, `rotate-key` |
//! | `grants/{ws}/{name}/{grantee}` | [`GrantRecord`](crate::records::GrantRecord): the environments of data source `name` of workspace `ws` shared with workspace `grantee`, READ or WRITE each, and an optional shared name | DataSourceService (share, unshare) |
//! | `jobs/{job_id}` | [`JobRecord`](crate::records::JobRecord): spec (inline secrets masked), resolved connections (secrets sealed), state, counters | coordinator, at transitions and on a timer; `rotate-key` |
//! | `shards/{job_id}/{shard:06}` | [`ShardRecord`](crate::records::ShardRecord): range, state, attempt, worker | coordinator, at shard transitions |
//! | `workers/{worker_id}` | [`WorkerRecord`](crate::records::WorkerRecord), bound to the worker's lease | coordinator, on register |
//! | `schedules/{ws}/{name}` | [`ScheduleRecord`](crate::records::ScheduleRecord): cron, spec, next fire, runs, backfill | ScheduleService, and the leader's scheduler when it fires |
//! | `members/{ws}/{name}` | [`MemberRecord`](crate::records::MemberRecord): the member's role in the workspace | MemberService |
//! | `tokens/{sha256}` | [`TokenRecord`](crate::records::TokenRecord): id, workspace, member, creation time; the key is the SHA-256 of the token, whose plaintext is never stored | MemberService (issue, revoke; removed with their member or workspace) |
//! | `leader` | reserved for leader election | coordinator |

use crate::ids::{JobId, ShardId, WorkerId};

/// Prefix of every workspace.
pub const WORKSPACES_PREFIX: &str = "workspaces/";

/// Key of one workspace.
pub fn workspace(workspace: &str) -> String {
    format!("workspaces/{workspace}")
}

/// Prefix of every data source of every workspace.
pub const DATASOURCES_PREFIX: &str = "datasources/";

/// Prefix of every data source of a workspace.
pub fn datasources_prefix(workspace: &str) -> String {
    format!("datasources/{workspace}/")
}

/// Key of one data source.
pub fn datasource(workspace: &str, name: &str) -> String {
    format!("datasources/{workspace}/{name}")
}

/// Prefix of every grant of every workspace.
pub const GRANTS_PREFIX: &str = "grants/";

/// Prefix of the grants of one data source.
pub fn grants_of_datasource(workspace: &str, name: &str) -> String {
    format!("grants/{workspace}/{name}/")
}

/// Key of the grant of data source `name` of `workspace` to `grantee`.
pub fn grant(workspace: &str, name: &str, grantee: &str) -> String {
    format!("grants/{workspace}/{name}/{grantee}")
}

/// Prefix of every schedule of every workspace.
pub const SCHEDULES_PREFIX: &str = "schedules/";

/// Prefix of the schedules of a workspace.
pub fn schedules_prefix(workspace: &str) -> String {
    format!("schedules/{workspace}/")
}

/// Key of one schedule.
pub fn schedule(workspace: &str, name: &str) -> String {
    format!("schedules/{workspace}/{name}")
}

/// Prefix of every job.
pub const JOBS_PREFIX: &str = "jobs/";

/// Key of one job.
pub fn job(job_id: &JobId) -> String {
    format!("jobs/{job_id}")
}

/// Prefix of every shard of every job.
pub const SHARDS_PREFIX: &str = "shards/";

/// Prefix of the shards of one job.
pub fn shards_of_job(job_id: &JobId) -> String {
    format!("shards/{job_id}/")
}

/// Key of one shard; the shard number is zero-padded so keys sort by shard.
pub fn shard(job_id: &JobId, shard_id: ShardId) -> String {
    format!("shards/{job_id}/{:06}", shard_id.0)
}

/// Prefix of every registered worker.
pub const WORKERS_PREFIX: &str = "workers/";

/// Key of one worker registration.
pub fn worker(worker_id: &WorkerId) -> String {
    format!("workers/{worker_id}")
}

/// Prefix of every member of every workspace.
pub const MEMBERS_PREFIX: &str = "members/";

/// Prefix of the members of a workspace.
pub fn members_prefix(workspace: &str) -> String {
    format!("members/{workspace}/")
}

/// Key of one member.
pub fn member(workspace: &str, name: &str) -> String {
    format!("members/{workspace}/{name}")
}

/// Prefix of every token.
pub const TOKENS_PREFIX: &str = "tokens/";

/// Key of one token, by the hex SHA-256 of its plaintext.
pub fn token(hash_hex: &str) -> String {
    format!("tokens/{hash_hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_keys_sort_by_shard_number() {
        let job_id = JobId("j".to_string());
        assert!(shard(&job_id, ShardId(9)) < shard(&job_id, ShardId(10)));
        assert!(shard(&job_id, ShardId(3)).starts_with(&shards_of_job(&job_id)));
    }
}
