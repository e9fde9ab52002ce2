//! Errors of connectors.

/// Result alias for connector operations.
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// A connector operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectorError {
    /// The job's configuration does not fit the store (a user mistake; retrying won't help).
    #[error("{field}: {message}")]
    Config {
        /// Field path, e.g. `source.columns`.
        field: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// This connector cannot do what was asked.
    #[error("not supported: {0}")]
    Unsupported(String),
    /// A SQLite call failed.
    #[error("sqlite {context}: {source}")]
    Sqlite {
        /// What was being done.
        context: String,
        /// The driver error.
        source: rusqlite::Error,
    },
    /// A PostgreSQL call failed.
    #[error("postgres {context}: {}", crate::postgres::describe_error(source))]
    Postgres {
        /// What was being done.
        context: String,
        /// The driver error.
        source: tokio_postgres::Error,
    },
    /// A MySQL / MariaDB call failed.
    #[error("mysql {context}: {}", crate::mysql::describe_error(source))]
    MySql {
        /// What was being done.
        context: String,
        /// The driver error.
        source: mysql_async::Error,
    },
    /// An object store (local files, S3) call failed.
    #[error("object store {context}: {source}")]
    ObjectStore {
        /// What was being done.
        context: String,
        /// The object store error.
        source: object_store::Error,
    },
    /// A file or object cannot be read or written as configured (not valid gzip, not valid in
    /// its encoding, a zip archive, fewer rows than its footer declares).
    #[error("{object}: {message}")]
    File {
        /// Object path.
        object: String,
        /// What is wrong and what would work.
        message: String,
    },
    /// A Parquet operation failed.
    #[error("parquet {context}: {source}")]
    Parquet {
        /// What was being done.
        context: String,
        /// The Parquet error.
        source: parquet::errors::ParquetError,
    },
    /// An Arrow operation failed.
    #[error("arrow {context}: {source}")]
    Arrow {
        /// What was being done.
        context: String,
        /// The Arrow error.
        source: arrow_schema::ArrowError,
    },
    /// A value could not be converted between the store's type and Arrow.
    #[error("column {column}: {message}")]
    Conversion {
        /// Column name.
        column: String,
        /// What could not be converted.
        message: String,
    },
    /// The batch stream ended without its end marker: the reader failed or was cancelled.
    #[error("input ended before the end of the shard (reader failed or shard cancelled)")]
    Aborted,
    /// A background task failed.
    #[error("task failed: {0}")]
    Task(String),
}

impl ConnectorError {
    /// Returns a configuration error at `field`.
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConnectorError::Config {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Returns the error of a key-range shard of `table` read without `split_pk` when the table
    /// no longer has the primary key it was planned by.
    pub fn primary_key_gone(
        range: &impl std::fmt::Display,
        table: &impl std::fmt::Display,
    ) -> Self {
        ConnectorError::config(
            "source.split_pk",
            format!(
                "shard range {range} needs a split key, but {table} has none now \
                 (was its primary key dropped since the job was planned?)"
            ),
        )
    }

    /// Returns a closure wrapping a SQLite error with `context`.
    pub fn sqlite(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> Self {
        let context = context.into();
        move |source| ConnectorError::Sqlite { context, source }
    }

    /// Returns a closure wrapping a PostgreSQL error with `context`.
    pub fn postgres(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Self {
        let context = context.into();
        move |source| ConnectorError::Postgres { context, source }
    }

    /// Returns a closure wrapping a MySQL error with `context`.
    pub fn mysql(context: impl Into<String>) -> impl FnOnce(mysql_async::Error) -> Self {
        let context = context.into();
        move |source| ConnectorError::MySql { context, source }
    }

    /// Returns whether another attempt may succeed (a lock, a dropped connection), as opposed
    /// to a problem with the job itself (a missing table, a bad column).
    pub fn is_retryable(&self) -> bool {
        match self {
            ConnectorError::Config { .. } | ConnectorError::Unsupported(_) => false,
            ConnectorError::Conversion { .. } => false,
            ConnectorError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy)
                    | Some(rusqlite::ErrorCode::DatabaseLocked)
                    | Some(rusqlite::ErrorCode::SystemIoFailure)
                    | Some(rusqlite::ErrorCode::DiskFull)
            ),
            ConnectorError::Postgres { source, .. } => crate::postgres::is_retryable_error(source),
            ConnectorError::MySql { source, .. } => crate::mysql::is_retryable_error(source),
            ConnectorError::ObjectStore { source, .. } => !matches!(
                source,
                object_store::Error::NotFound { .. }
                    | object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. }
                    | object_store::Error::NotSupported { .. }
                    | object_store::Error::NotImplemented { .. }
                    | object_store::Error::PermissionDenied { .. }
                    | object_store::Error::Unauthenticated { .. }
                    | object_store::Error::InvalidPath { .. }
            ),
            ConnectorError::Parquet { .. } | ConnectorError::File { .. } => false,
            ConnectorError::Arrow { .. } => false,
            ConnectorError::Aborted | ConnectorError::Task(_) => true,
        }
    }
}
