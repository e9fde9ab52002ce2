//! The dirty-data store: every dirty record of a shard attempt, in full, as one JSON-lines
//! object per attempt under the cluster's data location:
//! `{location}/dirty/{job_id}/{shard:06}-{attempt:03}.jsonl`.
//!
//! Workers write an attempt's file when the attempt ends (whatever its outcome); the
//! coordinator lists a job's records from the committed attempt of each shard, or its latest
//! attempt when none committed, so a retried shard's rows are not listed twice.

use crate::error::{ConnectorError, Result};
use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Stage of the pipeline at which a record became dirty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DirtyStage {
    /// The source could not read or convert the row.
    Read,
    /// A transformer failed on the row.
    Transform,
    /// The sink could not convert or write the row.
    Write,
}

/// One dirty record, stored in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirtyRecord {
    /// Shard it came from.
    pub shard_id: u32,
    /// Attempt that met it.
    pub attempt: u32,
    /// Pipeline stage.
    pub stage: DirtyStage,
    /// Column at fault, when known.
    pub column: String,
    /// The store's error or the conversion problem.
    pub error: String,
    /// The row's values as JSON.
    pub row: String,
}

/// A dirty-data store at a location: an absolute local directory (or `file:///dir`), or an
/// `s3://bucket/prefix` URL (credentials, region and endpoint from the `AWS_*` environment).
#[derive(Debug, Clone)]
pub struct DirtyStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
}

impl DirtyStore {
    /// Opens the store at `location`.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] at `data_location` when the location is not an absolute path
    /// or a `file://` / `s3://` URL, or cannot be opened.
    pub fn open(location: &str) -> Result<Self> {
        let bad = |message: String| ConnectorError::config("data_location", message);
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let store = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|error| bad(format!("cannot open {location}: {error}")))?;
            return Ok(DirtyStore {
                store: Arc::new(store),
                prefix: Path::from(prefix.trim_matches('/')),
            });
        }
        let directory = location.strip_prefix("file://").unwrap_or(location);
        if !directory.starts_with('/') {
            return Err(bad(format!(
                "\"{location}\" must be an absolute directory, file:///dir or s3://bucket/prefix"
            )));
        }
        std::fs::create_dir_all(directory)
            .map_err(|error| bad(format!("cannot create {directory}: {error}")))?;
        let store = LocalFileSystem::new_with_prefix(directory)
            .map_err(|error| bad(format!("cannot open {directory}: {error}")))?;
        Ok(DirtyStore {
            store: Arc::new(store),
            prefix: Path::default(),
        })
    }

    fn job_prefix(&self, job_id: &str) -> Path {
        let mut path = self.prefix.clone();
        for part in ["dirty", job_id] {
            path = path.join(part);
        }
        path
    }

    /// Writes the records of one attempt (nothing when there are none).
    ///
    /// # Errors
    /// [`ConnectorError::ObjectStore`] when the object cannot be written.
    pub async fn write_attempt(
        &self,
        job_id: &str,
        shard_id: u32,
        attempt: u32,
        records: &[DirtyRecord],
    ) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for record in records {
            text.push_str(&serde_json::to_string(record).unwrap_or_default());
            text.push('\n');
        }
        let path = self
            .job_prefix(job_id)
            .join(format!("{shard_id:06}-{attempt:03}.jsonl"));
        self.store
            .put(&path, PutPayload::from(Bytes::from(text)))
            .await
            .map_err(|error| ConnectorError::ObjectStore {
                context: format!("dirty store: write {path}"),
                source: error,
            })?;
        Ok(())
    }

    /// Returns the job's records: per shard, those of `committed(shard)` when that attempt has
    /// a file, else those of its latest attempt; ordered by shard.
    ///
    /// # Errors
    /// When the store cannot be listed or read, or a line is not a record.
    pub async fn read_job(
        &self,
        job_id: &str,
        committed: impl Fn(u32) -> Option<u32>,
    ) -> Result<Vec<DirtyRecord>> {
        let prefix = self.job_prefix(job_id);
        let listed: Vec<_> =
            self.store
                .list(Some(&prefix))
                .try_collect()
                .await
                .map_err(|error| ConnectorError::ObjectStore {
                    context: format!("dirty store: list {prefix}"),
                    source: error,
                })?;
        let mut chosen: std::collections::BTreeMap<u32, (u32, Path)> = Default::default();
        for meta in listed {
            let Some(name) = meta.location.filename() else {
                continue;
            };
            let Some((shard_text, attempt_text)) = name
                .strip_suffix(".jsonl")
                .and_then(|stem| stem.split_once('-'))
            else {
                continue;
            };
            let (Ok(shard), Ok(attempt)) = (shard_text.parse::<u32>(), attempt_text.parse::<u32>())
            else {
                continue;
            };
            let preferred = committed(shard);
            let better = match chosen.get(&shard) {
                None => true,
                Some((current, _)) if preferred == Some(*current) => false,
                Some((current, _)) => preferred == Some(attempt) || attempt > *current,
            };
            if better {
                chosen.insert(shard, (attempt, meta.location));
            }
        }
        let mut records = Vec::new();
        for (_, (_, path)) in chosen {
            let bytes = self
                .store
                .get(&path)
                .await
                .map_err(|error| ConnectorError::ObjectStore {
                    context: format!("dirty store: read {path}"),
                    source: error,
                })?
                .bytes()
                .await
                .map_err(|error| ConnectorError::ObjectStore {
                    context: format!("dirty store: read {path}"),
                    source: error,
                })?;
            for line in String::from_utf8_lossy(&bytes).lines() {
                if line.trim().is_empty() {
                    continue;
                }
                let record: DirtyRecord = serde_json::from_str(line).map_err(|error| {
                    ConnectorError::config("data_location", format!("{path}: bad record: {error}"))
                })?;
                records.push(record);
            }
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(shard_id: u32, attempt: u32, row: &str) -> DirtyRecord {
        DirtyRecord {
            shard_id,
            attempt,
            stage: DirtyStage::Write,
            column: "amount".into(),
            error: "value too long".into(),
            row: row.into(),
        }
    }

    #[tokio::test]
    async fn the_committed_or_latest_attempt_of_each_shard_is_listed_once() {
        let directory = tempfile::tempdir().expect("temp dir");
        let location = directory.path().display().to_string();
        let store = DirtyStore::open(&location).expect("open");
        store
            .write_attempt("job", 1, 1, &[record(1, 1, "a1")])
            .await
            .expect("write");
        store
            .write_attempt("job", 1, 2, &[record(1, 2, "a2")])
            .await
            .expect("write");
        store
            .write_attempt("job", 2, 1, &[record(2, 1, "b1"), record(2, 1, "b2")])
            .await
            .expect("write");
        store
            .write_attempt("job", 2, 2, &[record(2, 2, "b-retry")])
            .await
            .expect("write");
        store.write_attempt("job", 3, 1, &[]).await.expect("empty");
        // Shard 1 committed with attempt 1; shard 2 never committed: its latest attempt.
        let records = store
            .read_job("job", |shard| (shard == 1).then_some(1))
            .await
            .expect("read");
        let rows: Vec<&str> = records.iter().map(|record| record.row.as_str()).collect();
        assert_eq!(rows, vec!["a1", "b-retry"]);
        assert!(store
            .read_job("other", |_| None)
            .await
            .expect("empty")
            .is_empty());
        assert!(DirtyStore::open("relative/dir").is_err());
    }
}
