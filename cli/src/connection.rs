//! Which coordinators client commands call, and with which token: flags and environment
//! first, then the profile file, then the defaults.

use crate::profile;
use anyhow::Context;
use sluice_common::tokens::Token;
use std::path::PathBuf;

/// Coordinator of client commands when nothing names one.
pub const DEFAULT_COORDINATOR: &str = "http://127.0.0.1:7070";

/// Where and as whom client commands call.
pub struct Connection {
    /// Coordinator URLs.
    pub coordinators: Vec<String>,
    /// Bearer token, if any.
    pub token: Option<Token>,
}

/// Returns the given coordinators, or the default one.
pub fn default_coordinators(given: Vec<String>) -> Vec<String> {
    if given.is_empty() {
        vec![DEFAULT_COORDINATOR.to_string()]
    } else {
        given
    }
}

/// Resolves `--coordinator`/`SLUICE_COORDINATOR`, `--token`/`SLUICE_TOKEN` and the profile.
///
/// # Errors
/// A malformed token or an unreadable, malformed or too widely readable profile.
pub fn resolve(
    coordinators: Vec<String>,
    token: Option<String>,
    profile_path: Option<PathBuf>,
) -> anyhow::Result<Connection> {
    let explicit = profile_path.is_some();
    let loaded = match profile_path.or_else(profile::default_path) {
        Some(path) => profile::load(&path, explicit)?,
        None => profile::Profile::default(),
    };
    let token = match token.filter(|text| !text.trim().is_empty()) {
        Some(text) => Some(
            Token::parse(&text, "--token (or SLUICE_TOKEN)")
                .context("check the token you were given")?,
        ),
        None => loaded.token,
    };
    let coordinators = if coordinators.is_empty() {
        default_coordinators(loaded.coordinators)
    } else {
        coordinators
    };
    Ok(Connection {
        coordinators,
        token,
    })
}
