//! Options of a `file` or `s3` connection: where the objects are and how they are encoded.
//!
//! Every option is a connection option (declared in `CONNECTION_TYPES`), so a data source holds
//! the whole description of its files. Errors name the option as `{role}.connection.{name}`.

use crate::error::{ConnectorError, Result};
use encoding_rs::Encoding;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::ObjectStore;
use sluice_common::spec::ConnectionConfig;
use std::sync::Arc;

/// File format of the objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// Delimited text.
    Csv,
    /// JSON lines (one object per line).
    Json,
    /// Apache Parquet.
    Parquet,
}

impl FileFormat {
    /// Returns the file name extension of the format.
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Json => "jsonl",
            FileFormat::Parquet => "parquet",
        }
    }

    /// Guesses the format of an object from its name (`.csv`, `.tsv`, `.csv.gz`, `.json`,
    /// `.jsonl`, `.ndjson`, `.parquet`).
    pub fn from_name(name: &str) -> Option<FileFormat> {
        let lower = name.to_ascii_lowercase();
        let stem = lower.strip_suffix(".gz").unwrap_or(&lower);
        if stem.ends_with(".csv") || stem.ends_with(".tsv") || stem.ends_with(".txt") {
            Some(FileFormat::Csv)
        } else if stem.ends_with(".json") || stem.ends_with(".jsonl") || stem.ends_with(".ndjson") {
            Some(FileFormat::Json)
        } else if stem.ends_with(".parquet") || stem.ends_with(".pq") {
            Some(FileFormat::Parquet)
        } else {
            None
        }
    }
}

/// Compression of CSV and JSON objects (Parquet compresses inside the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextCompression {
    /// Guess from the name: `.gz` is gzip.
    Auto,
    /// Not compressed.
    None,
    /// gzip (also several concatenated members).
    Gzip,
}

/// CSV dialect and text options.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// Whether the first line holds the column names.
    pub header: bool,
    /// Field delimiter.
    pub delimiter: u8,
    /// Quote character.
    pub quote: u8,
    /// Escape character inside quoted fields (none: quotes are doubled).
    pub escape: Option<u8>,
    /// The text that stands for NULL; `None` means an empty field is NULL.
    pub null_string: Option<String>,
    /// Lines to skip before the header (junk at the top of a file).
    pub skip_lines: usize,
    /// Column types given by the user (`id:int64,name:utf8`), else inferred.
    pub schema: Option<String>,
    /// Whether a record with fewer fields than the header reads its missing fields as NULL
    /// (else the file fails).
    pub allow_short_rows: bool,
}

/// Resolved options of a `file` or `s3` connection. `Debug` never shows the secret key.
#[derive(Clone)]
pub struct FileSettings {
    /// The object store holding the files.
    pub store: Arc<dyn ObjectStore>,
    /// The directory (prefix) of the files, or the single file, inside the store.
    pub location: Path,
    /// Human-readable location for messages (`file:/data/x` or `s3://bucket/prefix`).
    pub display: String,
    /// Format given by `format`, else guessed from the names.
    pub format: Option<FileFormat>,
    /// CSV options.
    pub csv: CsvOptions,
    /// Character encoding of CSV and JSON text.
    pub encoding: &'static Encoding,
    /// Compression of CSV and JSON objects.
    pub compression: TextCompression,
    /// Records read to infer CSV and JSON schemas.
    pub infer_rows: usize,
    /// Rows per Parquet row group when writing.
    pub row_group_rows: usize,
    /// Parquet compression when writing.
    pub parquet_compression: parquet::basic::Compression,
}

impl std::fmt::Debug for FileSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("FileSettings")
            .field("location", &self.display)
            .field("format", &self.format)
            .field("encoding", &self.encoding.name())
            .finish()
    }
}

fn single_byte(field: &str, text: &str) -> Result<u8> {
    let unescaped = match text {
        "\\t" | "tab" => "\t",
        other => other,
    };
    match unescaped.as_bytes() {
        [byte] if byte.is_ascii() => Ok(*byte),
        _ => Err(ConnectorError::config(
            field,
            format!("\"{text}\" is not a single ASCII character (write a tab as \\t)"),
        )),
    }
}

fn boolean(field: &str, text: &str) -> Result<bool> {
    match text.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(ConnectorError::config(
            field,
            format!("\"{other}\" is not one of true, false"),
        )),
    }
}

fn count(field: &str, text: &str, min: usize) -> Result<usize> {
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|value| *value >= min)
        .ok_or_else(|| {
            ConnectorError::config(
                field,
                format!("\"{text}\" is not a whole number of at least {min}"),
            )
        })
}

/// Resolves `.` and `..` in an absolute local path lexically (`/a/b/../c` is `/a/c`), since
/// object paths cannot hold them.
fn normalize_local_path(text: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for component in std::path::Path::new(text).components() {
        match component {
            std::path::Component::Normal(part) => parts.push(part.to_str().unwrap_or_default()),
            std::path::Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

/// Returns `text` (`a/b/c`) as an object path, appending `table` (a sub-directory) when given.
fn object_path(field: &str, text: &str, table: Option<&str>) -> Result<Path> {
    let mut joined = text.trim_matches('/').to_string();
    if let Some(table) = table
        .map(|name| name.trim_matches('/'))
        .filter(|name| !name.is_empty())
    {
        if !joined.is_empty() {
            joined.push('/');
        }
        joined.push_str(table);
    }
    Path::parse(&joined).map_err(|error| {
        ConnectorError::config(
            field,
            format!("\"{joined}\" is not a valid object path: {error}"),
        )
    })
}

impl FileSettings {
    /// Reads the options of `connection`; `role` (`source` or `sink`) prefixes field paths in
    /// errors, and `table` (the job's `table`) names a file or sub-directory under the
    /// connection's path or prefix.
    ///
    /// # Errors
    /// [`ConnectorError::Config`] naming the option for a missing or malformed value.
    pub fn from_connection(
        connection: &ConnectionConfig,
        role: &str,
        table: Option<&str>,
    ) -> Result<Self> {
        let field = |name: &str| format!("{role}.connection.{name}");
        let option = |name: &str| {
            connection
                .option(name)
                .map(str::trim)
                .filter(|value| !value.is_empty())
        };
        let (store, location, display): (Arc<dyn ObjectStore>, Path, String) =
            match connection.kind.as_str() {
                "file" => {
                    let path_text = option("path").ok_or_else(|| {
                        ConnectorError::config(field("path"), "is required for a file connection")
                    })?;
                    if !path_text.starts_with('/') {
                        return Err(ConnectorError::config(
                            field("path"),
                            format!("\"{path_text}\" must be an absolute path"),
                        ));
                    }
                    let normalized = normalize_local_path(path_text);
                    let location = object_path(&field("path"), &normalized, table)?;
                    (
                        Arc::new(LocalFileSystem::new()),
                        location.clone(),
                        format!("file:/{location}"),
                    )
                }
                "s3" => {
                    let bucket = option("bucket").ok_or_else(|| {
                        ConnectorError::config(field("bucket"), "is required for an s3 connection")
                    })?;
                    let mut builder = AmazonS3Builder::new()
                        .with_bucket_name(bucket)
                        .with_region(option("region").unwrap_or("us-east-1"));
                    if let Some(endpoint) = option("endpoint") {
                        if !endpoint.starts_with("http://") && !endpoint.starts_with("https://") {
                            return Err(ConnectorError::config(
                                field("endpoint"),
                                format!("\"{endpoint}\" must start with http:// or https://"),
                            ));
                        }
                        builder = builder
                            .with_endpoint(endpoint)
                            .with_allow_http(endpoint.starts_with("http://"));
                    }
                    if let Some(key) = option("access_key_id") {
                        builder = builder.with_access_key_id(key);
                    }
                    if let Some(secret) = connection.secrets.get("secret_access_key") {
                        builder = builder.with_secret_access_key(secret);
                    }
                    if let Some(text) = option("virtual_hosted_style") {
                        builder = builder.with_virtual_hosted_style_request(boolean(
                            &field("virtual_hosted_style"),
                            text,
                        )?);
                    }
                    let store = builder.build().map_err(|error| {
                        // The builder's messages name options, never the secret's value.
                        ConnectorError::config(
                            format!("{role}.connection"),
                            format!("cannot open bucket {bucket}: {error}"),
                        )
                    })?;
                    let prefix = option("prefix").unwrap_or("");
                    let location = object_path(&field("prefix"), prefix, table)?;
                    (
                        Arc::new(store),
                        location.clone(),
                        format!("s3://{bucket}/{location}"),
                    )
                }
                other => {
                    return Err(ConnectorError::Unsupported(format!(
                        "{other} is not a file connection"
                    )));
                }
            };
        let format = match option("format") {
            None => None,
            Some("csv") => Some(FileFormat::Csv),
            Some("json") => Some(FileFormat::Json),
            Some("parquet") => Some(FileFormat::Parquet),
            Some(other) => {
                return Err(ConnectorError::config(
                    field("format"),
                    format!("\"{other}\" is not one of csv, json, parquet"),
                ))
            }
        };
        let encoding = match option("encoding") {
            None => encoding_rs::UTF_8,
            Some(label) => Encoding::for_label(label.as_bytes()).ok_or_else(|| {
                ConnectorError::config(
                    field("encoding"),
                    format!("\"{label}\" is not a known encoding (utf-8, gbk, gb18030, utf-16le, windows-1252, ...)"),
                )
            })?,
        };
        let compression = match option("compression") {
            None | Some("auto") => TextCompression::Auto,
            Some("none") => TextCompression::None,
            Some("gzip") => TextCompression::Gzip,
            Some(other) => {
                return Err(ConnectorError::config(
                    field("compression"),
                    format!("\"{other}\" is not one of auto, none, gzip"),
                ))
            }
        };
        let parquet_compression = match option("parquet_compression").unwrap_or("snappy") {
            "none" => parquet::basic::Compression::UNCOMPRESSED,
            "snappy" => parquet::basic::Compression::SNAPPY,
            "lz4" => parquet::basic::Compression::LZ4_RAW,
            "gzip" => parquet::basic::Compression::GZIP(Default::default()),
            "zstd" => parquet::basic::Compression::ZSTD(Default::default()),
            other => {
                return Err(ConnectorError::config(
                    field("parquet_compression"),
                    format!("\"{other}\" is not one of none, snappy, lz4, gzip, zstd"),
                ))
            }
        };
        let csv = CsvOptions {
            header: option("header")
                .map(|text| boolean(&field("header"), text))
                .transpose()?
                .unwrap_or(true),
            delimiter: option("delimiter")
                .map(|text| single_byte(&field("delimiter"), text))
                .transpose()?
                .unwrap_or(b','),
            quote: connection
                .option("quote")
                .map(|text| single_byte(&field("quote"), text))
                .transpose()?
                .unwrap_or(b'"'),
            escape: option("escape")
                .map(|text| single_byte(&field("escape"), text))
                .transpose()?,
            null_string: connection.option("null_string").map(str::to_string),
            skip_lines: option("skip_lines")
                .map(|text| count(&field("skip_lines"), text, 0))
                .transpose()?
                .unwrap_or(0),
            schema: option("csv_schema").map(str::to_string),
            allow_short_rows: option("allow_short_rows")
                .map(|text| boolean(&field("allow_short_rows"), text))
                .transpose()?
                .unwrap_or(false),
        };
        Ok(FileSettings {
            store,
            location,
            display,
            format,
            csv,
            encoding,
            compression,
            infer_rows: option("infer_rows")
                .map(|text| count(&field("infer_rows"), text, 1))
                .transpose()?
                .unwrap_or(10_000),
            row_group_rows: option("row_group_rows")
                .map(|text| count(&field("row_group_rows"), text, 1))
                .transpose()?
                .unwrap_or(128 * 1024),
            parquet_compression,
        })
    }

    /// Returns the format of `name`: the configured one, else guessed from the name.
    pub fn format_of(&self, name: &str) -> Option<FileFormat> {
        self.format.or_else(|| FileFormat::from_name(name))
    }

    /// Returns whether `name` is gzip-compressed.
    pub fn is_gzip(&self, name: &str) -> bool {
        match self.compression {
            TextCompression::Gzip => true,
            TextCompression::None => false,
            TextCompression::Auto => name.to_ascii_lowercase().ends_with(".gz"),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_paths_resolve_dot_dot_lexically() {
        assert_eq!(
            super::normalize_local_path("/a/b/../c/./d.csv"),
            "/a/c/d.csv"
        );
        assert_eq!(super::normalize_local_path("/../x"), "/x");
    }

    use super::*;

    fn connection(kind: &str, pairs: &[(&str, &str)]) -> ConnectionConfig {
        let mut config = ConnectionConfig {
            kind: kind.into(),
            ..Default::default()
        };
        for (name, value) in pairs {
            config.options.insert((*name).into(), (*value).into());
        }
        config
            .secrets
            .insert("secret_access_key".into(), "hunter2".into());
        config
    }

    #[test]
    fn options_parse_and_errors_name_the_option() {
        let settings = FileSettings::from_connection(
            &connection(
                "file",
                &[
                    ("path", "/tmp/x"),
                    ("delimiter", "\\t"),
                    ("encoding", "gbk"),
                ],
            ),
            "source",
            Some("t.csv"),
        )
        .expect("valid");
        assert_eq!(settings.csv.delimiter, b'\t');
        assert_eq!(settings.encoding, encoding_rs::GBK);
        assert_eq!(settings.location.as_ref(), "tmp/x/t.csv");
        let error = FileSettings::from_connection(
            &connection("file", &[("path", "/x"), ("format", "xml")]),
            "sink",
            None,
        )
        .expect_err("format");
        assert_eq!(
            error.to_string(),
            "sink.connection.format: \"xml\" is not one of csv, json, parquet"
        );
        let error = FileSettings::from_connection(
            &connection("file", &[("path", "/x"), ("quote", "ab")]),
            "source",
            None,
        )
        .expect_err("quote");
        assert!(
            error.to_string().starts_with("source.connection.quote:"),
            "{error}"
        );
        let error = FileSettings::from_connection(
            &connection("s3", &[("bucket", "b"), ("endpoint", "ftp://x")]),
            "source",
            None,
        )
        .expect_err("endpoint");
        assert!(!error.to_string().contains("hunter2"));
    }

    #[test]
    fn formats_follow_names() {
        assert_eq!(FileFormat::from_name("a.CSV.gz"), Some(FileFormat::Csv));
        assert_eq!(FileFormat::from_name("a.ndjson"), Some(FileFormat::Json));
        assert_eq!(
            FileFormat::from_name("part.parquet"),
            Some(FileFormat::Parquet)
        );
        assert_eq!(FileFormat::from_name("README.md"), None);
    }
}
