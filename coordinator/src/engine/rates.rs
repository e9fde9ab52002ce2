//! Dividing a job's rate limit (`settings.speed`) among its running shards.
//!
//! A job limited to N records (or bytes) per second gives each of its k in-flight shards N / k.
//! Whenever k changes (a shard is assigned, commits, fails, is split off, or its worker is lost)
//! or a coordinator takes over shards it did not assign, the shares are recomputed and every
//! shard whose share changed is told its new one; the workers pace their readers with a token
//! bucket at that share. The sum of the shares never exceeds the limit, so the job as a whole
//! stays within it across the cluster.

use super::model::{Effect, JobRuntime, Model};
use sluice_proto::v1 as pb;

/// Returns each in-flight shard's share of the job's limits as (records/s, bytes/s), or `None`
/// when the job has no limit. Shares are rounded down, and at least 1 when a limit is set.
pub fn share_of(job: &JobRuntime) -> Option<(u64, u64)> {
    let (records, bytes) = job.validated.spec.settings.speed?.limits();
    if records == 0 && bytes == 0 {
        return None;
    }
    let running = job.running_shards().max(1) as u64;
    let divide = |limit: u64| {
        if limit == 0 {
            0
        } else {
            (limit / running).max(1)
        }
    };
    Some((divide(records), divide(bytes)))
}

/// Returns the API message of a share.
pub fn share_message((records_per_second, bytes_per_second): (u64, u64)) -> pb::RateShare {
    pb::RateShare {
        bytes_per_second,
        records_per_second,
    }
}

impl Model {
    /// Sends a new share to every in-flight shard of a limited job whose share changed.
    pub fn rebalance_rates(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        for (job_id, job) in &mut self.jobs {
            let Some(share) = share_of(job) else {
                continue;
            };
            for shard in &mut job.shards {
                if !shard.record.state.is_in_flight() || shard.rate_sent == Some(share) {
                    continue;
                }
                let Some(worker_id) = shard.record.worker_id.clone() else {
                    continue;
                };
                shard.rate_sent = Some(share);
                effects.push(Effect::Send(
                    worker_id,
                    Box::new(pb::coordinator_message::Body::RateShare(
                        pb::RateShareUpdate {
                            job_id: job_id.to_string(),
                            shard_id: shard.record.shard_id.0,
                            attempt: shard.record.attempt.0,
                            share: Some(share_message(share)),
                        },
                    )),
                ));
            }
        }
        effects
    }
}
