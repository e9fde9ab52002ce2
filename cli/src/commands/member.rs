//! `sluice member ...`: members of a workspace, their roles and tokens.

use crate::cli::{MemberCommand, OutputFormat, RoleArg, TokenCommand};
use crate::client::{self, status_error};
use crate::output;
use serde_json::json;
use sluice_common::tokens::Token;
use sluice_proto::v1 as pb;
use std::path::Path;
use std::process::ExitCode;

fn role_to_proto(role: RoleArg) -> i32 {
    (match role {
        RoleArg::Admin => pb::Role::Admin,
        RoleArg::Developer => pb::Role::Developer,
        RoleArg::Operator => pb::Role::Operator,
        RoleArg::Viewer => pb::Role::Viewer,
    }) as i32
}

fn role_name(role: i32) -> &'static str {
    match pb::Role::try_from(role) {
        Ok(pb::Role::Admin) => "admin",
        Ok(pb::Role::Developer) => "developer",
        Ok(pb::Role::Operator) => "operator",
        Ok(pb::Role::Viewer) => "viewer",
        _ => "unspecified",
    }
}

fn member_json(member: &pb::Member) -> serde_json::Value {
    json!({
        "workspace": member.workspace,
        "name": member.name,
        "role": role_name(member.role),
        "created_at": output::time_text(member.created_at.as_ref()),
        "updated_at": output::time_text(member.updated_at.as_ref()),
    })
}

fn token_json(token: &pb::TokenInfo) -> serde_json::Value {
    json!({
        "id": token.id,
        "workspace": token.workspace,
        "member": token.member,
        "description": token.description,
        "created_at": output::time_text(token.created_at.as_ref()),
    })
}

fn show_member(member: &pb::Member, output_format: OutputFormat) {
    match output_format {
        OutputFormat::Json => output::print_json(&member_json(member)),
        OutputFormat::Text => println!(
            "member {} of workspace {}: {}",
            member.name,
            member.workspace,
            role_name(member.role)
        ),
    }
}

/// Issues a token and shows it (once), writing it to `out` when given.
async fn issue(
    coordinators: &[String],
    workspace: String,
    member: String,
    description: String,
    out: Option<&Path>,
    output_format: OutputFormat,
) -> anyhow::Result<()> {
    let mut client = client::members(coordinators).await?;
    let issued = client
        .issue_token(pb::IssueTokenRequest {
            workspace,
            member,
            description,
        })
        .await
        .map_err(status_error)?
        .into_inner();
    let info = issued.info.unwrap_or_default();
    if let Some(path) = out {
        Token::parse(&issued.token, "the issued token")?.write_new_file(path)?;
    }
    match output_format {
        OutputFormat::Json => {
            let mut value = token_json(&info);
            value["token"] = json!(issued.token);
            output::print_json(&value);
        }
        OutputFormat::Text => {
            println!("{}", issued.token);
            eprintln!(
                "token {} of member {} in workspace {}: shown this once{}; use it as SLUICE_TOKEN, --token, or a profile's `token`",
                info.id,
                info.member,
                info.workspace,
                out.map(|path| format!(" (also written to {})", path.display()))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// Runs a `sluice member` subcommand.
pub async fn member(
    command: MemberCommand,
    coordinators: &[String],
    output_format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    match command {
        MemberCommand::Add {
            name,
            role,
            workspace,
            issue_token,
        } => {
            let mut client = client::members(coordinators).await?;
            let added = client
                .add_member(pb::AddMemberRequest {
                    workspace: workspace.clone(),
                    name: name.clone(),
                    role: role_to_proto(role),
                })
                .await
                .map_err(status_error)?
                .into_inner();
            if issue_token {
                issue(
                    coordinators,
                    added.workspace.clone(),
                    added.name.clone(),
                    String::new(),
                    None,
                    output_format,
                )
                .await?;
                if output_format == OutputFormat::Text {
                    eprintln!(
                        "added member {name} ({}) to workspace {}",
                        role_name(added.role),
                        added.workspace
                    );
                }
            } else {
                show_member(&added, output_format);
            }
        }
        MemberCommand::List { workspace } => {
            let mut client = client::members(coordinators).await?;
            let all = client
                .list_members(pb::ListMembersRequest { workspace })
                .await
                .map_err(status_error)?
                .into_inner()
                .members;
            match output_format {
                OutputFormat::Json => {
                    output::print_json(&json!(all.iter().map(member_json).collect::<Vec<_>>()))
                }
                OutputFormat::Text => {
                    println!("{:<32} {:<10} {:<24} ADDED", "NAME", "ROLE", "WORKSPACE");
                    for member in &all {
                        println!(
                            "{:<32} {:<10} {:<24} {}",
                            member.name,
                            role_name(member.role),
                            member.workspace,
                            output::time_text(member.created_at.as_ref())
                        );
                    }
                }
            }
        }
        MemberCommand::SetRole {
            name,
            role,
            workspace,
        } => {
            let mut client = client::members(coordinators).await?;
            let changed = client
                .set_member_role(pb::SetMemberRoleRequest {
                    workspace,
                    name,
                    role: role_to_proto(role),
                })
                .await
                .map_err(status_error)?
                .into_inner();
            show_member(&changed, output_format);
        }
        MemberCommand::Remove { name, workspace } => {
            let mut client = client::members(coordinators).await?;
            let removed = client
                .remove_member(pb::RemoveMemberRequest {
                    workspace,
                    name: name.clone(),
                })
                .await
                .map_err(status_error)?
                .into_inner();
            match output_format {
                OutputFormat::Json => output::print_json(
                    &json!({"removed": name, "tokens_revoked": removed.tokens_revoked}),
                ),
                OutputFormat::Text => println!(
                    "removed member {name}; revoked {} token(s)",
                    removed.tokens_revoked
                ),
            }
        }
        MemberCommand::Token(TokenCommand::Issue {
            member,
            description,
            workspace,
            out,
        }) => {
            issue(
                coordinators,
                workspace,
                member.unwrap_or_default(),
                description,
                out.as_deref(),
                output_format,
            )
            .await?;
        }
        MemberCommand::Token(TokenCommand::List { member, workspace }) => {
            let mut client = client::members(coordinators).await?;
            let tokens = client
                .list_tokens(pb::ListTokensRequest {
                    workspace,
                    member: member.unwrap_or_default(),
                })
                .await
                .map_err(status_error)?
                .into_inner()
                .tokens;
            match output_format {
                OutputFormat::Json => {
                    output::print_json(&json!(tokens.iter().map(token_json).collect::<Vec<_>>()))
                }
                OutputFormat::Text => {
                    println!(
                        "{:<14} {:<24} {:<24} {:<28} DESCRIPTION",
                        "ID", "MEMBER", "WORKSPACE", "ISSUED"
                    );
                    for token in &tokens {
                        println!(
                            "{:<14} {:<24} {:<24} {:<28} {}",
                            token.id,
                            token.member,
                            token.workspace,
                            output::time_text(token.created_at.as_ref()),
                            token.description
                        );
                    }
                }
            }
        }
        MemberCommand::Token(TokenCommand::Revoke { id, workspace }) => {
            let mut client = client::members(coordinators).await?;
            client
                .revoke_token(pb::RevokeTokenRequest {
                    workspace,
                    id: id.clone(),
                })
                .await
                .map_err(status_error)?;
            match output_format {
                OutputFormat::Json => output::print_json(&json!({"revoked": id})),
                OutputFormat::Text => println!("revoked token {id}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
