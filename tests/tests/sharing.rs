//! End-to-end: data sources shared across workspaces, and batch import, through etcd + a
//! coordinator + a worker, against the machine's MariaDB and PostgreSQL.
//!
//! - workspace `sales` owns a MariaDB data source whose account has a known random password;
//!   it shares it with workspace `mkt` READ: an `mkt` job reads from it into PostgreSQL, an
//!   `mkt` job that writes to it is refused naming the grant; after a WRITE grant (under a
//!   shared name) an `mkt` job writes to it; deleting the shared data source is refused; after
//!   the revoke the next submit is refused; the password appears in no answer `mkt` gets
//!   (get, list, shares, submit errors, jobs), nor in etcd or any log;
//! - `sluice ds import` of a CSV whose line 4 is bad creates nothing and names line 4; the
//!   corrected file creates every data source, secrets sealed.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use sluice_e2e::mysql::{MyDatabase, MyUser};
use sluice_e2e::postgres::PgDatabase;
use sluice_e2e::{job_client, sluice_cli_transcript, wait_for_end, Cluster};
use sluice_proto::v1 as pb;
use std::process::Output;
use std::time::Duration;

/// Runs the CLI against `url`, collecting its answers in `transcript`.
fn sluice(url: &str, arguments: &[&str], transcript: &mut String) -> Output {
    sluice_cli_transcript(url, arguments, transcript)
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn refused(output: &Output) -> String {
    assert!(!output.status.success(), "command should have failed");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn submit(
    url: &str,
    workspace: &str,
    spec: &str,
    transcript: &mut String,
) -> Result<String, String> {
    let mut client = job_client(url, Duration::from_secs(10)).await;
    let answer = client
        .submit(pb::SubmitJobRequest {
            workspace: workspace.to_string(),
            spec: spec.to_string(),
            ..Default::default()
        })
        .await;
    transcript.push_str(&format!("{answer:?}\n"));
    answer
        .map(|response| response.into_inner().job_id)
        .map_err(|status| status.message().to_string())
}

async fn run_to_end(url: &str, job_id: &str, transcript: &mut String) -> pb::Job {
    let mut client = job_client(url, Duration::from_secs(10)).await;
    let job = wait_for_end(&mut client, job_id, Duration::from_secs(120)).await;
    transcript.push_str(&format!("{job:?}\n"));
    assert_eq!(
        job.state,
        pb::JobState::Succeeded as i32,
        "job {job_id} did not succeed: {}",
        job.error
    );
    job
}

async fn maria_count(database: &MyDatabase, table: &str) -> String {
    database
        .text_rows(&format!("SELECT count(*) FROM {table}"))
        .await[0][0]
        .clone()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shared_data_source_is_read_written_and_revoked_without_showing_its_secret() {
    let maria = MyDatabase::create().await;
    maria
        .execute("CREATE TABLE share_people (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL)")
        .await;
    let values: Vec<String> = (1..=50).map(|id| format!("({id}, 'n{id}')")).collect();
    maria
        .execute(&format!(
            "INSERT INTO share_people VALUES {}",
            values.join(",")
        ))
        .await;
    let account = MyUser::create(&maria, "share", "SELECT, INSERT, CREATE").await;
    let pg = PgDatabase::create().await;

    let mut cluster = Cluster::start().await;
    cluster.log_filter = Some("trace,h2=info,hyper=info,tower=info,tonic=info".to_string());
    let url = cluster.add_coordinator().await;
    cluster.add_worker(2);
    cluster.wait_for_workers(1).await;
    let mut owner_transcript = String::new();
    // What the grantee workspace sees: searched for the password at the end.
    let mut grantee_transcript = String::new();

    for workspace in ["sales", "mkt"] {
        ok(&sluice(
            &url,
            &["ws", "create", workspace],
            &mut owner_transcript,
        ));
    }
    let password = format!("password={}", account.password);
    let database = format!("database={}", maria.name);
    let user = format!("user={}", account.user);
    ok(&sluice(
        &url,
        &[
            "ds",
            "create",
            "crm",
            "-w",
            "sales",
            "--type",
            "mariadb",
            "--option",
            "host=127.0.0.1",
            "--option",
            "port=3306",
            "--option",
            &database,
            "--option",
            &user,
            "--secret",
            &password,
        ],
        &mut owner_transcript,
    ));
    let pg_database = format!("database={}", pg.name);
    ok(&sluice(
        &url,
        &[
            "ds",
            "create",
            "lake",
            "-w",
            "mkt",
            "--type",
            "postgresql",
            "--option",
            "host=127.0.0.1",
            "--option",
            "port=5432",
            "--option",
            &pg_database,
            "--option",
            "user=postgres",
        ],
        &mut grantee_transcript,
    ));
    let read_spec = "source: {datasource: sales/crm, table: share_people, split_pk: id}\n\
                     sink: {datasource: lake, table: share_people_copy, create_table: true}\n";
    let write_spec = |datasource: &str| {
        format!(
            "source: {{connection: {{type: generator, rows: 30, seed: 7}}}}\n\
             sink: {{datasource: {datasource}, table: share_generated, create_table: true}}\n"
        )
    };

    // Before any grant: the grantee cannot name it.
    let unshared = submit(&url, "mkt", read_spec, &mut grantee_transcript)
        .await
        .expect_err("not shared yet");
    assert!(
        unshared.contains("data source crm of workspace sales is not shared with workspace mkt"),
        "{unshared}"
    );

    // READ: the grantee reads from it.
    let shared = ok(&sluice(
        &url,
        &[
            "ds",
            "share",
            "crm",
            "-w",
            "sales",
            "--to",
            "mkt",
            "--permission",
            "read",
        ],
        &mut owner_transcript,
    ));
    assert!(shared.contains("its jobs name it sales/crm"), "{shared}");
    let job_id = submit(&url, "mkt", read_spec, &mut grantee_transcript)
        .await
        .expect("a READ grant is a source");
    let job = run_to_end(&url, &job_id, &mut grantee_transcript).await;
    assert_eq!(job.counters.as_ref().unwrap().rows_written, 50);
    let copied: i64 = pg
        .client()
        .await
        .query_one("SELECT count(*) FROM share_people_copy", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(copied, 50);

    // READ used as a sink: refused, naming the grant and the command that would allow it.
    let as_sink = submit(
        &url,
        "mkt",
        &write_spec("sales/crm"),
        &mut grantee_transcript,
    )
    .await
    .expect_err("READ is not a sink");
    assert!(
        as_sink.contains("sink.datasource: the grant of data source crm of workspace sales to workspace mkt in prod is READ"),
        "{as_sink}"
    );
    assert!(
        as_sink.contains(
            "sluice ds share crm --workspace sales --to mkt --env prod --permission write"
        ),
        "{as_sink}"
    );

    // WRITE, under a shared name: the grantee writes to it.
    ok(&sluice(
        &url,
        &[
            "ds",
            "share",
            "crm",
            "-w",
            "sales",
            "--to",
            "mkt",
            "--permission",
            "write",
            "--as",
            "sales_crm",
        ],
        &mut owner_transcript,
    ));
    let job_id = submit(
        &url,
        "mkt",
        &write_spec("sales_crm"),
        &mut grantee_transcript,
    )
    .await
    .expect("a WRITE grant is a sink");
    run_to_end(&url, &job_id, &mut grantee_transcript).await;
    assert_eq!(maria_count(&maria, "share_generated").await, "30");

    // What the grantee sees: the data source, secrets masked, its permission.
    let got = ok(&sluice(
        &url,
        &["ds", "get", "sales/crm", "-w", "mkt", "--output", "json"],
        &mut grantee_transcript,
    ));
    let got: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(got["shared_from"], "sales");
    assert_eq!(got["shared_as"], "sales_crm");
    assert_eq!(got["shared_permissions"]["prod"], "write");
    assert_eq!(got["configs"]["prod"]["secrets"]["password"], "***");
    let listed = ok(&sluice(
        &url,
        &["ds", "list", "-w", "mkt"],
        &mut grantee_transcript,
    ));
    assert!(listed.contains("sales_crm (shared)"), "{listed}");
    let shares = ok(&sluice(
        &url,
        &["ds", "shares", "-w", "mkt", "--output", "json"],
        &mut grantee_transcript,
    ));
    let shares: serde_json::Value = serde_json::from_str(&shares).unwrap();
    assert_eq!(shares["received"][0]["permission"], "write");
    assert_eq!(shares["received"][0]["shared_name"], "sales_crm");
    // The grantee cannot change the owner's data source through its shared name.
    let changed = refused(&sluice(
        &url,
        &[
            "ds",
            "update",
            "sales_crm",
            "-w",
            "mkt",
            "--option",
            "host=elsewhere",
        ],
        &mut grantee_transcript,
    ));
    assert!(changed.contains("not found"), "{changed}");

    // A shared data source cannot be deleted.
    let delete = refused(&sluice(
        &url,
        &["ds", "delete", "crm", "-w", "sales"],
        &mut owner_transcript,
    ));
    assert!(delete.contains("is shared with workspace mkt"), "{delete}");

    // Revoke: the next submit is refused, by either name.
    let revoked = ok(&sluice(
        &url,
        &["ds", "unshare", "crm", "-w", "sales", "--to", "mkt"],
        &mut owner_transcript,
    ));
    assert!(revoked.contains("revoked write"), "{revoked}");
    let after = submit(&url, "mkt", read_spec, &mut grantee_transcript)
        .await
        .expect_err("revoked");
    assert!(
        after.contains("source.datasource: data source crm of workspace sales is not shared with workspace mkt (never granted, or revoked)"),
        "{after}"
    );
    let by_shared_name = submit(
        &url,
        "mkt",
        &write_spec("sales_crm"),
        &mut grantee_transcript,
    )
    .await
    .expect_err("revoked");
    assert!(
        by_shared_name.contains("\"sales_crm\" is not a data source of workspace mkt"),
        "{by_shared_name}"
    );
    let gone = refused(&sluice(
        &url,
        &["ds", "get", "sales/crm", "-w", "mkt"],
        &mut grantee_transcript,
    ));
    assert!(gone.contains("not found"), "{gone}");
    ok(&sluice(
        &url,
        &["ds", "delete", "crm", "-w", "sales"],
        &mut owner_transcript,
    ));

    // The grantee never saw the secret; neither did etcd or any log.
    assert!(
        !grantee_transcript.contains(&account.password),
        "the grantee saw the password"
    );
    assert!(!owner_transcript.contains(&account.password));
    assert!(!cluster.etcd.dump().contains(&account.password));
    for (name, text) in cluster.all_logs() {
        assert!(
            !text.contains(&account.password),
            "the password is in {name}"
        );
    }

    account.drop_user().await;
    maria.drop_database().await;
    pg.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_with_a_bad_row_creates_nothing_and_names_the_row() {
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    let mut transcript = String::new();
    ok(&sluice(
        &url,
        &["ws", "create", "share_imp", "--mode", "standard"],
        &mut transcript,
    ));
    let files = tempfile::tempdir().unwrap();
    let secret = format!("Imp-{}", uuid::Uuid::new_v4().simple());
    let header = "name,type,environment,description,host,port,database,user,password,path\n";
    let good_rows = format!(
        "wh,postgresql,prod,warehouse,pg-prod,5432,wh,etl,{secret},\n\
         wh,postgresql,dev,,pg-dev,5432,wh_dev,etl,{secret},\n\
         local,sqlite,,scratch,,,,,,/tmp/share_imp.db\n"
    );
    // Line 4 (the third data row) names a type that does not exist.
    let bad = format!(
        "{header}wh,postgresql,prod,warehouse,pg-prod,5432,wh,etl,{secret},\n\
         wh,postgresql,dev,,pg-dev,5432,wh_dev,etl,{secret},\n\
         crm,mysq,prod,,h,3306,crm,etl,,\n\
         local,sqlite,,scratch,,,,,,/tmp/share_imp.db\n"
    );
    let bad_file = files.path().join("bad.csv");
    std::fs::write(&bad_file, bad).unwrap();
    let answer = refused(&sluice(
        &url,
        &[
            "ds",
            "import",
            bad_file.to_str().unwrap(),
            "-w",
            "share_imp",
        ],
        &mut transcript,
    ));
    assert!(
        answer.contains("line 4: type: \"mysq\" is not one of"),
        "{answer}"
    );
    assert!(answer.contains("nothing was imported"), "{answer}");
    let listed = ok(&sluice(
        &url,
        &["ds", "list", "-w", "share_imp", "--output", "json"],
        &mut transcript,
    ));
    assert_eq!(listed.trim(), "[]", "nothing may have been created");

    let good_file = files.path().join("good.csv");
    std::fs::write(&good_file, format!("{header}{good_rows}")).unwrap();
    let imported = ok(&sluice(
        &url,
        &[
            "ds",
            "import",
            good_file.to_str().unwrap(),
            "-w",
            "share_imp",
        ],
        &mut transcript,
    ));
    assert!(imported.contains("imported 2 data sources"), "{imported}");
    let wh = ok(&sluice(
        &url,
        &["ds", "get", "wh", "-w", "share_imp", "--output", "json"],
        &mut transcript,
    ));
    let wh: serde_json::Value = serde_json::from_str(&wh).unwrap();
    assert_eq!(wh["configs"]["dev"]["options"]["database"], "wh_dev");
    assert_eq!(wh["configs"]["prod"]["secrets"]["password"], "***");

    // Importing the same file again: every row names a data source that exists; nothing changes.
    let again = refused(&sluice(
        &url,
        &[
            "ds",
            "import",
            good_file.to_str().unwrap(),
            "-w",
            "share_imp",
        ],
        &mut transcript,
    ));
    assert!(
        again.contains("line 2: name: data source wh already exists"),
        "{again}"
    );

    // YAML, with its items numbered.
    let yaml_file = files.path().join("more.yaml");
    std::fs::write(
        &yaml_file,
        "- {name: gen, type: generator, options: {rows: 5}}\n- {name: broken, type: sqlite, colour: red}\n",
    )
    .unwrap();
    let yaml = refused(&sluice(
        &url,
        &[
            "ds",
            "import",
            yaml_file.to_str().unwrap(),
            "-w",
            "share_imp",
        ],
        &mut transcript,
    ));
    assert!(
        yaml.contains("item 2: colour: unknown field `colour`"),
        "{yaml}"
    );

    assert!(!transcript.contains(&secret));
    assert!(!cluster.etcd.dump().contains(&secret), "secrets are sealed");
}
