//! A shard's share of its job's rate limit: the coordinator sets it (and changes it as shards
//! start and end), the reader's side of the batch channel waits on it before each batch.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Pacing of one shard attempt. A share of 0 records and 0 bytes per second is no limit.
#[derive(Debug, Default)]
pub struct RateLimiter {
    state: Mutex<RateState>,
}

#[derive(Debug, Default)]
struct RateState {
    records_per_second: u64,
    bytes_per_second: u64,
    /// When the next batch may go: each batch pushes it forward by its cost at the share.
    ready_at: Option<Instant>,
}

/// Slices per second a limited shard sends at most: a batch bigger than a tenth of a second
/// of its share is sent in slices, so the pace stays smooth.
const SLICES_PER_SECOND: u64 = 10;

impl RateLimiter {
    /// Sets the share (0 for no limit on that measure).
    pub fn set_share(&self, records_per_second: u64, bytes_per_second: u64) {
        if let Ok(mut state) = self.state.lock() {
            state.records_per_second = records_per_second;
            state.bytes_per_second = bytes_per_second;
        }
    }

    /// Returns the share as (records per second, bytes per second).
    pub fn share(&self) -> (u64, u64) {
        self.state
            .lock()
            .map(|state| (state.records_per_second, state.bytes_per_second))
            .unwrap_or((0, 0))
    }

    /// Returns whether the shard has no share of a limit (the common case: no pacing at all).
    pub fn is_unlimited(&self) -> bool {
        self.share() == (0, 0)
    }

    /// Returns the most rows to send in one piece, or `None` when the shard is unlimited.
    pub fn slice_rows(&self, rows: usize, bytes: usize) -> Option<usize> {
        let (records_per_second, bytes_per_second) = self.share();
        let mut slice: Option<usize> = None;
        if records_per_second > 0 {
            let by_records = (records_per_second / SLICES_PER_SECOND).max(1);
            slice = Some(usize::try_from(by_records).unwrap_or(usize::MAX));
        }
        if bytes_per_second > 0 && rows > 0 && bytes > 0 {
            let bytes_per_row = (bytes / rows).max(1) as u64;
            let by_bytes = (bytes_per_second / SLICES_PER_SECOND / bytes_per_row).max(1);
            let by_bytes = usize::try_from(by_bytes).unwrap_or(usize::MAX);
            slice = Some(slice.map_or(by_bytes, |current| current.min(by_bytes)));
        }
        slice
    }

    /// Reserves the pace for `rows` and `bytes` and returns how long to wait before sending
    /// them (zero when unlimited or when the shard is behind its pace).
    pub fn reserve(&self, rows: u64, bytes: u64, now: Instant) -> Duration {
        let Ok(mut state) = self.state.lock() else {
            return Duration::ZERO;
        };
        let mut cost = 0.0_f64;
        if state.records_per_second > 0 {
            cost = cost.max(rows as f64 / state.records_per_second as f64);
        }
        if state.bytes_per_second > 0 {
            cost = cost.max(bytes as f64 / state.bytes_per_second as f64);
        }
        if cost == 0.0 {
            return Duration::ZERO;
        }
        // A shard that fell behind (a slow writer) does not save up a burst.
        let start = state.ready_at.map_or(now, |ready_at| ready_at.max(now));
        state.ready_at = Some(start + Duration::from_secs_f64(cost));
        start - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_waits() {
        let limiter = RateLimiter::default();
        assert_eq!(
            limiter.reserve(1_000_000, 1 << 30, Instant::now()),
            Duration::ZERO
        );
        assert_eq!(limiter.slice_rows(8192, 1 << 20), None);
    }

    #[test]
    fn batches_are_spaced_by_their_cost_at_the_share() {
        let limiter = RateLimiter::default();
        limiter.set_share(1000, 0);
        let now = Instant::now();
        assert_eq!(limiter.reserve(100, 0, now), Duration::ZERO);
        assert_eq!(limiter.reserve(100, 0, now), Duration::from_millis(100));
        assert_eq!(limiter.reserve(300, 0, now), Duration::from_millis(200));
        // 500 rows at 1000/s: the next batch may go 0.5 s after the first.
        assert_eq!(limiter.reserve(1, 0, now), Duration::from_millis(500));
        assert_eq!(limiter.slice_rows(8192, 0), Some(100));
    }

    #[test]
    fn bytes_limit_the_pace_too_and_idle_time_is_not_saved() {
        let limiter = RateLimiter::default();
        limiter.set_share(0, 1000);
        let start = Instant::now();
        assert_eq!(limiter.reserve(10, 500, start), Duration::ZERO);
        assert_eq!(limiter.reserve(10, 500, start), Duration::from_millis(500));
        // Long after: no burst allowance accumulated.
        let later = start + Duration::from_secs(10);
        assert_eq!(limiter.reserve(10, 500, later), Duration::ZERO);
        assert_eq!(limiter.reserve(10, 500, later), Duration::from_millis(500));
        assert_eq!(limiter.slice_rows(100, 1000), Some(10));
    }
}
