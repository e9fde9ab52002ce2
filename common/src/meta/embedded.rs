//! [`MetaStore`] in one local redb file, for `sluice standalone` and `sluice run`.
//!
//! The whole key space is kept in memory and written through to the file on every change, so
//! reads never touch the disk. Leases live in memory only: keys bound to a lease belong to a
//! process of this one and are not persisted. A background task expires leases.

use super::{
    DeleteOutcome, KeyValue, LeaseId, MetaStore, Precondition, PutOutcome, WatchEvent, WatchStream,
};
use crate::error::{MetaError, MetaResult};
use async_trait::async_trait;
use futures::StreamExt;
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

const KV_TABLE: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
const META_TABLE: TableDefinition<&str, i64> = TableDefinition::new("meta");
const REVISION_KEY: &str = "revision";
/// Events kept for watches that start at an earlier revision.
const HISTORY_LIMIT: usize = 100_000;
const REAPER_INTERVAL: Duration = Duration::from_millis(100);

/// Metadata store in a single redb file.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    database: redb::Database,
    state: Mutex<State>,
    events: broadcast::Sender<WatchEvent>,
}

#[derive(Debug, Clone)]
struct Entry {
    value: Vec<u8>,
    create_revision: i64,
    mod_revision: i64,
    lease: Option<LeaseId>,
}

struct LeaseState {
    ttl: Duration,
    deadline: Instant,
    keys: HashSet<String>,
}

#[derive(Default)]
struct State {
    entries: BTreeMap<String, Entry>,
    revision: i64,
    next_lease: i64,
    leases: HashMap<i64, LeaseState>,
    history: VecDeque<WatchEvent>,
}

impl EmbeddedStore {
    /// Opens (or creates) the store file at `path` and starts the lease reaper.
    ///
    /// Must be called inside a Tokio runtime.
    ///
    /// # Errors
    /// [`MetaError::Embedded`] when the file cannot be created or read.
    pub async fn open(path: impl AsRef<Path>) -> MetaResult<Self> {
        let path = path.as_ref().to_path_buf();
        let storage_error = |context: &str| {
            let path_text = path.display().to_string();
            let context = context.to_string();
            move |source: redb::Error| MetaError::Embedded {
                path: path_text,
                context,
                source: Box::new(source),
            }
        };
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|error| MetaError::Embedded {
                    path: path.display().to_string(),
                    context: "create parent directory".to_string(),
                    source: Box::new(redb::Error::Io(error)),
                })?;
            }
        }
        let database =
            redb::Database::create(&path).map_err(|error| storage_error("open")(error.into()))?;
        let mut state = State {
            next_lease: 1,
            ..State::default()
        };
        {
            let write = database
                .begin_write()
                .map_err(|error| storage_error("begin")(error.into()))?;
            write
                .open_table(KV_TABLE)
                .map_err(|error| storage_error("create kv table")(error.into()))?;
            write
                .open_table(META_TABLE)
                .map_err(|error| storage_error("create meta table")(error.into()))?;
            write
                .commit()
                .map_err(|error| storage_error("commit")(error.into()))?;
            let read = database
                .begin_read()
                .map_err(|error| storage_error("begin read")(error.into()))?;
            let kv_table = read
                .open_table(KV_TABLE)
                .map_err(|error| storage_error("open kv table")(error.into()))?;
            for item in kv_table
                .iter()
                .map_err(|error| storage_error("scan")(error.into()))?
            {
                let (key, value) = item.map_err(|error| storage_error("scan")(error.into()))?;
                let key_text = key.value().to_string();
                let entry = decode_entry(&key_text, value.value())?;
                state.entries.insert(key_text, entry);
            }
            let meta_table = read
                .open_table(META_TABLE)
                .map_err(|error| storage_error("open meta table")(error.into()))?;
            state.revision = meta_table
                .get(REVISION_KEY)
                .map_err(|error| storage_error("read revision")(error.into()))?
                .map_or(0, |guard| guard.value());
        }
        let (events, _) = broadcast::channel(4096);
        let inner = Arc::new(Inner {
            path,
            database,
            state: Mutex::new(state),
            events,
        });
        tokio::spawn(reap_expired_leases(Arc::downgrade(&inner)));
        Ok(EmbeddedStore { inner })
    }
}

fn encode_entry(entry: &Entry) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(16 + entry.value.len());
    bytes.extend_from_slice(&entry.create_revision.to_le_bytes());
    bytes.extend_from_slice(&entry.mod_revision.to_le_bytes());
    bytes.extend_from_slice(&entry.value);
    bytes
}

fn decode_entry(key: &str, bytes: &[u8]) -> MetaResult<Entry> {
    let corrupt = || MetaError::Corrupt {
        key: key.to_string(),
        message: format!("entry of {} bytes is shorter than its header", bytes.len()),
    };
    let create_bytes: [u8; 8] = bytes
        .get(0..8)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(corrupt)?;
    let mod_bytes: [u8; 8] = bytes
        .get(8..16)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(corrupt)?;
    Ok(Entry {
        value: bytes[16..].to_vec(),
        create_revision: i64::from_le_bytes(create_bytes),
        mod_revision: i64::from_le_bytes(mod_bytes),
        lease: None,
    })
}

fn to_key_value(key: &str, entry: &Entry) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: entry.value.clone(),
        create_revision: entry.create_revision,
        mod_revision: entry.mod_revision,
        lease: entry.lease,
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked mid-update; the map itself is
        // still consistent because every update is applied after the file write succeeded.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn storage_error(&self, context: &str, source: redb::Error) -> MetaError {
        MetaError::Embedded {
            path: self.path.display().to_string(),
            context: context.to_string(),
            source: Box::new(source),
        }
    }

    /// Writes the changes of one revision to the file: upserts, deletions and the counter.
    fn persist(
        &self,
        revision: i64,
        upserts: &[(&str, &Entry)],
        deletions: &[String],
    ) -> MetaResult<()> {
        let write = self
            .database
            .begin_write()
            .map_err(|error| self.storage_error("begin write", error.into()))?;
        {
            let mut kv_table = write
                .open_table(KV_TABLE)
                .map_err(|error| self.storage_error("open kv table", error.into()))?;
            for (key, entry) in upserts {
                if entry.lease.is_none() {
                    kv_table
                        .insert(key, encode_entry(entry).as_slice())
                        .map_err(|error| self.storage_error("insert", error.into()))?;
                }
            }
            for key in deletions {
                kv_table
                    .remove(key.as_str())
                    .map_err(|error| self.storage_error("remove", error.into()))?;
            }
            let mut meta_table = write
                .open_table(META_TABLE)
                .map_err(|error| self.storage_error("open meta table", error.into()))?;
            meta_table
                .insert(REVISION_KEY, revision)
                .map_err(|error| self.storage_error("write revision", error.into()))?;
        }
        write
            .commit()
            .map_err(|error| self.storage_error("commit", error.into()))
    }

    fn publish(&self, state: &mut State, event: WatchEvent) {
        state.history.push_back(event.clone());
        if state.history.len() > HISTORY_LIMIT {
            state.history.pop_front();
        }
        // No receiver is not an error: nobody watches right now.
        let _ = self.events.send(event);
    }

    /// Deletes `keys` at a new revision (used by revoke and expiry).
    fn delete_keys(&self, state: &mut State, keys: Vec<String>) -> MetaResult<()> {
        let existing: Vec<String> = keys
            .into_iter()
            .filter(|key| state.entries.contains_key(key))
            .collect();
        if existing.is_empty() {
            return Ok(());
        }
        let revision = state.revision + 1;
        self.persist(revision, &[], &existing)?;
        state.revision = revision;
        for key in existing {
            state.entries.remove(&key);
            self.publish(state, WatchEvent::Delete { key, revision });
        }
        Ok(())
    }

    fn expire_leases(&self) {
        let mut state = self.lock();
        let now = Instant::now();
        let expired: Vec<i64> = state
            .leases
            .iter()
            .filter(|(_, lease)| lease.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for lease_id in expired {
            if let Some(lease) = state.leases.remove(&lease_id) {
                let keys: Vec<String> = lease.keys.into_iter().collect();
                if let Err(error) = self.delete_keys(&mut state, keys) {
                    tracing::warn!(%error, lease_id, "could not delete keys of an expired lease");
                }
            }
        }
    }
}

async fn reap_expired_leases(inner: Weak<Inner>) {
    loop {
        tokio::time::sleep(REAPER_INTERVAL).await;
        let Some(strong) = inner.upgrade() else {
            return;
        };
        strong.expire_leases();
    }
}

fn condition_holds(condition: Precondition, current: Option<&Entry>) -> bool {
    match (condition, current) {
        (Precondition::None, _) => true,
        (Precondition::Absent, current) => current.is_none(),
        (Precondition::ModRevision(revision), Some(entry)) => entry.mod_revision == revision,
        (Precondition::ModRevision(_), None) => false,
    }
}

#[async_trait]
impl MetaStore for EmbeddedStore {
    async fn get(&self, key: &str) -> MetaResult<Option<KeyValue>> {
        let state = self.inner.lock();
        Ok(state.entries.get(key).map(|entry| to_key_value(key, entry)))
    }

    async fn list_prefix(&self, prefix: &str) -> MetaResult<Vec<KeyValue>> {
        let state = self.inner.lock();
        Ok(state
            .entries
            .range(prefix.to_string()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, entry)| to_key_value(key, entry))
            .collect())
    }

    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        condition: Precondition,
        lease: Option<LeaseId>,
    ) -> MetaResult<PutOutcome> {
        let mut state = self.inner.lock();
        let current = state.entries.get(key);
        if !condition_holds(condition, current) {
            return Ok(PutOutcome::Conflict {
                current: current.map(|entry| to_key_value(key, entry)),
            });
        }
        if let Some(lease_id) = lease {
            if !state.leases.contains_key(&lease_id.0) {
                return Err(MetaError::LeaseNotFound {
                    lease_id: lease_id.0,
                });
            }
        }
        let revision = state.revision + 1;
        let previous_lease = current.and_then(|entry| entry.lease);
        let entry = Entry {
            value,
            create_revision: current.map_or(revision, |entry| entry.create_revision),
            mod_revision: revision,
            lease,
        };
        // A key that moves from persisted to leased must leave the file.
        let deletions = if lease.is_some() && current.is_some_and(|e| e.lease.is_none()) {
            vec![key.to_string()]
        } else {
            Vec::new()
        };
        self.inner.persist(revision, &[(key, &entry)], &deletions)?;
        state.revision = revision;
        if let Some(previous) = previous_lease {
            if let Some(lease_state) = state.leases.get_mut(&previous.0) {
                lease_state.keys.remove(key);
            }
        }
        if let Some(lease_id) = lease {
            if let Some(lease_state) = state.leases.get_mut(&lease_id.0) {
                lease_state.keys.insert(key.to_string());
            }
        }
        let event = WatchEvent::Put(to_key_value(key, &entry));
        state.entries.insert(key.to_string(), entry);
        self.inner.publish(&mut state, event);
        Ok(PutOutcome::Written { revision })
    }

    async fn create_all(&self, entries: Vec<(String, Vec<u8>)>) -> MetaResult<Option<i64>> {
        let mut state = self.inner.lock();
        if entries
            .iter()
            .any(|(key, _)| state.entries.contains_key(key))
        {
            return Ok(None);
        }
        let revision = state.revision + 1;
        let written: Vec<(String, Entry)> = entries
            .into_iter()
            .map(|(key, value)| {
                (
                    key,
                    Entry {
                        value,
                        create_revision: revision,
                        mod_revision: revision,
                        lease: None,
                    },
                )
            })
            .collect();
        let upserts: Vec<(&str, &Entry)> = written
            .iter()
            .map(|(key, entry)| (key.as_str(), entry))
            .collect();
        self.inner.persist(revision, &upserts, &[])?;
        state.revision = revision;
        for (key, entry) in written {
            let event = WatchEvent::Put(to_key_value(&key, &entry));
            state.entries.insert(key, entry);
            self.inner.publish(&mut state, event);
        }
        Ok(Some(revision))
    }

    async fn put_all(&self, entries: Vec<(String, Vec<u8>)>) -> MetaResult<i64> {
        let mut state = self.inner.lock();
        let revision = state.revision + 1;
        let mut written: Vec<(String, Entry)> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let current = state.entries.get(&key);
            written.push((
                key,
                Entry {
                    value,
                    create_revision: current.map_or(revision, |entry| entry.create_revision),
                    mod_revision: revision,
                    lease: None,
                },
            ));
        }
        let upserts: Vec<(&str, &Entry)> = written
            .iter()
            .map(|(key, entry)| (key.as_str(), entry))
            .collect();
        self.inner.persist(revision, &upserts, &[])?;
        state.revision = revision;
        for (key, entry) in written {
            if let Some(previous) = state.entries.get(&key).and_then(|entry| entry.lease) {
                if let Some(lease_state) = state.leases.get_mut(&previous.0) {
                    lease_state.keys.remove(&key);
                }
            }
            let event = WatchEvent::Put(to_key_value(&key, &entry));
            state.entries.insert(key, entry);
            self.inner.publish(&mut state, event);
        }
        Ok(revision)
    }

    async fn delete(&self, key: &str, condition: Precondition) -> MetaResult<DeleteOutcome> {
        let mut state = self.inner.lock();
        let current = state.entries.get(key);
        if !condition_holds(condition, current) {
            return Ok(DeleteOutcome::Conflict);
        }
        let Some(entry) = current else {
            return Ok(DeleteOutcome::NotFound);
        };
        if let Some(lease_id) = entry.lease {
            if let Some(lease_state) = state.leases.get_mut(&lease_id.0) {
                lease_state.keys.remove(key);
            }
        }
        self.inner.delete_keys(&mut state, vec![key.to_string()])?;
        Ok(DeleteOutcome::Deleted)
    }

    async fn grant_lease(&self, ttl: Duration) -> MetaResult<LeaseId> {
        let mut state = self.inner.lock();
        let lease_id = state.next_lease;
        state.next_lease += 1;
        state.leases.insert(
            lease_id,
            LeaseState {
                ttl,
                deadline: Instant::now() + ttl,
                keys: HashSet::new(),
            },
        );
        Ok(LeaseId(lease_id))
    }

    async fn keep_alive(&self, lease: LeaseId) -> MetaResult<()> {
        let mut state = self.inner.lock();
        let Some(lease_state) = state.leases.get_mut(&lease.0) else {
            return Err(MetaError::LeaseNotFound { lease_id: lease.0 });
        };
        if lease_state.deadline <= Instant::now() {
            return Err(MetaError::LeaseNotFound { lease_id: lease.0 });
        }
        lease_state.deadline = Instant::now() + lease_state.ttl;
        Ok(())
    }

    async fn revoke_lease(&self, lease: LeaseId) -> MetaResult<()> {
        let mut state = self.inner.lock();
        let Some(lease_state) = state.leases.remove(&lease.0) else {
            return Err(MetaError::LeaseNotFound { lease_id: lease.0 });
        };
        let keys: Vec<String> = lease_state.keys.into_iter().collect();
        self.inner.delete_keys(&mut state, keys)
    }

    async fn watch_prefix(
        &self,
        prefix: &str,
        start_revision: Option<i64>,
    ) -> MetaResult<WatchStream> {
        // Subscribing and copying the history under one lock leaves no gap between them.
        let state = self.inner.lock();
        let receiver = self.inner.events.subscribe();
        let replay: Vec<WatchEvent> = match start_revision {
            Some(revision) => state
                .history
                .iter()
                .filter(|event| event.revision() >= revision && event.key().starts_with(prefix))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let oldest_kept = state.history.front().map(WatchEvent::revision);
        drop(state);
        if let (Some(revision), Some(oldest)) = (start_revision, oldest_kept) {
            if revision < oldest && oldest > 1 {
                return Err(MetaError::WatchEnded {
                    prefix: prefix.to_string(),
                    reason: format!(
                        "revision {revision} is older than the history kept (from {oldest})"
                    ),
                });
            }
        }
        let last_replayed = replay.last().map(WatchEvent::revision).unwrap_or(i64::MIN);
        let owned_prefix = prefix.to_string();
        let live = BroadcastStream::new(receiver).filter_map(move |item| {
            let owned_prefix = owned_prefix.clone();
            async move {
                match item {
                    Ok(event)
                        if event.key().starts_with(&owned_prefix)
                            && event.revision() > last_replayed =>
                    {
                        Some(Ok(event))
                    }
                    Ok(_) => None,
                    Err(lagged) => Some(Err(MetaError::WatchEnded {
                        prefix: owned_prefix,
                        reason: format!("watcher fell behind: {lagged}"),
                    })),
                }
            }
        });
        let stream = futures::stream::iter(replay.into_iter().map(Ok)).chain(live);
        Ok(Box::pin(stream))
    }

    fn describe(&self) -> String {
        format!("embedded {}", self.inner.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::EmbeddedStore;

    async fn fresh_store() -> EmbeddedStore {
        let directory = tempfile::tempdir().expect("temp dir").keep();
        EmbeddedStore::open(directory.join("meta.redb"))
            .await
            .expect("open store")
    }

    crate::meta_store_conformance!(fresh_store());

    #[tokio::test]
    async fn values_and_revisions_survive_reopen() {
        use crate::meta::{MetaStore, Precondition};
        let directory = tempfile::tempdir().expect("temp dir");
        let path = directory.path().join("meta.redb");
        let revision = {
            let store = EmbeddedStore::open(&path).await.expect("open");
            store
                .put("jobs/a", b"1".to_vec(), Precondition::None, None)
                .await
                .expect("put");
            let lease = store
                .grant_lease(std::time::Duration::from_secs(60))
                .await
                .expect("lease");
            store
                .put("workers/w", b"x".to_vec(), Precondition::None, Some(lease))
                .await
                .expect("put");
            store
                .get("jobs/a")
                .await
                .expect("get")
                .expect("present")
                .mod_revision
        };
        let reopened = EmbeddedStore::open(&path).await.expect("reopen");
        let stored = reopened
            .get("jobs/a")
            .await
            .expect("get")
            .expect("persisted");
        assert_eq!(stored.mod_revision, revision);
        assert!(
            reopened.get("workers/w").await.expect("get").is_none(),
            "leased keys are not persisted"
        );
        let outcome = reopened
            .put("jobs/b", b"2".to_vec(), Precondition::None, None)
            .await
            .expect("put");
        assert!(
            matches!(outcome, crate::meta::PutOutcome::Written { revision: r } if r > revision + 1)
        );
    }
}
