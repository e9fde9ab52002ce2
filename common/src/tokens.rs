//! Bearer tokens: how they are made, written to files, read back and hashed.
//!
//! A token is `slu_` followed by 32 random bytes in unpadded base64url (43 characters). Only
//! its SHA-256 hash is ever stored. A fast hash is the right choice here, unlike for
//! passwords: the input has 256 bits of entropy from the operating system's random source, so
//! there is nothing to guess and no dictionary to try, and a slow hash would only slow every
//! API call. The first [`TOKEN_ID_LENGTH`] hex digits of the hash name the token in listings
//! and revocations: they reveal nothing about the token.

use base64::Engine;
use rand::TryRngCore;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;

/// Prefix of every token (so a leaked one is recognisable, e.g. by secret scanners).
pub const TOKEN_PREFIX: &str = "slu_";

/// Hex digits of the hash that make a token's id.
pub const TOKEN_ID_LENGTH: usize = 12;

/// Random bytes in a token.
const TOKEN_RANDOM_BYTES: usize = 32;

/// Error making, reading or writing a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The operating system's random source failed.
    #[error("cannot draw random bytes for a token: {0}")]
    Random(String),
    /// The token file could not be read or written.
    #[error("token file {path}: {message}")]
    File {
        /// Path of the file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The text is not a token.
    #[error("{what} is not a Sluice token: expected `slu_` followed by 43 base64url characters (create one with `sluice coordinator token-gen --out FILE` or `sluice member token issue MEMBER`)")]
    Format {
        /// What was read (a file path, an environment variable); never the token.
        what: String,
    },
}

/// A bearer token in plaintext. `Debug` and `Display` print only its id.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Returns a new random token.
    ///
    /// # Errors
    /// [`TokenError::Random`] when the operating system's random source fails.
    pub fn generate() -> Result<Token, TokenError> {
        let mut random = [0u8; TOKEN_RANDOM_BYTES];
        rand::rngs::OsRng
            .try_fill_bytes(&mut random)
            .map_err(|error| TokenError::Random(error.to_string()))?;
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random);
        Ok(Token(format!("{TOKEN_PREFIX}{body}")))
    }

    /// Parses a token (surrounding white space is ignored); `what` names where it came from in
    /// the error.
    ///
    /// # Errors
    /// [`TokenError::Format`] when the text is not a token.
    pub fn parse(text: &str, what: &str) -> Result<Token, TokenError> {
        let trimmed = text.trim();
        let well_formed = trimmed
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|body| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(body)
                    .ok()
            })
            .is_some_and(|bytes| bytes.len() == TOKEN_RANDOM_BYTES);
        if !well_formed {
            return Err(TokenError::Format {
                what: what.to_string(),
            });
        }
        Ok(Token(trimmed.to_string()))
    }

    /// Reads a token file (the token, optionally with `#` comment lines).
    ///
    /// # Errors
    /// [`TokenError::File`] when it cannot be read, [`TokenError::Format`] when it holds no
    /// token.
    pub fn read_file(path: &Path) -> Result<Token, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|error| TokenError::File {
            path: path.display().to_string(),
            message: error.to_string(),
        })?;
        let line = text
            .lines()
            .map(str::trim)
            .find(|line| !line.is_empty() && !line.starts_with('#'))
            .unwrap_or_default();
        Token::parse(line, &format!("the content of {}", path.display()))
    }

    /// Writes the token to a new file with mode 0600; never overwrites.
    ///
    /// # Errors
    /// [`TokenError::File`] when the file exists or cannot be written.
    pub fn write_new_file(&self, path: &Path) -> Result<(), TokenError> {
        crate::private_file::write_new_private_file(path, format!("{}\n", self.0).as_bytes())
            .map_err(|message| TokenError::File {
                path: path.display().to_string(),
                message,
            })
    }

    /// Returns the plaintext, for the `authorization` header and the one time it is shown.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Returns the hash under which the token is stored.
    pub fn hash(&self) -> TokenHash {
        hash_token(&self.0)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Token({})", self.hash().id())
    }
}

impl fmt::Display for Token {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "token {}", self.hash().id())
    }
}

/// The SHA-256 hash of a token, as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// Returns the hash as hex.
    pub fn as_hex(&self) -> &str {
        &self.0
    }

    /// Returns the token's id: the first [`TOKEN_ID_LENGTH`] hex digits of its hash.
    pub fn id(&self) -> &str {
        &self.0[..TOKEN_ID_LENGTH]
    }

    /// Returns a hash from its hex form, if it is one.
    pub fn from_hex(hex: &str) -> Option<TokenHash> {
        let valid = hex.len() == 64
            && hex
                .bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
        valid.then(|| TokenHash(hex.to_string()))
    }
}

/// Returns the SHA-256 hash of a presented token text (well-formed or not).
pub fn hash_token(text: &str) -> TokenHash {
    use fmt::Write;
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        let _ = write!(hex, "{byte:02x}");
    }
    TokenHash(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_parse_and_differ() {
        let first = Token::generate().expect("must succeed");
        let second = Token::generate().expect("must succeed");
        assert_ne!(first, second);
        assert!(first.expose().starts_with(TOKEN_PREFIX));
        assert_eq!(first.expose().len(), TOKEN_PREFIX.len() + 43);
        assert_eq!(
            Token::parse(first.expose(), "test").expect("must succeed"),
            first
        );
        assert_eq!(first.hash().as_hex().len(), 64);
        assert_eq!(first.hash().id().len(), TOKEN_ID_LENGTH);
    }

    #[test]
    fn malformed_tokens_are_refused_without_echoing_them() {
        for text in [
            "",
            "slu_",
            "abc",
            "slu_short",
            "xyz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            let error = Token::parse(text, "SLUICE_TOKEN")
                .expect_err("must fail")
                .to_string();
            assert!(error.contains("SLUICE_TOKEN"), "{error}");
            // The message itself names the `slu_` prefix.
            if text.len() > TOKEN_PREFIX.len() {
                assert!(!error.contains(text), "{error}");
            }
        }
    }

    #[test]
    fn debug_and_display_show_only_the_id() {
        let token = Token::generate().expect("must succeed");
        let shown = format!("{token:?} {token}");
        assert!(!shown.contains(token.expose()));
        assert!(shown.contains(token.hash().id()));
    }

    #[test]
    fn files_round_trip_with_mode_0600_and_are_never_overwritten() {
        let directory = tempfile::tempdir().expect("must succeed");
        let path = directory.path().join("admin.token");
        let token = Token::generate().expect("must succeed");
        token.write_new_file(&path).expect("must succeed");
        assert_eq!(Token::read_file(&path).expect("must succeed"), token);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("must succeed")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(Token::generate()
            .expect("must succeed")
            .write_new_file(&path)
            .is_err());
    }

    #[test]
    fn hashes_parse_from_hex() {
        let hash = Token::generate().expect("must succeed").hash();
        assert_eq!(TokenHash::from_hex(hash.as_hex()), Some(hash));
        assert_eq!(TokenHash::from_hex("zz"), None);
    }
}
