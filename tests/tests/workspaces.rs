//! End-to-end: workspaces, per-environment data source configs and secrets at rest, through
//! etcd + a coordinator + workers, against the machine's MariaDB and PostgreSQL:
//!
//! - a MariaDB user with a known random password: data sources (and a clone) that carry it,
//!   real jobs MariaDB -> PostgreSQL through them (MariaDB checks the password: a data source
//!   with a wrong one fails), requests that are refused, then every log (processes at
//!   `trace`), every CLI and gRPC answer, the coordinator's metrics, the full etcd dump and
//!   etcd's files on disk are searched for the password;
//! - key rotation: every coordinator stopped, `sluice coordinator rotate-key`, a coordinator on
//!   the new key only, and the stored data source still works;
//! - isolation: a standard workspace whose data source's dev config points at one PostgreSQL
//!   database and its prod config at another; dev jobs write only to the dev database.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use sluice_e2e::mysql::{MyDatabase, MyUser};
use sluice_e2e::postgres::PgDatabase;
use sluice_e2e::{job_client, sluice_binary, sluice_cli_transcript, wait_for_end, Cluster};
use sluice_proto::v1 as pb;
use sluice_proto::v1::data_source_service_client::DataSourceServiceClient;
use std::process::{Command, Output};
use std::time::Duration;

/// Runs the CLI against `url`, collecting its answers in `transcript`.
fn sluice(url: &str, arguments: &[&str], transcript: &mut String) -> Output {
    sluice_cli_transcript(url, arguments, transcript)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

/// Submits a spec through the API; returns the job id or the refusal's message.
async fn submit(
    url: &str,
    workspace: &str,
    environment: &str,
    spec: &str,
    transcript: &mut String,
) -> Result<String, String> {
    let mut client = job_client(url, Duration::from_secs(10)).await;
    let answer = client
        .submit(pb::SubmitJobRequest {
            workspace: workspace.to_string(),
            environment: environment.to_string(),
            spec: spec.to_string(),
            ..Default::default()
        })
        .await;
    transcript.push_str(&format!("{answer:?}\n"));
    answer
        .map(|response| response.into_inner().job_id)
        .map_err(|status| status.message().to_string())
}

/// Waits for a job; returns it (its Debug form goes to the transcript).
async fn finished(url: &str, job_id: &str, transcript: &mut String) -> pb::Job {
    let mut client = job_client(url, Duration::from_secs(10)).await;
    let job = wait_for_end(&mut client, job_id, Duration::from_secs(120)).await;
    transcript.push_str(&format!("{job:?}\n"));
    job
}

/// Creates `people` with `rows` rows in the MariaDB database.
async fn people(database: &MyDatabase, rows: u32) {
    database
        .execute("CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL)")
        .await;
    let values: Vec<String> = (1..=rows).map(|id| format!("({id}, 'n{id}')")).collect();
    database
        .execute(&format!("INSERT INTO people VALUES {}", values.join(",")))
        .await;
}

async fn pg_count(database: &PgDatabase, table: &str) -> i64 {
    database
        .client()
        .await
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap_or_else(|error| panic!("count {table} in {}: {error}", database.name))
        .get(0)
}

async fn pg_has_table(database: &PgDatabase, table: &str) -> bool {
    database
        .client()
        .await
        .query_opt("SELECT 1 FROM pg_tables WHERE tablename = $1", &[&table])
        .await
        .expect("pg_tables")
        .is_some()
}

fn maria_options(database: &MyDatabase, user: &str) -> Vec<String> {
    vec![
        format!("host=127.0.0.1"),
        "port=3306".to_string(),
        format!("database={}", database.name),
        format!("user={user}"),
    ]
}

fn ds_create_args<'a>(
    name: &'a str,
    kind: &'a str,
    options: &'a [String],
    secret: Option<&'a str>,
) -> Vec<&'a str> {
    let mut arguments = vec!["ds", "create", name, "--type", kind];
    for option in options {
        arguments.push("--option");
        arguments.push(option);
    }
    if let Some(secret) = secret {
        arguments.push("--secret");
        arguments.push(secret);
    }
    arguments
}

fn copy_spec(source_datasource: &str, sink: &PgDatabase, table: &str) -> String {
    format!(
        "source: {{datasource: {source_datasource}, table: people, split_pk: id}}\nsink: {{connection: {}, table: {table}, create_table: true}}\nsettings: {{parallelism: 2}}\n",
        sink.connection_yaml()
    )
}

/// Every place the password could surface, searched; panics naming each place that has it.
fn assert_nowhere(cluster: &Cluster, password: &str, transcript: &str) {
    let mut found = Vec::new();
    let mut searched = Vec::new();
    for (name, text) in cluster.all_logs() {
        searched.push(format!("{name} ({} bytes)", text.len()));
        if text.contains(password) {
            found.push(name);
        }
    }
    if transcript.contains(password) {
        found.push("CLI and gRPC answers".to_string());
    }
    let dump = cluster.etcd.dump();
    if dump.contains(password) {
        found.push("etcdctl get --prefix \"\"".to_string());
    }
    for entry in walk(cluster.etcd.data_dir()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        if bytes
            .windows(password.len())
            .any(|window| window == password.as_bytes())
        {
            found.push(entry.display().to_string());
        }
    }
    for address in &cluster.coordinator_metrics {
        if sluice_e2e::fetch_metrics(address).contains(password) {
            found.push(format!("metrics at {address}"));
        }
    }
    println!("searched: {}", searched.join(", "));
    assert!(
        found.is_empty(),
        "the password appears in: {}",
        found.join(", ")
    );
}

fn walk(directory: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(directory) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_password_never_leaks_into_logs_answers_metrics_or_etcd() {
    let mut cluster = Cluster::start().await;
    cluster.log_filter = Some("trace".to_string());
    let url = cluster.add_coordinator().await;
    cluster.add_worker(2);
    cluster.wait_for_workers(1).await;
    let source = MyDatabase::create().await;
    people(&source, 500).await;
    let account = MyUser::create(&source, "sluice_leak", "ALL PRIVILEGES").await;
    let password = account.password.clone();
    let secret = format!("password={password}");
    let target = PgDatabase::create().await;
    let mut transcript = String::new();

    // A data source with the password, and a clone of it (the copy never passes the client).
    let options = maria_options(&source, &account.user);
    let created = sluice(
        &url,
        &ds_create_args("maria", "mariadb", &options, Some(&secret)),
        &mut transcript,
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let cloned = sluice(
        &url,
        &["ds", "clone", "maria", "maria_copy", "--output", "json"],
        &mut transcript,
    );
    assert!(cloned.status.success(), "{}", stderr(&cloned));
    let wrong = "password=not-the-password".to_string();
    let created_wrong = sluice(
        &url,
        &ds_create_args("maria_wrong", "mariadb", &options, Some(&wrong)),
        &mut transcript,
    );
    assert!(created_wrong.status.success());
    for arguments in [
        vec!["ds", "get", "maria"],
        vec!["ds", "get", "maria_copy", "--output", "json"],
        vec!["ds", "list", "--output", "json"],
    ] {
        let shown = sluice(&url, &arguments, &mut transcript);
        assert!(shown.status.success());
        assert!(String::from_utf8_lossy(&shown.stdout).contains("***"));
    }
    let mut data_sources = DataSourceServiceClient::connect(url.clone())
        .await
        .expect("data source client");
    let listed = data_sources
        .list(pb::ListDataSourcesRequest::default())
        .await
        .expect("list");
    transcript.push_str(&format!("{listed:?}\n"));

    // Requests that are refused, each carrying the password.
    let mut bad_options = options.clone();
    bad_options.push("colour=red".to_string());
    let refused = sluice(
        &url,
        &ds_create_args("maria_bad", "mariadb", &bad_options, Some(&secret)),
        &mut transcript,
    );
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("colour"), "{}", stderr(&refused));
    let refused_update = sluice(
        &url,
        &[
            "ds",
            "update",
            "maria",
            "--option",
            "port=not-a-port",
            "--secret",
            &secret,
        ],
        &mut transcript,
    );
    assert!(!refused_update.status.success());
    let inline = format!(
        "{{type: mariadb, host: 127.0.0.1, port: 3306, database: {}, user: {}, password: \"{password}\"}}",
        source.name, account.user
    );
    let bad_inline = format!(
        "{{type: mariadb, host: 127.0.0.1, database: {}, user: {}, password: \"{password}\", colour: red}}",
        source.name, account.user
    );
    let refusal = submit(
        &url,
        "",
        "",
        &format!("source: {{connection: {bad_inline}, table: people}}\nsink: {{connection: {}, table: nowhere}}\n", target.connection_yaml()),
        &mut transcript,
    )
    .await
    .expect_err("an unknown option is refused");
    assert!(refusal.contains("colour"), "{refusal}");

    // Real jobs: through the data source, its clone, and an inline connection with the password.
    let mut jobs = Vec::new();
    for (source_spec, table) in [("maria", "people_ds"), ("maria_copy", "people_clone")] {
        let job_id = submit(
            &url,
            "",
            "",
            &copy_spec(source_spec, &target, table),
            &mut transcript,
        )
        .await
        .expect("submit");
        jobs.push((job_id, table));
    }
    let inline_spec = format!(
        "source: {{connection: {inline}, table: people, split_pk: id}}\nsink: {{connection: {}, table: people_inline, create_table: true}}\n",
        target.connection_yaml()
    );
    jobs.push((
        submit(&url, "", "", &inline_spec, &mut transcript)
            .await
            .expect("submit inline"),
        "people_inline",
    ));
    for (job_id, table) in &jobs {
        let job = finished(&url, job_id, &mut transcript).await;
        if job.state != pb::JobState::Succeeded as i32 {
            cluster.dump_logs();
        }
        assert_eq!(
            job.state,
            pb::JobState::Succeeded as i32,
            "{table}: {}",
            job.error
        );
        assert_eq!(pg_count(&target, table).await, 500, "{table}");
    }
    // MariaDB really checks the password: the data source with a wrong one cannot read.
    let wrong_job = submit(
        &url,
        "",
        "",
        &copy_spec("maria_wrong", &target, "people_wrong"),
        &mut transcript,
    )
    .await
    .expect("submit");
    let failed = finished(&url, &wrong_job, &mut transcript).await;
    assert_eq!(failed.state, pb::JobState::Failed as i32);
    assert!(
        failed.error.contains("Access denied"),
        "a wrong password fails the login: {}",
        failed.error
    );
    for arguments in [
        vec!["job", "list", "--output", "json"],
        vec![
            "job",
            "get",
            jobs[0].0.as_str(),
            "--shards",
            "--output",
            "json",
        ],
    ] {
        sluice(&url, &arguments, &mut transcript);
    }

    // The stored values are sealed under the cluster's key; the password is nowhere.
    let dump = cluster.etcd.dump();
    let key_text = std::fs::read_to_string(&cluster.secret_key_file).expect("key file");
    let key_id = key_text
        .lines()
        .find_map(|line| line.strip_prefix("id="))
        .expect("key id");
    assert!(
        dump.contains(&format!("enc:v1:{key_id}:")),
        "secrets are stored sealed under key {key_id}"
    );
    assert!(
        dump.contains("\"password\":\"***\""),
        "the stored inline spec is masked"
    );
    let trace_lines = cluster
        .all_logs()
        .iter()
        .map(|(_, text)| text.matches("TRACE").count())
        .sum::<usize>();
    assert!(
        trace_lines > 100,
        "processes logged at trace level ({trace_lines} lines)"
    );
    assert_nowhere(&cluster, &password, &transcript);

    account.drop_user().await;
    source.drop_database().await;
    target.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_key_reseals_every_secret_and_jobs_still_run() {
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    let source = MyDatabase::create().await;
    people(&source, 100).await;
    let account = MyUser::create(&source, "sluice_leak", "ALL PRIVILEGES").await;
    let target = PgDatabase::create().await;
    let mut transcript = String::new();
    let options = maria_options(&source, &account.user);
    let secret = format!("password={}", account.password);
    assert!(sluice(
        &url,
        &ds_create_args("maria", "mariadb", &options, Some(&secret)),
        &mut transcript
    )
    .status
    .success());
    // A job before the rotation: its record holds the connection, sealed under the old key.
    cluster.add_worker(2);
    let before = submit(
        &url,
        "",
        "",
        &copy_spec("maria", &target, "people_before"),
        &mut transcript,
    )
    .await
    .expect("submit");
    let job = finished(&url, &before, &mut transcript).await;
    assert_eq!(job.state, pb::JobState::Succeeded as i32, "{}", job.error);
    let old_key_file = cluster.secret_key_file.clone();
    let old_key_id = std::fs::read_to_string(&old_key_file)
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("id=").map(str::to_string))
        .unwrap();

    // A coordinator that leads refuses the rotation.
    let new_key_file = cluster.logs.path().join("new-secret.key");
    let keygen = sluice(
        &url,
        &[
            "coordinator",
            "keygen",
            "--out",
            new_key_file.to_str().unwrap(),
        ],
        &mut transcript,
    );
    assert!(keygen.status.success());
    let rotate_arguments = [
        "coordinator",
        "rotate-key",
        "--etcd",
        cluster.etcd.endpoint.as_str(),
        "--etcd-prefix",
        "/sluice-e2e",
        "--old-key-file",
        old_key_file.to_str().unwrap(),
        "--new-key-file",
        new_key_file.to_str().unwrap(),
    ];
    let refused = sluice(&url, &rotate_arguments, &mut transcript);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("stop every coordinator"),
        "{}",
        stderr(&refused)
    );

    // Stopped (SIGTERM steps down at once), rotated, restarted on the new key alone.
    let mut stopped = cluster.coordinators.remove(0);
    stopped.signal("TERM");
    stopped.wait_exit(Duration::from_secs(30));
    cluster.coordinator_urls.remove(0);
    cluster.coordinator_metrics.remove(0);
    let rotated = sluice(&url, &rotate_arguments, &mut transcript);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    assert!(
        String::from_utf8_lossy(&rotated.stdout).contains("resealed 1 data source(s) and 1 job(s)"),
        "the data source and the job record are resealed"
    );
    let dump = cluster.etcd.dump();
    assert!(
        !dump.contains(&format!("enc:v1:{old_key_id}:")),
        "no value under the old key"
    );
    cluster.secret_key_file = new_key_file;
    let new_url = cluster.add_coordinator().await;
    cluster.add_worker(2);
    let job_id = submit(
        &new_url,
        "",
        "",
        &copy_spec("maria", &target, "people"),
        &mut transcript,
    )
    .await
    .expect("submit");
    let job = finished(&new_url, &job_id, &mut transcript).await;
    if job.state != pb::JobState::Succeeded as i32 {
        cluster.dump_logs();
    }
    assert_eq!(job.state, pb::JobState::Succeeded as i32, "{}", job.error);
    assert_eq!(pg_count(&target, "people").await, 100);

    // Without a key the coordinator refuses to start, and says how to get one.
    let no_key = Command::new(sluice_binary())
        .args(["coordinator", "--etcd", cluster.etcd.endpoint.as_str()])
        .env_remove("SLUICE_SECRET_KEY_FILE")
        .output()
        .expect("run sluice coordinator");
    assert!(!no_key.status.success());
    assert!(
        stderr(&no_key).contains("sluice coordinator keygen"),
        "{}",
        stderr(&no_key)
    );

    account.drop_user().await;
    source.drop_database().await;
    target.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_jobs_reach_only_the_dev_database_even_when_naming_the_data_source() {
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    cluster.add_worker(2);
    let dev = PgDatabase::create().await;
    let prod = PgDatabase::create().await;
    let mut transcript = String::new();
    let pg_options = |database: &PgDatabase| {
        vec![
            "host=127.0.0.1".to_string(),
            "port=5432".to_string(),
            format!("database={}", database.name),
            "user=postgres".to_string(),
        ]
    };

    // A basic workspace: prod only.
    assert!(sluice(
        &url,
        &["ws", "create", "iso", "--description", "isolation"],
        &mut transcript
    )
    .status
    .success());
    let prod_options = pg_options(&prod);
    let mut create = ds_create_args("pg", "postgresql", &prod_options, Some("password=unused"));
    create.extend(["--workspace", "iso"]);
    assert!(sluice(&url, &create, &mut transcript).status.success());
    let spec = |rows: u32| {
        format!(
            "source: {{connection: {{type: generator, rows: {rows}, seed: 7}}}}\nsink: {{datasource: pg, table: events, create_table: true}}\n"
        )
    };
    let basic_dev = submit(&url, "iso", "dev", &spec(10), &mut transcript)
        .await
        .expect_err("a basic workspace has no dev");
    assert!(
        basic_dev.contains("sluice ws update iso --mode standard"),
        "{basic_dev}"
    );

    // Upgraded: the existing config is prod's; dev jobs need a dev config first.
    let upgraded = sluice(
        &url,
        &[
            "ws", "update", "iso", "--mode", "standard", "--output", "json",
        ],
        &mut transcript,
    );
    assert!(upgraded.status.success());
    assert!(String::from_utf8_lossy(&upgraded.stdout).contains("\"standard\""));
    let no_dev_config = submit(&url, "iso", "dev", &spec(10), &mut transcript)
        .await
        .expect_err("no dev config yet");
    assert!(
        no_dev_config.contains("has no dev config")
            && no_dev_config.contains("sluice ds update pg --workspace iso --env dev"),
        "{no_dev_config}"
    );
    let dev_options = pg_options(&dev);
    let mut update = vec!["ds", "update", "pg", "--workspace", "iso", "--env", "dev"];
    for option in &dev_options {
        update.extend(["--option", option.as_str()]);
    }
    assert!(sluice(&url, &update, &mut transcript).status.success());
    let shown = sluice(
        &url,
        &["ds", "get", "pg", "--workspace", "iso", "--output", "json"],
        &mut transcript,
    );
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("json");
    assert_eq!(
        shown["configs"]["dev"]["options"]["database"],
        dev.name.as_str()
    );
    assert_eq!(
        shown["configs"]["prod"]["options"]["database"],
        prod.name.as_str()
    );
    assert_eq!(shown["configs"]["prod"]["secrets"]["password"], "***");

    // A dev job names the data source: it writes the dev database only.
    let dev_job = submit(&url, "iso", "dev", &spec(300), &mut transcript)
        .await
        .expect("dev submit");
    let job = finished(&url, &dev_job, &mut transcript).await;
    assert_eq!(job.state, pb::JobState::Succeeded as i32, "{}", job.error);
    assert_eq!(job.environment, "dev");
    assert_eq!(pg_count(&dev, "events").await, 300);
    assert!(
        !pg_has_table(&prod, "events").await,
        "the dev job wrote to prod"
    );

    // No way for a dev job to name the prod config or the prod database.
    let prod_by_key = submit(
        &url,
        "iso",
        "dev",
        "source: {connection: {type: generator, rows: 5}}\nsink: {datasource: pg, environment: prod, table: events}\n",
        &mut transcript,
    )
    .await
    .expect_err("no environment key in a spec");
    assert!(prod_by_key.contains("environment"), "{prod_by_key}");
    let prod_inline = submit(
        &url,
        "iso",
        "dev",
        &format!(
            "source: {{connection: {{type: generator, rows: 5}}}}\nsink: {{connection: {}, table: events, create_table: true}}\n",
            prod.connection_yaml()
        ),
        &mut transcript,
    )
    .await
    .expect_err("dev jobs cannot use inline connections");
    assert!(
        prod_inline.contains("cannot use inline connections"),
        "{prod_inline}"
    );
    assert!(!pg_has_table(&prod, "events").await);

    // The same spec in prod writes the prod database, and a clone keeps both configs.
    let prod_job = submit(&url, "iso", "prod", &spec(200), &mut transcript)
        .await
        .expect("prod submit");
    let job = finished(&url, &prod_job, &mut transcript).await;
    assert_eq!(job.state, pb::JobState::Succeeded as i32, "{}", job.error);
    assert_eq!(pg_count(&prod, "events").await, 200);
    assert_eq!(pg_count(&dev, "events").await, 300);
    assert!(sluice(
        &url,
        &["ds", "clone", "pg", "pg2", "--workspace", "iso"],
        &mut transcript
    )
    .status
    .success());
    let cloned_dev = submit(
        &url,
        "iso",
        "dev",
        "source: {connection: {type: generator, rows: 40}}\nsink: {datasource: pg2, table: cloned, create_table: true}\n",
        &mut transcript,
    )
    .await
    .expect("submit through the clone");
    let job = finished(&url, &cloned_dev, &mut transcript).await;
    assert_eq!(job.state, pb::JobState::Succeeded as i32, "{}", job.error);
    assert_eq!(pg_count(&dev, "cloned").await, 40);
    assert!(!pg_has_table(&prod, "cloned").await);

    // Deleting the workspace is refused while it has data sources, then allowed.
    let refused = sluice(&url, &["ws", "delete", "iso"], &mut transcript);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("still has 2 data source(s)"),
        "{}",
        stderr(&refused)
    );
    for name in ["pg", "pg2"] {
        assert!(sluice(
            &url,
            &["ds", "delete", name, "--workspace", "iso"],
            &mut transcript
        )
        .status
        .success());
    }
    assert!(sluice(&url, &["ws", "delete", "iso"], &mut transcript)
        .status
        .success());
    let listed = sluice(&url, &["ws", "list", "--output", "json"], &mut transcript);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("json");
    let names: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|workspace| workspace["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["default"]);
    assert!(!sluice(&url, &["ws", "delete", "default"], &mut transcript)
        .status
        .success());

    dev.drop_database().await;
    prod.drop_database().await;
}
