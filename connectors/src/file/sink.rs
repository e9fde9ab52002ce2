//! Writes each shard attempt to its own object and commits it with a create-if-absent marker.
//!
//! Per shard attempt: if `_sluice_commits/{job}/{shard}` exists, return
//! [`WriteOutcome::AlreadyCommitted`] at once; else stream every batch into
//! `part-{shard:05}-a{attempt}-{job}.{ext}` (a multipart upload: bounded memory; an input that
//! ends without its end marker aborts the upload, so no partial object stays), then create the
//! marker with `PutMode::Create`. Whoever creates the marker first wins; a loser deletes its own
//! part and returns [`WriteOutcome::AlreadyCommitted`]. [`Sink::finalize`] deletes every part
//! that no marker names (attempts of killed or losing workers), so a finished job leaves
//! exactly one set of files; readers skip such parts even before that (see [`super::listing`]).
//!
//! One job at a time per sink directory: `finalize` cannot tell another running job's
//! uncommitted parts from dead ones.

use super::config::{FileFormat, FileSettings, TextCompression};
use super::listing::{committed_objects, is_part_name, store_error, CommitMarker, COMMITS_DIR};
use super::parquet::{parquet_error, writer_properties};
use super::text::encode_text;
use super::zones::offset_zones;
use crate::channel::BatchReceiver;
use crate::error::{ConnectorError, Result};
use crate::{ShardIdentity, Sink, WriteOutcome};
use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use flate2::write::GzEncoder;
use futures_util::TryStreamExt;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use parquet::arrow::AsyncArrowWriter;
use sluice_common::spec::{ConnectionConfig, JobSpec, WriteMode};
use std::io::Write;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Bytes buffered before an object becomes a multipart upload.
const UPLOAD_BUFFER: usize = 8 << 20;

/// Writes CSV, JSON lines or Parquet objects into a directory or prefix.
#[derive(Debug, Clone)]
pub struct FileSink {
    settings: FileSettings,
    format: FileFormat,
    gzip: bool,
    columns: Vec<String>,
    write_mode: WriteMode,
}

/// Returns `text` with every character outside `[A-Za-z0-9_-]` replaced by `_`.
fn safe_name(text: &str) -> String {
    text.chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || character == '-' || character == '_' {
                character
            } else {
                '_'
            }
        })
        .collect()
}

enum Encoder<'a> {
    Parquet(Box<AsyncArrowWriter<&'a mut BufWriter>>),
    Text {
        writer: &'a mut BufWriter,
        first: bool,
    },
}

impl FileSink {
    /// Builds a writer from a job's sink side. `sink.table`, when given, names a sub-directory
    /// under the connection's path or prefix.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad option, a missing `format`, `upsert`, or SQL hooks.
    pub fn new(
        spec: &JobSpec,
        write_mode: WriteMode,
        connection: &ConnectionConfig,
    ) -> Result<Self> {
        let sink = &spec.sink;
        crate::mapping::check_write_mode(
            &connection.kind,
            write_mode,
            &[WriteMode::Insert, WriteMode::Truncate],
        )?;
        if spec.settings.dirty_table.is_some() {
            return Err(ConnectorError::config(
                "settings.dirty_table",
                format!(
                    "a {} sink has no tables; leave it out (dirty records are kept in the cluster's dirty-data store: sluice job dirty ID)",
                    connection.kind
                ),
            ));
        }
        for (present, field) in [
            (!sink.pre_sql.is_empty(), "sink.pre_sql"),
            (!sink.post_sql.is_empty(), "sink.post_sql"),
        ] {
            if present {
                return Err(ConnectorError::config(
                    field,
                    format!("is not supported by a {} sink", connection.kind),
                ));
            }
        }
        let settings = FileSettings::from_connection(connection, "sink", sink.table.as_deref())?;
        let format = settings.format.ok_or_else(|| {
            ConnectorError::config(
                "sink.connection.format",
                format!(
                    "is required for a {} sink: csv, json or parquet",
                    connection.kind
                ),
            )
        })?;
        if format != FileFormat::Parquet
            && settings.encoding != encoding_rs::UTF_8
            && settings.encoding.output_encoding() != settings.encoding
        {
            return Err(ConnectorError::config(
                "sink.connection.encoding",
                format!(
                    "{} can be read but not written; write utf-8, gbk or gb18030",
                    settings.encoding.name()
                ),
            ));
        }
        Ok(FileSink {
            gzip: settings.compression == TextCompression::Gzip && format != FileFormat::Parquet,
            settings,
            format,
            columns: sink.columns.clone(),
            write_mode,
        })
    }

    fn commits_dir(&self) -> Path {
        self.settings.location.clone().join(COMMITS_DIR)
    }

    fn marker_path(&self, shard: &ShardIdentity) -> Path {
        self.commits_dir()
            .join(safe_name(shard.job_id.as_str()))
            .join(shard.shard_id.0.to_string())
    }

    fn part_name(&self, shard: &ShardIdentity) -> String {
        format!(
            "part-{:05}-a{}-{}.{}{}",
            shard.shard_id.0,
            shard.attempt.0,
            safe_name(shard.job_id.as_str()),
            self.format.extension(),
            if self.gzip { ".gz" } else { "" }
        )
    }

    fn renamed(&self, batch: RecordBatch) -> Result<RecordBatch> {
        if self.columns.is_empty() {
            return Ok(batch);
        }
        if self.columns.len() != batch.num_columns() {
            return Err(ConnectorError::config(
                "sink.columns",
                format!(
                    "has {} columns but the source produces {}; columns are matched by position",
                    self.columns.len(),
                    batch.num_columns()
                ),
            ));
        }
        let schema = batch.schema();
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .zip(&self.columns)
            .map(|(field, name)| field.as_ref().clone().with_name(name))
            .collect();
        RecordBatch::try_new(
            Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
            batch.columns().to_vec(),
        )
        .map_err(|source| ConnectorError::Arrow {
            context: "rename sink columns".into(),
            source,
        })
    }

    fn check_types(&self, schema: &SchemaRef) -> Result<()> {
        for field in schema.fields() {
            if self.format == FileFormat::Parquet {
                if matches!(
                    field.data_type(),
                    DataType::Interval(arrow_schema::IntervalUnit::MonthDayNano)
                ) {
                    return Err(ConnectorError::Unsupported(format!(
                        "column {}: month-day-nanosecond intervals cannot be written to Parquet (parquet-rs does not implement them); cast to text in the source query",
                        field.name()
                    )));
                }
                continue;
            }
            let nested = matches!(
                field.data_type(),
                DataType::List(_)
                    | DataType::LargeList(_)
                    | DataType::Struct(_)
                    | DataType::Map(_, _)
                    | DataType::FixedSizeList(_, _)
            );
            if nested && self.format == FileFormat::Csv {
                return Err(ConnectorError::Unsupported(format!(
                    "column {}: {} cannot be written to CSV (write json or parquet)",
                    field.name(),
                    field.data_type()
                )));
            }
        }
        Ok(())
    }

    fn encode_text_batch(&self, batch: &RecordBatch, first: bool, object: &str) -> Result<Vec<u8>> {
        let arrow_error = |source| ConnectorError::Arrow {
            context: format!("encode rows for {object}"),
            source,
        };
        // The text writers format zoned timestamps only with offset zones.
        let batch = &offset_zones(batch.clone())?;
        let text = match self.format {
            FileFormat::Csv => {
                let options = &self.settings.csv;
                let mut builder = arrow_csv::WriterBuilder::new()
                    .with_header(options.header && first)
                    .with_delimiter(options.delimiter)
                    .with_quote(options.quote);
                if let Some(escape) = options.escape {
                    builder = builder.with_escape(escape).with_double_quote(false);
                }
                if let Some(null) = &options.null_string {
                    builder = builder.with_null(null.clone());
                }
                let mut writer = builder.build(Vec::new());
                writer.write(batch).map_err(arrow_error)?;
                writer.into_inner()
            }
            FileFormat::Json => {
                let mut writer = arrow_json::LineDelimitedWriter::new(Vec::new());
                writer.write(batch).map_err(arrow_error)?;
                writer.finish().map_err(arrow_error)?;
                writer.into_inner()
            }
            FileFormat::Parquet => Vec::new(),
        };
        encode_text(&text, self.settings.encoding, object)
    }

    /// Streams every batch of `input` into `writer`; returns the rows written.
    async fn write_part(
        &self,
        writer: &mut BufWriter,
        input: &mut BatchReceiver,
        object: &str,
    ) -> Result<u64> {
        let mut encoder: Option<Encoder<'_>> = None;
        let mut writer_slot = Some(writer);
        let mut gzip = self
            .gzip
            .then(|| GzEncoder::new(Vec::new(), flate2::Compression::default()));
        let mut rows = 0u64;
        while let Some(batch) = input.next().await? {
            if batch.num_rows() == 0 {
                continue;
            }
            let batch = self.renamed(batch)?;
            if encoder.is_none() {
                self.check_types(&batch.schema())?;
                let Some(writer) = writer_slot.take() else {
                    break;
                };
                encoder = Some(match self.format {
                    FileFormat::Parquet => Encoder::Parquet(Box::new(
                        AsyncArrowWriter::try_new(
                            writer,
                            batch.schema(),
                            Some(writer_properties(&self.settings)),
                        )
                        .map_err(parquet_error(format!("start {object}")))?,
                    )),
                    _ => Encoder::Text {
                        writer,
                        first: true,
                    },
                });
            }
            match encoder.as_mut() {
                Some(Encoder::Parquet(parquet_writer)) => {
                    parquet_writer
                        .write(&batch)
                        .await
                        .map_err(parquet_error(format!("write {object}")))?;
                }
                Some(Encoder::Text { writer, first }) => {
                    let mut bytes = self.encode_text_batch(&batch, *first, object)?;
                    *first = false;
                    if let Some(compressor) = gzip.as_mut() {
                        compressor.write_all(&bytes).map_err(|error| {
                            ConnectorError::Task(format!("compress {object}: {error}"))
                        })?;
                        bytes = std::mem::take(compressor.get_mut());
                    }
                    writer.write_all(&bytes).await.map_err(|error| {
                        ConnectorError::Task(format!("write {object}: {error}"))
                    })?;
                }
                None => {}
            }
            input.record_written(&batch);
            rows += batch.num_rows() as u64;
        }
        match encoder {
            Some(Encoder::Parquet(parquet_writer)) => {
                parquet_writer
                    .close()
                    .await
                    .map_err(parquet_error(format!("finish {object}")))?;
            }
            Some(Encoder::Text { writer, .. }) => {
                if let Some(compressor) = gzip {
                    let tail = compressor.finish().map_err(|error| {
                        ConnectorError::Task(format!("compress {object}: {error}"))
                    })?;
                    writer.write_all(&tail).await.map_err(|error| {
                        ConnectorError::Task(format!("write {object}: {error}"))
                    })?;
                }
                writer
                    .shutdown()
                    .await
                    .map_err(|error| ConnectorError::Task(format!("finish {object}: {error}")))?;
            }
            None => {}
        }
        Ok(rows)
    }
}

#[async_trait]
impl Sink for FileSink {
    async fn prepare(&self, source_schema: SchemaRef) -> Result<()> {
        self.check_types(&source_schema)?;
        if self.write_mode == WriteMode::Truncate {
            let store = &self.settings.store;
            let objects: Vec<_> = store
                .list(Some(&self.settings.location))
                .try_collect()
                .await
                .map_err(store_error(format!("list {}", self.settings.display)))?;
            for meta in objects {
                store
                    .delete(&meta.location)
                    .await
                    .map_err(store_error(format!("delete {}", meta.location)))?;
            }
        }
        Ok(())
    }

    async fn write_shard(
        &self,
        shard: &ShardIdentity,
        mut input: BatchReceiver,
    ) -> Result<WriteOutcome> {
        let store = &self.settings.store;
        let marker = self.marker_path(shard);
        if store.head(&marker).await.is_ok() {
            return Ok(WriteOutcome::AlreadyCommitted);
        }
        let name = self.part_name(shard);
        let part = self.settings.location.clone().join(name.as_str());
        let object = format!("{}/{name}", self.settings.display.trim_end_matches('/'));
        let mut writer = BufWriter::with_capacity(Arc::clone(store), part.clone(), UPLOAD_BUFFER);
        let rows = match self.write_part(&mut writer, &mut input, &object).await {
            Ok(rows) => rows,
            Err(error) => {
                // Nothing of a failed attempt may stay visible.
                let _ = writer.abort().await;
                let _ = store.delete(&part).await;
                return Err(error);
            }
        };
        let objects = if rows == 0 {
            let _ = writer.abort().await;
            let _ = store.delete(&part).await;
            Vec::new()
        } else {
            vec![name.clone()]
        };
        let content = serde_json::to_vec(&CommitMarker {
            attempt: shard.attempt.0,
            objects,
            rows,
        })
        .map_err(|error| ConnectorError::Task(format!("encode commit marker: {error}")))?;
        let options = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match store
            .put_opts(&marker, PutPayload::from(content), options)
            .await
        {
            Ok(_) => Ok(WriteOutcome::Committed { rows }),
            Err(object_store::Error::AlreadyExists { .. }) => {
                if rows > 0 {
                    store
                        .delete(&part)
                        .await
                        .map_err(store_error(format!("delete losing part {object}")))?;
                }
                Ok(WriteOutcome::AlreadyCommitted)
            }
            Err(error) => Err(store_error(format!("create commit marker {marker}"))(error)),
        }
    }

    async fn finalize(&self) -> Result<()> {
        let store = &self.settings.store;
        let committed = committed_objects(store.as_ref(), &self.settings.location).await?;
        let objects: Vec<_> = store
            .list(Some(&self.settings.location))
            .try_collect()
            .await
            .map_err(store_error(format!("list {}", self.settings.display)))?;
        for meta in objects {
            let Some(relative) = meta.location.prefix_match(&self.settings.location) else {
                continue;
            };
            let parts: Vec<String> = relative.map(|part| part.as_ref().to_string()).collect();
            let name = parts.last().cloned().unwrap_or_default();
            if parts.len() == 1 && is_part_name(&name) && !committed.contains(&name) {
                store
                    .delete(&meta.location)
                    .await
                    .map_err(store_error(format!(
                        "delete uncommitted part {}",
                        meta.location
                    )))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe() {
        assert_eq!(safe_name("job/1 x"), "job_1_x");
        assert_eq!(safe_name("a-b_c"), "a-b_c");
    }
}
