//! Logging and metrics set-up shared by every process.

use std::net::SocketAddr;

/// Installs the global `tracing` subscriber: human-readable lines on stderr, filtered by
/// `SLUICE_LOG` (or `RUST_LOG`), defaulting to `default_filter` (e.g. `info`).
///
/// Calling it twice is harmless: the second call keeps the first subscriber.
pub fn init_tracing(default_filter: &str) {
    let filter = std::env::var("SLUICE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default_filter.to_string());
    let env_filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Error starting the metrics endpoint.
#[derive(Debug, thiserror::Error)]
#[error("cannot serve Prometheus metrics on {address}: {message}")]
pub struct MetricsError {
    /// The address asked for.
    pub address: SocketAddr,
    /// What went wrong.
    pub message: String,
}

/// Serves Prometheus metrics at `http://{address}/metrics` (any path answers) and installs
/// the global `metrics` recorder. Must run inside a Tokio runtime.
///
/// # Errors
/// [`MetricsError`] when the port is taken or a recorder is already installed.
pub fn serve_metrics(address: SocketAddr) -> Result<(), MetricsError> {
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(address)
        .install()
        .map_err(|error| MetricsError {
            address,
            message: error.to_string(),
        })
}
