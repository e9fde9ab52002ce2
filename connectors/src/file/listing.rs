//! Which objects a file source reads, commit markers, and how shards name files and Parquet
//! row groups.
//!
//! # Shard encoding
//! Every object and row group has a text key: the object path for a whole file, and
//! `{object path}\0{row group:08}` for a Parquet row group, so keys sort by file, then by row
//! group. A shard is a [`KeyRange::Text`] over these keys that never spans two files:
//! `[path, path\x01)` is a whole file, `[path\0{a:08}, path\0{b:08})` is row groups `a..b` of a
//! Parquet file. [`KeyRange::All`] reads every file.
//!
//! # Sink directories
//! A sink writes `part-{shard:05}-a{attempt}-{job}.{ext}` objects and commits a shard by
//! creating `_sluice_commits/{job}/{shard}` (a JSON document naming the committed objects).
//! Listing skips every name starting with `_` or `.` (markers, `_SUCCESS`, checksums) and any
//! `part-…` object that no marker names, so a directory reads correctly even before the sink's
//! `finalize` has removed the parts of losing attempts.

use super::config::{FileFormat, FileSettings};
use crate::error::{ConnectorError, Result};
use futures_util::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};
use sluice_common::records::KeyRange;
use std::collections::HashSet;
use std::ops::Range;

/// Directory of commit markers inside a sink directory.
pub const COMMITS_DIR: &str = "_sluice_commits";

/// An object to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Object path.
    pub path: Path,
    /// Size in bytes.
    pub size: u64,
    /// Format.
    pub format: FileFormat,
}

/// What a commit marker holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitMarker {
    /// The attempt that committed.
    pub attempt: u32,
    /// Objects of the shard, relative to the sink directory.
    pub objects: Vec<String>,
    /// Rows written.
    pub rows: u64,
}

/// Returns whether `name` looks like a part object written by a file sink.
pub fn is_part_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("part-") else {
        return false;
    };
    let bytes = rest.as_bytes();
    bytes.len() > 8 && bytes[..5].iter().all(u8::is_ascii_digit) && rest[5..].starts_with("-a")
}

/// Returns the object store error as a connector error.
pub fn store_error(
    context: impl Into<String>,
) -> impl FnOnce(object_store::Error) -> ConnectorError {
    let context = context.into();
    move |source| ConnectorError::ObjectStore { context, source }
}

/// Returns the names of the objects every commit marker under `directory` names.
///
/// # Errors
/// [`ConnectorError::ObjectStore`] when listing or reading fails, [`ConnectorError::File`]
/// for a marker that is not a marker.
pub async fn committed_objects(
    store: &dyn ObjectStore,
    directory: &Path,
) -> Result<HashSet<String>> {
    let prefix = directory.clone().join(COMMITS_DIR);
    let markers: Vec<_> = store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(store_error(format!("list commit markers under {prefix}")))?;
    let mut names = HashSet::new();
    for meta in markers {
        let bytes = store
            .get(&meta.location)
            .await
            .map_err(store_error(format!("read commit marker {}", meta.location)))?
            .bytes()
            .await
            .map_err(store_error(format!("read commit marker {}", meta.location)))?;
        let marker: CommitMarker =
            serde_json::from_slice(&bytes).map_err(|error| ConnectorError::File {
                object: meta.location.to_string(),
                message: format!("is not a sluice commit marker: {error}"),
            })?;
        names.extend(marker.objects);
    }
    Ok(names)
}

/// Lists the data files of a source: the location itself when it is an object, else every
/// object under it (recursively) with a known format, minus hidden names and uncommitted parts.
///
/// # Errors
/// [`ConnectorError::Config`] naming `{role}.connection` when nothing readable is there.
pub async fn list_files(settings: &FileSettings, role: &str) -> Result<Vec<DataFile>> {
    if let Ok(meta) = settings.store.head(&settings.location).await {
        let name = meta.location.filename().unwrap_or_default().to_string();
        let format = settings.format_of(&name).ok_or_else(|| {
            ConnectorError::config(
                format!("{role}.connection.format"),
                format!(
                    "cannot tell the format of {} from its name; set format: csv, json or parquet",
                    settings.display
                ),
            )
        })?;
        return Ok(vec![DataFile {
            path: meta.location,
            size: meta.size,
            format,
        }]);
    }
    let objects: Vec<_> = settings
        .store
        .list(Some(&settings.location))
        .try_collect()
        .await
        .map_err(store_error(format!("list {}", settings.display)))?;
    let committed = committed_objects(settings.store.as_ref(), &settings.location).await?;
    let mut files = Vec::new();
    for meta in objects {
        let Some(relative) = meta.location.prefix_match(&settings.location) else {
            continue;
        };
        let parts: Vec<String> = relative.map(|part| part.as_ref().to_string()).collect();
        if parts
            .iter()
            .any(|part| part.starts_with('_') || part.starts_with('.'))
        {
            continue;
        }
        let relative_name = parts.join("/");
        let name = parts.last().cloned().unwrap_or_default();
        if is_part_name(&name) && !committed.contains(&relative_name) {
            continue;
        }
        if let Some(format) =
            FileFormat::from_name(&name).map(|guessed| settings.format.unwrap_or(guessed))
        {
            files.push(DataFile {
                path: meta.location,
                size: meta.size,
                format,
            });
        }
    }
    files.sort_by(|left, right| left.path.cmp(&right.path));
    if files.is_empty() {
        return Err(ConnectorError::config(
            format!("{role}.connection"),
            format!(
                "no csv, json or parquet files found at {}",
                settings.display
            ),
        ));
    }
    Ok(files)
}

/// The part of the source one shard reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileShard {
    /// Every file.
    All,
    /// One file, or row groups of one Parquet file.
    File {
        /// Object path.
        path: String,
        /// Row groups to read (`None`: the whole file).
        row_groups: Option<Range<usize>>,
    },
}

/// Returns the shard of a whole file.
pub fn file_range(path: &Path) -> KeyRange {
    KeyRange::Text {
        lo: Some(path.to_string()),
        hi: Some(format!("{path}\u{1}")),
    }
}

/// Returns the shard of row groups `groups` of a Parquet file.
pub fn row_group_range(path: &Path, groups: Range<usize>) -> KeyRange {
    KeyRange::Text {
        lo: Some(format!("{path}\u{0}{:08}", groups.start)),
        hi: Some(format!("{path}\u{0}{:08}", groups.end)),
    }
}

/// Decodes a shard range.
///
/// # Errors
/// [`ConnectorError::Config`] for a range that is not a file or row-group range.
pub fn decode_range(range: &KeyRange) -> Result<FileShard> {
    let invalid = || {
        ConnectorError::config(
            "source",
            format!("shard range {range} is not a file range (files are split by file and Parquet row group)"),
        )
    };
    match range {
        KeyRange::All => Ok(FileShard::All),
        KeyRange::Text {
            lo: Some(lo),
            hi: Some(hi),
        } => {
            if let Some(path) = hi.strip_suffix('\u{1}') {
                if path == lo {
                    return Ok(FileShard::File {
                        path: path.to_string(),
                        row_groups: None,
                    });
                }
                return Err(invalid());
            }
            let (lo_path, lo_group) = lo.rsplit_once('\u{0}').ok_or_else(invalid)?;
            let (hi_path, hi_group) = hi.rsplit_once('\u{0}').ok_or_else(invalid)?;
            let start: usize = lo_group.parse().map_err(|_| invalid())?;
            let end: usize = hi_group.parse().map_err(|_| invalid())?;
            if lo_path != hi_path || start >= end {
                return Err(invalid());
            }
            Ok(FileShard::File {
                path: lo_path.to_string(),
                row_groups: Some(start..end),
            })
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_trip_and_sort_by_file_then_group() {
        let path = Path::from("dir/a.parquet");
        let whole = file_range(&path);
        assert_eq!(
            decode_range(&whole).expect("file"),
            FileShard::File {
                path: "dir/a.parquet".into(),
                row_groups: None
            }
        );
        let groups = row_group_range(&path, 2..5);
        assert_eq!(
            decode_range(&groups).expect("groups"),
            FileShard::File {
                path: "dir/a.parquet".into(),
                row_groups: Some(2..5)
            }
        );
        let (
            KeyRange::Text {
                lo: Some(file_lo),
                hi: Some(file_hi),
            },
            KeyRange::Text {
                lo: Some(group_lo), ..
            },
        ) = (&whole, &groups)
        else {
            panic!("text ranges");
        };
        assert!(
            file_lo < group_lo && group_lo < file_hi,
            "row groups sort inside their file"
        );
        assert!(decode_range(&KeyRange::Int { lo: None, hi: None }).is_err());
        assert!(decode_range(&KeyRange::Text {
            lo: Some("a\u{0}00000001".into()),
            hi: Some("b\u{0}00000002".into())
        })
        .is_err());
    }

    #[test]
    fn part_names_are_recognised() {
        assert!(is_part_name("part-00003-a2-job1.parquet"));
        assert!(!is_part_name("part-3-a2.parquet"));
        assert!(!is_part_name("data.csv"));
    }
}
