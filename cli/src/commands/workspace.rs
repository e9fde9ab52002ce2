//! `sluice ws ...`

use crate::cli::{OutputFormat, WorkspaceCommand, WorkspaceModeArg};
use crate::client::{self, status_error};
use crate::output;
use sluice_proto::v1 as pb;
use std::process::ExitCode;

fn mode_to_proto(mode: Option<WorkspaceModeArg>) -> i32 {
    match mode {
        None => pb::WorkspaceMode::Unspecified as i32,
        Some(WorkspaceModeArg::Basic) => pb::WorkspaceMode::Basic as i32,
        Some(WorkspaceModeArg::Standard) => pb::WorkspaceMode::Standard as i32,
    }
}

fn show(workspace: &pb::Workspace, output_format: OutputFormat) {
    match output_format {
        OutputFormat::Json => output::print_json(&output::workspace_json(workspace)),
        OutputFormat::Text => println!("{}", output::workspace_text(workspace)),
    }
}

/// Runs a `sluice ws` subcommand.
pub async fn workspace(
    command: WorkspaceCommand,
    coordinators: &[String],
    output_format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let mut client = client::workspaces(coordinators).await?;
    match command {
        WorkspaceCommand::Create {
            name,
            mode,
            description,
        } => {
            let created = client
                .create(pb::CreateWorkspaceRequest {
                    workspace: Some(pb::Workspace {
                        name,
                        mode: mode_to_proto(Some(mode)),
                        description,
                        ..Default::default()
                    }),
                })
                .await
                .map_err(status_error)?
                .into_inner();
            show(&created, output_format);
        }
        WorkspaceCommand::Get { name } => {
            let found = client
                .get(pb::GetWorkspaceRequest { name })
                .await
                .map_err(status_error)?
                .into_inner();
            show(&found, output_format);
        }
        WorkspaceCommand::List => {
            let all = client
                .list(pb::ListWorkspacesRequest {})
                .await
                .map_err(status_error)?
                .into_inner()
                .workspaces;
            match output_format {
                OutputFormat::Json => output::print_json(&serde_json::json!(all
                    .iter()
                    .map(output::workspace_json)
                    .collect::<Vec<_>>())),
                OutputFormat::Text => {
                    println!("{:<24} {:<10} {:<10} DESCRIPTION", "NAME", "MODE", "ENVS");
                    for workspace in &all {
                        println!(
                            "{:<24} {:<10} {:<10} {}",
                            workspace.name,
                            output::workspace_mode_name(workspace.mode),
                            workspace.environments.join(","),
                            workspace.description
                        );
                    }
                }
            }
        }
        WorkspaceCommand::Update {
            name,
            mode,
            description,
        } => {
            let updated = client
                .update(pb::UpdateWorkspaceRequest {
                    workspace: Some(pb::Workspace {
                        name,
                        mode: mode_to_proto(mode),
                        description,
                        ..Default::default()
                    }),
                })
                .await
                .map_err(status_error)?
                .into_inner();
            show(&updated, output_format);
        }
        WorkspaceCommand::Delete { name } => {
            client
                .delete(pb::DeleteWorkspaceRequest { name: name.clone() })
                .await
                .map_err(status_error)?;
            if output_format == OutputFormat::Text {
                println!("deleted workspace {name}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
