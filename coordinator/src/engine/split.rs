//! Splitting running shards, so that workers who join late help with a job that has started
//! and a straggler does not decide when the job ends.
//!
//! An integer key range is read in pieces ([`pieces_for`]). When workers have free slots and a
//! job has no pending shard, the coordinator asks the worker of the shard with the most key
//! range left to stop early ([`Model::request_splits`]). The worker proposes a split point past
//! every piece it has started and reads nothing beyond it; the coordinator records the shortened
//! shard and the new shard holding the rest in one metadata transaction, and only then confirms
//! ([`Model::split_proposal`]), so the worker never commits a shortened range the store does not
//! know about.
//!
//! A shard whose earlier attempt may still commit (its worker was lost rather than reporting a
//! failure) is never split: that attempt would commit its whole original range, including the
//! part handed to the new shard, whose own commit marker could not stop it.

use super::model::{Effect, Model, ShardRuntime};
use sluice_common::ids::{Attempt, JobId, ShardId, WorkerId};
use sluice_common::records::{
    Counters, JobState, KeyBounds, KeyRange, ShardRecord, ShardState, RECORD_VERSION,
};
use sluice_proto::v1 as pb;
use std::time::{Duration, Instant};

/// Rows of the smallest piece a shard is read in (one source query each). Workers read a
/// quarter of what is left at a time, so a shard costs a dozen queries or so, and the smallest
/// pieces, at its end, decide how finely it can still be split.
pub const PIECE_ROWS: i128 = 8_192;

/// Most pieces of the smallest size a shard is cut into.
pub const MAX_PIECES: i128 = 4_096;

/// How long a split request may stay unanswered before it may be asked again.
pub const SPLIT_ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Returns how a shard of `range` should be read in pieces, or `None` when it is read in one
/// piece (not an integer range, no finite bounds, or too few rows to be worth splitting).
///
/// Open ends take the job's key bounds; rows per key come from the planner's estimate.
pub fn pieces_for(
    range: &KeyRange,
    key_bounds: Option<KeyBounds>,
    estimated_rows: u64,
    shard_count: u32,
) -> Option<pb::SubRanges> {
    let KeyRange::Int { lo, hi } = range else {
        return None;
    };
    let finite_lo = lo.or(key_bounds.map(|bounds| bounds.min))?;
    let finite_hi = hi.or(key_bounds.and_then(|bounds| bounds.max.checked_add(1)))?;
    let width = i128::from(finite_hi) - i128::from(finite_lo);
    if width < 2 {
        return None;
    }
    // An estimate: f64 keeps the product of two 64-bit quantities from overflowing.
    let rows = match key_bounds {
        Some(bounds) => {
            let key_span = (i128::from(bounds.max) - i128::from(bounds.min) + 1).max(1);
            (width.min(key_span) as f64 / key_span as f64 * estimated_rows as f64) as i128
        }
        None => i128::from(estimated_rows) / i128::from(shard_count.max(1)),
    };
    let pieces = ((rows + PIECE_ROWS - 1) / PIECE_ROWS)
        .clamp(1, MAX_PIECES)
        .min(width);
    if pieces < 2 {
        return None;
    }
    Some(pb::SubRanges {
        lo: finite_lo,
        hi: finite_hi,
        pieces: u32::try_from(pieces).ok()?,
    })
}

/// Returns how much key range a running shard has left, from the last key its worker reported.
fn remaining_width(range: &KeyRange, pieces: &pb::SubRanges, current_key: &str) -> i128 {
    let end = match range {
        KeyRange::Int { hi: Some(hi), .. } => *hi,
        _ => pieces.hi,
    };
    let position = current_key
        .parse::<i64>()
        .unwrap_or(pieces.lo)
        .clamp(pieces.lo, end);
    i128::from(end) - i128::from(position)
}

fn decision(proposal: &pb::SplitProposal, confirmed: bool) -> pb::SplitDecision {
    pb::SplitDecision {
        job_id: proposal.job_id.clone(),
        shard_id: proposal.shard_id,
        attempt: proposal.attempt,
        split_at: proposal.split_at,
        confirmed,
    }
}

fn send_decision(
    worker_id: &WorkerId,
    proposal: &pb::SplitProposal,
    confirmed: bool,
) -> Vec<Effect> {
    vec![Effect::Send(
        worker_id.clone(),
        Box::new(pb::coordinator_message::Body::SplitDecision(decision(
            proposal, confirmed,
        ))),
    )]
}

impl Model {
    /// Asks for splits while workers have free slots: for each running job (first come, first
    /// served) with no pending shard and room under its parallelism, the running shards with
    /// the most key range left are asked to stop early, one per free slot.
    pub fn request_splits(&mut self, now: Instant) -> Vec<Effect> {
        let waiting = |shard: &ShardRuntime| {
            shard
                .split_requested_at
                .is_some_and(|asked| now.duration_since(asked) < SPLIT_ANSWER_TIMEOUT)
        };
        let free: usize = self
            .workers
            .values()
            .map(|worker| worker.free_slots() as usize)
            .sum();
        // Each unanswered request already has a free slot in view.
        let outstanding: usize = self
            .jobs
            .values()
            .map(|job| job.shards.iter().filter(|shard| waiting(shard)).count())
            .sum();
        let mut idle = free.saturating_sub(outstanding);
        let mut effects = Vec::new();
        for job_id in self.job_order.clone() {
            if idle == 0 {
                break;
            }
            let Some(job) = self.jobs.get_mut(&job_id) else {
                continue;
            };
            if job.record.state != JobState::Running
                || job
                    .shards
                    .iter()
                    .any(|shard| shard.record.state == ShardState::Pending)
            {
                continue;
            }
            let outstanding = job.shards.iter().filter(|shard| waiting(shard)).count();
            let parallelism = job.validated.spec.settings.parallelism as usize;
            let room = parallelism.saturating_sub(job.running_shards() + outstanding);
            let mut candidates: Vec<(i128, usize)> = job
                .shards
                .iter()
                .enumerate()
                .filter(|(_, shard)| {
                    shard.record.state.is_in_flight()
                        && !shard.record.earlier_attempt_may_commit
                        && !shard.split_declined
                        && shard.orphaned_until.is_none()
                        && shard.record.worker_id.is_some()
                        && !waiting(shard)
                })
                .filter_map(|(index, shard)| {
                    let pieces = shard.pieces.as_ref()?;
                    let left = remaining_width(&shard.record.range, pieces, &shard.current_key);
                    Some((left, index))
                })
                .collect();
            candidates.sort_by(|left, right| right.cmp(left));
            for (_, index) in candidates.into_iter().take(room.min(idle)) {
                let Some(shard) = job.shards.get_mut(index) else {
                    continue;
                };
                let Some(worker_id) = shard.record.worker_id.clone() else {
                    continue;
                };
                shard.split_requested_at = Some(now);
                idle -= 1;
                tracing::debug!(job_id = %job_id, shard_id = %shard.record.shard_id, worker_id = %worker_id, "asking for a split");
                effects.push(Effect::Send(
                    worker_id,
                    Box::new(pb::coordinator_message::Body::Split(pb::SplitShard {
                        job_id: job_id.to_string(),
                        shard_id: shard.record.shard_id.0,
                        attempt: shard.record.attempt.0,
                    })),
                ));
            }
        }
        effects
    }

    /// Handles a worker's answer to a split request: records the split (shortened shard, new
    /// shard, in one transaction) and confirms it once written, or refuses it when the attempt
    /// is no longer the shard's current one.
    pub(crate) fn split_proposal(
        &mut self,
        worker_id: &WorkerId,
        proposal: &pb::SplitProposal,
    ) -> Vec<Effect> {
        let job_id = JobId(proposal.job_id.clone());
        let refuse = || send_decision(worker_id, proposal, false);
        let Some(job) = self.jobs.get_mut(&job_id) else {
            return refuse();
        };
        let running = job.record.state == JobState::Running;
        let Some(shard) = job.shards.get_mut(proposal.shard_id as usize) else {
            return refuse();
        };
        let current = running
            && shard.record.attempt == Attempt(proposal.attempt)
            && shard.record.worker_id.as_ref() == Some(worker_id)
            && shard.record.state.is_in_flight();
        if !current {
            return refuse();
        }
        shard.split_requested_at = None;
        if proposal.declined {
            shard.split_declined = true;
            return Vec::new();
        }
        let KeyRange::Int { lo, hi } = shard.record.range.clone() else {
            return refuse();
        };
        let split_at = proposal.split_at;
        if hi == Some(split_at) {
            // Already recorded (the proposal was sent again after a reconnect).
            return send_decision(worker_id, proposal, true);
        }
        let inside = lo.is_none_or(|lo| lo < split_at) && hi.is_none_or(|hi| split_at < hi);
        if !inside || shard.record.earlier_attempt_may_commit {
            return refuse();
        }
        let parent = shard.record.shard_id;
        shard.record.range = KeyRange::Int {
            lo,
            hi: Some(split_at),
        };
        let child = ShardId(job.shards.len() as u32);
        job.shards.push(ShardRuntime::new(ShardRecord {
            v: RECORD_VERSION,
            job_id: job_id.clone(),
            shard_id: child,
            range: KeyRange::Int {
                lo: Some(split_at),
                hi,
            },
            state: ShardState::Pending,
            attempt: Attempt::FIRST,
            worker_id: None,
            counters: Counters::default(),
            error: None,
            earlier_attempt_may_commit: false,
            transformers: Vec::new(),
        }));
        job.record.shard_count = job.shards.len() as u32;
        job.record.splits += 1;
        self.changed_jobs.insert(job_id.clone());
        tracing::info!(job_id = %job_id, shard_id = %parent, new_shard_id = %child, split_at, worker_id = %worker_id, "split a running shard");
        let decision = decision(proposal, true);
        vec![
            Effect::PersistSplit {
                job_id: job_id.clone(),
                parent,
                child,
            },
            Effect::ConfirmSplit {
                worker_id: worker_id.clone(),
                decision,
                job_id,
                parent,
                child,
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::testing::{job, sends, worker};
    use super::super::model::OpenConnections;
    use super::*;
    use crate::convert;

    fn bounds(min: i64, max: i64) -> Option<KeyBounds> {
        Some(KeyBounds { min, max })
    }

    #[test]
    fn pieces_follow_rows_and_bounds() {
        // 1,000,000 rows over keys 0..999,999 in 4 shards: 250,000 rows a shard, 31 pieces of
        // at least 8,192 rows.
        let middle = KeyRange::Int {
            lo: Some(250_000),
            hi: Some(500_000),
        };
        let pieces = pieces_for(&middle, bounds(0, 999_999), 1_000_000, 4).expect("pieces");
        assert_eq!(
            (pieces.lo, pieces.hi, pieces.pieces),
            (250_000, 500_000, 31)
        );
        // Open ends take the key bounds.
        let last = KeyRange::Int {
            lo: Some(750_000),
            hi: None,
        };
        let pieces = pieces_for(&last, bounds(0, 999_999), 1_000_000, 4).expect("pieces");
        assert_eq!((pieces.lo, pieces.hi), (750_000, 1_000_000));
        let first = KeyRange::Int {
            lo: None,
            hi: Some(250_000),
        };
        assert_eq!(
            pieces_for(&first, bounds(0, 999_999), 1_000_000, 4).map(|p| p.lo),
            Some(0)
        );
        // Without bounds an open range cannot be cut; a closed one uses rows per shard.
        assert_eq!(pieces_for(&last, None, 1_000_000, 4), None);
        assert_eq!(
            pieces_for(&middle, None, 1_000_000, 4).map(|p| p.pieces),
            Some(31)
        );
        // Few rows, other range kinds, and ranges past the bounds: one piece.
        assert_eq!(pieces_for(&middle, bounds(0, 999_999), 30_000, 4), None);
        assert_eq!(pieces_for(&KeyRange::All, bounds(0, 9), 1_000_000, 1), None);
        let beyond = KeyRange::Int {
            lo: Some(2_000_000),
            hi: None,
        };
        assert_eq!(pieces_for(&beyond, bounds(0, 999_999), 1_000_000, 4), None);
        // Never more pieces than keys, never more than MAX_PIECES.
        let narrow = KeyRange::Int {
            lo: Some(0),
            hi: Some(3),
        };
        assert_eq!(
            pieces_for(&narrow, bounds(0, 2), 10_000_000, 1).map(|p| p.pieces),
            Some(3)
        );
        let huge = KeyRange::Int {
            lo: Some(i64::MIN),
            hi: None,
        };
        assert_eq!(
            pieces_for(&huge, bounds(i64::MIN, i64::MAX - 1), u64::MAX, 1).map(|p| p.pieces),
            Some(MAX_PIECES as u32)
        );
    }

    /// One job over keys 0..1,000,000 planned as two shards, both running on `w1` (2 slots).
    fn running_two_shards() -> (Model, JobId, WorkerId) {
        let mut model = Model::default();
        let (record, validated) = job(4);
        let job_id = record.id.clone();
        model.add_job(
            record,
            validated,
            OpenConnections::default(),
            Vec::new(),
            None,
        );
        let first = worker(&mut model, "w1", 2, 1);
        let effects = model.dispatch(Instant::now());
        assert!(matches!(
            sends(&effects)[0].1,
            pb::coordinator_message::Body::Plan(_)
        ));
        let shards = vec![
            convert::key_range_to_proto(&KeyRange::Int {
                lo: None,
                hi: Some(500_000),
            }),
            convert::key_range_to_proto(&KeyRange::Int {
                lo: Some(500_000),
                hi: None,
            }),
        ];
        model.worker_message(
            &first,
            1,
            pb::worker_message::Body::PlanResult(pb::PlanResult {
                job_id: job_id.to_string(),
                shards,
                estimated_rows: 1_000_000,
                error: String::new(),
                retryable: false,
                key_min: Some(0),
                key_max: Some(999_999),
                planned_spec_json: String::new(),
                refused: false,
            }),
            Instant::now(),
        );
        let effects = model.dispatch(Instant::now());
        let assigned: Vec<pb::AssignShard> = sends(&effects)
            .into_iter()
            .filter_map(|(_, body)| match body {
                pb::coordinator_message::Body::Assign(assign) => Some(assign),
                _ => None,
            })
            .collect();
        assert_eq!(assigned.len(), 2);
        for assign in &assigned {
            let pieces = assign
                .sub_ranges
                .expect("integer ranges are read in pieces");
            assert_eq!(pieces.pieces, 62);
        }
        (model, job_id, first)
    }

    fn split_requests(effects: &[Effect]) -> Vec<(WorkerId, pb::SplitShard)> {
        sends(effects)
            .into_iter()
            .filter_map(|(worker, body)| match body {
                pb::coordinator_message::Body::Split(split) => Some((worker, split)),
                _ => None,
            })
            .collect()
    }

    fn progress(model: &mut Model, worker_id: &WorkerId, job_id: &JobId, shard: u32, key: i64) {
        model.worker_message(
            worker_id,
            1,
            pb::worker_message::Body::Progress(pb::ShardProgress {
                job_id: job_id.to_string(),
                shard_id: shard,
                attempt: 1,
                counters: None,
                current_key: key.to_string(),
                dirty_samples: Vec::new(),
                transformers: Vec::new(),
            }),
            Instant::now(),
        );
    }

    fn proposal(
        job_id: &JobId,
        shard: u32,
        attempt: u32,
        split_at: i64,
    ) -> pb::worker_message::Body {
        pb::worker_message::Body::SplitProposal(pb::SplitProposal {
            job_id: job_id.to_string(),
            shard_id: shard,
            attempt,
            declined: false,
            split_at,
        })
    }

    #[test]
    fn an_idle_worker_gets_the_rest_of_the_largest_shard() {
        let (mut model, job_id, first) = running_two_shards();
        let now = Instant::now();
        assert!(
            model.request_splits(now).is_empty(),
            "no free slot: nothing to split for"
        );
        progress(&mut model, &first, &job_id, 0, 400_000);
        progress(&mut model, &first, &job_id, 1, 600_000);
        let second = worker(&mut model, "w2", 1, 2);
        let requests = split_requests(&model.request_splits(now));
        assert_eq!(requests.len(), 1, "one free slot, one request");
        assert_eq!(requests[0].0, first);
        assert_eq!(
            requests[0].1.shard_id, 1,
            "shard 1 has 400,000 keys left, shard 0 only 100,000"
        );
        assert!(
            split_requests(&model.request_splits(now)).is_empty(),
            "no second request while the first is unanswered"
        );
        let effects = model.worker_message(&first, 1, proposal(&job_id, 1, 1, 800_000), now);
        assert!(matches!(
            effects.as_slice(),
            [Effect::PersistSplit { parent: ShardId(1), child: ShardId(2), .. }, Effect::ConfirmSplit { decision, .. }]
                if decision.confirmed && decision.split_at == 800_000
        ));
        let job = &model.jobs[&job_id];
        assert_eq!(
            job.shards[1].record.range,
            KeyRange::Int {
                lo: Some(500_000),
                hi: Some(800_000)
            }
        );
        assert_eq!(
            job.shards[2].record.range,
            KeyRange::Int {
                lo: Some(800_000),
                hi: None
            }
        );
        assert_eq!(job.shards[2].record.state, ShardState::Pending);
        assert_eq!((job.record.shard_count, job.record.splits), (3, 1));
        // The new shard goes to the idle worker.
        let assigned: Vec<(WorkerId, u32)> = sends(&model.dispatch(Instant::now()))
            .into_iter()
            .filter_map(|(worker, body)| match body {
                pb::coordinator_message::Body::Assign(assign) => Some((worker, assign.shard_id)),
                _ => None,
            })
            .collect();
        assert_eq!(assigned, vec![(second, 2)]);
        // The same proposal again (after a reconnect) is confirmed without a second split.
        let again = model.worker_message(&first, 1, proposal(&job_id, 1, 1, 800_000), now);
        assert!(matches!(
            sends(&again).as_slice(),
            [(_, pb::coordinator_message::Body::SplitDecision(decision))] if decision.confirmed
        ));
        assert_eq!(model.jobs[&job_id].shards.len(), 3);
    }

    #[test]
    fn a_declined_shard_is_not_asked_again_and_stale_proposals_are_refused() {
        let (mut model, job_id, first) = running_two_shards();
        let now = Instant::now();
        worker(&mut model, "w2", 2, 2);
        let requests = split_requests(&model.request_splits(now));
        assert_eq!(requests.len(), 2);
        let declined = pb::worker_message::Body::SplitProposal(pb::SplitProposal {
            job_id: job_id.to_string(),
            shard_id: 0,
            attempt: 1,
            declined: true,
            split_at: 0,
        });
        model.worker_message(&first, 1, declined, now);
        let later = now + SPLIT_ANSWER_TIMEOUT + Duration::from_secs(1);
        let again = split_requests(&model.request_splits(later));
        assert_eq!(
            again.iter().map(|(_, r)| r.shard_id).collect::<Vec<_>>(),
            vec![1],
            "only the shard that did not decline is asked again once its request timed out"
        );
        // A proposal of an older attempt, or outside the range, is refused.
        for body in [
            proposal(&job_id, 1, 7, 800_000),
            proposal(&job_id, 1, 1, 100),
        ] {
            let effects = model.worker_message(&first, 1, body, later);
            assert!(matches!(
                sends(&effects).as_slice(),
                [(_, pb::coordinator_message::Body::SplitDecision(decision))] if !decision.confirmed
            ));
        }
        assert_eq!(model.jobs[&job_id].shards.len(), 2);
    }

    #[test]
    fn a_shard_whose_lost_attempt_may_still_commit_is_never_split() {
        let (mut model, job_id, first) = running_two_shards();
        let now = Instant::now();
        // w1 disappears: both shards go back with a higher attempt, flagged.
        model.worker_left(&first, 1);
        let second = worker(&mut model, "w2", 1, 2);
        worker(&mut model, "w3", 2, 3);
        model.dispatch(Instant::now());
        let job = &model.jobs[&job_id];
        assert!(job
            .shards
            .iter()
            .all(|shard| shard.record.earlier_attempt_may_commit));
        assert!(
            split_requests(&model.request_splits(now)).is_empty(),
            "a worker is idle, but neither shard may be split"
        );
        // Even an unsolicited proposal is refused.
        let shard = model.jobs[&job_id]
            .shards
            .iter()
            .find(|shard| shard.record.worker_id.as_ref() == Some(&second))
            .map(|shard| shard.record.shard_id.0)
            .expect("w2 runs a shard");
        let effects = model.worker_message(&second, 2, proposal(&job_id, shard, 2, 700_000), now);
        assert!(matches!(
            sends(&effects).as_slice(),
            [(_, pb::coordinator_message::Body::SplitDecision(decision))] if !decision.confirmed
        ));
    }
}
