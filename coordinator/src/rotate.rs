//! Key rotation: seals every stored secret again under a new key.
//!
//! Secrets live in two kinds of records: data sources (one sealed set per environment) and
//! jobs (their resolved connections). [`rotate_secrets`] rewrites each record whose secrets
//! are not all under the cipher's primary key, with a compare-and-swap on the record's
//! revision, so a concurrent change is never overwritten (the record is read again and
//! retried). Values written by builds that did not encrypt are encrypted on the way.
//!
//! A leading coordinator holds its jobs' records in memory and writes them back, so rotation
//! refuses to run while a coordinator leads: stop every coordinator, rotate, start them again
//! with the new key.

use crate::error::{CoordinatorError, Result};
use crate::leader::LEADER_KEY;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sluice_common::meta::{keys, KeyValue, MetaStore, Precondition, PutOutcome};
use sluice_common::records::{self, DataSourceRecord, JobRecord};
use sluice_common::secrets::SecretCipher;

/// How often one record is read again after a concurrent change before rotation gives up.
const MAX_CONFLICTS_PER_RECORD: u32 = 10;

/// What a rotation changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Data source records rewritten.
    pub data_sources_rewritten: usize,
    /// Job records rewritten.
    pub jobs_rewritten: usize,
    /// Records looked at (both kinds).
    pub records_checked: usize,
}

/// Seals every secret of every data source and job under `cipher`'s primary key; `cipher`
/// must also hold (as previous keys) every key values are sealed under now.
///
/// # Errors
/// [`CoordinatorError::FailedPrecondition`] while a coordinator leads;
/// [`CoordinatorError::Secret`] naming the record whose secret cannot be opened (nothing is
/// half-written: each record is rewritten whole or not at all); store errors.
pub async fn rotate_secrets(
    store: &dyn MetaStore,
    cipher: &SecretCipher,
) -> Result<RotationReport> {
    if let Some(leader) = store.get(LEADER_KEY).await? {
        return Err(CoordinatorError::FailedPrecondition(format!(
            "a coordinator is leading ({}): stop every coordinator of this cluster before rotating the key, then start them with the new key",
            String::from_utf8_lossy(&leader.value)
        )));
    }
    let mut report = RotationReport::default();
    for key_value in store.list_prefix(keys::DATASOURCES_PREFIX).await? {
        report.records_checked += 1;
        if rewrite::<DataSourceRecord>(store, key_value, cipher, DataSourceRecord::reseal).await? {
            report.data_sources_rewritten += 1;
        }
    }
    for key_value in store.list_prefix(keys::JOBS_PREFIX).await? {
        report.records_checked += 1;
        if rewrite::<JobRecord>(store, key_value, cipher, JobRecord::reseal).await? {
            report.jobs_rewritten += 1;
        }
    }
    Ok(report)
}

/// Reseals one record, retrying on concurrent changes; returns whether it was rewritten.
async fn rewrite<T: DeserializeOwned + Serialize + Sync>(
    store: &dyn MetaStore,
    mut key_value: KeyValue,
    cipher: &SecretCipher,
    reseal: fn(&mut T, &SecretCipher) -> Result<bool, sluice_common::secrets::SecretError>,
) -> Result<bool> {
    for _ in 0..MAX_CONFLICTS_PER_RECORD {
        let mut record: T = records::decode(&key_value)?;
        let changed = reseal(&mut record, cipher).map_err(CoordinatorError::secret(format!(
            "record {}",
            key_value.key
        )))?;
        if !changed {
            return Ok(false);
        }
        match store
            .put(
                &key_value.key,
                records::encode(&record),
                Precondition::ModRevision(key_value.mod_revision),
                None,
            )
            .await?
        {
            PutOutcome::Written { .. } => return Ok(true),
            PutOutcome::Conflict { .. } => match store.get(&key_value.key).await? {
                Some(current) => key_value = current,
                None => return Ok(false),
            },
        }
    }
    Err(CoordinatorError::FailedPrecondition(format!(
        "record {} kept changing during the rotation; run it again",
        key_value.key
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_common::meta::embedded::EmbeddedStore;
    use sluice_common::records::{EnvironmentConfig, ENV_PROD};
    use sluice_common::secrets::SecretKey;
    use std::collections::BTreeMap;

    #[tokio::test]
    async fn rotation_reseals_data_sources_under_the_new_key() {
        let directory = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(&directory.path().join("meta.redb"))
            .await
            .expect("store");
        let old_key = SecretKey::generate().expect("key");
        let old = SecretCipher::new(old_key.clone());
        let record = DataSourceRecord {
            v: 2,
            workspace: "default".into(),
            name: "db".into(),
            kind: "mysql".into(),
            description: String::new(),
            configs: BTreeMap::from([(
                ENV_PROD.to_string(),
                EnvironmentConfig {
                    options: BTreeMap::new(),
                    secrets: BTreeMap::from([(
                        "password".to_string(),
                        old.seal("rotate-me").expect("seal"),
                    )]),
                },
            )]),
            created_at_ms: 1,
            updated_at_ms: 1,
        };
        records::put_record(&store, &keys::datasource("default", "db"), &record)
            .await
            .expect("put");
        let new = SecretCipher::new(SecretKey::generate().expect("key")).with_previous(old_key);
        let report = rotate_secrets(&store, &new).await.expect("rotate");
        assert_eq!(report.data_sources_rewritten, 1);
        let stored: DataSourceRecord = records::decode(
            &store
                .get(&keys::datasource("default", "db"))
                .await
                .expect("get")
                .expect("present"),
        )
        .expect("decode");
        let sealed = &stored.configs[ENV_PROD].secrets["password"];
        assert_eq!(sealed.key_id(), Some(new.primary_key_id()));
        assert_eq!(new.open(sealed).expect("open"), "rotate-me");
        assert!(
            old.open(sealed).is_err(),
            "the old key alone must not open it"
        );
        let again = rotate_secrets(&store, &new).await.expect("rotate again");
        assert_eq!(again.data_sources_rewritten, 0);
    }
}
