//! Reads a file, or every file of a directory or prefix, as one source.

use super::config::{FileFormat, FileSettings};
use super::listing::{decode_range, file_range, list_files, row_group_range, DataFile, FileShard};
use super::{csv, json, parquet};
use crate::channel::BatchSender;
use crate::error::{ConnectorError, Result};
use crate::{PlanOutput, PlanRequest, Source};
use arrow_schema::{Schema, SchemaRef};
use async_trait::async_trait;
use sluice_common::records::KeyRange;
use sluice_common::spec::{ConnectionConfig, JobSpec};
use std::sync::Arc;

/// Reads the CSV, JSON or Parquet files of a `file` or `s3` connection.
#[derive(Debug, Clone)]
pub struct FileSource {
    settings: FileSettings,
    columns: Vec<String>,
    batch_rows: usize,
    role: String,
}

/// The source's schema and the columns it reads.
struct Projection {
    /// Schema of the first file (every column).
    full: SchemaRef,
    /// Indexes of the read columns in `full`.
    indexes: Vec<usize>,
}

impl FileSource {
    /// Builds the reader of a job's source side. `source.table`, when given, names a file or
    /// sub-directory under the connection's path or prefix.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad option, or for `where`, `split_pk` and `query`,
    /// which files do not support.
    pub fn new(spec: &JobSpec, connection: &ConnectionConfig) -> Result<Self> {
        let source = &spec.source;
        for (present, field) in [
            (source.where_clause.is_some(), "source.where"),
            (source.split_pk.is_some(), "source.split_pk"),
            (source.query.is_some(), "source.query"),
        ] {
            if present {
                return Err(ConnectorError::config(
                    field,
                    format!("is not supported for a {} source (files are split by file and Parquet row group)", connection.kind),
                ));
            }
        }
        Ok(FileSource {
            settings: FileSettings::from_connection(connection, "source", source.table.as_deref())?,
            columns: source.columns.clone(),
            batch_rows: spec.settings.batch_rows.max(1) as usize,
            role: "source".into(),
        })
    }

    /// Builds a reader of what a job wrote into a file sink (committed parts only).
    ///
    /// # Errors
    /// [`ConnectorError::Config`] for a bad option.
    pub fn sink_reader(spec: &JobSpec, connection: &ConnectionConfig) -> Result<Self> {
        let columns = crate::mapping::target_column_names(spec);
        Ok(FileSource {
            settings: FileSettings::from_connection(
                connection,
                "sink",
                spec.sink.table.as_deref(),
            )?,
            columns,
            batch_rows: spec.settings.batch_rows.max(1) as usize,
            role: "sink".into(),
        })
    }

    /// The schema of the dataset whose first object is `first` (CSV and JSON sample several of
    /// `files`).
    async fn file_schema(&self, first: &DataFile, files: &[DataFile]) -> Result<SchemaRef> {
        match first.format {
            FileFormat::Csv => csv::schema(&self.settings, files, &self.role).await,
            FileFormat::Json => json::schema(&self.settings, files).await,
            FileFormat::Parquet => Ok(parquet::describe(&self.settings, first).await?.0),
        }
    }

    async fn projection(&self, files: &[DataFile]) -> Result<Projection> {
        let Some(first) = files.first() else {
            return Err(ConnectorError::config(
                format!("{}.connection", self.role),
                format!("no files at {}", self.settings.display),
            ));
        };
        let full = self.file_schema(first, files).await?;
        let mut indexes = Vec::with_capacity(self.columns.len());
        for (position, column) in self.columns.iter().enumerate() {
            match full.index_of(column) {
                Ok(index) => indexes.push(index),
                Err(_) => {
                    return Err(ConnectorError::config(
                        format!("{}.columns[{position}]", self.role),
                        format!(
                            "\"{column}\" is not a column of {}; columns are: {}",
                            first.path,
                            full.fields()
                                .iter()
                                .map(|field| field.name().as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ))
                }
            }
        }
        if self.columns.is_empty() {
            indexes = (0..full.fields().len()).collect();
        }
        Ok(Projection { full, indexes })
    }

    async fn read_file(
        &self,
        file: &DataFile,
        row_groups: Option<std::ops::Range<usize>>,
        projection: &Projection,
        output: &BatchSender,
    ) -> Result<()> {
        match file.format {
            FileFormat::Csv => {
                csv::read(
                    &self.settings,
                    file,
                    &projection.full,
                    &projection.indexes,
                    self.batch_rows,
                    output,
                )
                .await
            }
            FileFormat::Json => {
                json::read(
                    &self.settings,
                    file,
                    &projection.full,
                    &projection.indexes,
                    self.batch_rows,
                    output,
                )
                .await
            }
            FileFormat::Parquet => {
                parquet::read(
                    &self.settings,
                    file,
                    &projection.full,
                    row_groups,
                    &projection.indexes,
                    self.batch_rows,
                    output,
                )
                .await
            }
        }
    }
}

#[async_trait]
impl Source for FileSource {
    async fn schema(&self) -> Result<SchemaRef> {
        let files = list_files(&self.settings, &self.role).await?;
        let projection = self.projection(&files).await?;
        let projected = projection
            .full
            .project(&projection.indexes)
            .map_err(|source| ConnectorError::Arrow {
                context: "project the source columns".into(),
                source,
            })?;
        Ok(Arc::new(Schema::new_with_metadata(
            projected.fields().clone(),
            projected.metadata().clone(),
        )))
    }

    async fn plan(&self, request: &PlanRequest) -> Result<PlanOutput> {
        let files = list_files(&self.settings, &self.role).await?;
        self.projection(&files).await?;
        let mut ranges = Vec::new();
        let mut estimated_rows = 0u64;
        for file in &files {
            if file.format != FileFormat::Parquet {
                ranges.push(file_range(&file.path));
                continue;
            }
            let (_, row_groups) = parquet::describe(&self.settings, file).await?;
            estimated_rows += row_groups.iter().sum::<u64>();
            let runs = parquet::group_row_groups(&row_groups, request.shard_rows);
            if runs.len() <= 1 {
                ranges.push(file_range(&file.path));
            } else {
                ranges.extend(runs.into_iter().map(|run| row_group_range(&file.path, run)));
            }
        }
        Ok(PlanOutput {
            ranges,
            estimated_rows,
            key_bounds: None,
        })
    }

    async fn read(&self, range: &KeyRange, output: &BatchSender) -> Result<()> {
        let files = list_files(&self.settings, &self.role).await?;
        let projection = self.projection(&files).await?;
        match decode_range(range)? {
            FileShard::All => {
                for file in &files {
                    self.read_file(file, None, &projection, output).await?;
                }
                Ok(())
            }
            FileShard::File { path, row_groups } => {
                let file = files
                    .iter()
                    .find(|file| file.path.as_ref() == path)
                    .ok_or_else(|| {
                        ConnectorError::config(
                            format!("{}.connection", self.role),
                            format!(
                                "{path} of shard {range} is no longer at {}",
                                self.settings.display
                            ),
                        )
                    })?;
                self.read_file(file, row_groups, &projection, output).await
            }
        }
    }
}
