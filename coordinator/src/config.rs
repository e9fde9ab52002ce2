//! Coordinator settings.

use sluice_common::secrets::SecretCipher;
use std::time::Duration;

/// How the coordinator runs.
#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    /// Id reported to workers and in logs.
    pub coordinator_id: String,
    /// A worker silent for this long is declared dead and its shards are re-queued.
    pub worker_timeout: Duration,
    /// How often workers must send a heartbeat.
    pub heartbeat_interval: Duration,
    /// How often running jobs' counters are written to the metadata store.
    pub counter_flush_interval: Duration,
    /// TTL of the leader lease: a dead leader is replaced after at most this long.
    pub leader_ttl: Duration,
    /// URL other coordinators and clients are told to use to reach this one.
    pub advertise_url: String,
    /// Seals secrets before they reach the metadata store and opens them for workers.
    pub secrets: SecretCipher,
    /// The cluster's data location (dirty-data store): an absolute directory, `file:///dir` or
    /// `s3://bucket/prefix`, shared by the coordinators and the workers; `None` keeps only
    /// samples of dirty records.
    pub data_location: Option<String>,
    /// TLS on the gRPC listener; `None` serves plaintext.
    pub tls: Option<crate::tls::ServerTls>,
    /// Whether calls need a bearer token, and the cluster admin and worker tokens' hashes.
    pub auth: crate::auth::AuthConfig,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        CoordinatorConfig {
            coordinator_id: format!("coordinator-{}", std::process::id()),
            worker_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(1),
            counter_flush_interval: Duration::from_secs(5),
            leader_ttl: Duration::from_secs(8),
            advertise_url: String::new(),
            // Only tests and embedders rely on the default: the `sluice` binary always sets a
            // key (or says out loud that it runs with the public development key).
            secrets: SecretCipher::insecure_dev(),
            data_location: None,
            tls: None,
            // Like the key: the `sluice` binary always says how it authenticates.
            auth: crate::auth::AuthConfig::Disabled,
        }
    }
}
