//! Reading job spec files.

use anyhow::Context;
use sluice_common::spec::{
    parse_job_spec, substitute_params, validate, ParamContext, SpecFormat, ValidatedJobSpec,
};
use sluice_proto::v1 as pb;
use std::path::Path;

/// Reads a spec file; returns its text and its format (by extension, else by content).
pub fn read(path: &Path) -> anyhow::Result<(String, pb::SpecFormat)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read job spec {}", path.display()))?;
    let format = match path.extension().and_then(|extension| extension.to_str()) {
        Some("json") => pb::SpecFormat::Json,
        Some("yaml" | "yml") => pb::SpecFormat::Yaml,
        _ => pb::SpecFormat::Unspecified,
    };
    Ok((text, format))
}

/// Reads a spec file, replaces its placeholders and validates it locally (for commands that
/// need no cluster, and to report mistakes before starting one).
pub fn read_validated(path: &Path, params: &ParamContext) -> anyhow::Result<ValidatedJobSpec> {
    let (text, format) = read(path)?;
    let spec_format = match format {
        pb::SpecFormat::Json => SpecFormat::Json,
        pb::SpecFormat::Yaml => SpecFormat::Yaml,
        pb::SpecFormat::Unspecified => SpecFormat::Auto,
    };
    let (text, spec_format) = substitute_params(&text, spec_format, params)
        .with_context(|| format!("in {}", path.display()))?;
    let spec =
        parse_job_spec(&text, spec_format).with_context(|| format!("in {}", path.display()))?;
    validate(spec).with_context(|| format!("in {}", path.display()))
}
