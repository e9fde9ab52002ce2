//! Grants: a data source of one workspace shared with another. Key
//! `grants/{owner}/{name}/{grantee}`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Format version of [`GrantRecord`]s written by this build.
pub const GRANT_RECORD_VERSION: u32 = 1;

/// What a grantee workspace may do with a shared data source in one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SharePermission {
    /// Usable as a job's source.
    Read,
    /// Usable as a job's source and sink.
    Write,
}

impl SharePermission {
    /// Returns `read` or `write`.
    pub fn as_str(self) -> &'static str {
        match self {
            SharePermission::Read => "read",
            SharePermission::Write => "write",
        }
    }
}

/// The grants of one data source to one grantee workspace, per environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    /// Format version.
    pub v: u32,
    /// The owning workspace.
    pub workspace: String,
    /// The data source, in the owning workspace.
    pub name: String,
    /// The workspace it is shared with.
    pub grantee: String,
    /// Name under which grantee jobs may also name it (besides `OWNER/NAME`).
    #[serde(default)]
    pub shared_name: Option<String>,
    /// Permission per granted environment: grantee jobs of that environment use the owner's
    /// config of the same environment.
    pub environments: BTreeMap<String, SharePermission>,
    /// Last change, Unix milliseconds.
    pub updated_at_ms: i64,
}

impl GrantRecord {
    /// Returns the name grantee jobs use: the shared name, else `OWNER/NAME`.
    pub fn shared_as(&self) -> String {
        match &self.shared_name {
            Some(shared_name) => shared_name.clone(),
            None => format!("{}/{}", self.workspace, self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_grants_stay_readable() {
        let stored = r#"{"v":1,"workspace":"sales","name":"wh","grantee":"mkt","environments":{"prod":"write","dev":"read"},"updated_at_ms":5}"#;
        let grant: GrantRecord = serde_json::from_str(stored).expect("decode");
        assert_eq!(grant.environments["prod"], SharePermission::Write);
        assert_eq!(grant.environments["dev"], SharePermission::Read);
        assert_eq!(grant.shared_as(), "sales/wh");
    }
}
