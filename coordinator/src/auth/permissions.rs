//! The permission table: which principal may do which operation in which environment.
//!
//! Pure: no IO. Every RPC maps to one [`Operation`] (the guards in
//! [`guarded`](super::guarded) say which, reading the environment from the request or from
//! the stored job, schedule or data source it names):
//!
//! | RPC | operation |
//! | --- | --- |
//! | `WorkspaceService.Create`, `.Delete` | [`Operation::AdministerCluster`] |
//! | `WorkspaceService.Get`, `.List` | [`Operation::Read`] (a member lists only its workspace) |
//! | `WorkspaceService.Update` | [`Operation::ManageWorkspace`] |
//! | `MemberService.*` | [`Operation::ManageMembers`]; own tokens: [`Operation::ManageOwnTokens`] |
//! | `DataSourceService.Get`, `.List` | [`Operation::Read`] (secrets are always masked) |
//! | `DataSourceService.Create`, `.Update` | [`Operation::WriteDataSource`] in the request's environment |
//! | `DataSourceService.Delete`, `.CloneDataSource` | [`Operation::WriteDataSource`] in `prod` if the data source has a prod config, else `dev` |
//! | `DataSourceService.TestConnectivity` | [`Operation::RunJobs`] in the request's environment |
//! | `JobService.Get`, `.List`, `.Watch` | [`Operation::Read`] |
//! | `JobService.Submit`, `.Cancel`, `.ListDirtyRecords` | [`Operation::RunJobs`] in the job's environment (dirty records hold row values: data, not metadata) |
//! | `ScheduleService.Get`, `.List` | [`Operation::Read`] |
//! | `ScheduleService.Create`, `.Pause`, `.Resume`, `.Backfill`, `.Delete` | [`Operation::RunJobs`] in the schedule's environment |
//! | `WorkerService.Session` | [`Operation::WorkerSession`] |
//!
//! And per role ([`role_allows`]):
//!
//! | operation | admin | developer | operator | viewer |
//! | --- | --- | --- | --- | --- |
//! | `Read` | yes | yes | yes | yes |
//! | `ManageOwnTokens` | yes | yes | yes | yes |
//! | `WriteDataSource` in dev | yes | yes | no | no |
//! | `WriteDataSource` in prod | yes | no | no | no |
//! | `RunJobs` in dev | yes | yes | no | no |
//! | `RunJobs` in prod | yes | no | yes | no |
//! | `ManageWorkspace`, `ManageMembers` | yes | no | no | no |
//! | `AdministerCluster`, `WorkerSession` | no | no | no | no |
//!
//! The cluster admin token may do every operation but [`Operation::WorkerSession`] in every
//! workspace; the cluster (worker) token may do only [`Operation::WorkerSession`]. A member
//! may act only in its own workspace.

use sluice_common::records::{Role, ENV_DEV};
use std::fmt;

/// The environment an operation touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// `dev`.
    Dev,
    /// `prod`, and any name that is not `dev` (the stricter rule applies to what the request
    /// validation will refuse anyway).
    Prod,
}

impl Environment {
    /// Returns the environment a request names (empty means `prod`).
    pub fn from_request(name: &str) -> Environment {
        if name.trim() == ENV_DEV {
            Environment::Dev
        } else {
            Environment::Prod
        }
    }

    /// Returns its name.
    pub fn name(self) -> &'static str {
        match self {
            Environment::Dev => "dev",
            Environment::Prod => "prod",
        }
    }
}

/// What a call does, as far as permissions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Reads metadata: workspaces, data sources (secrets masked), jobs, schedules.
    Read,
    /// Creates, changes or deletes a data source config in an environment.
    WriteDataSource(Environment),
    /// Submits or cancels jobs, manages schedules, tests connectivity, reads dirty records,
    /// in an environment.
    RunJobs(Environment),
    /// Changes the workspace (description, mode).
    ManageWorkspace,
    /// Grants and revokes other workspaces' use of this workspace's data sources.
    ShareDataSources,
    /// Adds, removes and changes members; issues, lists and revokes anyone's tokens.
    ManageMembers,
    /// Issues, lists and revokes the caller's own tokens.
    ManageOwnTokens,
    /// Creates and deletes workspaces.
    AdministerCluster,
    /// Opens the worker protocol stream.
    WorkerSession,
}

impl fmt::Display for Operation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::Read => formatter.write_str("read"),
            Operation::WriteDataSource(environment) => {
                write!(formatter, "change data sources in {}", environment.name())
            }
            Operation::RunJobs(environment) => {
                write!(
                    formatter,
                    "run and cancel jobs and schedules in {}",
                    environment.name()
                )
            }
            Operation::ManageWorkspace => formatter.write_str("change the workspace"),
            Operation::ShareDataSources => {
                formatter.write_str("share data sources with other workspaces")
            }
            Operation::ManageMembers => formatter.write_str("manage members and their tokens"),
            Operation::ManageOwnTokens => formatter.write_str("manage its own tokens"),
            Operation::AdministerCluster => {
                formatter.write_str("create or delete workspaces (cluster admin only)")
            }
            Operation::WorkerSession => {
                formatter.write_str("open a worker session (cluster token only)")
            }
        }
    }
}

/// Returns whether a member with `role` may do `operation` in its own workspace.
pub fn role_allows(role: Role, operation: Operation) -> bool {
    use Environment::{Dev, Prod};
    match (operation, role) {
        (Operation::Read | Operation::ManageOwnTokens, _) => true,
        (Operation::WriteDataSource(Dev) | Operation::RunJobs(Dev), Role::Developer) => true,
        (Operation::RunJobs(Prod), Role::Operator) => true,
        (
            Operation::WriteDataSource(_)
            | Operation::RunJobs(_)
            | Operation::ManageWorkspace
            | Operation::ShareDataSources
            | Operation::ManageMembers,
            Role::Admin,
        ) => true,
        (Operation::WriteDataSource(_), _)
        | (Operation::RunJobs(_), _)
        | (
            Operation::ManageWorkspace | Operation::ShareDataSources | Operation::ManageMembers,
            _,
        )
        | (Operation::AdministerCluster | Operation::WorkerSession, _) => false,
    }
}

/// Returns the roles that may do `operation` (for error messages).
pub fn roles_allowed(operation: Operation) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|role| role_allows(*role, operation))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Environment::{Dev, Prod};

    /// The table of the module doc, row by row: admin, developer, operator, viewer.
    const TABLE: &[(Operation, [bool; 4])] = &[
        (Operation::Read, [true, true, true, true]),
        (Operation::ManageOwnTokens, [true, true, true, true]),
        (Operation::WriteDataSource(Dev), [true, true, false, false]),
        (
            Operation::WriteDataSource(Prod),
            [true, false, false, false],
        ),
        (Operation::RunJobs(Dev), [true, true, false, false]),
        (Operation::RunJobs(Prod), [true, false, true, false]),
        (Operation::ManageWorkspace, [true, false, false, false]),
        (Operation::ShareDataSources, [true, false, false, false]),
        (Operation::ManageMembers, [true, false, false, false]),
        (Operation::AdministerCluster, [false, false, false, false]),
        (Operation::WorkerSession, [false, false, false, false]),
    ];

    #[test]
    fn every_cell_of_the_table_holds() {
        for (operation, expected) in TABLE {
            for (role, allowed) in Role::ALL.into_iter().zip(expected) {
                assert_eq!(
                    role_allows(role, *operation),
                    *allowed,
                    "{role} / {operation:?}"
                );
            }
        }
    }

    #[test]
    fn environments_default_to_prod() {
        assert_eq!(Environment::from_request(""), Prod);
        assert_eq!(Environment::from_request("prod"), Prod);
        assert_eq!(Environment::from_request("dev"), Dev);
        assert_eq!(Environment::from_request("staging"), Prod);
    }

    #[test]
    fn allowed_roles_are_listed_for_messages() {
        assert_eq!(
            roles_allowed(Operation::RunJobs(Prod)),
            vec![Role::Admin, Role::Operator]
        );
        assert_eq!(roles_allowed(Operation::AdministerCluster), vec![]);
    }
}
