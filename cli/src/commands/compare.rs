//! `sluice compare FILE`: row count and checksum of a job's source and sink.

use crate::cli::{CompareArgs, OutputFormat};
use crate::output::{self, group};
use crate::spec_file;
use anyhow::Context;
use sluice_common::records::KeyRange;
use sluice_common::spec::inline_connection_config;
use sluice_connectors::checksum::{digest_source, TableDigest};
use sluice_connectors::{open_sink_as_source, open_source};
use std::process::ExitCode;

/// Compares and returns exit code 0 only if row counts and checksums match.
pub async fn compare(args: CompareArgs, output_format: OutputFormat) -> anyhow::Result<ExitCode> {
    let validated = spec_file::read_validated(&args.file, &args.params.context()?)?;
    let inline = |connection: Option<&sluice_common::spec::InlineConnection>, side: &str| {
        let connection = connection.with_context(|| {
            format!("{side} uses a data source: `sluice compare` reads inline connections only (give {side}.connection)")
        })?;
        inline_connection_config(connection).map_err(|errors| {
            anyhow::anyhow!(
                "{side}.connection: {}",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        })
    };
    let source_connection = inline(validated.spec.source.connection.as_ref(), "source")?;
    let sink_connection = inline(validated.spec.sink.connection.as_ref(), "sink")?;
    let source = open_source(&validated, &source_connection).context("cannot open the source")?;
    let sink = open_sink_as_source(&validated, &sink_connection)
        .context("cannot open the sink for reading")?;
    let (source_digest, sink_digest) = tokio::join!(
        digest_source(source.as_ref(), &KeyRange::All),
        digest_source(sink.as_ref(), &KeyRange::All)
    );
    let source_digest: TableDigest = source_digest.context("cannot read the source")?;
    let sink_digest: TableDigest = sink_digest.context("cannot read the sink")?;
    let matched = source_digest == sink_digest;
    match output_format {
        OutputFormat::Json => output::print_json(&serde_json::json!({
            "source": { "rows": source_digest.rows, "checksum": format!("{:016x}", source_digest.sum) },
            "sink": { "rows": sink_digest.rows, "checksum": format!("{:016x}", sink_digest.sum) },
            "match": matched,
        })),
        OutputFormat::Text => {
            println!(
                "source  rows {:>12}  checksum {:016x}",
                group(source_digest.rows),
                source_digest.sum
            );
            println!(
                "sink    rows {:>12}  checksum {:016x}",
                group(sink_digest.rows),
                sink_digest.sum
            );
            println!(
                "{}",
                if matched {
                    "MATCH: same rows, same values"
                } else {
                    "MISMATCH"
                }
            );
        }
    }
    Ok(if matched {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
