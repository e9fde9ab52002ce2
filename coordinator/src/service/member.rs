//! `sluice.v1.MemberService`: members of a workspace, their roles and tokens.
//!
//! Authorization is checked here, against the same [permission table](crate::auth::permissions)
//! as the other services: `admin`s manage everyone, every member its own tokens.

use crate::auth::guarded::Guard;
use crate::auth::permissions::Operation;
use crate::auth::Principal;
use crate::convert;
use crate::error::CoordinatorError;
use crate::{members, workspaces};
use sluice_common::meta::SharedMetaStore;
use sluice_common::records::{MemberRecord, Role, TokenRecord};
use sluice_proto::v1 as pb;
use sluice_proto::v1::member_service_server::MemberService;
use tonic::{Request, Response, Status};

/// Serves the member API.
pub struct MemberServiceImpl {
    store: SharedMetaStore,
    guard: Guard,
}

impl MemberServiceImpl {
    /// Returns the service over the metadata store, checking calls with `guard`.
    pub fn new(store: SharedMetaStore, guard: Guard) -> Self {
        MemberServiceImpl { store, guard }
    }

    /// Authenticates, fills a blank workspace with the caller's, checks that the workspace
    /// exists and that the caller may do `operation` there; returns the caller.
    async fn admit<T>(
        &self,
        request: &mut Request<T>,
        call: &str,
        workspace: impl Fn(&mut T) -> &mut String,
        operation: Operation,
    ) -> Result<(Principal, String), Status> {
        let principal = self
            .guard
            .admit(request, call, &workspace, operation)
            .await?;
        let name = workspace(request.get_mut()).clone();
        workspaces::load(self.store.as_ref(), &name).await?;
        Ok((principal, name))
    }

    /// Returns the operation a token call on `member` needs: own tokens need less.
    fn token_operation(principal: &Principal, member: &str) -> Operation {
        match principal {
            Principal::Member { name, .. } if name == member => Operation::ManageOwnTokens,
            _ => Operation::ManageMembers,
        }
    }
}

fn role_from_proto(role: i32) -> Result<Role, CoordinatorError> {
    match pb::Role::try_from(role).unwrap_or(pb::Role::Unspecified) {
        pb::Role::Admin => Ok(Role::Admin),
        pb::Role::Developer => Ok(Role::Developer),
        pb::Role::Operator => Ok(Role::Operator),
        pb::Role::Viewer => Ok(Role::Viewer),
        pb::Role::Unspecified => Err(CoordinatorError::invalid(
            "role",
            "is required: one of admin, developer, operator, viewer",
        )),
    }
}

fn role_to_proto(role: Role) -> pb::Role {
    match role {
        Role::Admin => pb::Role::Admin,
        Role::Developer => pb::Role::Developer,
        Role::Operator => pb::Role::Operator,
        Role::Viewer => pb::Role::Viewer,
    }
}

fn member_to_proto(record: &MemberRecord) -> pb::Member {
    pb::Member {
        workspace: record.workspace.clone(),
        name: record.name.clone(),
        role: role_to_proto(record.role) as i32,
        created_at: Some(convert::timestamp(record.created_at_ms)),
        updated_at: Some(convert::timestamp(record.updated_at_ms)),
    }
}

fn token_to_proto(record: &TokenRecord) -> pb::TokenInfo {
    pb::TokenInfo {
        id: record.id.clone(),
        workspace: record.workspace.clone(),
        member: record.member.clone(),
        description: record.description.clone(),
        created_at: Some(convert::timestamp(record.created_at_ms)),
    }
}

#[tonic::async_trait]
impl MemberService for MemberServiceImpl {
    async fn add_member(
        &self,
        mut request: Request<pb::AddMemberRequest>,
    ) -> Result<Response<pb::Member>, Status> {
        let (_, workspace) = self
            .admit(
                &mut request,
                "MemberService.AddMember",
                |message| &mut message.workspace,
                Operation::ManageMembers,
            )
            .await?;
        let message = request.into_inner();
        let role = role_from_proto(message.role)?;
        let record =
            members::add_member(self.store.as_ref(), &workspace, &message.name, role).await?;
        tracing::info!(workspace = %workspace, member = %record.name, role = %role, "member added");
        Ok(Response::new(member_to_proto(&record)))
    }

    async fn list_members(
        &self,
        mut request: Request<pb::ListMembersRequest>,
    ) -> Result<Response<pb::ListMembersResponse>, Status> {
        let (_, workspace) = self
            .admit(
                &mut request,
                "MemberService.ListMembers",
                |message| &mut message.workspace,
                Operation::ManageMembers,
            )
            .await?;
        let all = members::list_members(self.store.as_ref(), &workspace).await?;
        Ok(Response::new(pb::ListMembersResponse {
            members: all.iter().map(member_to_proto).collect(),
        }))
    }

    async fn set_member_role(
        &self,
        mut request: Request<pb::SetMemberRoleRequest>,
    ) -> Result<Response<pb::Member>, Status> {
        let (_, workspace) = self
            .admit(
                &mut request,
                "MemberService.SetMemberRole",
                |message| &mut message.workspace,
                Operation::ManageMembers,
            )
            .await?;
        let message = request.into_inner();
        let role = role_from_proto(message.role)?;
        let record =
            members::set_role(self.store.as_ref(), &workspace, &message.name, role).await?;
        tracing::info!(workspace = %workspace, member = %record.name, role = %role, "member role set");
        Ok(Response::new(member_to_proto(&record)))
    }

    async fn remove_member(
        &self,
        mut request: Request<pb::RemoveMemberRequest>,
    ) -> Result<Response<pb::RemoveMemberResponse>, Status> {
        let (_, workspace) = self
            .admit(
                &mut request,
                "MemberService.RemoveMember",
                |message| &mut message.workspace,
                Operation::ManageMembers,
            )
            .await?;
        let name = request.into_inner().name;
        let tokens_revoked = members::remove_member(self.store.as_ref(), &workspace, &name).await?;
        tracing::info!(workspace = %workspace, member = %name, tokens_revoked, "member removed");
        Ok(Response::new(pb::RemoveMemberResponse { tokens_revoked }))
    }

    async fn issue_token(
        &self,
        mut request: Request<pb::IssueTokenRequest>,
    ) -> Result<Response<pb::IssueTokenResponse>, Status> {
        let principal = self.guard.principal(&request).await?;
        let message = request.get_mut();
        if message.member.trim().is_empty() {
            if let Principal::Member { name, .. } = &principal {
                message.member = name.clone();
            }
        }
        let operation = Self::token_operation(&principal, &message.member);
        let (_, workspace) = self
            .admit(
                &mut request,
                "MemberService.IssueToken",
                |message| &mut message.workspace,
                operation,
            )
            .await?;
        let message = request.into_inner();
        if message.member.trim().is_empty() {
            return Err(CoordinatorError::invalid(
                "member",
                "is required: name the member the token is for",
            )
            .into());
        }
        let (token, record) = members::issue_token(
            self.store.as_ref(),
            &workspace,
            &message.member,
            &message.description,
        )
        .await?;
        tracing::info!(workspace = %workspace, member = %record.member, token_id = %record.id, "token issued");
        Ok(Response::new(pb::IssueTokenResponse {
            token: token.expose().to_string(),
            info: Some(token_to_proto(&record)),
        }))
    }

    async fn list_tokens(
        &self,
        mut request: Request<pb::ListTokensRequest>,
    ) -> Result<Response<pb::ListTokensResponse>, Status> {
        let principal = self.guard.principal(&request).await?;
        let message = request.get_mut();
        // A member that may not manage others lists its own tokens.
        if message.member.trim().is_empty() {
            if let Principal::Member { name, role, .. } = &principal {
                if *role != Role::Admin {
                    message.member = name.clone();
                }
            }
        }
        let operation = if message.member.trim().is_empty() {
            Operation::ManageMembers
        } else {
            Self::token_operation(&principal, &message.member)
        };
        let (_, workspace) = self
            .admit(
                &mut request,
                "MemberService.ListTokens",
                |message| &mut message.workspace,
                operation,
            )
            .await?;
        let member = request.into_inner().member;
        let member = (!member.trim().is_empty()).then_some(member.as_str());
        let tokens = members::list_tokens(self.store.as_ref(), &workspace, member).await?;
        Ok(Response::new(pb::ListTokensResponse {
            tokens: tokens.iter().map(token_to_proto).collect(),
        }))
    }

    async fn revoke_token(
        &self,
        mut request: Request<pb::RevokeTokenRequest>,
    ) -> Result<Response<pb::RevokeTokenResponse>, Status> {
        // Who may revoke depends on whose token it is: find it first (in the caller's
        // workspace only), then check.
        let principal = self
            .guard
            .admit(
                &mut request,
                "MemberService.RevokeToken",
                |message| &mut message.workspace,
                Operation::ManageOwnTokens,
            )
            .await?;
        let message = request.into_inner();
        let (key, token) =
            members::find_token(self.store.as_ref(), &message.workspace, &message.id).await?;
        principal.authorize(
            "MemberService.RevokeToken",
            Some(&message.workspace),
            Self::token_operation(&principal, &token.member),
        )?;
        members::revoke_token(self.store.as_ref(), &key, &token.id).await?;
        tracing::info!(workspace = %token.workspace, member = %token.member, token_id = %token.id, "token revoked");
        Ok(Response::new(pb::RevokeTokenResponse {}))
    }
}
