//! Builds the periodic reports a worker sends: heartbeat and per-shard progress.

use crate::slots::Slots;
use sluice_common::records::Counters;
use sluice_proto::v1 as pb;
use std::collections::HashMap;

/// Remembers what was last reported, to export per-second deltas as metrics.
#[derive(Default)]
pub struct Reporter {
    last: HashMap<crate::slots::AttemptKey, Counters>,
}

impl Reporter {
    /// Returns the heartbeat and one progress message per running shard.
    pub fn collect(
        &mut self,
        slots: &Slots,
        total_slots: u32,
        draining: bool,
    ) -> Vec<pb::WorkerMessage> {
        let running = slots.snapshot();
        let mut messages = Vec::with_capacity(running.len() + 1);
        messages.push(pb::WorkerMessage {
            body: Some(pb::worker_message::Body::Heartbeat(pb::Heartbeat {
                free_slots: total_slots.saturating_sub(running.len() as u32),
                draining,
            })),
        });
        let mut seen = HashMap::with_capacity(running.len());
        for ((job_id, shard_id, attempt), shard) in running {
            let counters = shard.counters.snapshot();
            let previous = self
                .last
                .get(&(job_id.clone(), shard_id, attempt))
                .copied()
                .unwrap_or_default();
            metrics::counter!("sluice_worker_rows_read_total")
                .increment(counters.rows_read.saturating_sub(previous.rows_read));
            metrics::counter!("sluice_worker_rows_written_total")
                .increment(counters.rows_written.saturating_sub(previous.rows_written));
            metrics::counter!("sluice_worker_bytes_read_total")
                .increment(counters.bytes_read.saturating_sub(previous.bytes_read));
            metrics::counter!("sluice_worker_bytes_written_total").increment(
                counters
                    .bytes_written
                    .saturating_sub(previous.bytes_written),
            );
            let samples = shard
                .counters
                .take_dirty_samples()
                .into_iter()
                .map(|sample| pb::DirtySample {
                    column: sample.column,
                    reason: sample.reason,
                    row: sample.row,
                })
                .collect();
            messages.push(pb::WorkerMessage {
                body: Some(pb::worker_message::Body::Progress(pb::ShardProgress {
                    job_id: job_id.to_string(),
                    shard_id: shard_id.0,
                    attempt: attempt.0,
                    counters: Some(sluice_proto::convert::counters_to_proto(counters)),
                    current_key: shard.counters.current_key(),
                    dirty_samples: samples,
                    transformers: sluice_proto::convert::transformer_counts_to_proto(
                        &shard.counters.transformer_counts(),
                        &[],
                    ),
                })),
            });
            seen.insert((job_id, shard_id, attempt), counters);
        }
        self.last = seen;
        messages
    }
}
