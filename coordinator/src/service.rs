//! gRPC adapters: one thin file per service that converts messages and calls the engine or
//! the metadata store.

pub mod datasource;
pub mod job;
pub mod member;
pub mod schedule;
pub mod worker;
pub mod workspace;
