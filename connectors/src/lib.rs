//! Sluice connectors: the [`Source`] and [`Sink`] traits that every store family implements,
//! the batch channel between them, Arrow type mapping, and the first connectors
//! ([`generator`] and [`sqlite`]).
//!
//! A shard runs as `source.read(range) -> bounded channel of RecordBatch -> sink.write_shard`.
//! The reader ends the stream with an explicit end marker; a sink that sees the channel close
//! without it rolls back, so a dying reader can never make a partial shard commit.

#![deny(rustdoc::broken_intra_doc_links)]

pub mod channel;
pub mod checksum;
pub mod dirty_store;
pub mod dirty_table;
pub mod error;
pub mod file;
pub mod generator;
pub mod mapping;
pub mod mysql;
pub mod options;
pub mod postgres;
pub mod probe;
pub mod rate;
pub mod registry;
pub mod sqlite;
pub mod stream;
pub mod transform;

pub use channel::{batch_channel, BatchReceiver, BatchSender, DirtySample, ShardCounters};
pub use dirty_store::{DirtyRecord, DirtyStage, DirtyStore};
pub use error::{ConnectorError, Result};
pub use rate::RateLimiter;
pub use registry::{open_sink, open_sink_as_source, open_source};

use arrow_schema::SchemaRef;
use async_trait::async_trait;
use sluice_common::ids::{Attempt, JobId, ShardId};
use sluice_common::records::{KeyBounds, KeyRange};

/// What the planner is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanRequest {
    /// The job's parallelism: the planner makes at least `parallelism × 4` shards when the
    /// source allows it.
    pub parallelism: u32,
    /// Target rows per shard.
    pub shard_rows: u64,
}

impl PlanRequest {
    /// Returns how many key ranges to aim for, given an estimated row count.
    pub fn target_shard_count(&self, estimated_rows: u64) -> u64 {
        let by_size = estimated_rows.div_ceil(self.shard_rows.max(1));
        by_size.max(u64::from(self.parallelism) * 4).max(1)
    }
}

/// What the planner returns: the key ranges of the shards, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOutput {
    /// One entry per shard. Together they cover every row exactly once.
    pub ranges: Vec<KeyRange>,
    /// Rows the source expects to produce (0 when unknown).
    pub estimated_rows: u64,
    /// Smallest and largest value of an integer split key, when the planner read them: they
    /// bound the open-ended first and last ranges, so those can be read in pieces and split
    /// while they run.
    pub key_bounds: Option<KeyBounds>,
}

/// Identity of a shard attempt, carried into the commit marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardIdentity {
    /// Job id.
    pub job_id: JobId,
    /// Shard number.
    pub shard_id: ShardId,
    /// Attempt number.
    pub attempt: Attempt,
}

/// How a shard write ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Rows and commit marker committed together.
    Committed {
        /// Rows committed.
        rows: u64,
    },
    /// An earlier attempt had committed this shard; this attempt rolled back.
    AlreadyCommitted,
}

/// A readable store: plans key ranges and reads one range into Arrow batches.
///
/// Implementations are created per job (planning) or per shard attempt (reading) on a worker.
#[async_trait]
pub trait Source: Send + Sync {
    /// Returns the schema of the batches [`Source::read`] produces.
    async fn schema(&self) -> Result<SchemaRef>;

    /// Splits the source into key ranges that together cover every row exactly once.
    ///
    /// Called once per job, on a worker.
    async fn plan(&self, request: &PlanRequest) -> Result<PlanOutput>;

    /// Reads every row of `range` and sends it to `output` in batches, then returns.
    ///
    /// Does not send the end marker: the caller does, after `Ok`. An `Err` (or a panic) leaves
    /// the stream unterminated, which makes the sink roll back.
    async fn read(&self, range: &KeyRange, output: &BatchSender) -> Result<()>;

    /// Called once the shard's last [`Source::read`] returned `Ok`: a connector may keep what
    /// it opened (a database session) for the next shard of this process.
    async fn release(&self) {}
}

/// A writable store: prepares the target once per job and writes shards exactly once.
#[async_trait]
pub trait Sink: Send + Sync {
    /// Runs once per job before any shard, on a worker: creates the table when asked,
    /// truncates it for `truncate`, runs `pre_sql`.
    async fn prepare(&self, source_schema: SchemaRef) -> Result<()>;

    /// Writes one shard attempt: every batch of `input` and the commit marker
    /// `(job, shard, attempt)` in one transaction.
    ///
    /// Must commit or roll back before returning. Returns
    /// [`WriteOutcome::AlreadyCommitted`] (after rolling back) when a marker for
    /// `(job, shard)` exists already, and rolls back when `input` ends without its end marker.
    async fn write_shard(
        &self,
        shard: &ShardIdentity,
        input: BatchReceiver,
    ) -> Result<WriteOutcome>;

    /// Runs once per job after every shard committed: `post_sql`.
    async fn finalize(&self) -> Result<()>;

    /// Returns the largest value of `column` in the target table as text, `None` when the
    /// table does not exist, is empty or holds only NULLs there: the lower bound of an
    /// incremental job (`source.incremental`). Called once per job, on a worker, while
    /// planning and before [`Sink::prepare`].
    ///
    /// # Errors
    /// [`ConnectorError::Unsupported`] for sinks without tables (the default), or the
    /// store's error.
    async fn max_value(&self, column: &str) -> Result<Option<String>> {
        Err(ConnectorError::Unsupported(format!(
            "reading the largest value of {column} from this sink (source.incremental needs a postgresql, mysql, mariadb or sqlite sink)"
        )))
    }
}
