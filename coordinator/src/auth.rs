//! Access control: bearer tokens, members and roles.
//!
//! Every API call carries `authorization: Bearer slu_...`. [`Authenticator`] resolves the
//! token to a [`Principal`]: the cluster admin (a token file given to the coordinator), a
//! worker (the cluster token file), or a member of one workspace with a role (tokens issued
//! through `MemberService`, stored as SHA-256 hashes under `tokens/{hash}`). The services are
//! wrapped in guards ([`guarded`]) that check each call against the table in [`permissions`]
//! before the service sees it, so an RPC added to a service without a rule in its guard does
//! not compile. gRPC health and reflection stay open. Tokens never reach a log line: only
//! their ids (a prefix of the hash) do.

pub mod authenticate;
pub mod guarded;
pub mod permissions;
pub mod principal;

pub use authenticate::Authenticator;
pub use principal::Principal;

use sluice_common::tokens::TokenHash;

/// Whether and how the coordinator authenticates calls.
#[derive(Debug, Clone, Default)]
pub enum AuthConfig {
    /// Every call is allowed, without a token (`--insecure-no-auth`, loopback standalone).
    #[default]
    Disabled,
    /// Calls need a token.
    Enabled {
        /// Hash of the cluster admin token (`--admin-token-file`).
        admin_token: Option<TokenHash>,
        /// Hash of the cluster token workers present (`--cluster-token-file`).
        cluster_token: Option<TokenHash>,
    },
}

impl AuthConfig {
    /// Returns whether calls need a token.
    pub fn is_enabled(&self) -> bool {
        matches!(self, AuthConfig::Enabled { .. })
    }
}
