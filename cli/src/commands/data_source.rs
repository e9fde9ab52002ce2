//! `sluice ds ...`

use crate::cli::{
    DataSourceArgs, DataSourceCommand, ImportFormatArg, OutputFormat, PermissionArg, TestRole,
};
use crate::client::{self, status_error};
use crate::output;
use anyhow::Context;
use sluice_proto::v1 as pb;
use std::collections::HashMap;
use std::process::ExitCode;

fn parse_pairs(
    pairs: &[String],
    flag: &str,
    allow_files: bool,
) -> anyhow::Result<HashMap<String, String>> {
    let mut parsed = HashMap::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .with_context(|| format!("{flag} {pair:?}: expected KEY=VALUE"))?;
        let resolved = match value.strip_prefix('@') {
            Some(path) if allow_files => std::fs::read_to_string(path)
                .with_context(|| format!("{flag} {key}: cannot read {path}"))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
            _ => value.to_string(),
        };
        parsed.insert(key.trim().to_string(), resolved);
    }
    Ok(parsed)
}

fn message(args: DataSourceArgs) -> anyhow::Result<pb::DataSource> {
    Ok(pb::DataSource {
        workspace: args.workspace,
        name: args.name,
        r#type: args.kind.unwrap_or_default(),
        description: args.description,
        options: parse_pairs(&args.options, "--option", false)?,
        secrets: parse_pairs(&args.secrets, "--secret", true)?,
        created_at: None,
        updated_at: None,
        environment: args.env,
        configs: HashMap::new(),
        ..Default::default()
    })
}

fn show(data_source: &pb::DataSource, output_format: OutputFormat) {
    match output_format {
        OutputFormat::Json => output::print_json(&output::data_source_json(data_source)),
        OutputFormat::Text => println!("{}", output::data_source_text(data_source)),
    }
}

/// Runs a `sluice ds` subcommand.
pub async fn data_source(
    command: DataSourceCommand,
    coordinators: &[String],
    output_format: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let mut client = client::data_sources(coordinators).await?;
    match command {
        DataSourceCommand::Create(args) => {
            if args.kind.is_none() {
                anyhow::bail!("--type is required: the connector type, e.g. --type sqlite");
            }
            let created = client
                .create(pb::CreateDataSourceRequest {
                    data_source: Some(message(args)?),
                })
                .await
                .map_err(status_error)?
                .into_inner();
            show(&created, output_format);
        }
        DataSourceCommand::Update(args) => {
            let updated = client
                .update(pb::UpdateDataSourceRequest {
                    data_source: Some(message(args)?),
                })
                .await
                .map_err(status_error)?
                .into_inner();
            show(&updated, output_format);
        }
        DataSourceCommand::Get { name, workspace } => {
            let found = client
                .get(pb::GetDataSourceRequest { workspace, name })
                .await
                .map_err(status_error)?
                .into_inner();
            show(&found, output_format);
        }
        DataSourceCommand::List { workspace } => {
            let mut all = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = client
                    .list(pb::ListDataSourcesRequest {
                        workspace: workspace.clone(),
                        page_size: 1000,
                        page_token,
                    })
                    .await
                    .map_err(status_error)?
                    .into_inner();
                all.extend(page.data_sources);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            match output_format {
                OutputFormat::Json => output::print_json(&serde_json::json!(all
                    .iter()
                    .map(output::data_source_json)
                    .collect::<Vec<_>>())),
                OutputFormat::Text => {
                    println!("{:<24} {:<16} {:<10} DESCRIPTION", "NAME", "TYPE", "ENVS");
                    for data_source in &all {
                        let mut environments: Vec<&str> =
                            data_source.configs.keys().map(String::as_str).collect();
                        environments.sort_unstable();
                        let name = if data_source.shared_from.is_empty() {
                            data_source.name.clone()
                        } else {
                            format!("{} (shared)", data_source.shared_as)
                        };
                        println!(
                            "{:<24} {:<16} {:<10} {}",
                            name,
                            data_source.r#type,
                            environments.join(","),
                            data_source.description
                        );
                    }
                }
            }
        }
        DataSourceCommand::Clone {
            name,
            new_name,
            description,
            workspace,
        } => {
            let copy = client
                .clone_data_source(pb::CloneDataSourceRequest {
                    workspace,
                    name,
                    new_name,
                    description,
                })
                .await
                .map_err(status_error)?
                .into_inner();
            show(&copy, output_format);
        }
        DataSourceCommand::Test {
            name,
            env,
            group,
            role,
            workspace,
        } => {
            let response = client
                .test_connectivity(pb::TestConnectivityRequest {
                    workspace,
                    name,
                    environment: env,
                    resource_group: group,
                    role: match role {
                        TestRole::Source => "source".into(),
                        TestRole::Sink => "sink".into(),
                    },
                })
                .await
                .map_err(status_error)?
                .into_inner();
            match output_format {
                OutputFormat::Json => output::print_json(&output::connectivity_json(&response)),
                OutputFormat::Text => println!("{}", output::connectivity_text(&response)),
            }
            let connectable = response.status == pb::ConnectivityStatus::Connectable as i32;
            return Ok(if connectable {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        DataSourceCommand::Share {
            name,
            grantee,
            env,
            permission,
            shared_name,
            workspace,
        } => {
            let grant = client
                .share_data_source(pb::ShareDataSourceRequest {
                    workspace,
                    name,
                    environment: env,
                    grantee_workspace: grantee,
                    permission: match permission {
                        PermissionArg::Read => pb::SharePermission::Read,
                        PermissionArg::Write => pb::SharePermission::Write,
                    } as i32,
                    shared_name,
                })
                .await
                .map_err(status_error)?
                .into_inner();
            match output_format {
                OutputFormat::Json => output::print_json(&output::grant_json(&grant)),
                OutputFormat::Text => println!(
                    "shared data source {} of workspace {} with workspace {} in {}: {}; its jobs name it {}",
                    grant.name,
                    grant.workspace,
                    grant.grantee_workspace,
                    grant.environment,
                    output::permission_name(grant.permission),
                    if grant.shared_name.is_empty() {
                        format!("{}/{}", grant.workspace, grant.name)
                    } else {
                        grant.shared_name.clone()
                    }
                ),
            }
        }
        DataSourceCommand::Unshare {
            name,
            grantee,
            env,
            workspace,
        } => {
            let response = client
                .unshare_data_source(pb::UnshareDataSourceRequest {
                    workspace,
                    name,
                    grantee_workspace: grantee,
                    environment: env,
                })
                .await
                .map_err(status_error)?
                .into_inner();
            match output_format {
                OutputFormat::Json => output::print_json(&serde_json::json!(response
                    .revoked
                    .iter()
                    .map(output::grant_json)
                    .collect::<Vec<_>>())),
                OutputFormat::Text => {
                    for grant in &response.revoked {
                        println!(
                            "revoked {} on data source {} of workspace {} from workspace {} in {}",
                            output::permission_name(grant.permission),
                            grant.name,
                            grant.workspace,
                            grant.grantee_workspace,
                            grant.environment
                        );
                    }
                }
            }
        }
        DataSourceCommand::Shares { name, workspace } => {
            let response = client
                .list_shares(pb::ListSharesRequest {
                    workspace,
                    name: name.unwrap_or_default(),
                })
                .await
                .map_err(status_error)?
                .into_inner();
            match output_format {
                OutputFormat::Json => output::print_json(&serde_json::json!({
                    "given": response.given.iter().map(output::grant_json).collect::<Vec<_>>(),
                    "received": response.received.iter().map(output::grant_json).collect::<Vec<_>>(),
                })),
                OutputFormat::Text => println!("{}", output::grants_text(&response)),
            }
        }
        DataSourceCommand::Import {
            file,
            format,
            workspace,
        } => {
            let content = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let extension = file
                .extension()
                .and_then(|extension| extension.to_str())
                .map(str::to_ascii_lowercase);
            let format = match (format, extension.as_deref()) {
                (Some(ImportFormatArg::Csv), _) | (None, Some("csv")) => pb::ImportFormat::Csv,
                (Some(ImportFormatArg::Yaml), _) | (None, Some("yaml" | "yml")) => {
                    pb::ImportFormat::Yaml
                }
                (None, _) => pb::ImportFormat::Unspecified,
            };
            let response = client
                .import_data_sources(pb::ImportDataSourcesRequest {
                    workspace,
                    content,
                    format: format as i32,
                })
                .await
                .map_err(status_error)?
                .into_inner();
            match output_format {
                OutputFormat::Json => output::print_json(&serde_json::json!(response
                    .data_sources
                    .iter()
                    .map(output::data_source_json)
                    .collect::<Vec<_>>())),
                OutputFormat::Text => {
                    println!("imported {} data sources:", response.data_sources.len());
                    for data_source in &response.data_sources {
                        let mut environments: Vec<&str> =
                            data_source.configs.keys().map(String::as_str).collect();
                        environments.sort_unstable();
                        println!(
                            "  {:<24} {:<16} {}",
                            data_source.name,
                            data_source.r#type,
                            environments.join(",")
                        );
                    }
                }
            }
        }
        DataSourceCommand::Delete { name, workspace } => {
            client
                .delete(pb::DeleteDataSourceRequest {
                    workspace,
                    name: name.clone(),
                })
                .await
                .map_err(status_error)?;
            if output_format == OutputFormat::Text {
                println!("deleted data source {name}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
