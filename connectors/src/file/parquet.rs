//! Reads Parquet objects row group by row group (the unit of memory) and builds writer
//! properties for the sink.

use super::config::FileSettings;
use super::listing::DataFile;
use crate::channel::BatchSender;
use crate::error::{ConnectorError, Result};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::{AsyncFileReader, ParquetRecordBatchStreamBuilder};
use parquet::arrow::ProjectionMask;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;
use std::ops::Range;
use std::sync::Arc;

/// Bytes fetched from the end of an object to read its footer in one request.
const FOOTER_PREFETCH: usize = 64 << 10;

/// Reads a Parquet object's byte ranges through the object store.
pub struct ObjectReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
}

fn external(error: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(error))
}

impl AsyncFileReader for ObjectReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_metadata_options(options.map(|options| options.metadata_options().clone()))
                .with_prefetch_hint(Some(FOOTER_PREFETCH))
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// Returns a closure wrapping a Parquet error with `context`.
pub fn parquet_error(context: impl Into<String>) -> impl FnOnce(ParquetError) -> ConnectorError {
    let context = context.into();
    move |source| ConnectorError::Parquet { context, source }
}

async fn builder(
    settings: &FileSettings,
    file: &DataFile,
) -> Result<ParquetRecordBatchStreamBuilder<ObjectReader>> {
    let reader = ObjectReader {
        store: Arc::clone(&settings.store),
        path: file.path.clone(),
        size: file.size,
    };
    let opened = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(parquet_error(format!("open Parquet {}", file.path)))?;
    // INT96 timestamps (Spark, Impala) read as nanoseconds overflow past 2262: read them as
    // microseconds, Spark's own resolution, which covers every INT96 value.
    let descriptor = opened.parquet_schema();
    let int96_roots: Vec<usize> = (0..descriptor.num_columns())
        .filter(|index| descriptor.column(*index).physical_type() == parquet::basic::Type::INT96)
        .map(|index| descriptor.get_column_root_idx(index))
        .collect();
    if int96_roots.is_empty() {
        return Ok(opened);
    }
    let fields: Vec<Field> = opened
        .schema()
        .fields()
        .iter()
        .enumerate()
        .map(|(index, field)| match field.data_type() {
            DataType::Timestamp(_, zone) if int96_roots.contains(&index) => field
                .as_ref()
                .clone()
                .with_data_type(DataType::Timestamp(TimeUnit::Microsecond, zone.clone())),
            _ => field.as_ref().clone(),
        })
        .collect();
    let hinted = Arc::new(Schema::new_with_metadata(
        fields,
        opened.schema().metadata().clone(),
    ));
    let reader = ObjectReader {
        store: Arc::clone(&settings.store),
        path: file.path.clone(),
        size: file.size,
    };
    ParquetRecordBatchStreamBuilder::new_with_options(
        reader,
        ArrowReaderOptions::new().with_schema(hinted),
    )
    .await
    .map_err(parquet_error(format!("open Parquet {}", file.path)))
}

/// Returns the Arrow schema and the row count of each row group of a Parquet object.
///
/// # Errors
/// [`ConnectorError::Parquet`] when the footer cannot be read.
pub async fn describe(settings: &FileSettings, file: &DataFile) -> Result<(SchemaRef, Vec<u64>)> {
    let opened = builder(settings, file).await?;
    let rows = opened
        .metadata()
        .row_groups()
        .iter()
        .map(|group| u64::try_from(group.num_rows()).unwrap_or(0))
        .collect();
    Ok((opened.schema().clone(), rows))
}

/// Groups consecutive row groups into runs of about `shard_rows` rows.
pub fn group_row_groups(rows: &[u64], shard_rows: u64) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut pending = 0u64;
    for (index, count) in rows.iter().enumerate() {
        pending += count;
        if pending >= shard_rows.max(1) {
            runs.push(start..index + 1);
            start = index + 1;
            pending = 0;
        }
    }
    if start < rows.len() {
        runs.push(start..rows.len());
    }
    runs
}

/// Reads row groups `row_groups` (all when `None`) of a Parquet object and sends batches of
/// the `projection` columns. The object's schema must equal `schema` (the source's).
///
/// # Errors
/// [`ConnectorError::Config`] when the object's schema differs, [`ConnectorError::Parquet`]
/// for read and decoding errors.
pub async fn read(
    settings: &FileSettings,
    file: &DataFile,
    schema: &SchemaRef,
    row_groups: Option<Range<usize>>,
    projection: &[usize],
    batch_rows: usize,
    output: &BatchSender,
) -> Result<()> {
    let opened = builder(settings, file).await?;
    if opened.schema().fields() != schema.fields() {
        return Err(ConnectorError::config(
            "source.connection",
            format!(
                "{} has columns ({}) but the source's first file has ({}); files of one source must share a schema",
                file.path,
                opened.schema().fields().iter().map(|field| format!("{} {}", field.name(), field.data_type())).collect::<Vec<_>>().join(", "),
                schema.fields().iter().map(|field| format!("{} {}", field.name(), field.data_type())).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    let mask = ProjectionMask::roots(opened.parquet_schema(), projection.iter().copied());
    let groups: Vec<usize> = match row_groups {
        Some(range) => range.collect(),
        None => (0..opened.metadata().num_row_groups()).collect(),
    };
    let declared_rows: i64 = groups
        .iter()
        .filter_map(|index| opened.metadata().row_groups().get(*index))
        .map(|group| group.num_rows())
        .sum();
    let mut rows_read = 0i64;
    let mut stream = opened
        .with_row_groups(groups)
        .with_projection(mask)
        .with_batch_size(batch_rows.max(1))
        .build()
        .map_err(parquet_error(format!("read Parquet {}", file.path)))?;
    while let Some(batch) = stream
        .try_next()
        .await
        .map_err(parquet_error(format!("read Parquet {}", file.path)))?
    {
        rows_read += batch.num_rows() as i64;
        output.send(batch).await?;
    }
    if rows_read != declared_rows {
        // parquet-rs decodes some legal layouts (a repeated group without a LIST annotation)
        // as zero rows; never let that pass as an empty file.
        return Err(ConnectorError::File {
            object: file.path.to_string(),
            message: format!(
                "decoded {rows_read} rows but its row groups declare {declared_rows}; this Parquet layout is not supported"
            ),
        });
    }
    Ok(())
}

/// Returns the writer properties of the sink's options.
pub fn writer_properties(settings: &FileSettings) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(settings.parquet_compression)
        .set_max_row_group_row_count(Some(settings.row_group_rows))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_groups_group_into_runs() {
        assert_eq!(
            group_row_groups(&[10, 10, 10, 10, 5], 20),
            vec![0..2, 2..4, 4..5]
        );
        assert_eq!(group_row_groups(&[100], 20), vec![0..1]);
        assert!(group_row_groups(&[], 20).is_empty());
    }
}
