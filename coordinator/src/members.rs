//! Members of workspaces and their tokens in the metadata store: `members/{ws}/{name}` and
//! `tokens/{sha256}` (see [`keys`]). Only hashes of tokens are stored; the plaintext of a new
//! token is returned once, to the caller of [`issue_token`].

use crate::error::{CoordinatorError, Result};
use sluice_common::meta::{keys, DeleteOutcome, MetaStore, Precondition, PutOutcome};
use sluice_common::records::{self, now_ms, MemberRecord, Role, TokenRecord, RECORD_VERSION};
use sluice_common::tokens::{Token, TOKEN_ID_LENGTH};

/// Longest member name.
const MAX_MEMBER_NAME: usize = 128;

/// Checks a member name: letters, digits, `_`, `-`, `.` and `@`, at most 128.
///
/// # Errors
/// [`CoordinatorError::InvalidArgument`] at `name`.
pub fn check_member_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= MAX_MEMBER_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
    if valid {
        return Ok(());
    }
    Err(CoordinatorError::invalid(
        "name",
        format!("\"{name}\" is not a valid member name: use letters, digits, `_`, `-`, `.` and `@` (at most {MAX_MEMBER_NAME})"),
    ))
}

/// Returns a member and its revision.
///
/// # Errors
/// [`CoordinatorError::NotFound`] (naming how to add it) when it does not exist.
pub async fn load_member(
    store: &dyn MetaStore,
    workspace: &str,
    name: &str,
) -> Result<(MemberRecord, i64)> {
    match store.get(&keys::member(workspace, name)).await? {
        Some(stored) => Ok((records::decode(&stored)?, stored.mod_revision)),
        None => Err(CoordinatorError::NotFound {
            kind: "member",
            name: name.to_string(),
            hint: format!(
                " in workspace {workspace}; add it with `sluice member add {name} --role ROLE --workspace {workspace}`"
            ),
        }),
    }
}

/// Adds a member.
///
/// # Errors
/// [`CoordinatorError::AlreadyExists`] when the name is taken in the workspace.
pub async fn add_member(
    store: &dyn MetaStore,
    workspace: &str,
    name: &str,
    role: Role,
) -> Result<MemberRecord> {
    check_member_name(name)?;
    let now = now_ms();
    let record = MemberRecord {
        v: RECORD_VERSION,
        workspace: workspace.to_string(),
        name: name.to_string(),
        role,
        created_at_ms: now,
        updated_at_ms: now,
    };
    match store
        .put(
            &keys::member(workspace, name),
            records::encode(&record),
            Precondition::Absent,
            None,
        )
        .await?
    {
        PutOutcome::Written { .. } => Ok(record),
        PutOutcome::Conflict { .. } => Err(CoordinatorError::AlreadyExists {
            kind: "member",
            name: name.to_string(),
        }),
    }
}

/// Returns the members of a workspace, by name.
///
/// # Errors
/// [`CoordinatorError::Meta`] when the store fails.
pub async fn list_members(store: &dyn MetaStore, workspace: &str) -> Result<Vec<MemberRecord>> {
    let mut members = Vec::new();
    for stored in store.list_prefix(&keys::members_prefix(workspace)).await? {
        members.push(records::decode(&stored)?);
    }
    Ok(members)
}

/// Changes a member's role.
///
/// # Errors
/// [`CoordinatorError::NotFound`], or `FailedPrecondition` when it changed meanwhile.
pub async fn set_role(
    store: &dyn MetaStore,
    workspace: &str,
    name: &str,
    role: Role,
) -> Result<MemberRecord> {
    let (mut record, revision) = load_member(store, workspace, name).await?;
    record.role = role;
    record.updated_at_ms = now_ms();
    match store
        .put(
            &keys::member(workspace, name),
            records::encode(&record),
            Precondition::unchanged_since(revision),
            None,
        )
        .await?
    {
        PutOutcome::Written { .. } => Ok(record),
        PutOutcome::Conflict { .. } => Err(CoordinatorError::FailedPrecondition(format!(
            "member {name} of workspace {workspace} changed while its role was being set; retry"
        ))),
    }
}

/// Removes a member and every token it has; returns how many tokens were revoked.
///
/// # Errors
/// [`CoordinatorError::NotFound`] when it does not exist.
pub async fn remove_member(store: &dyn MetaStore, workspace: &str, name: &str) -> Result<u32> {
    load_member(store, workspace, name).await?;
    // Tokens first: a token whose member is gone is refused anyway, but none should linger.
    let mut revoked = 0;
    for (key, token) in stored_tokens(store).await? {
        if token.workspace == workspace && token.member == name {
            store.delete(&key, Precondition::None).await?;
            revoked += 1;
        }
    }
    store
        .delete(&keys::member(workspace, name), Precondition::None)
        .await?;
    Ok(revoked)
}

/// Removes every member and token of a deleted workspace.
///
/// # Errors
/// [`CoordinatorError::Meta`] when the store fails.
pub async fn remove_workspace_members(store: &dyn MetaStore, workspace: &str) -> Result<()> {
    for (key, token) in stored_tokens(store).await? {
        if token.workspace == workspace {
            store.delete(&key, Precondition::None).await?;
        }
    }
    for stored in store.list_prefix(&keys::members_prefix(workspace)).await? {
        store.delete(&stored.key, Precondition::None).await?;
    }
    Ok(())
}

/// Issues a new token to a member; returns it (the only time its plaintext exists outside
/// the caller) and its record.
///
/// # Errors
/// [`CoordinatorError::NotFound`] when the member does not exist.
pub async fn issue_token(
    store: &dyn MetaStore,
    workspace: &str,
    member: &str,
    description: &str,
) -> Result<(Token, TokenRecord)> {
    load_member(store, workspace, member).await?;
    let token = Token::generate().map_err(|error| CoordinatorError::Internal(error.to_string()))?;
    let hash = token.hash();
    let record = TokenRecord {
        v: RECORD_VERSION,
        id: hash.id().to_string(),
        workspace: workspace.to_string(),
        member: member.to_string(),
        description: description.to_string(),
        created_at_ms: now_ms(),
    };
    match store
        .put(
            &keys::token(hash.as_hex()),
            records::encode(&record),
            Precondition::Absent,
            None,
        )
        .await?
    {
        PutOutcome::Written { .. } => Ok((token, record)),
        // 256 random bits do not collide; if they did, refusing is the safe answer.
        PutOutcome::Conflict { .. } => Err(CoordinatorError::Internal(
            "a freshly drawn token already exists".to_string(),
        )),
    }
}

/// Returns the tokens of a workspace (of one member when given), by member then issue time.
///
/// # Errors
/// [`CoordinatorError::Meta`] when the store fails.
pub async fn list_tokens(
    store: &dyn MetaStore,
    workspace: &str,
    member: Option<&str>,
) -> Result<Vec<TokenRecord>> {
    let mut tokens: Vec<TokenRecord> = stored_tokens(store)
        .await?
        .into_iter()
        .map(|(_, token)| token)
        .filter(|token| {
            token.workspace == workspace && member.is_none_or(|member| token.member == member)
        })
        .collect();
    tokens.sort_by(|a, b| {
        (a.member.as_str(), a.created_at_ms).cmp(&(b.member.as_str(), b.created_at_ms))
    });
    Ok(tokens)
}

/// Returns the token of `workspace` whose id (or hash prefix) is `id`.
///
/// # Errors
/// `InvalidArgument` for a too short id, `NotFound` when no token of the workspace has it.
pub async fn find_token(
    store: &dyn MetaStore,
    workspace: &str,
    id: &str,
) -> Result<(String, TokenRecord)> {
    let id = id.trim().to_ascii_lowercase();
    if id.len() < TOKEN_ID_LENGTH || !id.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(CoordinatorError::invalid(
            "id",
            format!("\"{id}\" is not a token id: give the {TOKEN_ID_LENGTH} hex digits `sluice member token list` shows"),
        ));
    }
    let matching: Vec<(String, TokenRecord)> = store
        .list_prefix(&keys::token(&id))
        .await?
        .into_iter()
        .filter_map(|stored| {
            let token: TokenRecord = records::decode(&stored).ok()?;
            (token.workspace == workspace).then_some((stored.key, token))
        })
        .collect();
    match <[(String, TokenRecord); 1]>::try_from(matching) {
        Ok([found]) => Ok(found),
        Err(_) => Err(CoordinatorError::NotFound {
            kind: "token",
            name: id,
            hint: format!(" in workspace {workspace}; list them with `sluice member token list --workspace {workspace}`"),
        }),
    }
}

/// Revokes (deletes) a stored token by its key.
///
/// # Errors
/// `NotFound` when it was revoked meanwhile.
pub async fn revoke_token(store: &dyn MetaStore, key: &str, id: &str) -> Result<()> {
    match store.delete(key, Precondition::None).await? {
        DeleteOutcome::Deleted => Ok(()),
        DeleteOutcome::NotFound | DeleteOutcome::Conflict => Err(CoordinatorError::NotFound {
            kind: "token",
            name: id.to_string(),
            hint: " (revoked already)".to_string(),
        }),
    }
}

/// Returns every stored token with its key.
async fn stored_tokens(store: &dyn MetaStore) -> Result<Vec<(String, TokenRecord)>> {
    let mut tokens = Vec::new();
    for stored in store.list_prefix(keys::TOKENS_PREFIX).await? {
        tokens.push((stored.key.clone(), records::decode(&stored)?));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_are_checked() {
        for good in ["ann", "ann.lee@example.com", "ci-bot_2"] {
            assert!(check_member_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a/b", "ann lee", &"x".repeat(129)] {
            assert!(check_member_name(bad).is_err(), "{bad}");
        }
    }
}
