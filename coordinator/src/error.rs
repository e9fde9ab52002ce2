//! Errors of the coordinator, and their mapping to gRPC status codes.

use sluice_common::secrets::SecretError;
use sluice_common::{MetaError, SpecErrors};

/// Result alias of the coordinator.
pub type Result<T, E = CoordinatorError> = std::result::Result<T, E>;

/// A coordinator operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    /// The job spec is invalid (every problem listed).
    #[error(transparent)]
    InvalidSpec(#[from] SpecErrors),
    /// A request field is invalid.
    #[error("{field}: {message}")]
    InvalidArgument {
        /// Field path in the request.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// The named object does not exist.
    #[error("{kind} \"{name}\" not found{hint}")]
    NotFound {
        /// Kind of object (`job`, `data source`).
        kind: &'static str,
        /// Its name or id.
        name: String,
        /// A hint such as the known names, starting with `; ` (or empty).
        hint: String,
    },
    /// The object exists already.
    #[error("{kind} \"{name}\" already exists")]
    AlreadyExists {
        /// Kind of object.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// The request conflicts with the object's state (e.g. cancelling an ended job).
    #[error("{0}")]
    FailedPrecondition(String),
    /// A stored secret could not be opened or a new one sealed (wrong key, corrupt value).
    #[error("{context}: {error}")]
    Secret {
        /// What was being done (never a secret).
        context: String,
        /// The secret error (it names key ids, never values).
        error: SecretError,
    },
    /// The metadata store failed.
    #[error("metadata store: {0}")]
    Meta(#[from] MetaError),
    /// This coordinator is a standby; the leader serves the request.
    #[error("this coordinator is not the leader; the leader is {leader}: retry there")]
    NotLeader {
        /// URL of the leader, or why it is unknown.
        leader: String,
    },
    /// The coordinator is shutting down.
    #[error("coordinator is shutting down")]
    ShuttingDown,
    /// A worker needed for the request is gone or did not answer in time.
    #[error("{0}")]
    Unavailable(String),
    /// A bug: an invariant did not hold.
    #[error("internal error (please report this bug): {0}")]
    Internal(String),
}

impl CoordinatorError {
    /// Returns a secret error with what was being done.
    pub fn secret(context: impl Into<String>) -> impl FnOnce(SecretError) -> Self {
        let context = context.into();
        move |error| CoordinatorError::Secret { context, error }
    }

    /// Returns an invalid-argument error at `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        CoordinatorError::InvalidArgument {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<CoordinatorError> for tonic::Status {
    fn from(error: CoordinatorError) -> Self {
        let message = error.to_string();
        match error {
            CoordinatorError::InvalidSpec(_) | CoordinatorError::InvalidArgument { .. } => {
                tonic::Status::invalid_argument(message)
            }
            CoordinatorError::NotFound { .. } => tonic::Status::not_found(message),
            CoordinatorError::AlreadyExists { .. } => tonic::Status::already_exists(message),
            CoordinatorError::FailedPrecondition(_) | CoordinatorError::Secret { .. } => {
                tonic::Status::failed_precondition(message)
            }
            CoordinatorError::Meta(ref meta) if meta.is_retryable() => {
                tonic::Status::unavailable(message)
            }
            CoordinatorError::Meta(_) | CoordinatorError::Internal(_) => {
                tonic::Status::internal(message)
            }
            CoordinatorError::ShuttingDown
            | CoordinatorError::NotLeader { .. }
            | CoordinatorError::Unavailable(_) => tonic::Status::unavailable(message),
        }
    }
}
