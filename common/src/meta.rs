//! The metadata store seam: everything durable the coordinator knows lives behind
//! [`MetaStore`]. Two implementations share one conformance suite:
//! [`etcd::EtcdStore`] for clusters and [`embedded::EmbeddedStore`] (one redb file) for
//! `sluice standalone` and `sluice run`.
//!
//! Keys are plain strings relative to the cluster prefix; [`keys`] documents every key.

pub mod embedded;
pub mod etcd;
pub mod keys;

#[cfg(any(test, feature = "testing"))]
pub mod conformance;

use crate::error::MetaResult;
use async_trait::async_trait;
use futures::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A key with its value and revisions, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// Key relative to the cluster prefix.
    pub key: String,
    /// Stored bytes.
    pub value: Vec<u8>,
    /// Store revision at which the key was created.
    pub create_revision: i64,
    /// Store revision of the last change to the key; the token for compare-and-swap.
    pub mod_revision: i64,
    /// Lease the key is bound to, if any.
    pub lease: Option<LeaseId>,
}

/// Identifier of a lease: keys put under it disappear when it expires or is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LeaseId(pub i64);

/// Condition under which a write happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Write unconditionally.
    None,
    /// Write only if the key does not exist.
    Absent,
    /// Write only if the key exists with exactly this `mod_revision`.
    ModRevision(i64),
}

impl Precondition {
    /// Returns the condition of a read-modify-write: the key must still be absent when it was
    /// read as absent (`revision` 0), else still at the revision read.
    pub fn unchanged_since(revision: i64) -> Self {
        if revision == 0 {
            Precondition::Absent
        } else {
            Precondition::ModRevision(revision)
        }
    }
}

/// Result of a conditional put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// The value was written at this store revision.
    Written {
        /// The key's new `mod_revision`.
        revision: i64,
    },
    /// The precondition did not hold; nothing was written.
    Conflict {
        /// The key as it is now (`None` when absent).
        current: Option<KeyValue>,
    },
}

impl PutOutcome {
    /// Returns whether the write happened.
    pub fn is_written(&self) -> bool {
        matches!(self, PutOutcome::Written { .. })
    }
}

/// Result of a conditional delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The key existed and was deleted.
    Deleted,
    /// The key did not exist (and the precondition allowed that).
    NotFound,
    /// The precondition did not hold; nothing was deleted.
    Conflict,
}

/// A change seen by a watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// A key was created or changed.
    Put(KeyValue),
    /// A key was deleted (explicitly or by lease expiry).
    Delete {
        /// The key.
        key: String,
        /// Store revision of the deletion.
        revision: i64,
    },
}

impl WatchEvent {
    /// Returns the key the event is about.
    pub fn key(&self) -> &str {
        match self {
            WatchEvent::Put(key_value) => &key_value.key,
            WatchEvent::Delete { key, .. } => key,
        }
    }

    /// Returns the store revision of the event.
    pub fn revision(&self) -> i64 {
        match self {
            WatchEvent::Put(key_value) => key_value.mod_revision,
            WatchEvent::Delete { revision, .. } => *revision,
        }
    }
}

/// A stream of changes under a prefix, in revision order.
pub type WatchStream = Pin<Box<dyn Stream<Item = MetaResult<WatchEvent>> + Send>>;

/// Durable key-value metadata with revisions, leases and watches.
///
/// Contract shared by every implementation (checked by [`conformance`]):
/// - every successful write gets a store revision greater than any before it;
/// - conditional writes are atomic: of several writers racing on one revision, exactly one wins;
/// - keys bound to a lease disappear (with a delete event) once the lease is not kept alive
///   for its TTL, or is revoked;
/// - a watch delivers every change under its prefix in revision order, starting at
///   `start_revision` (inclusive) when given, else with the changes after the call.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Returns the key's current value, or `None` when absent.
    async fn get(&self, key: &str) -> MetaResult<Option<KeyValue>>;

    /// Returns every key starting with `prefix`, sorted by key.
    async fn list_prefix(&self, prefix: &str) -> MetaResult<Vec<KeyValue>>;

    /// Writes `value` at `key` if `condition` holds, bound to `lease` when given.
    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        condition: Precondition,
        lease: Option<LeaseId>,
    ) -> MetaResult<PutOutcome>;

    /// Writes every entry (no lease, no precondition) in one atomic transaction: after a crash
    /// either all of them are stored or none. Returns the revision of the write.
    async fn put_all(&self, entries: Vec<(String, Vec<u8>)>) -> MetaResult<i64>;

    /// Creates every entry (no lease) in one atomic transaction if none of the keys exists:
    /// either all are written, at one revision, or (when a key exists) none. Returns the
    /// revision of the write, or `None` when a key existed and nothing was written.
    async fn create_all(&self, entries: Vec<(String, Vec<u8>)>) -> MetaResult<Option<i64>>;

    /// Deletes `key` if `condition` holds.
    async fn delete(&self, key: &str, condition: Precondition) -> MetaResult<DeleteOutcome>;

    /// Creates a lease that expires after `ttl` without a keep-alive.
    async fn grant_lease(&self, ttl: Duration) -> MetaResult<LeaseId>;

    /// Renews a lease for another TTL.
    ///
    /// # Errors
    /// [`MetaError::LeaseNotFound`](crate::MetaError::LeaseNotFound) once it has expired.
    async fn keep_alive(&self, lease: LeaseId) -> MetaResult<()>;

    /// Revokes a lease at once, deleting its keys.
    async fn revoke_lease(&self, lease: LeaseId) -> MetaResult<()>;

    /// Watches every key starting with `prefix`.
    async fn watch_prefix(
        &self,
        prefix: &str,
        start_revision: Option<i64>,
    ) -> MetaResult<WatchStream>;

    /// Returns a one-line description for logs (never includes credentials).
    fn describe(&self) -> String;
}

/// A shared, dynamically typed metadata store.
pub type SharedMetaStore = Arc<dyn MetaStore>;

/// Returns the smallest key greater than every key starting with `prefix` (etcd's range end).
pub(crate) fn prefix_range_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_range_end_increments_last_byte() {
        assert_eq!(prefix_range_end("jobs/"), b"jobs0".to_vec());
        assert_eq!(prefix_range_end("a"), b"b".to_vec());
        assert_eq!(prefix_range_end(""), vec![0]);
    }
}
