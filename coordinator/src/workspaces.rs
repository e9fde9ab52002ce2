//! Workspaces as the other services see them: which exist, and which environments they have.
//!
//! The `default` workspace exists without a record, as a basic workspace, until someone
//! changes it (then `workspaces/default` is written like any other).

use crate::error::{CoordinatorError, Result};
use sluice_common::meta::{keys, MetaStore};
use sluice_common::records::{self, WorkspaceMode, WorkspaceRecord, ENV_DEV, ENV_PROD};
use sluice_common::DEFAULT_WORKSPACE;

/// Returns `workspace`, or `default` when it is blank.
pub fn name_or_default(workspace: &str) -> String {
    if workspace.trim().is_empty() {
        DEFAULT_WORKSPACE.to_string()
    } else {
        workspace.to_string()
    }
}

/// Returns the workspace record and its revision (0 for the implicit `default`).
///
/// # Errors
/// [`CoordinatorError::NotFound`] (saying how to create it) when it does not exist.
pub async fn load(store: &dyn MetaStore, workspace: &str) -> Result<(WorkspaceRecord, i64)> {
    match store.get(&keys::workspace(workspace)).await? {
        Some(key_value) => Ok((records::decode(&key_value)?, key_value.mod_revision)),
        None if workspace == DEFAULT_WORKSPACE => Ok((WorkspaceRecord::implicit_default(), 0)),
        None => Err(CoordinatorError::NotFound {
            kind: "workspace",
            name: workspace.to_string(),
            hint: format!("; create it with `sluice ws create {workspace}`"),
        }),
    }
}

/// Checks that `environment` is one of the workspace's.
///
/// # Errors
/// [`CoordinatorError::InvalidArgument`] at `field`, saying what the workspace offers and, for
/// `dev` in a basic workspace, how to upgrade it.
pub fn check_environment(
    workspace: &WorkspaceRecord,
    environment: &str,
    field: &str,
) -> Result<()> {
    if workspace.mode.environments().contains(&environment) {
        return Ok(());
    }
    if environment == ENV_DEV && workspace.mode == WorkspaceMode::Basic {
        return Err(CoordinatorError::invalid(
            field,
            format!(
                "workspace {} is basic: its only environment is {ENV_PROD}; upgrade it with `sluice ws update {} --mode standard` to use dev",
                workspace.name, workspace.name
            ),
        ));
    }
    Err(CoordinatorError::invalid(
        field,
        format!(
            "\"{environment}\" is not an environment of workspace {}: use one of {}",
            workspace.name,
            workspace.mode.environments().join(", ")
        ),
    ))
}

/// Returns the environment a request names, `prod` when blank.
pub fn environment_or_prod(environment: &str) -> String {
    if environment.trim().is_empty() {
        ENV_PROD.to_string()
    } else {
        environment.trim().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_in_a_basic_workspace_says_how_to_upgrade() {
        let basic = WorkspaceRecord::implicit_default();
        let error = check_environment(&basic, "dev", "environment").expect_err("basic has no dev");
        assert!(
            error
                .to_string()
                .contains("sluice ws update default --mode standard"),
            "{error}"
        );
        assert!(check_environment(&basic, "prod", "environment").is_ok());
        let standard = WorkspaceRecord {
            mode: WorkspaceMode::Standard,
            ..basic
        };
        assert!(check_environment(&standard, "dev", "environment").is_ok());
        let error = check_environment(&standard, "test", "environment").expect_err("unknown");
        assert!(error.to_string().contains("dev, prod"), "{error}");
    }
}
