//! End-to-end: members, roles and bearer tokens on etcd + a coordinator + workers started with
//! `--admin-token-file` and `--cluster-token-file`.
//!
//! - A table of role x call (every RPC of the public API, in prod and dev where it matters):
//!   each of admin, developer, operator and viewer of a standard workspace calls it with its
//!   own token; the call must pass (or fail for a reason other than permissions) or be refused
//!   with `PERMISSION_DENIED`, as the table says.
//! - A token of workspace A is refused in workspace B; no, unknown, revoked and removed
//!   members' tokens get `UNAUTHENTICATED` with a message saying how to get one; the cluster
//!   token opens no API call; a worker without the cluster token (or with another token) is
//!   refused and never registers.
//! - The CLI: `sluice member ...`, `--token`, `SLUICE_TOKEN`, a profile file (refused while
//!   others may read it).
//! - No token's plaintext is in etcd (`etcdctl get --prefix ""`) or in any log (processes at
//!   debug level).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use sluice_e2e::{sluice_binary, with_token, Cluster};
use sluice_proto::v1 as pb;
use sluice_proto::v1::data_source_service_client::DataSourceServiceClient;
use sluice_proto::v1::job_service_client::JobServiceClient;
use sluice_proto::v1::member_service_client::MemberServiceClient;
use sluice_proto::v1::schedule_service_client::ScheduleServiceClient;
use sluice_proto::v1::worker_service_client::WorkerServiceClient;
use sluice_proto::v1::workspace_service_client::WorkspaceServiceClient;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tonic::Code;

const WORKSPACE: &str = "sales";
const OTHER_WORKSPACE: &str = "hr";
/// The members of `sales`, one per role, in the column order of [`TABLE`].
const MEMBERS: [(&str, &str); 4] = [
    ("ann", "admin"),
    ("dave", "developer"),
    ("olga", "operator"),
    ("vic", "viewer"),
];

/// Every call of the table.
#[derive(Debug, Clone, Copy)]
enum Call {
    WorkspaceGet,
    WorkspaceList,
    WorkspaceUpdate,
    WorkspaceCreate,
    WorkspaceDelete,
    MemberAdd,
    MemberList,
    MemberSetRole,
    TokenIssueOwn,
    TokenIssueOther,
    TokenListOwn,
    DataSourceGet,
    DataSourceList,
    DataSourceCreateProd,
    DataSourceCreateDev,
    DataSourceUpdateProd,
    DataSourceUpdateDev,
    DataSourceDeleteWithProdConfig,
    DataSourceDeleteDevOnly,
    DataSourceCloneWithProdConfig,
    DataSourceTestProd,
    DataSourceTestDev,
    DataSourceShare,
    DataSourceListShares,
    DataSourceImport,
    JobSubmitProd,
    JobSubmitDev,
    JobList,
    JobGet,
    JobWatch,
    JobCancelProd,
    JobCancelDev,
    JobDirtyRecordsProd,
    ScheduleCreateProd,
    ScheduleCreateDev,
    ScheduleList,
    ScheduleGet,
    SchedulePauseProd,
    SchedulePauseDev,
    WorkerSession,
}

/// Role x call: `Y` allowed, `N` refused with PERMISSION_DENIED; columns admin, developer,
/// operator, viewer.
#[rustfmt::skip]
const TABLE: &[(Call, &str)] = &[
    //                                          adm dev ops vwr
    (Call::WorkspaceGet,                       "Y   Y   Y   Y"),
    (Call::WorkspaceList,                      "Y   Y   Y   Y"),
    (Call::WorkspaceUpdate,                    "Y   N   N   N"),
    (Call::WorkspaceCreate,                    "N   N   N   N"),
    (Call::WorkspaceDelete,                    "N   N   N   N"),
    (Call::MemberAdd,                          "Y   N   N   N"),
    (Call::MemberList,                         "Y   N   N   N"),
    (Call::MemberSetRole,                      "Y   N   N   N"),
    (Call::TokenIssueOwn,                      "Y   Y   Y   Y"),
    (Call::TokenIssueOther,                    "Y   N   N   N"),
    (Call::TokenListOwn,                       "Y   Y   Y   Y"),
    (Call::DataSourceGet,                      "Y   Y   Y   Y"),
    (Call::DataSourceList,                     "Y   Y   Y   Y"),
    (Call::DataSourceCreateProd,               "Y   N   N   N"),
    (Call::DataSourceCreateDev,                "Y   Y   N   N"),
    (Call::DataSourceUpdateProd,               "Y   N   N   N"),
    (Call::DataSourceUpdateDev,                "Y   Y   N   N"),
    (Call::DataSourceDeleteWithProdConfig,     "Y   N   N   N"),
    (Call::DataSourceDeleteDevOnly,            "Y   Y   N   N"),
    (Call::DataSourceCloneWithProdConfig,      "Y   N   N   N"),
    (Call::DataSourceShare,                    "Y   N   N   N"),
    (Call::DataSourceListShares,               "Y   Y   Y   Y"),
    (Call::DataSourceImport,                   "Y   N   N   N"),
    (Call::DataSourceTestProd,                 "Y   N   Y   N"),
    (Call::DataSourceTestDev,                  "Y   Y   N   N"),
    (Call::JobSubmitProd,                      "Y   N   Y   N"),
    (Call::JobSubmitDev,                       "Y   Y   N   N"),
    (Call::JobList,                            "Y   Y   Y   Y"),
    (Call::JobGet,                             "Y   Y   Y   Y"),
    (Call::JobWatch,                           "Y   Y   Y   Y"),
    (Call::JobCancelProd,                      "Y   N   Y   N"),
    (Call::JobCancelDev,                       "Y   Y   N   N"),
    (Call::JobDirtyRecordsProd,                "Y   N   Y   N"),
    (Call::ScheduleCreateProd,                 "Y   N   Y   N"),
    (Call::ScheduleCreateDev,                  "Y   Y   N   N"),
    (Call::ScheduleList,                       "Y   Y   Y   Y"),
    (Call::ScheduleGet,                        "Y   Y   Y   Y"),
    (Call::SchedulePauseProd,                  "Y   N   Y   N"),
    (Call::SchedulePauseDev,                   "Y   Y   N   N"),
    (Call::WorkerSession,                      "N   N   N   N"),
];

/// What the calls of the table act on.
struct Fixture {
    channel: Channel,
    directory: PathBuf,
    prod_job: String,
    dev_job: String,
}

fn sqlite(directory: &Path, file: &str) -> std::collections::HashMap<String, String> {
    [(
        "path".to_string(),
        directory.join(file).display().to_string(),
    )]
    .into()
}

fn spec(table: &str) -> String {
    format!(
        r#"{{"source": {{"connection": {{"type": "generator", "rows": 20, "seed": 7}}}},
  "sink": {{"datasource": "wh", "table": "{table}", "create_table": true}}}}"#
    )
}

fn data_source(name: &str, environment: &str, directory: &Path, file: &str) -> pb::DataSource {
    pb::DataSource {
        workspace: WORKSPACE.to_string(),
        name: name.to_string(),
        r#type: "sqlite".to_string(),
        options: sqlite(directory, file),
        environment: environment.to_string(),
        ..Default::default()
    }
}

fn schedule(name: &str, environment: &str) -> pb::Schedule {
    pb::Schedule {
        workspace: WORKSPACE.to_string(),
        name: name.to_string(),
        cron: "0 0 1 1 *".to_string(),
        environment: environment.to_string(),
        spec: spec(&format!("scheduled_{name}")),
        format: pb::SpecFormat::Json as i32,
        ..Default::default()
    }
}

fn ok<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Result<(), tonic::Status> {
    result.map(|_| ())
}

/// Makes `call` as `role` (`member` with `token`).
async fn perform(
    fixture: &Fixture,
    call: Call,
    member: &str,
    token: &str,
) -> Result<(), tonic::Status> {
    let channel = fixture.channel.clone();
    let mut workspaces = WorkspaceServiceClient::new(channel.clone());
    let mut members = MemberServiceClient::new(channel.clone());
    let mut data_sources = DataSourceServiceClient::new(channel.clone());
    let mut jobs = JobServiceClient::new(channel.clone());
    let mut schedules = ScheduleServiceClient::new(channel.clone());
    let token = Some(token);
    let ws = WORKSPACE.to_string();
    let directory = fixture.directory.as_path();
    match call {
        Call::WorkspaceGet => ok(workspaces
            .get(with_token(pb::GetWorkspaceRequest { name: ws }, token))
            .await),
        Call::WorkspaceList => ok(workspaces
            .list(with_token(pb::ListWorkspacesRequest {}, token))
            .await),
        Call::WorkspaceUpdate => ok(workspaces
            .update(with_token(
                pb::UpdateWorkspaceRequest {
                    workspace: Some(pb::Workspace {
                        name: ws,
                        description: format!("changed by {member}"),
                        ..Default::default()
                    }),
                },
                token,
            ))
            .await),
        Call::WorkspaceCreate => ok(workspaces
            .create(with_token(
                pb::CreateWorkspaceRequest {
                    workspace: Some(pb::Workspace {
                        name: format!("new_{member}"),
                        ..Default::default()
                    }),
                },
                token,
            ))
            .await),
        Call::WorkspaceDelete => ok(workspaces
            .delete(with_token(
                pb::DeleteWorkspaceRequest {
                    name: OTHER_WORKSPACE.to_string(),
                },
                token,
            ))
            .await),
        Call::MemberAdd => ok(members
            .add_member(with_token(
                pb::AddMemberRequest {
                    workspace: ws,
                    name: format!("added_by_{member}"),
                    role: pb::Role::Viewer as i32,
                },
                token,
            ))
            .await),
        Call::MemberList => ok(members
            .list_members(with_token(pb::ListMembersRequest { workspace: ws }, token))
            .await),
        Call::MemberSetRole => ok(members
            .set_member_role(with_token(
                pb::SetMemberRoleRequest {
                    workspace: ws,
                    name: "tess".to_string(),
                    role: pb::Role::Viewer as i32,
                },
                token,
            ))
            .await),
        Call::TokenIssueOwn => ok(members
            .issue_token(with_token(
                pb::IssueTokenRequest {
                    workspace: ws,
                    member: String::new(),
                    description: "own".to_string(),
                },
                token,
            ))
            .await),
        Call::TokenIssueOther => ok(members
            .issue_token(with_token(
                pb::IssueTokenRequest {
                    workspace: ws,
                    member: "tess".to_string(),
                    description: format!("for tess by {member}"),
                },
                token,
            ))
            .await),
        Call::TokenListOwn => ok(members
            .list_tokens(with_token(
                pb::ListTokensRequest {
                    workspace: ws,
                    member: member.to_string(),
                },
                token,
            ))
            .await),
        Call::DataSourceGet => ok(data_sources
            .get(with_token(
                pb::GetDataSourceRequest {
                    workspace: ws,
                    name: "wh".to_string(),
                },
                token,
            ))
            .await),
        Call::DataSourceList => ok(data_sources
            .list(with_token(
                pb::ListDataSourcesRequest {
                    workspace: ws,
                    ..Default::default()
                },
                token,
            ))
            .await),
        Call::DataSourceCreateProd => ok(data_sources
            .create(with_token(
                pb::CreateDataSourceRequest {
                    data_source: Some(data_source(
                        &format!("cp_{member}"),
                        "prod",
                        directory,
                        "x.db",
                    )),
                },
                token,
            ))
            .await),
        Call::DataSourceCreateDev => ok(data_sources
            .create(with_token(
                pb::CreateDataSourceRequest {
                    data_source: Some(data_source(
                        &format!("cd_{member}"),
                        "dev",
                        directory,
                        "x.db",
                    )),
                },
                token,
            ))
            .await),
        Call::DataSourceUpdateProd => ok(data_sources
            .update(with_token(
                pb::UpdateDataSourceRequest {
                    data_source: Some(data_source("wh", "prod", directory, "prod.db")),
                },
                token,
            ))
            .await),
        Call::DataSourceUpdateDev => ok(data_sources
            .update(with_token(
                pb::UpdateDataSourceRequest {
                    data_source: Some(data_source("wh", "dev", directory, "dev.db")),
                },
                token,
            ))
            .await),
        Call::DataSourceDeleteWithProdConfig => ok(data_sources
            .delete(with_token(
                pb::DeleteDataSourceRequest {
                    workspace: ws,
                    name: format!("delprod_{member}"),
                },
                token,
            ))
            .await),
        Call::DataSourceDeleteDevOnly => ok(data_sources
            .delete(with_token(
                pb::DeleteDataSourceRequest {
                    workspace: ws,
                    name: format!("deldev_{member}"),
                },
                token,
            ))
            .await),
        Call::DataSourceCloneWithProdConfig => ok(data_sources
            .clone_data_source(with_token(
                pb::CloneDataSourceRequest {
                    workspace: ws,
                    name: "wh".to_string(),
                    new_name: format!("clone_{member}"),
                    description: String::new(),
                },
                token,
            ))
            .await),
        Call::DataSourceShare => ok(data_sources
            .share_data_source(with_token(
                pb::ShareDataSourceRequest {
                    workspace: ws,
                    name: "wh".to_string(),
                    environment: "prod".to_string(),
                    grantee_workspace: OTHER_WORKSPACE.to_string(),
                    permission: pb::SharePermission::Read as i32,
                    shared_name: String::new(),
                },
                token,
            ))
            .await),
        Call::DataSourceListShares => ok(data_sources
            .list_shares(with_token(
                pb::ListSharesRequest {
                    workspace: ws,
                    name: String::new(),
                },
                token,
            ))
            .await),
        Call::DataSourceImport => ok(data_sources
            .import_data_sources(with_token(
                pb::ImportDataSourcesRequest {
                    workspace: ws,
                    content: format!(
                        "name,type,environment,description,path\nimp_{member},sqlite,dev,,{}\n",
                        directory.join("imported.db").display()
                    ),
                    format: pb::ImportFormat::Csv as i32,
                },
                token,
            ))
            .await),
        Call::DataSourceTestProd | Call::DataSourceTestDev => {
            let environment = if matches!(call, Call::DataSourceTestDev) {
                "dev"
            } else {
                "prod"
            };
            ok(data_sources
                .test_connectivity(with_token(
                    pb::TestConnectivityRequest {
                        workspace: ws,
                        name: "wh".to_string(),
                        environment: environment.to_string(),
                        resource_group: String::new(),
                        role: "sink".to_string(),
                    },
                    token,
                ))
                .await)
        }
        Call::JobSubmitProd | Call::JobSubmitDev => {
            let environment = if matches!(call, Call::JobSubmitDev) {
                "dev"
            } else {
                "prod"
            };
            ok(jobs
                .submit(with_token(
                    pb::SubmitJobRequest {
                        workspace: ws,
                        environment: environment.to_string(),
                        spec: spec(&format!("{environment}_{member}")),
                        format: pb::SpecFormat::Json as i32,
                        ..Default::default()
                    },
                    token,
                ))
                .await)
        }
        Call::JobList => ok(jobs
            .list(with_token(
                pb::ListJobsRequest {
                    workspace: ws,
                    ..Default::default()
                },
                token,
            ))
            .await),
        Call::JobGet => ok(jobs
            .get(with_token(
                pb::GetJobRequest {
                    job_id: fixture.prod_job.clone(),
                    include_shards: true,
                },
                token,
            ))
            .await),
        Call::JobWatch => ok(jobs
            .watch(with_token(
                pb::WatchJobRequest {
                    job_id: fixture.prod_job.clone(),
                },
                token,
            ))
            .await),
        Call::JobCancelProd | Call::JobCancelDev => {
            let job_id = if matches!(call, Call::JobCancelDev) {
                fixture.dev_job.clone()
            } else {
                fixture.prod_job.clone()
            };
            ok(jobs
                .cancel(with_token(pb::CancelJobRequest { job_id }, token))
                .await)
        }
        Call::JobDirtyRecordsProd => ok(jobs
            .list_dirty_records(with_token(
                pb::ListDirtyRecordsRequest {
                    job_id: fixture.prod_job.clone(),
                    ..Default::default()
                },
                token,
            ))
            .await),
        Call::ScheduleCreateProd => ok(schedules
            .create(with_token(
                pb::CreateScheduleRequest {
                    schedule: Some(schedule(&format!("np_{member}"), "prod")),
                },
                token,
            ))
            .await),
        Call::ScheduleCreateDev => ok(schedules
            .create(with_token(
                pb::CreateScheduleRequest {
                    schedule: Some(schedule(&format!("nd_{member}"), "dev")),
                },
                token,
            ))
            .await),
        Call::ScheduleList => ok(schedules
            .list(with_token(
                pb::ListSchedulesRequest { workspace: ws },
                token,
            ))
            .await),
        Call::ScheduleGet => ok(schedules
            .get(with_token(
                pb::GetScheduleRequest {
                    workspace: ws,
                    name: "sp_ann".to_string(),
                },
                token,
            ))
            .await),
        Call::SchedulePauseProd | Call::SchedulePauseDev => {
            let prefix = if matches!(call, Call::SchedulePauseDev) {
                "sd"
            } else {
                "sp"
            };
            ok(schedules
                .pause(with_token(
                    pb::PauseScheduleRequest {
                        workspace: ws,
                        name: format!("{prefix}_{member}"),
                    },
                    token,
                ))
                .await)
        }
        Call::WorkerSession => {
            let mut workers = WorkerServiceClient::new(channel);
            ok(workers
                .session(with_token(
                    tokio_stream::iter(Vec::<pb::WorkerMessage>::new()),
                    token,
                ))
                .await)
        }
    }
}

/// Calls allowed by permissions that still fail, on purpose, with this code.
fn expected_failure(call: Call) -> Option<Code> {
    match call {
        // The jobs have ended: cancelling them is refused for that reason, not permissions.
        Call::JobCancelProd | Call::JobCancelDev => Some(Code::FailedPrecondition),
        _ => None,
    }
}

/// Runs the CLI with exactly this token environment (nothing inherited).
fn cli(url: &str, token: Option<&str>, arguments: &[&str]) -> Output {
    let mut command = Command::new(sluice_binary());
    command
        .arg("--coordinator")
        .arg(url)
        .args(arguments)
        .env_remove("SLUICE_TOKEN")
        .env_remove("SLUICE_PROFILE")
        .env_remove("SLUICE_WORKSPACE")
        .env("HOME", "/nonexistent");
    if let Some(token) = token {
        command.env("SLUICE_TOKEN", token);
    }
    let output = command.output().expect("run sluice");
    println!(
        "$ sluice {}\n{}{}",
        arguments.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn issue(channel: &Channel, admin: &str, workspace: &str, member: &str) -> String {
    MemberServiceClient::new(channel.clone())
        .issue_token(with_token(
            pb::IssueTokenRequest {
                workspace: workspace.to_string(),
                member: member.to_string(),
                description: "e2e".to_string(),
            },
            Some(admin),
        ))
        .await
        .unwrap()
        .into_inner()
        .token
}

#[tokio::test]
async fn each_role_is_allowed_and_refused_where_it_should_be() {
    let started = Instant::now();
    let mut cluster = Cluster::start_with_auth().await;
    cluster.log_filter = Some("debug".to_string());
    let directory = tempfile::tempdir().unwrap();
    cluster.data_location = Some(directory.path().join("data").display().to_string());
    let url = cluster.add_coordinator().await;
    cluster.add_worker(2);
    cluster.wait_for_workers(1).await;
    let admin = cluster.admin_token().unwrap();
    let admin_token = Some(admin.as_str());
    let channel = Channel::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut all_tokens: Vec<String> = vec![
        admin.clone(),
        std::fs::read_to_string(cluster.cluster_token_file.as_ref().unwrap())
            .unwrap()
            .trim()
            .to_string(),
    ];

    // The cluster admin sets up two workspaces and their members.
    let mut workspaces = WorkspaceServiceClient::new(channel.clone());
    for (name, mode) in [
        (WORKSPACE, pb::WorkspaceMode::Standard),
        (OTHER_WORKSPACE, pb::WorkspaceMode::Basic),
    ] {
        workspaces
            .create(with_token(
                pb::CreateWorkspaceRequest {
                    workspace: Some(pb::Workspace {
                        name: name.to_string(),
                        mode: mode as i32,
                        ..Default::default()
                    }),
                },
                admin_token,
            ))
            .await
            .unwrap();
    }
    let mut members = MemberServiceClient::new(channel.clone());
    let roles = [
        pb::Role::Admin,
        pb::Role::Developer,
        pb::Role::Operator,
        pb::Role::Viewer,
    ];
    let mut tokens = BTreeMap::new();
    for ((member, _), role) in MEMBERS.iter().zip(roles) {
        members
            .add_member(with_token(
                pb::AddMemberRequest {
                    workspace: WORKSPACE.to_string(),
                    name: member.to_string(),
                    role: role as i32,
                },
                admin_token,
            ))
            .await
            .unwrap();
        let token = issue(&channel, &admin, WORKSPACE, member).await;
        all_tokens.push(token.clone());
        tokens.insert(member.to_string(), token);
    }
    // tess: the member the others' calls act on.
    members
        .add_member(with_token(
            pb::AddMemberRequest {
                workspace: WORKSPACE.to_string(),
                name: "tess".to_string(),
                role: pb::Role::Viewer as i32,
            },
            admin_token,
        ))
        .await
        .unwrap();
    members
        .add_member(with_token(
            pb::AddMemberRequest {
                workspace: OTHER_WORKSPACE.to_string(),
                name: "hal".to_string(),
                role: pb::Role::Admin as i32,
            },
            admin_token,
        ))
        .await
        .unwrap();
    let hal = issue(&channel, &admin, OTHER_WORKSPACE, "hal").await;
    all_tokens.push(hal.clone());

    // Fixtures, as the cluster admin: a data source with prod and dev configs, one to delete
    // per member (with a prod config, and with a dev config only), finished prod and dev jobs,
    // schedules to pause.
    let mut data_sources = DataSourceServiceClient::new(channel.clone());
    let mut fixtures = vec![
        data_source("wh", "prod", directory.path(), "prod.db"),
        data_source("wh", "dev", directory.path(), "dev.db"),
    ];
    for (member, _) in MEMBERS {
        fixtures.push(data_source(
            &format!("delprod_{member}"),
            "prod",
            directory.path(),
            "x.db",
        ));
        fixtures.push(data_source(
            &format!("deldev_{member}"),
            "dev",
            directory.path(),
            "x.db",
        ));
    }
    for (index, fixture) in fixtures.into_iter().enumerate() {
        if index == 1 {
            data_sources
                .update(with_token(
                    pb::UpdateDataSourceRequest {
                        data_source: Some(fixture),
                    },
                    admin_token,
                ))
                .await
                .unwrap();
        } else {
            data_sources
                .create(with_token(
                    pb::CreateDataSourceRequest {
                        data_source: Some(fixture),
                    },
                    admin_token,
                ))
                .await
                .unwrap();
        }
    }
    let mut jobs = JobServiceClient::new(channel.clone());
    let mut job_ids = Vec::new();
    for environment in ["prod", "dev"] {
        let job_id = jobs
            .submit(with_token(
                pb::SubmitJobRequest {
                    workspace: WORKSPACE.to_string(),
                    environment: environment.to_string(),
                    spec: spec(&format!("seed_{environment}")),
                    format: pb::SpecFormat::Json as i32,
                    ..Default::default()
                },
                admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .job_id;
        job_ids.push(job_id);
    }
    let mut schedules = ScheduleServiceClient::new(channel.clone());
    for (member, _) in MEMBERS {
        for (prefix, environment) in [("sp", "prod"), ("sd", "dev")] {
            schedules
                .create(with_token(
                    pb::CreateScheduleRequest {
                        schedule: Some(schedule(&format!("{prefix}_{member}"), environment)),
                    },
                    admin_token,
                ))
                .await
                .unwrap();
        }
    }
    // Waiting needs a token too: the harness helper sends none, so poll with the admin's.
    for job_id in &job_ids {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let job = jobs
                .get(with_token(
                    pb::GetJobRequest {
                        job_id: job_id.clone(),
                        include_shards: false,
                    },
                    admin_token,
                ))
                .await
                .unwrap()
                .into_inner();
            if job.state == pb::JobState::Succeeded as i32 {
                break;
            }
            assert!(
                job.state != pb::JobState::Failed as i32 && Instant::now() < deadline,
                "seed job did not succeed: {job:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let fixture = Fixture {
        channel: channel.clone(),
        directory: directory.path().to_path_buf(),
        prod_job: job_ids[0].clone(),
        dev_job: job_ids[1].clone(),
    };

    // The table.
    let mut failures = Vec::new();
    println!("{:<34} admin developer operator viewer", "call");
    for (call, expected) in TABLE {
        let expected: Vec<bool> = expected
            .split_whitespace()
            .map(|cell| cell == "Y")
            .collect();
        assert_eq!(expected.len(), MEMBERS.len(), "{call:?}");
        let mut line = format!("{:<34}", format!("{call:?}"));
        for ((member, role), allowed) in MEMBERS.iter().zip(&expected) {
            let outcome = perform(&fixture, *call, member, &tokens[*member]).await;
            let code = outcome.as_ref().err().map(tonic::Status::code);
            line.push_str(&format!(
                " {:<9}",
                code.map_or("ok".to_string(), |code| format!("{code:?}"))
            ));
            let right = if *allowed {
                code.is_none() || code == expected_failure(*call)
            } else {
                code == Some(Code::PermissionDenied)
            };
            if !right {
                failures.push(format!(
                    "{call:?} as {role} ({member}): expected {}, got {outcome:?}",
                    if *allowed {
                        "allowed"
                    } else {
                        "PERMISSION_DENIED"
                    }
                ));
            }
        }
        println!("{line}");
    }
    assert!(
        failures.is_empty(),
        "{} cell(s) of the table do not hold:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Members see only their workspace in the workspace list; the allowed submits ran.
    let listed = WorkspaceServiceClient::new(channel.clone())
        .list(with_token(
            pb::ListWorkspacesRequest {},
            Some(&tokens["vic"]),
        ))
        .await
        .unwrap()
        .into_inner()
        .workspaces;
    assert_eq!(
        listed.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
        vec![WORKSPACE]
    );
    let sales_jobs = jobs
        .list(with_token(
            pb::ListJobsRequest {
                page_size: 100,
                ..Default::default()
            },
            Some(&tokens["olga"]),
        ))
        .await
        .unwrap()
        .into_inner()
        .jobs;
    assert_eq!(
        sales_jobs.len(),
        2 + 4,
        "seed jobs and the 4 allowed submits"
    );
    assert!(sales_jobs.iter().all(|job| job.workspace == WORKSPACE));

    // Cross-workspace: sales tokens are refused in hr, hal's in sales.
    let refused = DataSourceServiceClient::new(channel.clone())
        .list(with_token(
            pb::ListDataSourcesRequest {
                workspace: OTHER_WORKSPACE.to_string(),
                ..Default::default()
            },
            Some(&tokens["ann"]),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(
        refused
            .message()
            .contains("belongs to workspace sales, not hr"),
        "{}",
        refused.message()
    );
    let refused = jobs
        .get(with_token(
            pb::GetJobRequest {
                job_id: fixture.prod_job.clone(),
                include_shards: false,
            },
            Some(&hal),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let refused = jobs
        .submit(with_token(
            pb::SubmitJobRequest {
                workspace: WORKSPACE.to_string(),
                spec: spec("hal_was_here"),
                format: pb::SpecFormat::Json as i32,
                ..Default::default()
            },
            Some(&hal),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    // hal's own workspace works.
    DataSourceServiceClient::new(channel.clone())
        .list(with_token(
            pb::ListDataSourcesRequest::default(),
            Some(&hal),
        ))
        .await
        .unwrap();

    // No token, a malformed one, an unknown one: UNAUTHENTICATED saying how to get one.
    for presented in [
        None,
        Some("not-a-token"),
        Some("slu_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    ] {
        let refused = jobs
            .list(with_token(pb::ListJobsRequest::default(), presented))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
        assert!(
            refused.message().contains("sluice member token issue")
                && refused.message().contains("SLUICE_TOKEN"),
            "{}",
            refused.message()
        );
    }
    // The cluster (worker) token opens no API call.
    let refused = jobs
        .list(with_token(
            pb::ListJobsRequest::default(),
            Some(&all_tokens[1]),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");

    // The CLI: members, tokens, --token, SLUICE_TOKEN, a profile; revocation and removal.
    let no_token = cli(&url, None, &["job", "list"]);
    assert!(!no_token.status.success());
    assert!(
        text(&no_token).contains("sluice member token issue"),
        "{}",
        text(&no_token)
    );
    let added = cli(
        &url,
        Some(&tokens["ann"]),
        &[
            "member",
            "add",
            "cy",
            "--role",
            "viewer",
            "-w",
            WORKSPACE,
            "--issue-token",
        ],
    );
    assert!(added.status.success(), "{}", text(&added));
    let cy = String::from_utf8_lossy(&added.stdout).trim().to_string();
    assert!(cy.starts_with("slu_"), "{cy}");
    all_tokens.push(cy.clone());
    let listed = cli(&url, None, &["--token", &cy, "ds", "list", "-w", WORKSPACE]);
    assert!(listed.status.success(), "{}", text(&listed));
    assert!(text(&listed).contains("wh"));
    let denied = cli(
        &url,
        Some(&cy),
        &["ws", "update", WORKSPACE, "--description", "x"],
    );
    assert!(!denied.status.success());
    assert!(
        text(&denied).contains("permission denied"),
        "{}",
        text(&denied)
    );
    let members_listed = cli(
        &url,
        Some(&tokens["ann"]),
        &["-o", "json", "member", "list", "-w", WORKSPACE],
    );
    assert!(members_listed.status.success());
    for name in ["ann", "dave", "olga", "vic", "tess", "cy"] {
        assert!(text(&members_listed).contains(name), "{name}");
    }
    // A profile holding a token must be private.
    let profile = directory.path().join("profile.yaml");
    std::fs::write(&profile, format!("coordinator: {url}\ntoken: {cy}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o644)).unwrap();
    let profile_command = |expect_success: bool| {
        let output = Command::new(sluice_binary())
            .args(["--profile"])
            .arg(&profile)
            .args(["job", "list", "-w", WORKSPACE])
            .env_remove("SLUICE_TOKEN")
            .env_remove("SLUICE_COORDINATOR")
            .output()
            .unwrap();
        println!("$ sluice --profile ... job list\n{}", text(&output));
        assert_eq!(output.status.success(), expect_success, "{}", text(&output));
        text(&output)
    };
    assert!(profile_command(false).contains("chmod 600"));
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o600)).unwrap();
    profile_command(true);
    // Revoke cy's token by id: refused from then on.
    let token_list = cli(
        &url,
        Some(&tokens["ann"]),
        &[
            "-o", "json", "member", "token", "list", "--member", "cy", "-w", WORKSPACE,
        ],
    );
    let listed: serde_json::Value = serde_json::from_slice(&token_list.stdout).unwrap();
    let id = listed[0]["id"].as_str().unwrap().to_string();
    assert!(!text(&token_list).contains(&cy));
    let revoked = cli(
        &url,
        Some(&tokens["ann"]),
        &["member", "token", "revoke", &id, "-w", WORKSPACE],
    );
    assert!(revoked.status.success(), "{}", text(&revoked));
    let refused = jobs
        .list(with_token(pb::ListJobsRequest::default(), Some(&cy)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    assert!(
        refused.message().contains("revoked"),
        "{}",
        refused.message()
    );
    // Removing a member revokes its tokens; a role change applies at the next call.
    let removed = cli(
        &url,
        Some(&tokens["ann"]),
        &["member", "remove", "vic", "-w", WORKSPACE],
    );
    assert!(removed.status.success(), "{}", text(&removed));
    let refused = jobs
        .list(with_token(
            pb::ListJobsRequest::default(),
            Some(&tokens["vic"]),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    let promoted = cli(
        &url,
        Some(&tokens["ann"]),
        &["member", "set-role", "olga", "admin", "-w", WORKSPACE],
    );
    assert!(promoted.status.success(), "{}", text(&promoted));
    members
        .list_members(with_token(
            pb::ListMembersRequest::default(),
            Some(&tokens["olga"]),
        ))
        .await
        .unwrap();

    // Deleting a workspace (the cluster admin's call) revokes its members' tokens.
    WorkspaceServiceClient::new(channel.clone())
        .delete(with_token(
            pb::DeleteWorkspaceRequest {
                name: OTHER_WORKSPACE.to_string(),
            },
            admin_token,
        ))
        .await
        .unwrap();
    let refused = jobs
        .list(with_token(pb::ListJobsRequest::default(), Some(&hal)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");

    // Workers: without the cluster token, or with another token, they are refused and never
    // register.
    cluster.worker_token_file = None;
    let tokenless = cluster.add_worker(1);
    cluster.worker_token_file = cluster.admin_token_file.clone();
    let wrong = cluster.add_worker(1);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let logs = cluster.all_logs();
        let refused = |worker: &str| {
            logs.iter().any(|(name, log)| {
                name.ends_with(&format!("{worker}.log"))
                    && log.contains("coordinator refused the worker")
            })
        };
        if refused(&tokenless) && refused(&wrong) {
            break;
        }
        assert!(Instant::now() < deadline, "the workers were not refused");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = sluice_e2e::fetch_metrics(&cluster.coordinator_metrics[0]);
    assert!(
        metrics
            .lines()
            .any(|line| line.trim() == "sluice_workers 1"),
        "only the worker with the cluster token registers:\n{metrics}"
    );

    // A coordinator without token files does not start (unless --insecure-no-auth); neither
    // does a standalone reachable from other machines without an admin token.
    let no_tokens = Command::new(sluice_binary())
        .args([
            "coordinator",
            "--etcd",
            cluster.etcd.endpoint.as_str(),
            "--insecure-dev-secrets",
        ])
        .env_remove("SLUICE_ADMIN_TOKEN_FILE")
        .env_remove("SLUICE_CLUSTER_TOKEN_FILE")
        .output()
        .unwrap();
    assert!(!no_tokens.status.success());
    assert!(
        text(&no_tokens).contains("--admin-token-file") && text(&no_tokens).contains("token-gen"),
        "{}",
        text(&no_tokens)
    );
    let open_standalone = Command::new(sluice_binary())
        .args(["standalone", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(directory.path().join("standalone"))
        .env_remove("SLUICE_ADMIN_TOKEN_FILE")
        .output()
        .unwrap();
    assert!(!open_standalone.status.success());
    assert!(
        text(&open_standalone).contains("--admin-token-file"),
        "{}",
        text(&open_standalone)
    );

    // No plaintext token in etcd (only hashes), nor in any log.
    let dump = cluster.etcd.dump();
    assert!(dump.contains("tokens/"), "token records are in etcd");
    for token in &all_tokens {
        assert!(
            !dump.contains(token.as_str()),
            "a token is in etcd in plaintext"
        );
        for (name, log) in cluster.all_logs() {
            assert!(
                !log.contains(token.as_str()),
                "a token is in the log {name}"
            );
        }
    }
    println!("access control test took {:?}", started.elapsed());
}
