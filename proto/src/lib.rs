//! Generated code of the Sluice gRPC API (`sluice.v1`).
//!
//! The `.proto` files under `proto/sluice/v1/` are the API contract: one file per service
//! (`job.proto`, `datasource.proto`, `workspace.proto`, `member.proto`, `worker.proto`) plus shared types (`common.proto`), and
//! [`convert`], the one place where API messages meet the domain types.

pub mod convert;

/// The `sluice.v1` package.
#[allow(missing_docs, clippy::all, clippy::pedantic, clippy::unwrap_used)]
pub mod v1 {
    tonic::include_proto!("sluice.v1");
}

/// Encoded `FileDescriptorSet` of every Sluice proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("sluice_descriptor");
