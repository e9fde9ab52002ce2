//! Files on local disk (`file`) and in S3-compatible object storage (`s3`: AWS S3, Alibaba OSS,
//! MinIO), in CSV, JSON (lines or arrays) and Parquet, through `object_store`.
//!
//! - [`FileSource`] reads a file, or every file under a directory or prefix, as one source. It
//!   plans one shard per CSV/JSON file and, for Parquet, one shard per run of row groups
//!   (encoding in [`listing`]); CSV and JSON text is streamed chunk by chunk ([`text`]), Parquet
//!   row group by row group, so memory is bounded whatever the file size.
//! - [`FileSink`] writes each shard attempt to its own object, `part-{shard:05}-a{attempt}-{job}.{ext}`,
//!   and commits it by creating the marker `_sluice_commits/{job}/{shard}` if absent
//!   (`PutMode::Create`); `finalize` deletes the parts of attempts that did not commit.
//!
//! Options, type mapping and the exactly-once protocol are in `docs/connectors/files.md`.

pub mod config;
pub mod csv;
pub mod json;
pub mod listing;
pub mod parquet;
mod sink;
mod source;
pub mod text;
pub mod zones;

pub use config::{FileFormat, FileSettings};
pub use sink::FileSink;
pub use source::FileSource;
