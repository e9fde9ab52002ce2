//! Errors of the shared crate: metadata store failures and job spec problems.

use std::fmt;

/// Result alias for metadata store operations.
pub type MetaResult<T, E = MetaError> = std::result::Result<T, E>;

/// A metadata store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// The etcd server could not be reached or answered with an error.
    #[error("etcd request failed: {context}")]
    Etcd {
        /// What was being done.
        context: String,
        /// The client error.
        #[source]
        source: etcd_client::Error,
    },
    /// The embedded store file could not be read or written.
    #[error("embedded metadata store {path}: {context}")]
    Embedded {
        /// Path of the store file.
        path: String,
        /// What was being done.
        context: String,
        /// The storage error.
        #[source]
        source: Box<redb::Error>,
    },
    /// A lease id is unknown or has expired.
    #[error("lease {lease_id} not found (expired or revoked)")]
    LeaseNotFound {
        /// The lease id.
        lease_id: i64,
    },
    /// A stored value could not be decoded.
    #[error("stored value at key {key} is not valid: {message}")]
    Corrupt {
        /// The key, relative to the cluster prefix.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The watch was cancelled by the server or its history was compacted.
    #[error("watch on {prefix} ended: {reason}")]
    WatchEnded {
        /// The watched prefix.
        prefix: String,
        /// Why it ended.
        reason: String,
    },
}

impl MetaError {
    /// Returns whether retrying the same operation later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, MetaError::Etcd { .. } | MetaError::WatchEnded { .. })
    }
}

/// One problem found in a job spec, located by its field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// Dotted path of the field, e.g. `sink.write_mode`; empty for the document itself.
    pub path: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl SpecError {
    /// Returns an error at `path` saying `message`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        SpecError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(formatter, "{}", self.message)
        } else {
            write!(formatter, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in a job spec (validation collects them all, not just the first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecErrors(pub Vec<SpecError>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        write!(
            formatter,
            "invalid job spec ({count} problem{}):",
            if count == 1 { "" } else { "s" }
        )?;
        for error in &self.0 {
            write!(formatter, "\n  - {error}")?;
        }
        Ok(())
    }
}

impl From<SpecError> for SpecErrors {
    fn from(error: SpecError) -> Self {
        SpecErrors(vec![error])
    }
}
