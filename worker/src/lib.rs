//! The Sluice worker: the data plane.
//!
//! A worker connects to a coordinator, declares its slots, and runs what it is handed: shard
//! attempts (reader -> bounded channel of Arrow batches -> writer), planning and finalisation
//! tasks. It reports progress every second and holds no state that matters: kill it at any time
//! and its shards are re-run elsewhere under a higher attempt number.

#![deny(rustdoc::broken_intra_doc_links)]

pub mod config;
pub mod error;
pub mod leader_stream;
pub mod pieces;
pub mod pipeline;
pub mod report;
pub mod slots;
pub mod tasks;
pub mod tls;

pub use config::WorkerConfig;
pub use error::WorkerError;
pub use leader_stream::run;
