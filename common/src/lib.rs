//! Shared foundation of Sluice: typed ids, job specs and their validation, the persisted
//! records, the [`meta::MetaStore`] trait with its etcd and embedded implementations, and
//! telemetry set-up.
//!
//! Every other crate depends on this one; it depends on no other Sluice crate.

#![deny(rustdoc::broken_intra_doc_links)]

pub mod error;
pub mod ids;
pub mod meta;
pub mod private_file;
pub mod records;
pub mod secrets;
pub mod spec;
pub mod telemetry;
pub mod tokens;

pub use error::{MetaError, SpecError, SpecErrors};

/// Version string of this build, reported by workers and the CLI.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Workspace used when a request names none.
pub const DEFAULT_WORKSPACE: &str = "default";

/// Environment used when a request names none.
pub const DEFAULT_ENVIRONMENT: &str = "prod";
