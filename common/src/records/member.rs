//! Members of workspaces, their roles, and their tokens (stored as hashes only).

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a member may do in its workspace (see `docs/access-control.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything in the workspace: the workspace itself, members, data sources, jobs.
    Admin,
    /// Jobs and data sources in `dev`; reads prod metadata (secrets are always masked).
    Developer,
    /// Runs and cancels prod jobs; reads everything.
    Operator,
    /// Reads only.
    Viewer,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Developer, Role::Operator, Role::Viewer];

    /// Returns the role's name as the API and CLI spell it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    /// Returns the role named `name`, if any.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A member of a workspace. Key `members/{ws}/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    /// Format version.
    pub v: u32,
    /// Workspace.
    pub workspace: String,
    /// Name, unique in the workspace.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, Unix milliseconds.
    pub updated_at_ms: i64,
}

/// A token of a member. Key `tokens/{sha256 hex of the token}`: the plaintext is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Format version.
    pub v: u32,
    /// The token's id: the first hex digits of its hash.
    pub id: String,
    /// Workspace of the member.
    pub workspace: String,
    /// The member the token belongs to.
    pub member: String,
    /// Free text (what the token is for).
    #[serde(default)]
    pub description: String,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_by_name_and_in_json() {
        for role in Role::ALL {
            assert_eq!(Role::from_name(role.name()), Some(role));
            let json = serde_json::to_string(&role).expect("must succeed");
            assert_eq!(json, format!("\"{}\"", role.name()));
        }
        assert_eq!(Role::from_name("owner"), None);
    }
}
