//! `sluice job preview FILE`: the first rows of a job after column mapping and transformers,
//! read from the source and written nowhere.

use crate::cli::OutputFormat;
use crate::output;
use crate::spec_file;
use anyhow::Context;
use arrow_array::RecordBatch;
use sluice_common::records::{KeyRange, TransformerCounts};
use sluice_common::spec::{inline_connection_config, parse_transformers, ParamContext};
use sluice_connectors::mapping::sink_column_names;
use sluice_connectors::transform::{text_values, TransformChain};
use sluice_connectors::{batch_channel, open_source, ConnectorError, ShardCounters};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// What the preview read and kept.
struct Preview {
    /// Sink column names.
    columns: Vec<String>,
    /// Rows as text (`None` is NULL).
    rows: Vec<Vec<Option<String>>>,
    /// Per-transformer counts over the rows read.
    counts: Vec<TransformerCounts>,
    /// Rows read from the source.
    rows_read: u64,
}

/// Prints the first `limit` rows of the job in `file`; exit code 0 unless something failed.
pub async fn preview(
    file: &Path,
    limit: usize,
    params: &ParamContext,
    output_format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let validated = spec_file::read_validated(file, params)?;
    let inline = validated.spec.source.connection.as_ref().context(
        "source uses a data source: `sluice job preview` reads inline connections only (give source.connection)",
    )?;
    let connection = inline_connection_config(inline).map_err(|errors| {
        anyhow::anyhow!(
            "source.connection: {}",
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    let transformers = parse_transformers(&validated.spec.transformers)
        .map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let source = open_source(&validated, &connection).context("cannot open the source")?;
    let counters = Arc::new(ShardCounters::default());
    let (sender, mut receiver) = batch_channel(2, Arc::clone(&counters));
    let reader = async move {
        source.read(&KeyRange::All, &sender).await?;
        sender.finish().await
    };
    let sink_columns = validated.spec.sink.columns.clone();
    let collector = async {
        let mut preview = Preview {
            columns: Vec::new(),
            rows: Vec::new(),
            counts: Vec::new(),
            rows_read: 0,
        };
        let mut chain: Option<TransformChain> = None;
        while preview.rows.len() < limit {
            let Some(batch) = receiver.next().await? else {
                break;
            };
            preview.rows_read += batch.num_rows() as u64;
            if chain.is_none() && !transformers.is_empty() {
                chain = Some(TransformChain::new(transformers.clone(), &batch.schema())?);
            }
            let kept = match &chain {
                Some(bound) => {
                    let output = bound.apply(batch)?;
                    preview.counts = sluice_common::records::sum_transformer_counts(
                        &preview.counts,
                        &output.counts,
                    );
                    output.batch
                }
                None => batch,
            };
            if preview.columns.is_empty() {
                preview.columns = sink_column_names(&sink_columns, &kept.schema())?;
            }
            append_rows(&kept, limit, &mut preview.rows)?;
        }
        // Enough rows: stop the reader.
        counters.cancel();
        Ok::<Preview, ConnectorError>(preview)
    };
    let (read_result, preview_result) = tokio::join!(reader, collector);
    let preview = preview_result.context("cannot preview the job")?;
    match read_result {
        Ok(()) | Err(ConnectorError::Aborted) => {}
        Err(error) => return Err(error).context("cannot read the source"),
    }
    print(&preview, &validated.spec.transformers, output_format);
    Ok(ExitCode::SUCCESS)
}

fn append_rows(
    batch: &RecordBatch,
    limit: usize,
    rows: &mut Vec<Vec<Option<String>>>,
) -> Result<(), ConnectorError> {
    let take = batch.num_rows().min(limit.saturating_sub(rows.len()));
    let columns = batch
        .columns()
        .iter()
        .map(|column| text_values(&column.slice(0, take)))
        .collect::<Result<Vec<_>, _>>()?;
    for row in 0..take {
        rows.push(
            columns
                .iter()
                .map(|column| {
                    use arrow_array::Array;
                    (!column.is_null(row)).then(|| column.value(row).to_string())
                })
                .collect(),
        );
    }
    Ok(())
}

fn print(
    preview: &Preview,
    transformers: &[sluice_common::spec::TransformerSpec],
    output_format: OutputFormat,
) {
    let names: Vec<&str> = transformers.iter().map(|t| t.name.as_str()).collect();
    match output_format {
        OutputFormat::Json => {
            let rows: Vec<serde_json::Value> = preview
                .rows
                .iter()
                .map(|row| {
                    serde_json::Value::Object(
                        preview
                            .columns
                            .iter()
                            .cloned()
                            .zip(row.iter().map(|value| {
                                value
                                    .clone()
                                    .map_or(serde_json::Value::Null, serde_json::Value::String)
                            }))
                            .collect(),
                    )
                })
                .collect();
            let counts: Vec<serde_json::Value> = preview
                .counts
                .iter()
                .enumerate()
                .map(|(index, count)| {
                    serde_json::json!({
                        "name": names.get(index).copied().unwrap_or_default(),
                        "rows_in": count.rows_in,
                        "rows_out": count.rows_out,
                        "filtered": count.filtered,
                        "failed": count.failed,
                    })
                })
                .collect();
            output::print_json(&serde_json::json!({
                "columns": preview.columns,
                "rows": rows,
                "rows_read": preview.rows_read,
                "transformers": counts,
            }));
        }
        OutputFormat::Text => {
            let cell = |value: &Option<String>| value.clone().unwrap_or_else(|| "NULL".into());
            let mut widths: Vec<usize> = preview
                .columns
                .iter()
                .map(|name| name.chars().count())
                .collect();
            for row in &preview.rows {
                for (index, value) in row.iter().enumerate() {
                    if let Some(width) = widths.get_mut(index) {
                        *width = (*width).max(cell(value).chars().count());
                    }
                }
            }
            let line = |values: Vec<String>| {
                values
                    .iter()
                    .zip(&widths)
                    .map(|(value, width)| format!("{value:<width$}"))
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end()
                    .to_string()
            };
            println!("{}", line(preview.columns.clone()));
            for row in &preview.rows {
                println!("{}", line(row.iter().map(cell).collect()));
            }
            println!(
                "({} rows shown, {} read from the source, nothing written)",
                preview.rows.len(),
                output::group(preview.rows_read)
            );
            for (index, count) in preview.counts.iter().enumerate() {
                println!(
                    "transform  [{index}] {:<18} {} in, {} out, {} filtered, {} failed",
                    names.get(index).copied().unwrap_or_default(),
                    output::group(count.rows_in),
                    output::group(count.rows_out),
                    output::group(count.filtered),
                    output::group(count.failed)
                );
            }
        }
    }
}
