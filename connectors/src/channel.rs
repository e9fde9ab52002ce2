//! The bounded channel of Arrow batches between a reader and a writer, with the shard's live
//! counters. Its capacity bounds a shard's memory: a slow writer stalls the reader.

use crate::dirty_store::DirtyStage;
use crate::error::{ConnectorError, Result};
use crate::rate::RateLimiter;
use arrow_array::RecordBatch;
use sluice_common::records::{sum_transformer_counts, Counters, TransformerCounts};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Live counters of one shard attempt, updated per batch by reader and writer and read by the
/// progress reporter.
#[derive(Debug, Default)]
pub struct ShardCounters {
    rows_read: AtomicU64,
    bytes_read: AtomicU64,
    rows_written: AtomicU64,
    bytes_written: AtomicU64,
    dirty_records: AtomicU64,
    current_key: Mutex<String>,
    dirty_samples: Mutex<Vec<DirtySample>>,
    transformers: Mutex<Vec<TransformerCounts>>,
    dirty_stored: Mutex<Vec<(DirtyStage, DirtySample)>>,
    cancelled: std::sync::atomic::AtomicBool,
    rate: RateLimiter,
}

/// A dirty record as sampled to the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirtySample {
    /// Column at fault, when known.
    pub column: String,
    /// Why the row is dirty (the store's error or the conversion problem).
    pub reason: String,
    /// The row rendered as JSON.
    pub row: String,
}

/// How often a paced sender checks for cancellation while it waits.
const CANCEL_CHECK: Duration = Duration::from_millis(100);

/// Dirty records of one attempt kept in full for the dirty-data store; later ones are only
/// counted (and sampled).
pub const MAX_STORED_DIRTY: usize = 50_000;

/// Samples kept between two progress reports; later ones are only counted.
const MAX_PENDING_SAMPLES: usize = 20;

impl ShardCounters {
    /// Returns a snapshot of the counters.
    pub fn snapshot(&self) -> Counters {
        Counters {
            rows_read: self.rows_read.load(Ordering::Relaxed),
            bytes_read: self.bytes_read.load(Ordering::Relaxed),
            rows_written: self.rows_written.load(Ordering::Relaxed),
            bytes_written: self.bytes_written.load(Ordering::Relaxed),
            dirty_records: self.dirty_records.load(Ordering::Relaxed),
        }
    }

    /// Asks reader and writer to stop: the next send or receive fails with
    /// [`ConnectorError::Aborted`], so the writer rolls back instead of committing.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
    }

    /// Returns the shard's share of its job's rate limit.
    pub fn rate(&self) -> &RateLimiter {
        &self.rate
    }

    /// Returns whether the shard was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Records a batch read.
    pub fn add_read(&self, rows: u64, bytes: u64) {
        self.rows_read.fetch_add(rows, Ordering::Relaxed);
        self.bytes_read.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Records a batch written (inside the shard's open transaction).
    pub fn add_written(&self, rows: u64, bytes: u64) {
        self.rows_written.fetch_add(rows, Ordering::Relaxed);
        self.bytes_written.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Takes back rows recorded with [`Self::add_written`] that the store rolled back before
    /// the shard's commit (a writer retrying them in smaller pieces records them again).
    pub fn retract_written(&self, rows: u64, bytes: u64) {
        self.rows_written.fetch_sub(rows, Ordering::Relaxed);
        self.bytes_written.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Records dirty records.
    pub fn add_dirty(&self, rows: u64) {
        self.dirty_records.fetch_add(rows, Ordering::Relaxed);
    }

    /// Counts one dirty record met at `stage`, keeps it for the dirty-data store (up to
    /// [`MAX_STORED_DIRTY`] per attempt) and as a sample for the next progress report.
    pub fn record_dirty(&self, stage: DirtyStage, sample: DirtySample) {
        self.dirty_records.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut samples) = self.dirty_samples.lock() {
            if samples.len() < MAX_PENDING_SAMPLES {
                samples.push(sample.clone());
            }
        }
        if let Ok(mut stored) = self.dirty_stored.lock() {
            if stored.len() < MAX_STORED_DIRTY {
                stored.push((stage, sample));
            }
        }
    }

    /// Returns every dirty record kept for the store, with its stage, and forgets them.
    pub fn take_stored_dirty(&self) -> Vec<(DirtyStage, DirtySample)> {
        self.dirty_stored
            .lock()
            .map(|mut stored| std::mem::take(&mut *stored))
            .unwrap_or_default()
    }

    /// Returns a copy of every dirty record kept for the store so far, with its stage (a sink
    /// writes them into its dirty table in the shard's transaction).
    pub fn stored_dirty(&self) -> Vec<(DirtyStage, DirtySample)> {
        self.dirty_stored
            .lock()
            .map(|stored| stored.clone())
            .unwrap_or_default()
    }

    /// Adds one batch's per-transformer counts (in chain order).
    pub fn add_transformer_counts(&self, counts: &[TransformerCounts]) {
        if let Ok(mut totals) = self.transformers.lock() {
            *totals = sum_transformer_counts(&totals, counts);
        }
    }

    /// Returns the per-transformer counts so far (empty without transformers).
    pub fn transformer_counts(&self) -> Vec<TransformerCounts> {
        self.transformers
            .lock()
            .map(|totals| totals.clone())
            .unwrap_or_default()
    }

    /// Returns the samples kept since the last call and forgets them.
    pub fn take_dirty_samples(&self) -> Vec<DirtySample> {
        self.dirty_samples
            .lock()
            .map(|mut samples| std::mem::take(&mut *samples))
            .unwrap_or_default()
    }

    /// Sets the last key read, rendered as text.
    pub fn set_current_key(&self, key: String) {
        if let Ok(mut current) = self.current_key.lock() {
            *current = key;
        }
    }

    /// Returns the last key read.
    pub fn current_key(&self) -> String {
        self.current_key
            .lock()
            .map(|current| current.clone())
            .unwrap_or_default()
    }
}

enum Message {
    Batch(RecordBatch),
    End,
}

/// The reader's end of a batch channel.
#[derive(Clone)]
pub struct BatchSender {
    sender: mpsc::Sender<Message>,
    counters: Arc<ShardCounters>,
}

/// The writer's end of a batch channel.
pub struct BatchReceiver {
    receiver: mpsc::Receiver<Message>,
    counters: Arc<ShardCounters>,
    finished: bool,
}

/// Returns a channel holding at most `capacity` batches, counting into `counters`.
pub fn batch_channel(
    capacity: usize,
    counters: Arc<ShardCounters>,
) -> (BatchSender, BatchReceiver) {
    let (sender, receiver) = mpsc::channel(capacity.max(1));
    (
        BatchSender {
            sender,
            counters: Arc::clone(&counters),
        },
        BatchReceiver {
            receiver,
            counters,
            finished: false,
        },
    )
}

impl BatchSender {
    /// Sends a batch, waiting while the channel is full and, when the shard has a share of a
    /// rate limit, until its pace allows (a large batch goes in slices).
    ///
    /// # Errors
    /// [`ConnectorError::Aborted`] when the writer has gone or the shard was cancelled.
    pub async fn send(&self, batch: RecordBatch) -> Result<()> {
        if self.counters.rate.is_unlimited() {
            // No pacing: no slicing, no reservation, no allocation per batch.
            if self.counters.is_cancelled() {
                return Err(ConnectorError::Aborted);
            }
            let bytes = batch.get_array_memory_size() as u64;
            self.counters.add_read(batch.num_rows() as u64, bytes);
            return self
                .sender
                .send(Message::Batch(batch))
                .await
                .map_err(|_| ConnectorError::Aborted);
        }
        for (piece, bytes) in self.paced_pieces(batch) {
            let wait = self
                .counters
                .rate
                .reserve(piece.num_rows() as u64, bytes, Instant::now());
            self.sleep_unless_cancelled(wait).await?;
            if self.counters.is_cancelled() {
                return Err(ConnectorError::Aborted);
            }
            self.counters.add_read(piece.num_rows() as u64, bytes);
            self.sender
                .send(Message::Batch(piece))
                .await
                .map_err(|_| ConnectorError::Aborted)?;
        }
        Ok(())
    }

    /// Sends a batch that was already counted as read (by the stage before this channel, such
    /// as the transformer chain), waiting while the channel is full.
    ///
    /// # Errors
    /// [`ConnectorError::Aborted`] when the writer has gone.
    pub async fn forward(&self, batch: RecordBatch) -> Result<()> {
        if self.counters.is_cancelled() {
            return Err(ConnectorError::Aborted);
        }
        self.sender
            .send(Message::Batch(batch))
            .await
            .map_err(|_| ConnectorError::Aborted)
    }

    /// Sends a batch from a blocking thread (synchronous drivers), paced like [`Self::send`].
    ///
    /// # Errors
    /// [`ConnectorError::Aborted`] when the writer has gone or the shard was cancelled.
    pub fn blocking_send(&self, batch: RecordBatch) -> Result<()> {
        if self.counters.rate.is_unlimited() {
            if self.counters.is_cancelled() {
                return Err(ConnectorError::Aborted);
            }
            let bytes = batch.get_array_memory_size() as u64;
            self.counters.add_read(batch.num_rows() as u64, bytes);
            return self
                .sender
                .blocking_send(Message::Batch(batch))
                .map_err(|_| ConnectorError::Aborted);
        }
        for (piece, bytes) in self.paced_pieces(batch) {
            let wait = self
                .counters
                .rate
                .reserve(piece.num_rows() as u64, bytes, Instant::now());
            let deadline = Instant::now() + wait;
            while Instant::now() < deadline {
                if self.counters.is_cancelled() {
                    return Err(ConnectorError::Aborted);
                }
                std::thread::sleep((deadline - Instant::now()).min(CANCEL_CHECK));
            }
            if self.counters.is_cancelled() {
                return Err(ConnectorError::Aborted);
            }
            self.counters.add_read(piece.num_rows() as u64, bytes);
            self.sender
                .blocking_send(Message::Batch(piece))
                .map_err(|_| ConnectorError::Aborted)?;
        }
        Ok(())
    }

    /// Splits a batch into the pieces the shard's pace allows (one piece when unlimited), each
    /// with its share of the batch's byte size.
    fn paced_pieces(&self, batch: RecordBatch) -> Vec<(RecordBatch, u64)> {
        let rows = batch.num_rows();
        let bytes = batch.get_array_memory_size();
        match self.counters.rate.slice_rows(rows, bytes) {
            Some(slice) if rows > slice => (0..rows)
                .step_by(slice)
                .map(|offset| {
                    let length = slice.min(rows - offset);
                    let piece_bytes = (bytes as u128 * length as u128 / rows as u128) as u64;
                    (batch.slice(offset, length), piece_bytes)
                })
                .collect(),
            _ => vec![(batch, bytes as u64)],
        }
    }

    async fn sleep_unless_cancelled(&self, wait: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < deadline {
            if self.counters.is_cancelled() {
                return Err(ConnectorError::Aborted);
            }
            let left = deadline - tokio::time::Instant::now();
            tokio::time::sleep(left.min(CANCEL_CHECK)).await;
        }
        Ok(())
    }

    /// Marks the end of the shard's data: only after this may the writer commit.
    ///
    /// # Errors
    /// [`ConnectorError::Aborted`] when the writer has gone.
    pub async fn finish(self) -> Result<()> {
        self.sender
            .send(Message::End)
            .await
            .map_err(|_| ConnectorError::Aborted)
    }

    /// Returns the shard's counters.
    pub fn counters(&self) -> &ShardCounters {
        &self.counters
    }
}

impl BatchReceiver {
    /// Returns the next batch, `Ok(None)` at the end marker.
    ///
    /// # Errors
    /// [`ConnectorError::Aborted`] when the reader went away without the end marker.
    pub async fn next(&mut self) -> Result<Option<RecordBatch>> {
        if self.counters.is_cancelled() {
            return Err(ConnectorError::Aborted);
        }
        if self.finished {
            return Ok(None);
        }
        match self.receiver.recv().await {
            Some(Message::Batch(batch)) => Ok(Some(batch)),
            Some(Message::End) => {
                self.finished = true;
                Ok(None)
            }
            None => Err(ConnectorError::Aborted),
        }
    }

    /// Blocking version of [`BatchReceiver::next`] for synchronous drivers.
    ///
    /// # Errors
    /// [`ConnectorError::Aborted`] when the reader went away without the end marker.
    pub fn blocking_next(&mut self) -> Result<Option<RecordBatch>> {
        if self.counters.is_cancelled() {
            return Err(ConnectorError::Aborted);
        }
        if self.finished {
            return Ok(None);
        }
        match self.receiver.blocking_recv() {
            Some(Message::Batch(batch)) => Ok(Some(batch)),
            Some(Message::End) => {
                self.finished = true;
                Ok(None)
            }
            None => Err(ConnectorError::Aborted),
        }
    }

    /// Records a batch as written into the shard's transaction.
    pub fn record_written(&self, batch: &RecordBatch) {
        self.counters.add_written(
            batch.num_rows() as u64,
            batch.get_array_memory_size() as u64,
        );
    }

    /// Returns the shard's counters.
    pub fn counters(&self) -> &ShardCounters {
        &self.counters
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Int64Array;

    fn batch() -> RecordBatch {
        RecordBatch::try_from_iter([("a", Arc::new(Int64Array::from(vec![1, 2, 3])) as _)])
            .expect("batch")
    }

    #[tokio::test]
    async fn end_marker_ends_cleanly() {
        let counters = Arc::new(ShardCounters::default());
        let (sender, mut receiver) = batch_channel(2, Arc::clone(&counters));
        sender.send(batch()).await.expect("send");
        sender.finish().await.expect("finish");
        assert_eq!(
            receiver.next().await.expect("batch").map(|b| b.num_rows()),
            Some(3)
        );
        assert!(receiver.next().await.expect("end").is_none());
        assert_eq!(counters.snapshot().rows_read, 3);
    }

    #[tokio::test]
    async fn cancel_aborts_both_ends() {
        let counters = Arc::new(ShardCounters::default());
        let (sender, mut receiver) = batch_channel(2, Arc::clone(&counters));
        sender.send(batch()).await.expect("send");
        counters.cancel();
        assert!(matches!(
            sender.send(batch()).await,
            Err(ConnectorError::Aborted)
        ));
        assert!(matches!(
            receiver.next().await,
            Err(ConnectorError::Aborted)
        ));
    }

    #[tokio::test]
    async fn dropped_sender_without_end_is_aborted() {
        let (sender, mut receiver) = batch_channel(2, Arc::new(ShardCounters::default()));
        sender.send(batch()).await.expect("send");
        drop(sender);
        assert!(receiver.next().await.expect("batch").is_some());
        assert!(matches!(
            receiver.next().await,
            Err(ConnectorError::Aborted)
        ));
    }
}
