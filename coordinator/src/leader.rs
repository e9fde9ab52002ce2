//! Leader election among coordinators, on the metadata store.
//!
//! The leader holds the key `leader` under a lease it keeps alive; the others poll for it to
//! disappear and then race to create it (compare-and-swap: exactly one wins). A leader that
//! cannot renew its lease for most of its TTL steps down before the lease can expire, so two
//! coordinators never both believe they lead for long; attempt numbers fence what is left.

use crate::engine::EngineHandle;
use crate::error::{CoordinatorError, Result};
use serde::{Deserialize, Serialize};
use sluice_common::meta::{LeaseId, MetaStore, Precondition, PutOutcome};
use sluice_common::records::{self, RECORD_VERSION};
use sluice_common::MetaError;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Key of the leader record.
pub const LEADER_KEY: &str = "leader";

/// Value of the `leader` key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderRecord {
    /// Format version.
    pub v: u32,
    /// Id of the leading coordinator.
    pub coordinator_id: String,
    /// URL at which it serves the API.
    pub url: String,
}

#[derive(Default)]
struct SlotState {
    engine: Option<EngineHandle>,
    leader_url: Option<String>,
}

/// Where the services find the engine: present only while this coordinator leads.
#[derive(Clone, Default)]
pub struct LeaderSlot {
    state: Arc<RwLock<SlotState>>,
}

impl LeaderSlot {
    /// Returns the engine, or [`CoordinatorError::NotLeader`] naming the leader when known.
    ///
    /// # Errors
    /// [`CoordinatorError::NotLeader`] on a standby.
    pub fn engine(&self) -> Result<EngineHandle> {
        let state = self
            .state
            .read()
            .map_err(|_| CoordinatorError::Internal("leader slot poisoned".into()))?;
        match &state.engine {
            Some(engine) => Ok(engine.clone()),
            None => Err(CoordinatorError::NotLeader {
                leader: state
                    .leader_url
                    .clone()
                    .unwrap_or_else(|| "not elected yet".to_string()),
            }),
        }
    }

    /// Returns whether this coordinator leads.
    pub fn is_leader(&self) -> bool {
        self.state
            .read()
            .map(|state| state.engine.is_some())
            .unwrap_or(false)
    }

    pub(crate) fn set_engine(&self, engine: Option<EngineHandle>) {
        if let Ok(mut state) = self.state.write() {
            state.engine = engine;
        }
    }

    fn set_leader_url(&self, url: Option<String>) {
        if let Ok(mut state) = self.state.write() {
            state.leader_url = url;
        }
    }
}

/// Waits until this coordinator wins the election; returns the lease it leads under.
pub async fn campaign(
    store: &dyn MetaStore,
    me: &LeaderRecord,
    ttl: Duration,
    slot: &LeaderSlot,
) -> LeaseId {
    let mut announced_standby = false;
    loop {
        match store.get(LEADER_KEY).await {
            Ok(Some(current)) => {
                let leader: Option<LeaderRecord> = records::decode(&current).ok();
                if !announced_standby {
                    tracing::info!(leader = ?leader.as_ref().map(|l| &l.coordinator_id), "standing by: another coordinator leads");
                    announced_standby = true;
                }
                slot.set_leader_url(leader.map(|l| l.url));
                tokio::time::sleep(Duration::from_millis(300)).await;
                continue;
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, "cannot read the leader key; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        let lease = match store.grant_lease(ttl).await {
            Ok(lease) => lease,
            Err(error) => {
                tracing::warn!(%error, "cannot grant a leader lease; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        match store
            .put(
                LEADER_KEY,
                records::encode(me),
                Precondition::Absent,
                Some(lease),
            )
            .await
        {
            Ok(PutOutcome::Written { .. }) => {
                slot.set_leader_url(Some(me.url.clone()));
                return lease;
            }
            Ok(PutOutcome::Conflict { .. }) => {
                let _ = store.revoke_lease(lease).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot write the leader key; retrying");
                let _ = store.revoke_lease(lease).await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Keeps the leader lease alive; returns when leadership is lost (the lease expired or could
/// not be renewed for most of its TTL).
pub async fn hold(store: &dyn MetaStore, lease: LeaseId, ttl: Duration) {
    let mut last_renewed = Instant::now();
    let step_down_after = ttl.saturating_sub(Duration::from_secs(1)).max(ttl / 2);
    loop {
        tokio::time::sleep((ttl / 4).max(Duration::from_millis(200))).await;
        match tokio::time::timeout(Duration::from_secs(1), store.keep_alive(lease)).await {
            Ok(Ok(())) => last_renewed = Instant::now(),
            Ok(Err(MetaError::LeaseNotFound { .. })) => {
                tracing::error!("the leader lease expired; stepping down");
                return;
            }
            Ok(Err(error)) => tracing::warn!(%error, "cannot renew the leader lease"),
            Err(_) => tracing::warn!("renewing the leader lease timed out"),
        }
        if last_renewed.elapsed() >= step_down_after {
            tracing::error!(
                unrenewed_s = last_renewed.elapsed().as_secs(),
                "leader lease not renewed in time; stepping down"
            );
            return;
        }
    }
}

/// Returns this coordinator's leader record.
pub fn record(coordinator_id: &str, url: &str) -> LeaderRecord {
    LeaderRecord {
        v: RECORD_VERSION,
        coordinator_id: coordinator_id.to_string(),
        url: url.to_string(),
    }
}
