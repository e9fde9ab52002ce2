//! The client profile: a YAML file naming the coordinators and the token client commands use.
//!
//! ```yaml
//! coordinator: [http://10.0.0.5:7070, http://10.0.0.6:7070]   # or one URL as a string
//! token: slu_...            # or token_file: /path/to/file (one of the two)
//! ```
//!
//! A profile holding a token must not be readable by group or others (`chmod 600`): it is
//! refused otherwise, as ssh refuses a private key.

use anyhow::Context;
use serde::Deserialize;
use sluice_common::tokens::Token;
use std::path::{Path, PathBuf};

/// Where the profile is looked for when --profile is not given.
pub fn default_path() -> Option<PathBuf> {
    let config_home = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(config_home.join("sluice").join("profile.yaml"))
}

/// One URL or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Urls {
    One(String),
    Many(Vec<String>),
}

/// The profile file's content.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[serde(default)]
    coordinator: Option<Urls>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    token_file: Option<PathBuf>,
}

/// What a profile provides.
#[derive(Debug, Default)]
pub struct Profile {
    /// Coordinator URLs (empty: not given).
    pub coordinators: Vec<String>,
    /// The token.
    pub token: Option<Token>,
}

/// Reads the profile at `path`; `explicit` says whether the user named it (a missing default
/// profile is no error).
///
/// # Errors
/// When it cannot be read or parsed, holds a token but is readable by others, or names a
/// token file that holds no token.
pub fn load(path: &Path, explicit: bool) -> anyhow::Result<Profile> {
    if !explicit && !path.exists() {
        return Ok(Profile::default());
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the profile {}", path.display()))?;
    let file: ProfileFile = serde_yaml_ng::from_str(&text).with_context(|| {
        format!(
            "profile {}: expected YAML with `coordinator` (a URL or a list), and `token` or `token_file`",
            path.display()
        )
    })?;
    let coordinators = match file.coordinator {
        None => Vec::new(),
        Some(Urls::One(url)) => vec![url],
        Some(Urls::Many(urls)) => urls,
    };
    let token = match (file.token, file.token_file) {
        (Some(_), Some(_)) => anyhow::bail!(
            "profile {}: give `token` or `token_file`, not both",
            path.display()
        ),
        (Some(text), None) => {
            check_private(path)?;
            Some(Token::parse(
                &text,
                &format!("`token` of the profile {}", path.display()),
            )?)
        }
        (None, Some(token_file)) => {
            check_private(&token_file)?;
            Some(Token::read_file(&token_file)?)
        }
        (None, None) => None,
    };
    Ok(Profile {
        coordinators,
        token,
    })
}

/// Refuses a file holding a token that group or others may read.
fn check_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let metadata =
            std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            anyhow::bail!(
                "{} holds a token but may be read by others (mode {mode:o}): run `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(directory: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = directory.join(name);
        std::fs::write(&path, text).expect("must succeed");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .expect("must succeed");
        }
        path
    }

    #[test]
    fn profiles_give_coordinators_and_a_token() {
        let directory = tempfile::tempdir().expect("must succeed");
        let token = Token::generate().expect("must succeed");
        let path = write(
            directory.path(),
            "p.yaml",
            &format!("coordinator: http://h:7070\ntoken: {}\n", token.expose()),
            0o600,
        );
        let profile = load(&path, true).expect("must succeed");
        assert_eq!(profile.coordinators, vec!["http://h:7070".to_string()]);
        assert_eq!(profile.token, Some(token));
    }

    #[test]
    fn readable_profiles_with_tokens_are_refused() {
        let directory = tempfile::tempdir().expect("must succeed");
        let token = Token::generate().expect("must succeed");
        let path = write(
            directory.path(),
            "p.yaml",
            &format!("token: {}\n", token.expose()),
            0o644,
        );
        let error = load(&path, true).expect_err("must fail").to_string();
        assert!(error.contains("chmod 600"), "{error}");
        assert!(!error.contains(token.expose()));
    }

    #[test]
    fn a_missing_default_profile_is_empty_and_unknown_keys_are_errors() {
        let directory = tempfile::tempdir().expect("must succeed");
        let missing = directory.path().join("none.yaml");
        assert!(load(&missing, false).expect("must succeed").token.is_none());
        assert!(load(&missing, true).is_err());
        let path = write(directory.path(), "p.yaml", "colour: red\n", 0o600);
        assert!(load(&path, true).is_err());
    }
}
