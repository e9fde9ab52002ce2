//! Resolves a request's `authorization: Bearer ...` header to a [`Principal`].

use super::principal::Principal;
use super::AuthConfig;
use sluice_common::meta::{keys, SharedMetaStore};
use sluice_common::records::{self, MemberRecord, TokenRecord};
use sluice_common::tokens::hash_token;
use tonic::metadata::MetadataMap;
use tonic::Status;

/// How a caller gets a token, appended to every `UNAUTHENTICATED` answer.
const HOW_TO_GET_A_TOKEN: &str = "give a token with --token, the SLUICE_TOKEN environment variable or a profile file (`sluice --help`); an admin of your workspace issues one with `sluice member token issue MEMBER --workspace WS`";

/// Resolves bearer tokens against the configured cluster tokens and the stored member tokens.
#[derive(Clone)]
pub struct Authenticator {
    config: AuthConfig,
    store: SharedMetaStore,
}

impl Authenticator {
    /// Returns an authenticator over the metadata store.
    pub fn new(config: AuthConfig, store: SharedMetaStore) -> Self {
        Authenticator { config, store }
    }

    /// Returns the store the tokens and members live in.
    pub fn store(&self) -> &SharedMetaStore {
        &self.store
    }

    /// Returns who calls with these request headers.
    ///
    /// # Errors
    /// `UNAUTHENTICATED` for a missing, malformed, unknown or revoked token (saying how to
    /// get one; never echoing it), `UNAVAILABLE` when the store cannot be read.
    pub async fn authenticate(&self, metadata: &MetadataMap) -> Result<Principal, Status> {
        let AuthConfig::Enabled {
            admin_token,
            cluster_token,
        } = &self.config
        else {
            return Ok(Principal::Unrestricted);
        };
        let Some(header) = metadata.get("authorization") else {
            return Err(Status::unauthenticated(format!(
                "this call needs a bearer token (header `authorization: Bearer slu_...`): {HOW_TO_GET_A_TOKEN}"
            )));
        };
        let Some(presented) = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
        else {
            return Err(Status::unauthenticated(format!(
                "the authorization header is not `Bearer slu_...`: {HOW_TO_GET_A_TOKEN}"
            )));
        };
        // Comparing hashes rather than plaintexts: an attacker timing the comparison learns at
        // most a prefix of a SHA-256, which says nothing about the token.
        let hash = hash_token(presented);
        if admin_token.as_ref() == Some(&hash) {
            return Ok(Principal::ClusterAdmin);
        }
        if cluster_token.as_ref() == Some(&hash) {
            return Ok(Principal::Worker);
        }
        let unavailable = |error: sluice_common::MetaError| {
            Status::unavailable(format!("metadata store: {error}"))
        };
        let Some(stored) = self
            .store
            .get(&keys::token(hash.as_hex()))
            .await
            .map_err(unavailable)?
        else {
            return Err(Status::unauthenticated(format!(
                "the token is unknown or was revoked: {HOW_TO_GET_A_TOKEN}"
            )));
        };
        let token: TokenRecord = records::decode(&stored)
            .map_err(|error| Status::internal(format!("token record: {error}")))?;
        let Some(member_value) = self
            .store
            .get(&keys::member(&token.workspace, &token.member))
            .await
            .map_err(unavailable)?
        else {
            return Err(Status::unauthenticated(format!(
                "the token's member {} is no longer in workspace {}: {HOW_TO_GET_A_TOKEN}",
                token.member, token.workspace
            )));
        };
        let member: MemberRecord = records::decode(&member_value)
            .map_err(|error| Status::internal(format!("member record: {error}")))?;
        Ok(Principal::Member {
            workspace: member.workspace,
            name: member.name,
            role: member.role,
        })
    }
}
