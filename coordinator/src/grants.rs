//! Data sources shared across workspaces: finding the grant that lets a workspace use another
//! workspace's data source, and checking what it allows.
//!
//! A grantee names a shared data source `OWNER/NAME`, or by the grant's shared name when it
//! has one. A grant covers environments one by one: a grantee job in environment `E` may use
//! the owner's `E` config only if `E` is granted, as a source under READ and also as a sink
//! under WRITE. Grants are read at submit, so a revoke holds for every job submitted after it.

use crate::error::Result;
use sluice_common::meta::{keys, MetaStore};
use sluice_common::records::{self, DataSourceRecord, GrantRecord, SharePermission};
use sluice_common::spec::Role;
use sluice_common::SpecError;

/// Returns the grant of data source `name` of `owner` to `grantee` and its revision.
///
/// # Errors
/// Whatever the store returns, or a corrupt record.
pub async fn load(
    store: &dyn MetaStore,
    owner: &str,
    name: &str,
    grantee: &str,
) -> Result<Option<(GrantRecord, i64)>> {
    match store.get(&keys::grant(owner, name, grantee)).await? {
        Some(key_value) => Ok(Some((records::decode(&key_value)?, key_value.mod_revision))),
        None => Ok(None),
    }
}

/// Returns the grants `owner` has given, of one data source when `name` is given.
///
/// # Errors
/// Whatever the store returns, or a corrupt record.
pub async fn given(
    store: &dyn MetaStore,
    owner: &str,
    name: Option<&str>,
) -> Result<Vec<GrantRecord>> {
    let prefix = match name {
        Some(name) => keys::grants_of_datasource(owner, name),
        None => format!("{}{owner}/", keys::GRANTS_PREFIX),
    };
    let mut grants = Vec::new();
    for key_value in store.list_prefix(&prefix).await? {
        grants.push(records::decode(&key_value)?);
    }
    Ok(grants)
}

/// Returns the grants `grantee` has received, by owner, data source.
///
/// # Errors
/// Whatever the store returns, or a corrupt record.
pub async fn received(store: &dyn MetaStore, grantee: &str) -> Result<Vec<GrantRecord>> {
    let mut grants = Vec::new();
    for key_value in store.list_prefix(keys::GRANTS_PREFIX).await? {
        let grant: GrantRecord = records::decode(&key_value)?;
        if grant.grantee == grantee {
            grants.push(grant);
        }
    }
    Ok(grants)
}

/// Returns whether `reference` names a shared data source in the `OWNER/NAME` form.
pub fn is_qualified(reference: &str) -> bool {
    reference.contains('/')
}

/// Returns the grant `reference` (`OWNER/NAME` or a shared name) points to for `grantee`,
/// with the shared data source, or `None` when no grant matches (never given, or revoked).
///
/// # Errors
/// Whatever the store returns, or a corrupt record.
pub async fn find_shared(
    store: &dyn MetaStore,
    grantee: &str,
    reference: &str,
) -> Result<Option<(GrantRecord, DataSourceRecord)>> {
    let grant = match reference.split_once('/') {
        Some((owner, name)) => load(store, owner, name, grantee)
            .await?
            .map(|(grant, _)| grant),
        None => received(store, grantee)
            .await?
            .into_iter()
            .find(|grant| grant.shared_name.as_deref() == Some(reference)),
    };
    let Some(grant) = grant else {
        return Ok(None);
    };
    let Some(key_value) = store
        .get(&keys::datasource(&grant.workspace, &grant.name))
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((grant, records::decode(&key_value)?)))
}

/// Checks that `grant` lets a job of its grantee in `environment` use the data source as
/// `role`; the error, at `field`, names the grant and the command that would allow it.
pub fn check_use(
    grant: &GrantRecord,
    environment: &str,
    role: Role,
    field: &str,
) -> Result<(), SpecError> {
    let share_command = |permission: &str| {
        format!(
            "ask an admin of workspace {} to run `sluice ds share {} --workspace {} --to {} --env {environment} --permission {permission}`",
            grant.workspace, grant.name, grant.workspace, grant.grantee
        )
    };
    match (grant.environments.get(environment), role) {
        (None, _) => {
            let granted: Vec<&str> = grant.environments.keys().map(String::as_str).collect();
            Err(SpecError::new(
                field,
                format!(
                    "data source {} of workspace {} is shared with workspace {} for {} only, not {environment}; {}",
                    grant.name,
                    grant.workspace,
                    grant.grantee,
                    granted.join(", "),
                    share_command("read")
                ),
            ))
        }
        (Some(SharePermission::Read), Role::Sink) => Err(SpecError::new(
            field,
            format!(
                "the grant of data source {} of workspace {} to workspace {} in {environment} is READ: a shared data source is a sink only under a WRITE grant; {}",
                grant.name,
                grant.workspace,
                grant.grantee,
                share_command("write")
            ),
        )),
        (Some(_), _) => Ok(()),
    }
}

/// Returns the message for a reference no grant matches.
pub fn not_shared_message(reference: &str, grantee: &str) -> String {
    match reference.split_once('/') {
        Some((owner, name)) => format!(
            "data source {name} of workspace {owner} is not shared with workspace {grantee} (never granted, or revoked); an admin of {owner} can share it with `sluice ds share {name} --workspace {owner} --to {grantee} --env ENV --permission read|write`"
        ),
        None => format!("\"{reference}\" is neither a data source of workspace {grantee} nor the shared name of a data source shared with it"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn grant(permission: SharePermission) -> GrantRecord {
        GrantRecord {
            v: 1,
            workspace: "sales".into(),
            name: "wh".into(),
            grantee: "mkt".into(),
            shared_name: None,
            environments: BTreeMap::from([("prod".to_string(), permission)]),
            updated_at_ms: 0,
        }
    }

    #[test]
    fn read_grants_are_sources_only_and_other_environments_are_refused() {
        let read = grant(SharePermission::Read);
        assert!(check_use(&read, "prod", Role::Source, "source.datasource").is_ok());
        let refused = check_use(&read, "prod", Role::Sink, "sink.datasource")
            .expect_err("read is not a sink")
            .to_string();
        assert!(refused.starts_with("sink.datasource: the grant of data source wh of workspace sales to workspace mkt in prod is READ"), "{refused}");
        assert!(refused.contains("--permission write"), "{refused}");
        let write = grant(SharePermission::Write);
        assert!(check_use(&write, "prod", Role::Sink, "sink.datasource").is_ok());
        let dev = check_use(&write, "dev", Role::Source, "source.datasource")
            .expect_err("dev not granted")
            .to_string();
        assert!(dev.contains("for prod only, not dev"), "{dev}");
    }
}
