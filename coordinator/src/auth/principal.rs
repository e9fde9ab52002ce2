//! Who is calling, and whether it may do what it asks.

use super::permissions::{role_allows, roles_allowed, Operation};
use sluice_common::records::Role;
use sluice_common::DEFAULT_WORKSPACE;
use tonic::Status;

/// The caller of one request, resolved from its bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Authentication is off (`--insecure-no-auth`, or a loopback standalone): anything goes.
    Unrestricted,
    /// The cluster admin token: every workspace, every operation but the worker protocol.
    ClusterAdmin,
    /// The cluster (worker) token: only the worker protocol.
    Worker,
    /// A member of one workspace, with its role.
    Member {
        /// Its workspace.
        workspace: String,
        /// Its name.
        name: String,
        /// Its role (read from its member record at each call).
        role: Role,
    },
}

impl Principal {
    /// Returns the workspace a request that names none acts on: the member's own, else
    /// `default`.
    pub fn default_workspace(&self) -> &str {
        match self {
            Principal::Member { workspace, .. } => workspace,
            _ => DEFAULT_WORKSPACE,
        }
    }

    /// Fills a blank workspace field of a request with [`Principal::default_workspace`].
    pub fn fill_workspace(&self, workspace: &mut String) {
        if workspace.trim().is_empty() {
            *workspace = self.default_workspace().to_string();
        }
    }

    /// Returns the member's workspace, if the caller is a member.
    pub fn member_workspace(&self) -> Option<&str> {
        match self {
            Principal::Member { workspace, .. } => Some(workspace),
            _ => None,
        }
    }

    /// Returns a name for logs (never a token).
    pub fn describe(&self) -> String {
        match self {
            Principal::Unrestricted => "anyone (auth off)".to_string(),
            Principal::ClusterAdmin => "the cluster admin".to_string(),
            Principal::Worker => "a worker (cluster token)".to_string(),
            Principal::Member {
                workspace,
                name,
                role,
            } => format!("member {name} ({role}) of workspace {workspace}"),
        }
    }

    /// Checks that the caller may do `operation` in `workspace` (`None`: no workspace, e.g.
    /// the worker protocol); `call` names the RPC in the refusal.
    ///
    /// # Errors
    /// `PERMISSION_DENIED` saying who asked, what for, and who may.
    pub fn authorize(
        &self,
        call: &str,
        workspace: Option<&str>,
        operation: Operation,
    ) -> Result<(), Status> {
        let denied = |reason: String| {
            Err(Status::permission_denied(format!(
                "{call}: {} may not {operation}: {reason}",
                self.describe()
            )))
        };
        match self {
            Principal::Unrestricted => Ok(()),
            Principal::ClusterAdmin if operation == Operation::WorkerSession => {
                denied("workers present the cluster token (--cluster-token-file)".to_string())
            }
            Principal::ClusterAdmin => Ok(()),
            Principal::Worker if operation == Operation::WorkerSession => Ok(()),
            Principal::Worker => denied(
                "the cluster token only opens worker sessions; call the API with a member token (`sluice member token issue`) or the cluster admin token".to_string(),
            ),
            Principal::Member {
                workspace: own,
                name,
                role,
            } => {
                if let Some(asked) = workspace {
                    let asked = if asked.trim().is_empty() {
                        DEFAULT_WORKSPACE
                    } else {
                        asked
                    };
                    if asked != own {
                        return denied(format!(
                            "its token belongs to workspace {own}, not {asked}; use a token of a member of {asked}"
                        ));
                    }
                }
                if role_allows(*role, operation) {
                    return Ok(());
                }
                let allowed: Vec<&str> = roles_allowed(operation)
                    .into_iter()
                    .map(Role::name)
                    .collect();
                if allowed.is_empty() {
                    return denied("only the cluster admin token may".to_string());
                }
                denied(format!(
                    "that needs the role {}; an admin of {own} can change it with `sluice member set-role {name} ROLE --workspace {own}`",
                    allowed.join(" or ")
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::permissions::Environment;

    fn member(role: Role) -> Principal {
        Principal::Member {
            workspace: "sales".to_string(),
            name: "ann".to_string(),
            role,
        }
    }

    #[test]
    fn members_act_only_in_their_workspace() {
        let admin = member(Role::Admin);
        assert!(admin
            .authorize("x", Some("sales"), Operation::ManageMembers)
            .is_ok());
        let refused = admin
            .authorize("JobService.Submit", Some("hr"), Operation::Read)
            .expect_err("must fail");
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert!(refused
            .message()
            .contains("belongs to workspace sales, not hr"));
        // A blank workspace is `default`, which is not theirs either.
        assert!(admin.authorize("x", Some(""), Operation::Read).is_err());
    }

    #[test]
    fn refusals_name_the_roles_that_may() {
        let refused = member(Role::Viewer)
            .authorize(
                "JobService.Submit",
                Some("sales"),
                Operation::RunJobs(Environment::Prod),
            )
            .expect_err("must fail");
        assert!(
            refused.message().contains("admin or operator"),
            "{}",
            refused.message()
        );
        assert!(refused.message().contains("sluice member set-role ann"));
    }

    #[test]
    fn cluster_tokens_are_kept_apart() {
        assert!(Principal::Worker
            .authorize("WorkerService.Session", None, Operation::WorkerSession)
            .is_ok());
        assert!(Principal::Worker
            .authorize("JobService.List", Some("default"), Operation::Read)
            .is_err());
        assert!(Principal::ClusterAdmin
            .authorize(
                "WorkspaceService.Create",
                None,
                Operation::AdministerCluster
            )
            .is_ok());
        assert!(Principal::ClusterAdmin
            .authorize("WorkerService.Session", None, Operation::WorkerSession)
            .is_err());
        assert!(member(Role::Admin)
            .authorize(
                "WorkspaceService.Create",
                None,
                Operation::AdministerCluster
            )
            .is_err());
        assert!(Principal::Unrestricted
            .authorize("anything", Some("hr"), Operation::AdministerCluster)
            .is_ok());
    }
}
