//! Secrets at rest: AES-256-GCM under an operator key, one random nonce per value.
//!
//! A secret option (a password, an access key) is sealed before any record that holds it is
//! written to the metadata store, and opened only where a worker needs it. A sealed value is
//! one string:
//!
//! ```text
//! enc:v1:{key_id}:{nonce, 24 hex digits}:{ciphertext and tag, hex}
//! ```
//!
//! The key id is authenticated too (it is the AEAD's associated data), so a value cannot be
//! passed off as sealed under another key. A [`SecretCipher`] seals under its primary key and
//! opens values of its primary key and of any previous keys it was given, which is what key
//! rotation needs.
//!
//! # Key file
//! A key file is text, `#` starts a comment line, and two lines matter:
//!
//! ```text
//! id=k-20261130-3f9a1c2e
//! key=<64 hex digits: the 32 key bytes>
//! ```
//!
//! `sluice coordinator keygen --out FILE` writes one with mode 0600.
//!
//! ```
//! use sluice_common::secrets::{SecretCipher, SecretKey};
//! let key = SecretKey::generate().unwrap();
//! let text = key.to_file_text();
//! let cipher = SecretCipher::new(SecretKey::parse(&text).unwrap());
//! let sealed = cipher.seal("hunter2").unwrap();
//! assert!(!sealed.as_str().contains("hunter2"));
//! assert_eq!(cipher.open(&sealed).unwrap(), "hunter2");
//! ```

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::TryRngCore;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// Prefix of every sealed value written by this build.
const SEALED_PREFIX: &str = "enc:v1:";
/// Bytes of an AES-256 key.
const KEY_BYTES: usize = 32;
/// Bytes of an AES-GCM nonce.
const NONCE_BYTES: usize = 12;
/// Key id of the built-in, publicly known key of `--insecure-dev-secrets`.
pub const INSECURE_DEV_KEY_ID: &str = "insecure-dev";

/// Result alias of secret handling.
pub type Result<T, E = SecretError> = std::result::Result<T, E>;

/// Sealing or opening a secret failed, or a key file is unusable. Messages never contain a
/// secret value or key material.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The key file could not be read or written.
    #[error("secret key file {path}: {message}")]
    KeyFile {
        /// Path of the file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The key file's content is not in the documented format.
    #[error("secret key file: {0}; expected lines `id=NAME` and `key=<64 hex digits>` (generate one with `sluice coordinator keygen --out FILE`)")]
    KeyFormat(String),
    /// A stored value was sealed under a key this process does not have.
    #[error("a stored secret is sealed under key \"{key_id}\", but this process has only {known}: start it with that key (or with it as a previous key during a rotation)")]
    UnknownKey {
        /// Key id named in the sealed value.
        key_id: String,
        /// Key ids this process has.
        known: String,
    },
    /// A stored value is not a sealed value (written by a build that did not encrypt).
    #[error("a stored secret is not encrypted (written before secrets were encrypted at rest): run `sluice coordinator rotate-key` to encrypt it")]
    NotSealed,
    /// A stored value is malformed or fails authentication (tampered with, or corrupt).
    #[error("a stored secret sealed under key \"{key_id}\" cannot be opened: {reason}")]
    Corrupt {
        /// Key id named in the value.
        key_id: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The operating system's random source failed.
    #[error("cannot draw random bytes from the operating system: {0}")]
    Random(String),
}

/// A 256-bit key with its id. `Debug` shows the id only.
#[derive(Clone)]
pub struct SecretKey {
    id: String,
    bytes: [u8; KEY_BYTES],
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SecretKey")
            .field("id", &self.id)
            .field("bytes", &"***")
            .finish()
    }
}

impl SecretKey {
    /// Returns a new random key with a new id (`k-YYYYMMDD-<8 hex digits>`).
    ///
    /// # Errors
    /// [`SecretError::Random`] when the operating system gives no random bytes.
    pub fn generate() -> Result<SecretKey> {
        let mut bytes = [0u8; KEY_BYTES];
        random_bytes(&mut bytes)?;
        let mut suffix = [0u8; 4];
        random_bytes(&mut suffix)?;
        let id = format!(
            "k-{}-{}",
            chrono::Utc::now().format("%Y%m%d"),
            to_hex(&suffix)
        );
        Ok(SecretKey { id, bytes })
    }

    /// Returns the built-in key of `--insecure-dev-secrets`: its bytes are public (all zero),
    /// so values sealed under it are obfuscated, not protected.
    pub fn insecure_dev() -> SecretKey {
        SecretKey {
            id: INSECURE_DEV_KEY_ID.to_string(),
            bytes: [0u8; KEY_BYTES],
        }
    }

    /// Returns the key's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Parses the text of a key file.
    ///
    /// # Errors
    /// [`SecretError::KeyFormat`] naming what is missing or malformed (never the key).
    pub fn parse(text: &str) -> Result<SecretKey> {
        let mut id = None;
        let mut key = None;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match line.split_once('=') {
                Some(("id", value)) => id = Some(value.trim().to_string()),
                Some(("key", value)) => key = Some(value.trim().to_string()),
                _ => {
                    return Err(SecretError::KeyFormat(
                        "a line is neither `id=...`, `key=...` nor a `#` comment".to_string(),
                    ))
                }
            }
        }
        let id = id.ok_or_else(|| SecretError::KeyFormat("the `id=` line is missing".into()))?;
        if id.is_empty() || id.contains(':') || id == INSECURE_DEV_KEY_ID {
            return Err(SecretError::KeyFormat(format!(
                "id \"{id}\" is not allowed: use a non-empty name without `:`, other than {INSECURE_DEV_KEY_ID}"
            )));
        }
        let hex = key.ok_or_else(|| SecretError::KeyFormat("the `key=` line is missing".into()))?;
        let decoded = from_hex(&hex)
            .filter(|bytes| bytes.len() == KEY_BYTES)
            .ok_or_else(|| {
                SecretError::KeyFormat("the key is not 64 hex digits (32 bytes)".to_string())
            })?;
        let mut bytes = [0u8; KEY_BYTES];
        bytes.copy_from_slice(&decoded);
        Ok(SecretKey { id, bytes })
    }

    /// Reads and parses a key file.
    ///
    /// # Errors
    /// [`SecretError::KeyFile`] when it cannot be read, [`SecretError::KeyFormat`] when it is
    /// not a key file.
    pub fn read_file(path: &Path) -> Result<SecretKey> {
        let text = std::fs::read_to_string(path).map_err(|error| SecretError::KeyFile {
            path: path.display().to_string(),
            message: error.to_string(),
        })?;
        SecretKey::parse(&text)
    }

    /// Returns the key file text of this key.
    pub fn to_file_text(&self) -> String {
        format!(
            "# Sluice secret key (AES-256-GCM). Anyone with this file can read every stored secret:\n# keep it at mode 0600, back it up, and never commit it.\nid={}\nkey={}\n",
            self.id,
            to_hex(&self.bytes)
        )
    }

    /// Writes this key to a new file with mode 0600; refuses to overwrite an existing file.
    ///
    /// # Errors
    /// [`SecretError::KeyFile`] when the file exists or cannot be written.
    pub fn write_new_file(&self, path: &Path) -> Result<()> {
        crate::private_file::write_new_private_file(path, self.to_file_text().as_bytes()).map_err(
            |message| SecretError::KeyFile {
                path: path.display().to_string(),
                message,
            },
        )
    }
}

/// A sealed secret as stored: `enc:v1:{key_id}:{nonce}:{ciphertext}`. `Debug` and `Display`
/// show only the key id.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SealedSecret(String);

impl SealedSecret {
    /// Returns the stored text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the id of the key it is sealed under, or `None` for a value that is not sealed
    /// (a plaintext secret written by an older build).
    pub fn key_id(&self) -> Option<&str> {
        self.0
            .strip_prefix(SEALED_PREFIX)
            .and_then(|rest| rest.split(':').next())
    }

    /// Wraps a stored value that is not sealed (plaintext from an older build), for
    /// [`SecretCipher::reseal`] to encrypt.
    pub fn legacy_plaintext(value: String) -> SealedSecret {
        SealedSecret(value)
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "SealedSecret(key {})",
            self.key_id().unwrap_or("(not sealed)")
        )
    }
}

/// Seals under a primary key; opens values of the primary or any previous key.
#[derive(Clone)]
pub struct SecretCipher {
    primary: (SecretKey, Aes256Gcm),
    previous: Vec<(SecretKey, Aes256Gcm)>,
}

impl fmt::Debug for SecretCipher {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SecretCipher")
            .field("primary", &self.primary.0.id)
            .field(
                "previous",
                &self
                    .previous
                    .iter()
                    .map(|(key, _)| key.id.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn aead(key: &SecretKey) -> Aes256Gcm {
    Aes256Gcm::new(aes_gcm::Key::<Aes256Gcm>::from_slice(&key.bytes))
}

impl SecretCipher {
    /// Returns a cipher that seals and opens with `key`.
    pub fn new(key: SecretKey) -> SecretCipher {
        let cipher = aead(&key);
        SecretCipher {
            primary: (key, cipher),
            previous: Vec::new(),
        }
    }

    /// Returns a cipher over the public key of `--insecure-dev-secrets`.
    pub fn insecure_dev() -> SecretCipher {
        SecretCipher::new(SecretKey::insecure_dev())
    }

    /// Adds a key that values may still be sealed under (during a rotation); it only opens.
    pub fn with_previous(mut self, key: SecretKey) -> SecretCipher {
        if key.id != self.primary.0.id && !self.previous.iter().any(|(k, _)| k.id == key.id) {
            let cipher = aead(&key);
            self.previous.push((key, cipher));
        }
        self
    }

    /// Returns the id of the key new values are sealed under.
    pub fn primary_key_id(&self) -> &str {
        &self.primary.0.id
    }

    /// Returns whether values are sealed under the public development key.
    pub fn is_insecure(&self) -> bool {
        self.primary.0.id == INSECURE_DEV_KEY_ID
    }

    /// Seals `plaintext` under the primary key with a fresh random nonce.
    ///
    /// # Errors
    /// [`SecretError::Random`] when no nonce can be drawn.
    pub fn seal(&self, plaintext: &str) -> Result<SealedSecret> {
        let (key, cipher) = &self.primary;
        let mut nonce = [0u8; NONCE_BYTES];
        random_bytes(&mut nonce)?;
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: key.id.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Corrupt {
                key_id: key.id.clone(),
                reason: "encryption failed",
            })?;
        Ok(SealedSecret(format!(
            "{SEALED_PREFIX}{}:{}:{}",
            key.id,
            to_hex(&nonce),
            to_hex(&sealed)
        )))
    }

    /// Opens a sealed value.
    ///
    /// # Errors
    /// [`SecretError::NotSealed`] for plaintext, [`SecretError::UnknownKey`] when sealed under
    /// a key this cipher lacks, [`SecretError::Corrupt`] when malformed or tampered with.
    pub fn open(&self, sealed: &SealedSecret) -> Result<String> {
        let rest = sealed
            .0
            .strip_prefix(SEALED_PREFIX)
            .ok_or(SecretError::NotSealed)?;
        let mut parts = rest.splitn(3, ':');
        let (Some(key_id), Some(nonce_hex), Some(body_hex)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(SecretError::Corrupt {
                key_id: String::new(),
                reason: "not of the form enc:v1:KEY:NONCE:CIPHERTEXT",
            });
        };
        let corrupt = |reason| SecretError::Corrupt {
            key_id: key_id.to_string(),
            reason,
        };
        let (key, cipher) = std::iter::once(&self.primary)
            .chain(&self.previous)
            .find(|(key, _)| key.id == key_id)
            .ok_or_else(|| SecretError::UnknownKey {
                key_id: key_id.to_string(),
                known: self.known_ids(),
            })?;
        let nonce = from_hex(nonce_hex)
            .filter(|bytes| bytes.len() == NONCE_BYTES)
            .ok_or_else(|| corrupt("the nonce is not 24 hex digits"))?;
        let body = from_hex(body_hex).ok_or_else(|| corrupt("the ciphertext is not hex"))?;
        let plaintext = cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &body,
                    aad: key.id.as_bytes(),
                },
            )
            .map_err(|_| corrupt("authentication failed (wrong key, or the value was altered)"))?;
        String::from_utf8(plaintext).map_err(|_| corrupt("the plaintext is not UTF-8"))
    }

    /// Returns `sealed` sealed under the primary key: opened and sealed again when it is under
    /// another key, sealed when it is plaintext from an older build, `None` when it is already
    /// under the primary key.
    ///
    /// # Errors
    /// As [`SecretCipher::open`] and [`SecretCipher::seal`].
    pub fn reseal(&self, sealed: &SealedSecret) -> Result<Option<SealedSecret>> {
        match sealed.key_id() {
            Some(key_id) if key_id == self.primary.0.id => Ok(None),
            Some(_) => self.seal(&self.open(sealed)?).map(Some),
            None => self.seal(&sealed.0).map(Some),
        }
    }

    fn known_ids(&self) -> String {
        std::iter::once(&self.primary)
            .chain(&self.previous)
            .map(|(key, _)| format!("\"{}\"", key.id))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn random_bytes(buffer: &mut [u8]) -> Result<()> {
    rand::rngs::OsRng
        .try_fill_bytes(buffer)
        .map_err(|error| SecretError::Random(error.to_string()))
}

fn to_hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(&text[index..index + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> SecretCipher {
        SecretCipher::new(SecretKey::generate().expect("key"))
    }

    #[test]
    fn sealed_values_round_trip_and_hide_the_plaintext() {
        let cipher = cipher();
        let sealed = cipher.seal("p@ss:word").expect("seal");
        assert!(sealed.as_str().starts_with("enc:v1:k-"));
        assert!(!sealed.as_str().contains("p@ss"));
        assert!(!format!("{sealed:?}").contains("p@ss"));
        assert_eq!(cipher.open(&sealed).expect("open"), "p@ss:word");
    }

    #[test]
    fn every_seal_draws_a_new_nonce() {
        let cipher = cipher();
        let first = cipher.seal("same").expect("seal");
        let second = cipher.seal("same").expect("seal");
        assert_ne!(first, second);
    }

    #[test]
    fn a_tampered_value_fails_authentication() {
        let cipher = cipher();
        let sealed = cipher.seal("secret").expect("seal");
        let mut text = sealed.as_str().to_string();
        let last = text.pop().expect("non-empty");
        text.push(if last == '0' { '1' } else { '0' });
        let error = cipher
            .open(&SealedSecret(text))
            .expect_err("tampered value must not open");
        assert!(
            error.to_string().contains("authentication failed"),
            "{error}"
        );
    }

    #[test]
    fn another_key_is_named_in_the_error() {
        let sealed = cipher().seal("secret").expect("seal");
        let other = cipher();
        let error = other.open(&sealed).expect_err("unknown key");
        assert!(matches!(error, SecretError::UnknownKey { .. }), "{error}");
        assert!(!error.to_string().contains("secret\""));
    }

    #[test]
    fn a_previous_key_opens_and_reseal_moves_values_to_the_primary() {
        let old_key = SecretKey::generate().expect("key");
        let old = SecretCipher::new(old_key.clone());
        let sealed = old.seal("rotate me").expect("seal");
        let new = cipher().with_previous(old_key);
        let moved = new.reseal(&sealed).expect("reseal").expect("changed");
        assert_eq!(moved.key_id(), Some(new.primary_key_id()));
        assert_eq!(new.open(&moved).expect("open"), "rotate me");
        assert!(new.reseal(&moved).expect("reseal").is_none());
        let legacy = SealedSecret::legacy_plaintext("plain".into());
        assert!(matches!(new.open(&legacy), Err(SecretError::NotSealed)));
        let sealed_legacy = new.reseal(&legacy).expect("reseal").expect("sealed");
        assert_eq!(new.open(&sealed_legacy).expect("open"), "plain");
    }

    #[test]
    fn key_files_round_trip_and_bad_ones_are_explained() {
        let key = SecretKey::generate().expect("key");
        let parsed = SecretKey::parse(&key.to_file_text()).expect("parse");
        assert_eq!(parsed.id(), key.id());
        assert_eq!(parsed.bytes, key.bytes);
        assert!(!format!("{key:?}").contains(&to_hex(&key.bytes)));
        let short = SecretKey::parse("id=a\nkey=abcd\n").expect_err("short key");
        assert!(short.to_string().contains("64 hex digits"), "{short}");
        let no_id = SecretKey::parse(&format!("key={}\n", "00".repeat(32))).expect_err("no id");
        assert!(no_id.to_string().contains("`id=`"), "{no_id}");
    }

    #[test]
    fn key_files_are_created_private_and_never_overwritten() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("sluice.key");
        let key = SecretKey::generate().expect("key");
        key.write_new_file(&path).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(SecretKey::read_file(&path).expect("read").id(), key.id());
        assert!(key.write_new_file(&path).is_err());
    }
}
