//! Sharing data sources with other workspaces: share, unshare, list grants, and the grantee's
//! view of a shared data source (only the granted environments, secrets masked).

use super::{to_proto, valid_name, DataSourceServiceImpl};
use crate::convert;
use crate::error::{CoordinatorError, Result};
use crate::{grants, workspaces};
use sluice_common::meta::{keys, DeleteOutcome, Precondition, PutOutcome};
use sluice_common::records::{
    self, now_ms, DataSourceRecord, GrantRecord, SharePermission, ENV_PROD, GRANT_RECORD_VERSION,
};
use sluice_proto::v1 as pb;

/// Returns the API view of one environment of a grant.
pub(crate) fn grant_to_proto(
    grant: &GrantRecord,
    environment: &str,
    permission: SharePermission,
) -> pb::DataSourceGrant {
    pb::DataSourceGrant {
        workspace: grant.workspace.clone(),
        name: grant.name.clone(),
        environment: environment.to_string(),
        grantee_workspace: grant.grantee.clone(),
        permission: match permission {
            SharePermission::Read => pb::SharePermission::Read,
            SharePermission::Write => pb::SharePermission::Write,
        } as i32,
        shared_name: grant.shared_name.clone().unwrap_or_default(),
        granted_at: Some(convert::timestamp(grant.updated_at_ms)),
    }
}

fn flatten(grants: &[GrantRecord]) -> Vec<pb::DataSourceGrant> {
    grants
        .iter()
        .flat_map(|grant| {
            grant
                .environments
                .iter()
                .map(|(environment, permission)| grant_to_proto(grant, environment, *permission))
        })
        .collect()
}

/// Returns the grantee's view of a shared data source: only the granted environments'
/// configs, secrets masked, with the owner and the permissions.
pub(crate) fn shared_to_proto(record: &DataSourceRecord, grant: &GrantRecord) -> pb::DataSource {
    let mut view = record.clone();
    view.configs
        .retain(|environment, _| grant.environments.contains_key(environment));
    let mut message = to_proto(&view);
    message.shared_from = grant.workspace.clone();
    message.shared_as = grant.shared_as();
    message.shared_permissions = grant
        .environments
        .iter()
        .map(|(environment, permission)| (environment.clone(), permission.as_str().to_string()))
        .collect();
    if !grant.environments.contains_key(ENV_PROD) {
        message.options.clear();
        message.secrets.clear();
    }
    message
}

impl DataSourceServiceImpl {
    /// Grants (or changes) one environment of a data source to another workspace.
    pub(crate) async fn share(
        &self,
        request: pb::ShareDataSourceRequest,
    ) -> Result<pb::DataSourceGrant> {
        let owner = workspaces::name_or_default(&request.workspace);
        let environment = workspaces::environment_or_prod(&request.environment);
        let grantee = request.grantee_workspace.trim().to_string();
        if grantee.is_empty() {
            return Err(CoordinatorError::invalid(
                "grantee_workspace",
                "is required: the workspace to share with (--to)",
            ));
        }
        valid_name("grantee_workspace", &grantee)?;
        if grantee == owner {
            return Err(CoordinatorError::invalid(
                "grantee_workspace",
                format!("is the owning workspace {owner}: its jobs use the data source already"),
            ));
        }
        let permission = match pb::SharePermission::try_from(request.permission) {
            Ok(pb::SharePermission::Unspecified | pb::SharePermission::Read) => {
                SharePermission::Read
            }
            Ok(pb::SharePermission::Write) => SharePermission::Write,
            Err(_) => {
                return Err(CoordinatorError::invalid(
                    "permission",
                    format!("{} is not one of READ (1), WRITE (2)", request.permission),
                ))
            }
        };
        let (owner_record, _) = workspaces::load(self.store.as_ref(), &owner).await?;
        workspaces::check_environment(&owner_record, &environment, "environment")?;
        let (grantee_record, _) = workspaces::load(self.store.as_ref(), &grantee).await?;
        workspaces::check_environment(&grantee_record, &environment, "environment").map_err(
            |_| {
                CoordinatorError::invalid(
                    "environment",
                    format!(
                        "workspace {grantee} has no {environment} environment, so none of its jobs could use the grant (its environments: {})",
                        grantee_record.mode.environments().join(", ")
                    ),
                )
            },
        )?;
        let (record, _) = self.load(&owner, &request.name).await?;
        if !record.configs.contains_key(&environment) {
            return Err(CoordinatorError::FailedPrecondition(format!(
                "data source {} has no {environment} config to share; add one first with `sluice ds update {} --workspace {owner} --env {environment} ...`",
                record.name, record.name
            )));
        }
        let shared_name = request.shared_name.trim().to_string();
        if !shared_name.is_empty() {
            self.check_shared_name_free(&owner, &record.name, &grantee, &shared_name)
                .await?;
        }
        let existing = grants::load(self.store.as_ref(), &owner, &record.name, &grantee).await?;
        let (mut grant, revision) = existing.unwrap_or_else(|| {
            (
                GrantRecord {
                    v: GRANT_RECORD_VERSION,
                    workspace: owner.clone(),
                    name: record.name.clone(),
                    grantee: grantee.clone(),
                    shared_name: None,
                    environments: Default::default(),
                    updated_at_ms: 0,
                },
                0,
            )
        });
        grant.environments.insert(environment.clone(), permission);
        if !shared_name.is_empty() {
            grant.shared_name = Some(shared_name);
        }
        grant.updated_at_ms = now_ms();
        let key = keys::grant(&owner, &record.name, &grantee);
        match self
            .store
            .put(
                &key,
                records::encode(&grant),
                Precondition::unchanged_since(revision),
                None,
            )
            .await?
        {
            PutOutcome::Written { .. } => {}
            PutOutcome::Conflict { .. } => {
                return Err(CoordinatorError::FailedPrecondition(format!(
                    "the grant of data source {} to workspace {grantee} changed meanwhile; run the command again",
                    record.name
                )))
            }
        }
        tracing::info!(workspace = %owner, name = %record.name, grantee = %grantee, environment = %environment, permission = permission.as_str(), "data source shared");
        Ok(grant_to_proto(&grant, &environment, permission))
    }

    /// Refuses a shared name that the grantee already uses for one of its own data sources or
    /// for another shared one.
    async fn check_shared_name_free(
        &self,
        owner: &str,
        name: &str,
        grantee: &str,
        shared_name: &str,
    ) -> Result<()> {
        valid_name("shared_name", shared_name)?;
        if self
            .store
            .get(&keys::datasource(grantee, shared_name))
            .await?
            .is_some()
        {
            return Err(CoordinatorError::invalid(
                "shared_name",
                format!("workspace {grantee} has a data source named {shared_name}: choose another shared name"),
            ));
        }
        let clash = grants::received(self.store.as_ref(), grantee)
            .await?
            .into_iter()
            .find(|grant| {
                grant.shared_name.as_deref() == Some(shared_name)
                    && !(grant.workspace == owner && grant.name == name)
            });
        if let Some(clash) = clash {
            return Err(CoordinatorError::invalid(
                "shared_name",
                format!(
                    "workspace {grantee} already receives data source {} of workspace {} as {shared_name}: choose another shared name",
                    clash.name, clash.workspace
                ),
            ));
        }
        Ok(())
    }

    /// Revokes one environment of a grant, or all of them.
    pub(crate) async fn unshare(
        &self,
        request: pb::UnshareDataSourceRequest,
    ) -> Result<pb::UnshareDataSourceResponse> {
        let owner = workspaces::name_or_default(&request.workspace);
        let grantee = request.grantee_workspace.trim().to_string();
        if grantee.is_empty() {
            return Err(CoordinatorError::invalid(
                "grantee_workspace",
                "is required: the workspace to revoke the grant of (--to)",
            ));
        }
        let Some((mut grant, revision)) =
            grants::load(self.store.as_ref(), &owner, &request.name, &grantee).await?
        else {
            return Err(CoordinatorError::NotFound {
                kind: "grant of data source",
                name: request.name,
                hint: format!(": workspace {owner} has not shared it with workspace {grantee}"),
            });
        };
        let revoked = if request.environment.trim().is_empty() {
            std::mem::take(&mut grant.environments)
        } else {
            let environment = request.environment.trim();
            match grant.environments.remove_entry(environment) {
                Some(entry) => [entry].into_iter().collect(),
                None => {
                    let granted: Vec<&str> =
                        grant.environments.keys().map(String::as_str).collect();
                    return Err(CoordinatorError::NotFound {
                        kind: "grant of data source",
                        name: grant.name.clone(),
                        hint: format!(
                            ": workspace {owner} has not shared it with workspace {grantee} in {environment} (granted: {})",
                            granted.join(", ")
                        ),
                    });
                }
            }
        };
        let key = keys::grant(&owner, &grant.name, &grantee);
        let written = if grant.environments.is_empty() {
            self.store
                .delete(&key, Precondition::ModRevision(revision))
                .await?
                == DeleteOutcome::Deleted
        } else {
            grant.updated_at_ms = now_ms();
            self.store
                .put(
                    &key,
                    records::encode(&grant),
                    Precondition::ModRevision(revision),
                    None,
                )
                .await?
                .is_written()
        };
        if !written {
            return Err(CoordinatorError::FailedPrecondition(format!(
                "the grant of data source {} to workspace {grantee} changed meanwhile; run the command again",
                grant.name
            )));
        }
        tracing::info!(workspace = %owner, name = %grant.name, grantee = %grantee, environments = ?revoked.keys().collect::<Vec<_>>(), "data source unshared");
        Ok(pb::UnshareDataSourceResponse {
            revoked: revoked
                .iter()
                .map(|(environment, permission)| grant_to_proto(&grant, environment, *permission))
                .collect(),
        })
    }

    /// Lists the grants a workspace has given and received.
    pub(crate) async fn list_grants(
        &self,
        request: pb::ListSharesRequest,
    ) -> Result<pb::ListSharesResponse> {
        let workspace = workspaces::name_or_default(&request.workspace);
        let name = (!request.name.is_empty()).then_some(request.name.as_str());
        let given = grants::given(self.store.as_ref(), &workspace, name).await?;
        let received = grants::received(self.store.as_ref(), &workspace).await?;
        Ok(pb::ListSharesResponse {
            given: flatten(&given),
            received: flatten(&received),
        })
    }

    /// Returns the data sources shared with `workspace`, as the grantee sees them.
    pub(crate) async fn shared_with(&self, workspace: &str) -> Result<Vec<pb::DataSource>> {
        let mut shared = Vec::new();
        for grant in grants::received(self.store.as_ref(), workspace).await? {
            if let Some(key_value) = self
                .store
                .get(&keys::datasource(&grant.workspace, &grant.name))
                .await?
            {
                let record: DataSourceRecord = records::decode(&key_value)?;
                shared.push(shared_to_proto(&record, &grant));
            }
        }
        Ok(shared)
    }

    /// Refuses to delete a data source that is shared, naming the grantees.
    pub(crate) async fn refuse_if_shared(&self, workspace: &str, name: &str) -> Result<()> {
        let given = grants::given(self.store.as_ref(), workspace, Some(name)).await?;
        if given.is_empty() {
            return Ok(());
        }
        let grantees: Vec<&str> = given.iter().map(|grant| grant.grantee.as_str()).collect();
        Err(CoordinatorError::FailedPrecondition(format!(
            "data source {name} is shared with workspace{} {}: revoke first with `sluice ds unshare {name} --workspace {workspace} --to WORKSPACE`",
            if grantees.len() == 1 { "" } else { "s" },
            grantees.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leader::LeaderSlot;
    use sluice_common::meta::embedded::EmbeddedStore;
    use sluice_common::records::{WorkspaceMode, WorkspaceRecord};
    use sluice_common::secrets::{SecretCipher, SecretKey};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    async fn service() -> (tempfile::TempDir, DataSourceServiceImpl) {
        let directory = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(
            EmbeddedStore::open(directory.path().join("meta.redb"))
                .await
                .expect("store"),
        );
        for (name, mode) in [
            ("sales", WorkspaceMode::Standard),
            ("mkt", WorkspaceMode::Basic),
        ] {
            let workspace = WorkspaceRecord {
                name: name.into(),
                mode,
                ..WorkspaceRecord::implicit_default()
            };
            records::put_record(store.as_ref(), &keys::workspace(name), &workspace)
                .await
                .expect("workspace");
        }
        for (workspace, name) in [("sales", "wh"), ("mkt", "taken")] {
            let record = DataSourceRecord {
                v: 2,
                workspace: workspace.into(),
                name: name.into(),
                kind: "sqlite".into(),
                description: String::new(),
                configs: BTreeMap::from([(ENV_PROD.to_string(), Default::default())]),
                created_at_ms: 1,
                updated_at_ms: 1,
            };
            records::put_record(store.as_ref(), &keys::datasource(workspace, name), &record)
                .await
                .expect("data source");
        }
        let cipher = SecretCipher::new(SecretKey::generate().expect("key"));
        let service = DataSourceServiceImpl::new(store, cipher, LeaderSlot::default());
        (directory, service)
    }

    fn share(grantee: &str, environment: &str, shared_name: &str) -> pb::ShareDataSourceRequest {
        pb::ShareDataSourceRequest {
            workspace: "sales".into(),
            name: "wh".into(),
            environment: environment.into(),
            grantee_workspace: grantee.into(),
            permission: pb::SharePermission::Write as i32,
            shared_name: shared_name.into(),
        }
    }

    #[tokio::test]
    async fn grants_are_checked_listed_and_revoked() {
        let (_directory, service) = service().await;
        let to_self = service
            .share(share("sales", "", ""))
            .await
            .expect_err("self");
        assert!(
            to_self.to_string().contains("is the owning workspace"),
            "{to_self}"
        );
        let no_dev = service
            .share(share("mkt", "dev", ""))
            .await
            .expect_err("mkt is basic");
        assert!(
            no_dev
                .to_string()
                .contains("workspace mkt has no dev environment"),
            "{no_dev}"
        );
        let taken = service
            .share(share("mkt", "", "taken"))
            .await
            .expect_err("taken");
        assert!(
            taken.to_string().contains("has a data source named taken"),
            "{taken}"
        );
        let grant = service
            .share(share("mkt", "", "sales_wh"))
            .await
            .expect("shares");
        assert_eq!(grant.permission, pb::SharePermission::Write as i32);
        assert_eq!(grant.shared_name, "sales_wh");

        let listed = service
            .list_grants(pb::ListSharesRequest {
                workspace: "mkt".into(),
                name: String::new(),
            })
            .await
            .expect("list");
        assert!(listed.given.is_empty());
        assert_eq!(listed.received.len(), 1);
        let refused = service
            .refuse_if_shared("sales", "wh")
            .await
            .expect_err("shared");
        assert!(
            refused.to_string().contains("sluice ds unshare wh"),
            "{refused}"
        );

        let unshare = |environment: &str| pb::UnshareDataSourceRequest {
            workspace: "sales".into(),
            name: "wh".into(),
            grantee_workspace: "mkt".into(),
            environment: environment.into(),
        };
        let missing = service
            .unshare(unshare("dev"))
            .await
            .expect_err("dev not granted");
        assert!(
            missing.to_string().contains("in dev (granted: prod)"),
            "{missing}"
        );
        let revoked = service.unshare(unshare("")).await.expect("revokes");
        assert_eq!(revoked.revoked.len(), 1);
        assert!(service.refuse_if_shared("sales", "wh").await.is_ok());
        let again = service.unshare(unshare("")).await.expect_err("gone");
        assert!(
            again
                .to_string()
                .contains("workspace sales has not shared it with workspace mkt"),
            "{again}"
        );
    }
}
