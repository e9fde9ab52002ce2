//! Worker settings.

use sluice_common::ids::WorkerId;
use std::time::Duration;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Coordinator URLs (`http://host:port`), tried in turn.
    pub coordinators: Vec<String>,
    /// This worker's id.
    pub worker_id: WorkerId,
    /// Shards run at once.
    pub slots: u32,
    /// Resource group.
    pub resource_group: String,
    /// On shutdown, how long running shards may take before they are cancelled.
    pub drain_timeout: Duration,
    /// Batches buffered between reader and writer per shard (bounds memory).
    pub channel_batches: usize,
    /// How often progress is reported.
    pub report_interval: Duration,
    /// TLS towards the coordinator (used for `https://` URLs, or whenever it is set).
    pub tls: crate::tls::ClientTls,
    /// The cluster token presented to the coordinator (`--cluster-token-file`); `None` when
    /// the coordinator runs without authentication.
    pub cluster_token: Option<sluice_common::tokens::Token>,
}

impl WorkerConfig {
    /// Returns a config with defaults for everything but the coordinators.
    pub fn new(coordinators: Vec<String>) -> Self {
        WorkerConfig {
            coordinators,
            worker_id: WorkerId::generate(),
            slots: 2,
            resource_group: "default".to_string(),
            drain_timeout: Duration::from_secs(60),
            channel_batches: 4,
            report_interval: Duration::from_secs(1),
            tls: crate::tls::ClientTls::default(),
            cluster_token: None,
        }
    }
}
