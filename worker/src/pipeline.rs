//! Runs one shard attempt: reader -> bounded channel of Arrow batches -> writer, committed
//! with the attempt's commit marker.

use crate::pieces::PieceCursor;
use sluice_common::ids::{Attempt, JobId, ShardId, WorkerId};
use sluice_common::records::{Counters, KeyRange};
use sluice_common::spec::{
    parse_job_spec, parse_transformers, validate, ConnectionConfig, SpecFormat, ValidatedJobSpec,
};
use sluice_connectors::dirty_table;
use sluice_connectors::{
    batch_channel, open_sink, open_source, ConnectorError, ShardCounters, ShardIdentity,
    WriteOutcome,
};
use std::sync::Arc;
use tracing::Instrument;

/// Everything a shard attempt needs.
#[derive(Debug, Clone)]
pub struct ShardWork {
    /// Job id.
    pub job_id: JobId,
    /// Shard id.
    pub shard_id: ShardId,
    /// Attempt.
    pub attempt: Attempt,
    /// Key range.
    pub range: KeyRange,
    /// The job spec as JSON.
    pub spec_json: String,
    /// Source connection.
    pub source_connection: ConnectionConfig,
    /// Sink connection.
    pub sink_connection: ConnectionConfig,
    /// Connection of `settings.dirty_data`, when the job has one.
    pub dirty_connection: Option<ConnectionConfig>,
    /// Reads the range in pieces (so it can be split while it runs); `None` reads it whole.
    pub pieces: Option<Arc<PieceCursor>>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardEnd {
    /// Committed.
    Committed,
    /// An earlier attempt had committed the shard.
    AlreadyCommitted,
    /// Cancelled and rolled back.
    Cancelled,
    /// Failed.
    Failed {
        /// The error chain.
        reason: String,
        /// Whether another attempt may succeed.
        retryable: bool,
    },
}

/// Writes a committed shard's dirty records into `settings.dirty_data`'s table, when the job
/// has one. The shard is committed already: a failure here is logged (the records stay in the
/// cluster's dirty-data store), it does not fail the shard.
async fn write_dirty_data(
    identity: &ShardIdentity,
    validated: &ValidatedJobSpec,
    connection: Option<&ConnectionConfig>,
    counters: &ShardCounters,
) {
    let (Some(connection), Some(dirty)) = (connection, &validated.spec.settings.dirty_data) else {
        return;
    };
    let rows = dirty_table::rows(identity, counters.stored_dirty());
    if rows.is_empty() {
        return;
    }
    let count = rows.len();
    match dirty_table::write_to_data_source(connection, &dirty.table, rows).await {
        Ok(()) => {
            tracing::info!(records = count, table = %dirty.table, datasource = %dirty.datasource, "dirty records written to the dirty-data table")
        }
        Err(error) => {
            tracing::warn!(%error, table = %dirty.table, datasource = %dirty.datasource, "cannot write dirty records to the dirty-data table; they stay in the cluster's dirty-data store")
        }
    }
}

/// Parses and validates the spec a coordinator sent.
///
/// # Errors
/// The validation problems as one message (the coordinator validated it already, so this only
/// fails when versions disagree).
pub fn spec_of(spec_json: &str) -> Result<ValidatedJobSpec, String> {
    let spec = parse_job_spec(spec_json, SpecFormat::Json).map_err(|errors| errors.to_string())?;
    validate(spec).map_err(|errors| errors.to_string())
}

/// Formats an error with its whole source chain.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn failed(error: &ConnectorError) -> ShardEnd {
    ShardEnd::Failed {
        reason: error_chain(error),
        retryable: error.is_retryable(),
    }
}

/// Runs one attempt to its end. Never panics on bad input: every problem becomes
/// [`ShardEnd::Failed`].
pub async fn run_shard(
    work: ShardWork,
    worker_id: WorkerId,
    counters: Arc<ShardCounters>,
    channel_batches: usize,
) -> (ShardEnd, Counters) {
    let span = tracing::info_span!(
        "shard",
        job_id = %work.job_id,
        shard_id = %work.shard_id,
        attempt = %work.attempt,
        worker_id = %worker_id,
    );
    let end = run_shard_inner(work, Arc::clone(&counters), channel_batches)
        .instrument(span)
        .await;
    (end, counters.snapshot())
}

async fn run_shard_inner(
    work: ShardWork,
    counters: Arc<ShardCounters>,
    channel_batches: usize,
) -> ShardEnd {
    let validated = match spec_of(&work.spec_json) {
        Ok(validated) => validated,
        Err(reason) => {
            return ShardEnd::Failed {
                reason,
                retryable: false,
            }
        }
    };
    let source = match open_source(&validated, &work.source_connection) {
        Ok(source) => source,
        Err(error) => return failed(&error),
    };
    let sink = match open_sink(&validated, &work.sink_connection) {
        Ok(sink) => sink,
        Err(error) => return failed(&error),
    };
    tracing::debug!(range = %work.range, "shard starting");
    let identity = ShardIdentity {
        job_id: work.job_id.clone(),
        shard_id: work.shard_id,
        attempt: work.attempt,
    };
    let work_identity = identity.clone();
    let dirty_connection = work.dirty_connection.clone();
    let transformers = match parse_transformers(&validated.spec.transformers) {
        Ok(transformers) => transformers,
        Err(errors) => {
            return ShardEnd::Failed {
                reason: errors.to_string(),
                retryable: false,
            }
        }
    };
    let (sender, source_receiver) = batch_channel(channel_batches, Arc::clone(&counters));
    // Without transformers the writer reads the reader's channel; with them a chain stage sits
    // between two channels.
    let (receiver, chain_stage) = if transformers.is_empty() {
        (source_receiver, None)
    } else {
        let (chain_sender, chain_receiver) = batch_channel(channel_batches, Arc::clone(&counters));
        let stage =
            sluice_connectors::transform::run_chain(transformers, source_receiver, chain_sender);
        (chain_receiver, Some(stage))
    };
    let chain = async move {
        match chain_stage {
            Some(stage) => stage.await,
            None => Ok(()),
        }
    };
    let range = work.range.clone();
    let pieces = work.pieces.clone();
    let reader_counters = Arc::clone(&counters);
    let reader = async move {
        match pieces {
            Some(cursor) => {
                while let Some(piece) = cursor.next_piece(|| reader_counters.is_cancelled()).await {
                    if let KeyRange::Int { lo: Some(lo), .. } = &piece {
                        reader_counters.set_current_key(lo.to_string());
                    }
                    source.read(&piece, &sender).await?;
                }
                if reader_counters.is_cancelled() {
                    return Err(ConnectorError::Aborted);
                }
            }
            None => source.read(&range, &sender).await?,
        }
        source.release().await;
        sender.finish().await
    };
    let writer = sink.write_shard(&identity, receiver);
    let (read_result, chain_result, write_result) = tokio::join!(reader, chain, writer);
    // When the chain stage fails, the reader and writer only see their channels cut off.
    let read_result = match chain_result {
        Err(chain_error) if !matches!(chain_error, ConnectorError::Aborted) => Err(chain_error),
        _ => read_result,
    };
    if counters.is_cancelled()
        && !matches!(
            write_result,
            Ok(WriteOutcome::Committed { .. }) | Ok(WriteOutcome::AlreadyCommitted)
        )
    {
        return ShardEnd::Cancelled;
    }
    match (read_result, write_result) {
        (_, Ok(WriteOutcome::Committed { rows })) => {
            tracing::info!(rows, "shard committed");
            write_dirty_data(
                &work_identity,
                &validated,
                dirty_connection.as_ref(),
                &counters,
            )
            .await;
            ShardEnd::Committed
        }
        (_, Ok(WriteOutcome::AlreadyCommitted)) => {
            tracing::info!("shard already committed by an earlier attempt; rolled back");
            ShardEnd::AlreadyCommitted
        }
        // The writer only sees that its input was cut off; the reader knows why.
        (Err(read_error), Err(ConnectorError::Aborted)) => failed(&read_error),
        (_, Err(write_error)) => failed(&write_error),
    }
}
