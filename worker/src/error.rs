//! Errors of the worker.

/// The worker could not run.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// No coordinator URL was given.
    #[error("no coordinator address given: pass --coordinator http://HOST:PORT")]
    NoCoordinator,
    /// A coordinator URL is not valid.
    #[error("coordinator address {url:?} is not valid: {message}")]
    BadAddress {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// The configuration is invalid.
    #[error("{field}: {message}")]
    Config {
        /// Option name.
        field: String,
        /// What is wrong.
        message: String,
    },
}
