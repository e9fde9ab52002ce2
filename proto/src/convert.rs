//! Conversions between the domain types of `sluice-common` (records, key ranges, connections)
//! and the API messages, shared by the coordinator, the worker and the CLI.

use crate::v1 as pb;
use prost_types::Timestamp;
use sluice_common::records::{Counters, JobState, KeyRange, ShardState, TransformerCounts};
use sluice_common::spec::ConnectionConfig;

/// Returns a protobuf timestamp for Unix milliseconds.
pub fn timestamp(unix_ms: i64) -> Timestamp {
    Timestamp {
        seconds: unix_ms.div_euclid(1000),
        nanos: i32::try_from(unix_ms.rem_euclid(1000) * 1_000_000).unwrap_or(0),
    }
}

/// Converts counters to the API message.
pub fn counters_to_proto(counters: Counters) -> pb::Counters {
    pb::Counters {
        rows_read: counters.rows_read,
        bytes_read: counters.bytes_read,
        rows_written: counters.rows_written,
        bytes_written: counters.bytes_written,
        dirty_records: counters.dirty_records,
    }
}

/// Converts counters from the API message.
pub fn counters_from_proto(counters: Option<&pb::Counters>) -> Counters {
    counters.map_or_else(Counters::default, |c| Counters {
        rows_read: c.rows_read,
        bytes_read: c.bytes_read,
        rows_written: c.rows_written,
        bytes_written: c.bytes_written,
        dirty_records: c.dirty_records,
    })
}

/// Converts per-transformer counts to the API messages; `names` gives each its name (missing
/// names are left empty).
pub fn transformer_counts_to_proto(
    counts: &[TransformerCounts],
    names: &[&str],
) -> Vec<pb::TransformerCounters> {
    counts
        .iter()
        .enumerate()
        .map(|(index, count)| pb::TransformerCounters {
            name: names
                .get(index)
                .map_or_else(String::new, |name| (*name).to_string()),
            rows_in: count.rows_in,
            rows_out: count.rows_out,
            filtered: count.filtered,
            failed: count.failed,
        })
        .collect()
}

/// Converts per-transformer counts from the API messages.
pub fn transformer_counts_from_proto(counts: &[pb::TransformerCounters]) -> Vec<TransformerCounts> {
    counts
        .iter()
        .map(|count| TransformerCounts {
            rows_in: count.rows_in,
            rows_out: count.rows_out,
            filtered: count.filtered,
            failed: count.failed,
        })
        .collect()
}

/// Converts a job state to the API enum.
pub fn job_state_to_proto(state: JobState) -> pb::JobState {
    match state {
        JobState::Planning => pb::JobState::Planning,
        JobState::Running => pb::JobState::Running,
        JobState::Finalizing => pb::JobState::Finalizing,
        JobState::Succeeded => pb::JobState::Succeeded,
        JobState::Failed => pb::JobState::Failed,
        JobState::Cancelled => pb::JobState::Cancelled,
    }
}

/// Converts an API job state filter; `Unspecified` means no filter.
pub fn job_state_from_proto(state: pb::JobState) -> Option<JobState> {
    match state {
        pb::JobState::Unspecified => None,
        pb::JobState::Planning => Some(JobState::Planning),
        pb::JobState::Running => Some(JobState::Running),
        pb::JobState::Finalizing => Some(JobState::Finalizing),
        pb::JobState::Succeeded => Some(JobState::Succeeded),
        pb::JobState::Failed => Some(JobState::Failed),
        pb::JobState::Cancelled => Some(JobState::Cancelled),
    }
}

/// Converts a shard state to the API enum.
pub fn shard_state_to_proto(state: ShardState) -> pb::ShardState {
    match state {
        ShardState::Pending => pb::ShardState::Pending,
        ShardState::Assigned => pb::ShardState::Assigned,
        ShardState::Running => pb::ShardState::Running,
        ShardState::Committed => pb::ShardState::Committed,
        ShardState::Failed => pb::ShardState::Failed,
    }
}

/// Converts a key range to the API message.
pub fn key_range_to_proto(range: &KeyRange) -> pb::KeyRange {
    use pb::key_range::Kind;
    let kind = match range {
        KeyRange::All => Kind::All(pb::AllKeys {}),
        KeyRange::Null => Kind::NullKeys(pb::NullKeys {}),
        KeyRange::Int { lo, hi } => Kind::IntRange(pb::IntRange { lo: *lo, hi: *hi }),
        KeyRange::Text { lo, hi } => Kind::TextRange(pb::TextRange {
            lo: lo.clone(),
            hi: hi.clone(),
        }),
        KeyRange::Pages { lo, hi } => Kind::PageRange(pb::PageRange { lo: *lo, hi: *hi }),
    };
    pb::KeyRange { kind: Some(kind) }
}

/// Converts a key range from the API message; a missing kind means every row.
pub fn key_range_from_proto(range: Option<&pb::KeyRange>) -> KeyRange {
    use pb::key_range::Kind;
    match range.and_then(|r| r.kind.as_ref()) {
        None | Some(Kind::All(_)) => KeyRange::All,
        Some(Kind::NullKeys(_)) => KeyRange::Null,
        Some(Kind::IntRange(int)) => KeyRange::Int {
            lo: int.lo,
            hi: int.hi,
        },
        Some(Kind::TextRange(text)) => KeyRange::Text {
            lo: text.lo.clone(),
            hi: text.hi.clone(),
        },
        Some(Kind::PageRange(pages)) => KeyRange::Pages {
            lo: pages.lo,
            hi: pages.hi,
        },
    }
}

/// Converts a resolved connection to the API message (sent to workers only).
pub fn connection_to_proto(connection: &ConnectionConfig) -> pb::ConnectionConfig {
    pb::ConnectionConfig {
        r#type: connection.kind.clone(),
        options: connection.options.clone().into_iter().collect(),
        secrets: connection.secrets.clone().into_iter().collect(),
    }
}

/// Converts a resolved connection from the API message.
pub fn connection_from_proto(connection: Option<&pb::ConnectionConfig>) -> ConnectionConfig {
    connection.map_or_else(ConnectionConfig::default, |c| ConnectionConfig {
        kind: c.r#type.clone(),
        options: c.options.clone().into_iter().collect(),
        secrets: c.secrets.clone().into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ranges_round_trip() {
        for range in [
            KeyRange::All,
            KeyRange::Null,
            KeyRange::Int {
                lo: Some(-5),
                hi: None,
            },
            KeyRange::Text {
                lo: None,
                hi: Some("m".into()),
            },
            KeyRange::Pages { lo: 3, hi: Some(9) },
        ] {
            assert_eq!(
                key_range_from_proto(Some(&key_range_to_proto(&range))),
                range
            );
        }
    }

    #[test]
    fn timestamps_split_milliseconds() {
        let converted = timestamp(1_500);
        assert_eq!((converted.seconds, converted.nanos), (1, 500_000_000));
    }
}
