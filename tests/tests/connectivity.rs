//! End-to-end: `TestConnectivity` and resource groups, through etcd + a coordinator + two
//! workers (one in the `default` group, one in `etl`), against the machine's PostgreSQL and
//! MariaDB:
//!
//! - good PostgreSQL and MariaDB data sources are CONNECTABLE, tested on the worker of the
//!   requested group;
//! - a closed port is UNREACHABLE; a wrong MariaDB password, a missing database and a MariaDB
//!   user that may only read (tested as a sink) are CONFIG_ERROR at the right step;
//! - a group without workers is refused with an error naming the groups that have workers;
//! - the password is in no step message;
//! - `sluice ds test` exits 0 only when CONNECTABLE;
//! - a job pinned to `settings.resource_group: etl` runs every shard on the `etl` worker.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use sluice_e2e::mysql::{MyDatabase, MyUser};
use sluice_e2e::postgres::PgDatabase;
use sluice_e2e::{free_port, job_client, sluice_binary, submit, wait_for_end, Cluster};
use sluice_proto::v1 as pb;
use sluice_proto::v1::data_source_service_client::DataSourceServiceClient;
use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;
use tonic::transport::Channel;

async fn create(
    client: &mut DataSourceServiceClient<Channel>,
    name: &str,
    kind: &str,
    options: &[(&str, &str)],
    password: Option<&str>,
) {
    let options: HashMap<String, String> = options
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    let secrets: HashMap<String, String> = password
        .map(|password| [("password".to_string(), password.to_string())].into())
        .unwrap_or_default();
    client
        .create(pb::CreateDataSourceRequest {
            data_source: Some(pb::DataSource {
                name: name.to_string(),
                r#type: kind.to_string(),
                options,
                secrets,
                environment: "prod".to_string(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_or_else(|status| panic!("create data source {name}: {}", status.message()));
}

async fn test(
    client: &mut DataSourceServiceClient<Channel>,
    name: &str,
    group: &str,
    role: &str,
) -> Result<pb::TestConnectivityResponse, tonic::Status> {
    let answer = client
        .test_connectivity(pb::TestConnectivityRequest {
            workspace: String::new(),
            name: name.to_string(),
            environment: String::new(),
            resource_group: group.to_string(),
            role: role.to_string(),
        })
        .await
        .map(tonic::Response::into_inner);
    println!("test {name} (group {group}, {role}): {answer:#?}");
    answer
}

fn status(response: &pb::TestConnectivityResponse) -> pb::ConnectivityStatus {
    pb::ConnectivityStatus::try_from(response.status).expect("known status")
}

/// Returns the step that failed (the test stops at the first failure).
fn failed_step(response: &pb::TestConnectivityResponse) -> String {
    let failed: Vec<&pb::ConnectivityStep> = response
        .steps
        .iter()
        .filter(|step| step.outcome == pb::StepOutcome::Failed as i32)
        .collect();
    assert_eq!(failed.len(), 1, "exactly one failed step: {response:#?}");
    failed[0].name.clone()
}

fn step_names(response: &pb::TestConnectivityResponse) -> Vec<&str> {
    response
        .steps
        .iter()
        .map(|step| step.name.as_str())
        .collect()
}

const NETWORK_STEPS: [&str; 6] = [
    "resolve",
    "tcp_connect",
    "tls",
    "authenticate",
    "privileges",
    "server_version",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connectivity_tests_run_on_the_groups_workers_and_name_what_failed() {
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    let default_worker = cluster.add_worker(2);
    let etl_worker = cluster.add_worker_in_group(2, Some("etl"));
    cluster.wait_for_workers(2).await;
    let maria = MyDatabase::create().await;
    let postgres = PgDatabase::create().await;
    let reader = MyUser::create(&maria, "sluice_ro", "SELECT").await;
    let mut client = DataSourceServiceClient::connect(url.clone())
        .await
        .expect("connect to the coordinator");

    let pg_options = [
        ("host", "127.0.0.1"),
        ("port", "5432"),
        ("database", postgres.name.as_str()),
        ("user", "postgres"),
    ];
    create(&mut client, "pg_good", "postgresql", &pg_options, None).await;
    let maria_options = [
        ("host", "127.0.0.1"),
        ("port", "3306"),
        ("database", maria.name.as_str()),
        ("user", "root"),
    ];
    create(&mut client, "maria_good", "mariadb", &maria_options, None).await;
    let closed_port = free_port().to_string();
    let closed = [
        ("host", "127.0.0.1"),
        ("port", closed_port.as_str()),
        ("database", maria.name.as_str()),
        ("user", "root"),
    ];
    create(&mut client, "maria_closed", "mariadb", &closed, None).await;
    let missing = [
        ("host", "127.0.0.1"),
        ("port", "5432"),
        ("database", "sluice_no_such_database"),
        ("user", "postgres"),
    ];
    create(&mut client, "pg_missing_db", "postgresql", &missing, None).await;
    let reader_options = [
        ("host", "127.0.0.1"),
        ("port", "3306"),
        ("database", maria.name.as_str()),
        ("user", reader.user.as_str()),
    ];
    create(
        &mut client,
        "maria_reader",
        "mariadb",
        &reader_options,
        Some(&reader.password),
    )
    .await;
    let wrong_password = format!("{}-wrong", reader.password);
    create(
        &mut client,
        "maria_wrong_password",
        "mariadb",
        &reader_options,
        Some(&wrong_password),
    )
    .await;
    let mut answers = String::new();

    // Good data sources, each on the worker of the group asked for.
    let pg = test(&mut client, "pg_good", "etl", "sink").await.unwrap();
    assert_eq!(status(&pg), pb::ConnectivityStatus::Connectable, "{pg:#?}");
    assert_eq!(pg.worker_id, etl_worker);
    assert_eq!(pg.resource_group, "etl");
    assert_eq!(step_names(&pg), NETWORK_STEPS);
    assert!(!pg.server_version.is_empty());
    let my = test(&mut client, "maria_good", "", "sink").await.unwrap();
    assert_eq!(status(&my), pb::ConnectivityStatus::Connectable, "{my:#?}");
    assert_eq!(my.worker_id, default_worker);
    assert!(
        my.server_version.to_lowercase().contains("maria"),
        "{}",
        my.server_version
    );
    let my_etl = test(&mut client, "maria_good", "etl", "source")
        .await
        .unwrap();
    assert_eq!(my_etl.worker_id, etl_worker);

    // A closed port.
    let closed = test(&mut client, "maria_closed", "etl", "source")
        .await
        .unwrap();
    assert_eq!(status(&closed), pb::ConnectivityStatus::Unreachable);
    assert_eq!(failed_step(&closed), "tcp_connect");

    // A missing database.
    let missing = test(&mut client, "pg_missing_db", "", "source")
        .await
        .unwrap();
    assert_eq!(status(&missing), pb::ConnectivityStatus::ConfigError);
    assert_eq!(failed_step(&missing), "authenticate");
    assert!(format!("{missing:?}").contains("sluice_no_such_database"));

    // A wrong password.
    let wrong = test(&mut client, "maria_wrong_password", "", "source")
        .await
        .unwrap();
    assert_eq!(status(&wrong), pb::ConnectivityStatus::ConfigError);
    assert_eq!(failed_step(&wrong), "authenticate");
    answers.push_str(&format!("{wrong:?}"));

    // A user who may read but not write: fine as a source, not as a sink.
    let read = test(&mut client, "maria_reader", "", "source")
        .await
        .unwrap();
    assert_eq!(
        status(&read),
        pb::ConnectivityStatus::Connectable,
        "{read:#?}"
    );
    let write = test(&mut client, "maria_reader", "", "sink").await.unwrap();
    assert_eq!(status(&write), pb::ConnectivityStatus::ConfigError);
    assert_eq!(failed_step(&write), "privileges");
    let message = format!("{write:?}");
    assert!(
        message.contains("INSERT") && message.contains("CREATE"),
        "{message}"
    );
    answers.push_str(&format!("{read:?}{write:?}"));

    // A group without workers.
    let refused = test(&mut client, "pg_good", "nightly", "source")
        .await
        .expect_err("no worker in nightly");
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused.message().contains("\"nightly\""),
        "{}",
        refused.message()
    );
    assert!(refused.message().contains("etl"), "{}", refused.message());
    assert!(
        refused.message().contains("default"),
        "{}",
        refused.message()
    );

    // The CLI: a table of steps; exit 0 only when connectable.
    let cli = |arguments: &[&str]| {
        Command::new(sluice_binary())
            .arg("--coordinator")
            .arg(&url)
            .args(["ds", "test"])
            .args(arguments)
            .output()
            .expect("run sluice ds test")
    };
    let good = cli(&["maria_good", "--group", "etl", "--role", "sink"]);
    let shown = String::from_utf8_lossy(&good.stdout).to_string();
    println!("{shown}");
    assert!(good.status.success(), "{shown}");
    assert!(shown.contains("CONNECTABLE") && shown.contains("authenticate"));
    assert!(shown.contains(&etl_worker), "{shown}");
    let bad = cli(&["maria_reader", "--role", "sink", "--output", "json"]);
    let shown = String::from_utf8_lossy(&bad.stdout).to_string();
    println!("{shown}");
    assert!(!bad.status.success(), "{shown}");
    let json: serde_json::Value = serde_json::from_str(&shown).expect("json");
    assert_eq!(json["status"], "CONFIG_ERROR");
    answers.push_str(&shown);

    // The password surfaces in no answer and no log.
    assert!(!answers.contains(&reader.password));
    for (name, text) in cluster.all_logs() {
        assert!(!text.contains(&reader.password), "password in {name}");
    }
    // The worker of the group ran the test (its own log says so).
    let etl_log = cluster.workers[1].log_text();
    assert!(etl_log.contains("ran a connectivity test"), "{etl_log}");

    // A job pinned to the etl group runs only there.
    let directory = tempfile::tempdir().expect("tempdir");
    let spec = format!(
        "source: {{connection: {{type: generator, rows: 20000, seed: 7}}, split_pk: id}}\nsink: {{connection: {{type: sqlite, path: {}}}, table: copied, create_table: true}}\nsettings: {{parallelism: 4, shard_rows: 1000, resource_group: etl}}\n",
        directory.path().join("pinned.db").display()
    );
    let mut jobs = job_client(&url, Duration::from_secs(10)).await;
    let job_id = submit(&mut jobs, &spec).await;
    let job = wait_for_end(&mut jobs, &job_id, Duration::from_secs(120)).await;
    assert_eq!(job.state, pb::JobState::Succeeded as i32, "{job:#?}");
    assert!(job.shards.len() >= 4, "{} shards", job.shards.len());
    for shard in &job.shards {
        assert_eq!(shard.worker_id, etl_worker, "shard {}", shard.shard_id);
    }

    // A job pinned to a group without workers waits, and says why.
    let stranded_spec = spec.replace("resource_group: etl", "resource_group: nightly");
    let stranded = submit(&mut jobs, &stranded_spec).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let waiting = loop {
        let job = jobs
            .get(pb::GetJobRequest {
                job_id: stranded.clone(),
                include_shards: false,
            })
            .await
            .expect("get the stranded job")
            .into_inner();
        if !job.waiting.is_empty() {
            assert_eq!(job.state, pb::JobState::Planning as i32, "{job:#?}");
            break job.waiting;
        }
        assert!(std::time::Instant::now() < deadline, "{job:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(waiting.contains("\"nightly\""), "{waiting}");
    jobs.cancel(pb::CancelJobRequest {
        job_id: stranded.clone(),
    })
    .await
    .expect("cancel the stranded job");

    reader.drop_user().await;
    maria.drop_database().await;
    postgres.drop_database().await;
}
