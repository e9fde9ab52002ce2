//! Reading an integer key range in consecutive pieces, so a running shard can hand the rest of
//! its range to a new shard (a split) without reading or committing anything twice.
//!
//! Pieces shrink as the range is read: each is a quarter of what is left, but never narrower
//! than the smallest piece the coordinator allowed. Few queries are spent on a long range, and
//! the end of a shard, where a split matters most, is cut finely.
//!
//! The reader asks [`PieceCursor::next_piece`] for the next range to read. A split request
//! ([`PieceCursor::propose_split`]) moves the attempt's end down to a boundary past every piece
//! already started; until the coordinator's decision arrives ([`PieceCursor::decide`]) the
//! reader may read up to that boundary but not finish, so the writer cannot commit a range the
//! coordinator has not recorded. A refused split restores the original end.

use sluice_common::records::KeyRange;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

/// How to cut a range into pieces, as the coordinator sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PiecePlan {
    /// Finite lower bound for the arithmetic.
    pub lo: i64,
    /// Finite exclusive upper bound for the arithmetic.
    pub hi: i64,
    /// How many of the smallest pieces `[lo, hi)` holds: the smallest piece is
    /// `(hi - lo) / pieces` wide.
    pub pieces: u32,
}

/// What the reader should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextPiece {
    /// Read this range.
    Read(KeyRange),
    /// Everything is read, but a proposed split awaits the coordinator's decision.
    Wait,
    /// Everything up to the attempt's end is read.
    Done,
}

/// A worker's answer to a split request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitAnswer {
    /// Fewer than two unread pieces are left.
    Declined,
    /// The attempt now ends at this key (exclusive); the rest may become a new shard.
    Proposed(i64),
}

#[derive(Debug)]
struct CursorState {
    /// Lower bound of the first piece (the range's own, possibly open).
    first_lo: Option<i64>,
    /// Whether the first piece was handed out.
    started: bool,
    /// Finite lower bound of the next piece.
    next: i64,
    /// Exclusive end of the attempt; `None` is open (the last piece is open-ended).
    end: Option<i64>,
    /// Finite end for the arithmetic while `end` is open.
    finite_end: i64,
    /// Width of the smallest piece.
    step: i64,
    /// A proposed split awaiting its decision, with the end before it.
    pending: Option<(i64, Option<i64>)>,
}

impl CursorState {
    fn stop(&self) -> i64 {
        self.end.unwrap_or(self.finite_end)
    }

    fn next_piece(&mut self) -> NextPiece {
        let stop = self.stop();
        if self.started && self.next >= stop {
            return if self.pending.is_some() {
                NextPiece::Wait
            } else {
                NextPiece::Done
            };
        }
        let lo = if self.started {
            Some(self.next)
        } else {
            self.first_lo
        };
        self.started = true;
        let left = i128::from(stop) - i128::from(self.next);
        let width = i64::try_from(left / 4).unwrap_or(i64::MAX).max(self.step);
        let upper = self.next.saturating_add(width);
        let hi = if upper >= stop {
            self.next = stop;
            self.end
        } else {
            self.next = upper;
            Some(upper)
        };
        NextPiece::Read(KeyRange::Int { lo, hi })
    }

    fn propose_split(&mut self) -> SplitAnswer {
        if let Some((split_at, _)) = self.pending {
            return SplitAnswer::Proposed(split_at);
        }
        let remaining = i128::from(self.stop()) - i128::from(self.next);
        if remaining < 2 * i128::from(self.step) {
            return SplitAnswer::Declined;
        }
        let Ok(split_at) = i64::try_from(i128::from(self.next) + remaining / 2) else {
            return SplitAnswer::Declined;
        };
        self.pending = Some((split_at, self.end));
        self.end = Some(split_at);
        SplitAnswer::Proposed(split_at)
    }

    fn decide(&mut self, split_at: i64, confirmed: bool) -> bool {
        match self.pending {
            Some((pending_at, previous_end)) if pending_at == split_at => {
                if !confirmed {
                    self.end = previous_end;
                }
                self.pending = None;
                true
            }
            _ => false,
        }
    }
}

/// The pieces of one running attempt, shared by its reader and the worker's session loop.
#[derive(Debug)]
pub struct PieceCursor {
    state: Mutex<CursorState>,
    changed: Notify,
}

impl PieceCursor {
    /// Returns a cursor over `range` cut as `plan` says, or `None` when the range cannot be
    /// read in pieces (not an integer range, or an empty plan).
    pub fn new(range: &KeyRange, plan: PiecePlan) -> Option<Self> {
        let KeyRange::Int { lo, hi } = range else {
            return None;
        };
        if plan.pieces == 0 || plan.hi <= plan.lo {
            return None;
        }
        let width = i128::from(plan.hi) - i128::from(plan.lo);
        let pieces = i128::from(plan.pieces);
        let step = i64::try_from((width + pieces - 1) / pieces).ok()?.max(1);
        Some(PieceCursor {
            state: Mutex::new(CursorState {
                first_lo: *lo,
                started: false,
                next: lo.unwrap_or(plan.lo),
                end: *hi,
                finite_end: hi.unwrap_or(plan.hi),
                step,
                pending: None,
            }),
            changed: Notify::new(),
        })
    }

    fn with_state<T>(&self, action: impl FnOnce(&mut CursorState) -> T) -> Option<T> {
        self.state.lock().ok().map(|mut state| action(&mut state))
    }

    /// Returns what to read next, without waiting.
    pub fn poll_piece(&self) -> NextPiece {
        self.with_state(CursorState::next_piece)
            .unwrap_or(NextPiece::Done)
    }

    /// Returns the next range to read, waiting while a split awaits its decision; `None` when
    /// the attempt's range is read, or when `stopped` turns true while waiting.
    pub async fn next_piece(&self, stopped: impl Fn() -> bool) -> Option<KeyRange> {
        loop {
            match self.poll_piece() {
                NextPiece::Read(range) => return Some(range),
                NextPiece::Done => return None,
                NextPiece::Wait => {
                    if stopped() {
                        return None;
                    }
                    let _ =
                        tokio::time::timeout(Duration::from_secs(1), self.changed.notified()).await;
                }
            }
        }
    }

    /// Answers a split request: moves the end past everything handed out, keeping half of what
    /// is left, or declines when less than two of the smallest pieces are left.
    /// Asking again while a proposal awaits its decision returns the same proposal.
    pub fn propose_split(&self) -> SplitAnswer {
        self.with_state(CursorState::propose_split)
            .unwrap_or(SplitAnswer::Declined)
    }

    /// Applies the coordinator's decision on the proposal at `split_at`; returns whether it
    /// matched the pending proposal.
    pub fn decide(&self, split_at: i64, confirmed: bool) -> bool {
        let applied = self
            .with_state(|state| state.decide(split_at, confirmed))
            .unwrap_or(false);
        if applied {
            self.changed.notify_one();
        }
        applied
    }

    /// Returns the proposed split point awaiting a decision, if any.
    pub fn pending_split(&self) -> Option<i64> {
        self.with_state(|state| state.pending.map(|(split_at, _)| split_at))
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(lo: Option<i64>, hi: Option<i64>) -> KeyRange {
        KeyRange::Int { lo, hi }
    }

    fn drain(cursor: &PieceCursor) -> Vec<KeyRange> {
        let mut pieces = Vec::new();
        while let NextPiece::Read(range) = cursor.poll_piece() {
            pieces.push(range);
        }
        pieces
    }

    fn plan(lo: i64, hi: i64, pieces: u32) -> PiecePlan {
        PiecePlan { lo, hi, pieces }
    }

    #[test]
    fn pieces_cover_the_range_shrink_and_keep_open_ends() {
        let cursor = PieceCursor::new(&int(None, None), plan(0, 1000, 10)).expect("cursor");
        let pieces = drain(&cursor);
        assert_eq!(
            pieces,
            vec![
                int(None, Some(250)),
                int(Some(250), Some(437)),
                int(Some(437), Some(577)),
                int(Some(577), Some(682)),
                int(Some(682), Some(782)),
                int(Some(782), Some(882)),
                int(Some(882), Some(982)),
                int(Some(982), None),
            ],
            "a quarter of what is left, never under 100 keys; open ends stay open"
        );
        assert_eq!(cursor.poll_piece(), NextPiece::Done);
        let closed = PieceCursor::new(&int(Some(10), Some(17)), plan(10, 17, 3)).expect("cursor");
        assert_eq!(
            drain(&closed),
            vec![
                int(Some(10), Some(13)),
                int(Some(13), Some(16)),
                int(Some(16), Some(17)),
            ]
        );
        assert!(PieceCursor::new(&KeyRange::All, plan(0, 10, 2)).is_none());
        assert!(PieceCursor::new(&int(Some(0), Some(10)), plan(0, 10, 0)).is_none());
    }

    #[test]
    fn a_confirmed_split_ends_the_attempt_at_the_split_point() {
        let cursor = PieceCursor::new(&int(Some(0), None), plan(0, 1000, 100)).expect("cursor");
        assert_eq!(
            cursor.poll_piece(),
            NextPiece::Read(int(Some(0), Some(250)))
        );
        // 750 keys left: keep half, hand 625..+inf away.
        assert_eq!(cursor.propose_split(), SplitAnswer::Proposed(625));
        assert_eq!(
            cursor.propose_split(),
            SplitAnswer::Proposed(625),
            "asking again repeats the pending proposal"
        );
        assert_eq!(cursor.pending_split(), Some(625));
        let rest = drain(&cursor);
        assert_eq!(rest.first(), Some(&int(Some(250), Some(343))));
        assert_eq!(rest.last(), Some(&int(Some(616), Some(625))));
        assert_eq!(
            cursor.poll_piece(),
            NextPiece::Wait,
            "no end before the decision"
        );
        assert!(
            !cursor.decide(600, true),
            "a decision on another point is ignored"
        );
        assert!(cursor.decide(625, true));
        assert_eq!(cursor.poll_piece(), NextPiece::Done);
        assert_eq!(cursor.pending_split(), None);
    }

    #[test]
    fn a_refused_split_reads_the_whole_original_range() {
        let cursor = PieceCursor::new(&int(Some(0), Some(40)), plan(0, 40, 4)).expect("cursor");
        assert_eq!(cursor.propose_split(), SplitAnswer::Proposed(20));
        let mut read = drain(&cursor);
        assert_eq!(read, vec![int(Some(0), Some(10)), int(Some(10), Some(20))]);
        assert_eq!(cursor.poll_piece(), NextPiece::Wait);
        assert!(cursor.decide(20, false));
        read.extend(drain(&cursor));
        assert_eq!(
            read,
            vec![
                int(Some(0), Some(10)),
                int(Some(10), Some(20)),
                int(Some(20), Some(30)),
                int(Some(30), Some(40)),
            ]
        );
        assert_eq!(cursor.poll_piece(), NextPiece::Done);
    }

    #[test]
    fn too_little_left_is_declined() {
        let cursor = PieceCursor::new(&int(Some(0), None), plan(0, 30, 3)).expect("cursor");
        assert_eq!(cursor.poll_piece(), NextPiece::Read(int(Some(0), Some(10))));
        assert_eq!(cursor.propose_split(), SplitAnswer::Proposed(20));
        assert!(cursor.decide(20, true));
        assert_eq!(
            cursor.poll_piece(),
            NextPiece::Read(int(Some(10), Some(20)))
        );
        assert_eq!(cursor.propose_split(), SplitAnswer::Declined);
        let last = PieceCursor::new(&int(Some(0), None), plan(0, 30, 3)).expect("cursor");
        drain(&last);
        assert_eq!(last.propose_split(), SplitAnswer::Declined);
    }

    #[test]
    fn splits_near_the_ends_of_i64_do_not_overflow() {
        let cursor =
            PieceCursor::new(&int(None, None), plan(i64::MIN, i64::MAX, 64)).expect("cursor");
        let SplitAnswer::Proposed(split_at) = cursor.propose_split() else {
            panic!("a huge range splits");
        };
        assert!(split_at > i64::MIN);
        let pieces = drain(&cursor);
        assert!(matches!(
            pieces.first(),
            Some(KeyRange::Int { lo: None, .. })
        ));
        assert!(
            matches!(pieces.last(), Some(KeyRange::Int { hi: Some(hi), .. }) if *hi == split_at)
        );
    }

    #[tokio::test]
    async fn the_reader_waits_for_the_decision() {
        let cursor = std::sync::Arc::new(
            PieceCursor::new(&int(Some(0), Some(40)), plan(0, 40, 4)).expect("cursor"),
        );
        assert_eq!(cursor.propose_split(), SplitAnswer::Proposed(20));
        let reader = {
            let cursor = std::sync::Arc::clone(&cursor);
            tokio::spawn(async move {
                let mut read = Vec::new();
                while let Some(range) = cursor.next_piece(|| false).await {
                    read.push(range);
                }
                read
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!reader.is_finished(), "the reader waits for the decision");
        cursor.decide(20, true);
        let read = reader.await.expect("reader");
        assert_eq!(read.len(), 2);
    }
}
