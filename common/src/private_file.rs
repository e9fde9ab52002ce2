//! Files only their owner may read (key and token files): created new with mode 0600, never
//! overwritten.

use std::io::Write;
use std::path::Path;

/// Writes `contents` to a new file at `path` with mode 0600 and syncs it.
///
/// # Errors
/// A message saying what went wrong (the file exists already, or the write failed), for the
/// caller to wrap with the file's role.
pub fn write_new_private_file(path: &Path, contents: &[u8]) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            "exists already; remove it first or choose another path".to_string()
        } else {
            error.to_string()
        }
    })?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_owner_only_files_and_never_overwrites() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("key");
        write_new_private_file(&path, b"secret\n").expect("first write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let error = write_new_private_file(&path, b"other\n").expect_err("exists");
        assert!(error.contains("exists already"), "{error}");
        assert_eq!(std::fs::read(&path).expect("read"), b"secret\n");
    }
}
