//! [`MetaStore`] on a real etcd cluster (v3 API), every key under one cluster prefix.

use super::{
    prefix_range_end, DeleteOutcome, KeyValue, LeaseId, MetaStore, Precondition, PutOutcome,
    WatchEvent, WatchStream,
};
use crate::error::{MetaError, MetaResult};
use async_trait::async_trait;
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType, GetOptions, PutOptions,
    Txn, TxnOp, TxnOpResponse, WatchOptions,
};
use std::time::Duration;

/// Metadata store backed by etcd.
#[derive(Clone)]
pub struct EtcdStore {
    client: Client,
    prefix: String,
    endpoints: Vec<String>,
}

fn etcd_error(context: impl Into<String>) -> impl FnOnce(etcd_client::Error) -> MetaError {
    let context = context.into();
    move |source| MetaError::Etcd { context, source }
}

impl EtcdStore {
    /// Connects to `endpoints` (e.g. `http://127.0.0.1:2379`) and keeps every key under `prefix`
    /// (a trailing `/` is added when missing).
    ///
    /// # Errors
    /// [`MetaError::Etcd`] when no endpoint answers within the connect timeout.
    pub async fn connect(endpoints: &[String], prefix: &str) -> MetaResult<Self> {
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(10))
            .with_keep_alive(Duration::from_secs(5), Duration::from_secs(5));
        let client = Client::connect(endpoints, Some(options))
            .await
            .map_err(etcd_error(format!("connect to {}", endpoints.join(","))))?;
        let mut normalized_prefix = prefix.to_string();
        if !normalized_prefix.ends_with('/') {
            normalized_prefix.push('/');
        }
        let store = EtcdStore {
            client,
            prefix: normalized_prefix,
            endpoints: endpoints.to_vec(),
        };
        // Fail now, with a clear message, rather than at the first request.
        store
            .client
            .clone()
            .get(store.full_key("leader"), None)
            .await
            .map_err(etcd_error(format!(
                "reach etcd at {} (is it running?)",
                endpoints.join(",")
            )))?;
        Ok(store)
    }

    fn full_key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn relative_key(&self, full_key: &[u8]) -> String {
        let text = String::from_utf8_lossy(full_key);
        text.strip_prefix(&self.prefix).unwrap_or(&text).to_string()
    }

    fn convert(&self, key_value: &etcd_client::KeyValue) -> KeyValue {
        KeyValue {
            key: self.relative_key(key_value.key()),
            value: key_value.value().to_vec(),
            create_revision: key_value.create_revision(),
            mod_revision: key_value.mod_revision(),
            lease: (key_value.lease() != 0).then_some(LeaseId(key_value.lease())),
        }
    }

    fn compare_for(&self, key: &str, condition: Precondition) -> Option<Compare> {
        let full_key = self.full_key(key);
        match condition {
            Precondition::None => None,
            Precondition::Absent => Some(Compare::version(full_key, CompareOp::Equal, 0)),
            Precondition::ModRevision(revision) => {
                Some(Compare::mod_revision(full_key, CompareOp::Equal, revision))
            }
        }
    }
}

#[async_trait]
impl MetaStore for EtcdStore {
    async fn get(&self, key: &str) -> MetaResult<Option<KeyValue>> {
        let response = self
            .client
            .clone()
            .get(self.full_key(key), None)
            .await
            .map_err(etcd_error(format!("get {key}")))?;
        Ok(response.kvs().first().map(|kv| self.convert(kv)))
    }

    async fn list_prefix(&self, prefix: &str) -> MetaResult<Vec<KeyValue>> {
        let response = self
            .client
            .clone()
            .get(self.full_key(prefix), Some(GetOptions::new().with_prefix()))
            .await
            .map_err(etcd_error(format!("list {prefix}")))?;
        Ok(response.kvs().iter().map(|kv| self.convert(kv)).collect())
    }

    async fn put(
        &self,
        key: &str,
        value: Vec<u8>,
        condition: Precondition,
        lease: Option<LeaseId>,
    ) -> MetaResult<PutOutcome> {
        let full_key = self.full_key(key);
        let options = lease.map(|lease_id| PutOptions::new().with_lease(lease_id.0));
        let put_op = TxnOp::put(full_key.clone(), value, options);
        let get_op = TxnOp::get(full_key, None);
        let txn = match self.compare_for(key, condition) {
            Some(compare) => Txn::new()
                .when(vec![compare])
                .and_then(vec![put_op])
                .or_else(vec![get_op]),
            None => Txn::new().and_then(vec![put_op]),
        };
        let response = self
            .client
            .clone()
            .txn(txn)
            .await
            .map_err(etcd_error(format!("put {key}")))?;
        if response.succeeded() {
            let revision = response.header().map_or(0, |header| header.revision());
            return Ok(PutOutcome::Written { revision });
        }
        let current = response.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Get(get) => get.kvs().first().map(|kv| self.convert(kv)),
            _ => None,
        });
        Ok(PutOutcome::Conflict { current })
    }

    async fn put_all(&self, entries: Vec<(String, Vec<u8>)>) -> MetaResult<i64> {
        let description = format!("put {} keys", entries.len());
        let operations: Vec<TxnOp> = entries
            .into_iter()
            .map(|(key, value)| TxnOp::put(self.full_key(&key), value, None))
            .collect();
        let response = self
            .client
            .clone()
            .txn(Txn::new().and_then(operations))
            .await
            .map_err(etcd_error(description))?;
        Ok(response.header().map_or(0, |header| header.revision()))
    }

    async fn create_all(&self, entries: Vec<(String, Vec<u8>)>) -> MetaResult<Option<i64>> {
        let description = format!("create {} keys", entries.len());
        let mut compares = Vec::with_capacity(entries.len());
        let mut operations = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let full_key = self.full_key(&key);
            compares.push(Compare::version(full_key.clone(), CompareOp::Equal, 0));
            operations.push(TxnOp::put(full_key, value, None));
        }
        let response = self
            .client
            .clone()
            .txn(Txn::new().when(compares).and_then(operations))
            .await
            .map_err(etcd_error(description))?;
        if !response.succeeded() {
            return Ok(None);
        }
        Ok(Some(
            response.header().map_or(0, |header| header.revision()),
        ))
    }

    async fn delete(&self, key: &str, condition: Precondition) -> MetaResult<DeleteOutcome> {
        let full_key = self.full_key(key);
        let delete_op = TxnOp::delete(full_key, Some(DeleteOptions::new()));
        let txn = match self.compare_for(key, condition) {
            Some(compare) => Txn::new().when(vec![compare]).and_then(vec![delete_op]),
            None => Txn::new().and_then(vec![delete_op]),
        };
        let response = self
            .client
            .clone()
            .txn(txn)
            .await
            .map_err(etcd_error(format!("delete {key}")))?;
        if !response.succeeded() {
            return Ok(DeleteOutcome::Conflict);
        }
        let deleted = response.op_responses().into_iter().any(|op| match op {
            TxnOpResponse::Delete(delete) => delete.deleted() > 0,
            _ => false,
        });
        Ok(if deleted {
            DeleteOutcome::Deleted
        } else {
            DeleteOutcome::NotFound
        })
    }

    async fn grant_lease(&self, ttl: Duration) -> MetaResult<LeaseId> {
        let seconds = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX);
        let response = self
            .client
            .clone()
            .lease_grant(seconds, None)
            .await
            .map_err(etcd_error("grant lease"))?;
        Ok(LeaseId(response.id()))
    }

    async fn keep_alive(&self, lease: LeaseId) -> MetaResult<()> {
        let (mut keeper, mut responses) = self
            .client
            .clone()
            .lease_keep_alive(lease.0)
            .await
            .map_err(etcd_error("open lease keep-alive"))?;
        keeper
            .keep_alive()
            .await
            .map_err(etcd_error("send lease keep-alive"))?;
        let response = responses
            .message()
            .await
            .map_err(etcd_error("receive lease keep-alive"))?;
        match response {
            Some(answer) if answer.ttl() > 0 => Ok(()),
            _ => Err(MetaError::LeaseNotFound { lease_id: lease.0 }),
        }
    }

    async fn revoke_lease(&self, lease: LeaseId) -> MetaResult<()> {
        match self.client.clone().lease_revoke(lease.0).await {
            Ok(_) => Ok(()),
            Err(etcd_client::Error::GRpcStatus(status))
                if status.message().contains("lease not found") =>
            {
                Err(MetaError::LeaseNotFound { lease_id: lease.0 })
            }
            Err(source) => Err(MetaError::Etcd {
                context: "revoke lease".to_string(),
                source,
            }),
        }
    }

    async fn watch_prefix(
        &self,
        prefix: &str,
        start_revision: Option<i64>,
    ) -> MetaResult<WatchStream> {
        let full_prefix = self.full_key(prefix);
        let mut options = WatchOptions::new().with_range(prefix_range_end(&full_prefix));
        if let Some(revision) = start_revision {
            options = options.with_start_revision(revision);
        }
        let stream = self
            .client
            .clone()
            .watch(full_prefix, Some(options))
            .await
            .map_err(etcd_error(format!("watch {prefix}")))?;
        let store = self.clone();
        let watched_prefix = prefix.to_string();
        let events = futures::stream::unfold(
            (
                stream,
                std::collections::VecDeque::new(),
                store,
                watched_prefix,
                false,
            ),
            |(mut stream, mut pending, store, watched_prefix, ended)| async move {
                if ended {
                    return None;
                }
                loop {
                    if let Some(event) = pending.pop_front() {
                        return Some((Ok(event), (stream, pending, store, watched_prefix, false)));
                    }
                    match stream.message().await {
                        Ok(Some(response)) => {
                            if response.canceled() {
                                let error = MetaError::WatchEnded {
                                    prefix: watched_prefix.clone(),
                                    reason: format!(
                                        "cancelled by etcd: {}",
                                        response.cancel_reason()
                                    ),
                                };
                                return Some((
                                    Err(error),
                                    (stream, pending, store, watched_prefix, true),
                                ));
                            }
                            for event in response.events() {
                                let Some(key_value) = event.kv() else {
                                    continue;
                                };
                                let converted = match event.event_type() {
                                    EventType::Put => WatchEvent::Put(store.convert(key_value)),
                                    EventType::Delete => WatchEvent::Delete {
                                        key: store.relative_key(key_value.key()),
                                        revision: key_value.mod_revision(),
                                    },
                                };
                                pending.push_back(converted);
                            }
                        }
                        Ok(None) => return None,
                        Err(source) => {
                            let error = MetaError::Etcd {
                                context: format!("watch {watched_prefix}"),
                                source,
                            };
                            return Some((
                                Err(error),
                                (stream, pending, store, watched_prefix, true),
                            ));
                        }
                    }
                }
            },
        );
        Ok(Box::pin(events))
    }

    fn describe(&self) -> String {
        format!("etcd {} prefix {}", self.endpoints.join(","), self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::EtcdStore;

    /// Connects to the etcd named by `SLUICE_TEST_ETCD` under a fresh prefix.
    async fn fresh_store() -> EtcdStore {
        let endpoints = std::env::var("SLUICE_TEST_ETCD").unwrap_or_else(|_| {
            panic!(
                "SLUICE_TEST_ETCD is not set: these tests need a real etcd. Run `scripts/test.sh`, \
                 which starts one, or start `etcd --data-dir $(mktemp -d) --listen-client-urls \
                 http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379` and export \
                 SLUICE_TEST_ETCD=http://127.0.0.1:2379"
            )
        });
        let endpoint_list: Vec<String> = endpoints.split(',').map(str::to_string).collect();
        let prefix = format!("/sluice-test/{}/", uuid::Uuid::new_v4().simple());
        EtcdStore::connect(&endpoint_list, &prefix)
            .await
            .unwrap_or_else(|error| panic!("cannot reach etcd at {endpoints}: {error}"))
    }

    crate::meta_store_conformance!(fresh_store());
}
