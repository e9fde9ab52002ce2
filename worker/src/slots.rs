//! The shard attempts a worker runs, with their live counters and cancellation.

use crate::pieces::PieceCursor;
use sluice_common::ids::{Attempt, JobId, ShardId};
use sluice_connectors::ShardCounters;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Identity of a running attempt.
pub type AttemptKey = (JobId, ShardId, Attempt);

/// One running shard attempt.
#[derive(Clone)]
pub struct RunningShard {
    /// Live counters, read by the reporter.
    pub counters: Arc<ShardCounters>,
    /// Its pieces, when it reads its range in pieces (and so can be split).
    pub pieces: Option<Arc<PieceCursor>>,
}

/// Shared registry of running shard attempts.
#[derive(Clone, Default)]
pub struct Slots {
    running: Arc<Mutex<HashMap<AttemptKey, RunningShard>>>,
}

impl Slots {
    /// Registers a starting attempt and returns its counters.
    pub fn start(&self, key: AttemptKey, pieces: Option<Arc<PieceCursor>>) -> Arc<ShardCounters> {
        let counters = Arc::new(ShardCounters::default());
        if let Ok(mut running) = self.running.lock() {
            running.insert(
                key,
                RunningShard {
                    counters: Arc::clone(&counters),
                    pieces,
                },
            );
        }
        counters
    }

    /// Returns the piece cursor of a running attempt that reads in pieces.
    pub fn pieces(&self, key: &AttemptKey) -> Option<Arc<PieceCursor>> {
        self.running
            .lock()
            .ok()?
            .get(key)
            .and_then(|shard| shard.pieces.clone())
    }

    /// Returns the live counters (and rate limiter) of a running attempt.
    pub fn counters(&self, key: &AttemptKey) -> Option<Arc<ShardCounters>> {
        self.running
            .lock()
            .ok()?
            .get(key)
            .map(|shard| Arc::clone(&shard.counters))
    }

    /// Returns the running attempts with a split proposal awaiting its decision.
    pub fn pending_splits(&self) -> Vec<(AttemptKey, i64)> {
        self.snapshot()
            .into_iter()
            .filter_map(|(key, shard)| {
                let split_at = shard.pieces.as_ref()?.pending_split()?;
                Some((key, split_at))
            })
            .collect()
    }

    /// Removes a finished attempt.
    pub fn finish(&self, key: &AttemptKey) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(key);
        }
    }

    /// Cancels an attempt (its writer rolls back); returns whether it was running.
    pub fn cancel(&self, key: &AttemptKey) -> bool {
        let Ok(running) = self.running.lock() else {
            return false;
        };
        match running.get(key) {
            Some(shard) => {
                shard.counters.cancel();
                true
            }
            None => false,
        }
    }

    /// Cancels every running attempt.
    pub fn cancel_all(&self) {
        if let Ok(running) = self.running.lock() {
            for shard in running.values() {
                shard.counters.cancel();
            }
        }
    }

    /// Returns every running attempt with its counters.
    pub fn snapshot(&self) -> Vec<(AttemptKey, RunningShard)> {
        self.running
            .lock()
            .map(|running| {
                running
                    .iter()
                    .map(|(key, shard)| (key.clone(), shard.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Returns how many attempts run.
    pub fn len(&self) -> usize {
        self.running
            .lock()
            .map(|running| running.len())
            .unwrap_or(0)
    }

    /// Returns whether nothing runs.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
