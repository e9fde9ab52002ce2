//! Job files from elsewhere, end to end against the machine's MariaDB and PostgreSQL:
//!
//! - a DataWorks script-mode job (`steps`, `order.hops`, `setting.speed` with `concurrent`,
//!   `datasource` names) submitted to etcd + a coordinator + two worker processes: its data
//!   sources are resolved in the workspace, a `${min_id}` parameter is replaced, and the copied
//!   rows are compared with the source's by count and checksum;
//! - DataX `mysqlwriter` with `writeMode: update` and `writeMode: replace` into a MariaDB table
//!   that already holds some of the keys: `update` keeps the columns it does not write,
//!   `replace` resets them (the old row is deleted), and no key is duplicated;
//! - DataX `streamreader` -> `postgresqlwriter` (every constant type, NULL included) and
//!   `streamreader` -> `streamwriter` with `print: true`, run with `sluice run`.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use sluice_e2e::mysql::MyDatabase;
use sluice_e2e::postgres::PgDatabase;
use sluice_e2e::{job_client, sluice_binary, sluice_cli, wait_for_end, Cluster};
use sluice_proto::v1 as pb;
use std::process::Output;
use std::time::Duration;

fn show(arguments: &[&str], output: &Output) {
    println!(
        "$ sluice {}\n{}{}",
        arguments.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `sluice run FILE` with `json` as the file; returns its output.
fn sluice_run(json: &serde_json::Value) -> Output {
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("job.json");
    std::fs::write(&file, json.to_string()).unwrap();
    let output = std::process::Command::new(sluice_binary())
        .arg("run")
        .arg(&file)
        .output()
        .expect("run sluice run");
    show(&["run", "job.json"], &output);
    output
}

/// Count and an order-independent checksum of `id|amount|note` rows, as MariaDB computes it.
async fn maria_summary(database: &MyDatabase, filter: &str) -> (String, String) {
    let rows = database
        .text_rows(&format!(
            "SELECT COUNT(*), COALESCE(SUM(CAST(CONV(SUBSTRING(MD5(CONCAT_WS('|', id, amount, COALESCE(note, '<null>'))), 1, 15), 16, 10) AS UNSIGNED)), 0) FROM orders WHERE {filter}"
        ))
        .await;
    let row = &rows[0];
    (
        row[0].clone().unwrap_or_default(),
        row[1].clone().unwrap_or_default(),
    )
}

/// The same summary computed by PostgreSQL over the copied rows.
async fn pg_summary(database: &PgDatabase) -> (String, String) {
    let rows = database
        .text_rows(
            "SELECT count(*)::text || '/' || COALESCE(sum(('x' || substr(md5(concat_ws('|', id, amount, COALESCE(note, '<null>'))), 1, 15))::bit(60)::bigint), 0)::text FROM orders",
        )
        .await;
    let (count, sum) = rows[0].split_once('/').unwrap();
    (count.to_string(), sum.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataworks_script_job_resolves_data_sources_in_the_workspace() {
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    cluster.add_worker(2);
    cluster.add_worker(2);
    let source = MyDatabase::create().await;
    source
        .execute("CREATE TABLE orders (id BIGINT PRIMARY KEY, amount DECIMAL(12,2) NOT NULL, note VARCHAR(40))")
        .await;
    let values: Vec<String> = (1..=2_000)
        .map(|id| {
            let note = match id % 9 {
                0 => "NULL".to_string(),
                4 => "''".to_string(),
                _ => format!("'订单 {id}'"),
            };
            format!("({id}, {}.{:02}, {note})", id * 3, id % 100)
        })
        .collect();
    source
        .execute(&format!("INSERT INTO orders VALUES {}", values.join(",")))
        .await;
    let sink = PgDatabase::create().await;
    sink.client()
        .await
        .batch_execute(
            "CREATE TABLE orders (id BIGINT PRIMARY KEY, amount NUMERIC(12,2) NOT NULL, note TEXT)",
        )
        .await
        .unwrap();

    for arguments in [
        vec!["ws", "create", "dwjobs"],
        vec![
            "ds",
            "create",
            "orders_mysql",
            "--workspace",
            "dwjobs",
            "--type",
            "mysql",
            "--option",
            "host=127.0.0.1",
            "--option",
            "port=3306",
            "--option",
            &format!("database={}", source.name),
            "--option",
            "user=root",
        ],
        vec![
            "ds",
            "create",
            "dw_pg",
            "--workspace",
            "dwjobs",
            "--type",
            "postgresql",
            "--option",
            "host=127.0.0.1",
            "--option",
            "port=5432",
            "--option",
            &format!("database={}", sink.name),
            "--option",
            "user=postgres",
        ],
    ] {
        assert!(sluice_cli(&url, &arguments).status.success());
    }

    let job = serde_json::json!({
        "type": "job",
        "version": "2.0",
        "steps": [
            {"stepType": "mysql", "name": "Reader", "category": "reader",
             "parameter": {"connection": [{"datasource": "orders_mysql", "table": ["orders"]}],
                           "column": ["id", "amount", "note"], "splitPk": "id",
                           "where": "id > ${min_id}", "encoding": "UTF-8"}},
            {"stepType": "postgresql", "name": "Writer", "category": "writer",
             "parameter": {"datasource": "dw_pg", "table": "orders",
                           "column": ["id", "amount", "note"],
                           "preSql": ["DELETE FROM @table"], "postSql": ["ANALYZE @table"],
                           "writeMode": "insert"}}
        ],
        "setting": {"errorLimit": {"record": "0"},
                    "speed": {"throttle": false, "concurrent": 3}},
        "order": {"hops": [{"from": "Reader", "to": "Writer"}]}
    });
    let mut client = job_client(&url, Duration::from_secs(10)).await;
    let job_id = client
        .submit(pb::SubmitJobRequest {
            workspace: "dwjobs".into(),
            environment: "prod".into(),
            spec: job.to_string(),
            params: [("min_id".to_string(), "250".to_string())]
                .into_iter()
                .collect(),
            ..Default::default()
        })
        .await
        .expect("submit the DataWorks job")
        .into_inner()
        .job_id;
    let finished = wait_for_end(&mut client, &job_id, Duration::from_secs(120)).await;
    assert_eq!(
        finished.state,
        pb::JobState::Succeeded as i32,
        "{finished:?}"
    );
    let expected = maria_summary(&source, "id > 250").await;
    assert_eq!(expected.0, "1750");
    assert_eq!(pg_summary(&sink).await, expected);
    assert!(
        finished.shards_total > 1,
        "split by id: {}",
        finished.shards_total
    );

    // A data source the workspace does not have is refused at submit, naming it.
    let missing = job
        .to_string()
        .replace("\"dw_pg\"", "\"nowhere_pg\"")
        .replace("${min_id}", "0");
    let refused = client
        .submit(pb::SubmitJobRequest {
            workspace: "dwjobs".into(),
            environment: "prod".into(),
            spec: missing,
            ..Default::default()
        })
        .await
        .expect_err("unknown data source");
    assert!(
        refused.message().contains("nowhere_pg"),
        "{}",
        refused.message()
    );

    // An unsupported key is refused with its path, never ignored.
    let typo = job.to_string().replace("\"splitPk\"", "\"splitKey\"");
    let refused = client
        .submit(pb::SubmitJobRequest {
            workspace: "dwjobs".into(),
            environment: "prod".into(),
            spec: typo,
            params: [("min_id".to_string(), "0".to_string())]
                .into_iter()
                .collect(),
            ..Default::default()
        })
        .await
        .expect_err("misspelt key");
    assert!(
        refused
            .message()
            .contains("steps[0].parameter.splitKey: is not a key Sluice knows here"),
        "{}",
        refused.message()
    );

    source.drop_database().await;
    sink.drop_database().await;
}

fn mysql_to_mysql_job(database: &MyDatabase, write_mode: &str) -> serde_json::Value {
    let url = format!("jdbc:mysql://127.0.0.1:3306/{}", database.name);
    serde_json::json!({
        "job": {
            "setting": {"speed": {"channel": 2}},
            "content": [{
                "reader": {"name": "mysqlreader", "parameter": {
                    "username": "root", "password": "", "column": ["id", "name"], "splitPk": "id",
                    "connection": [{"table": ["incoming"], "jdbcUrl": [url.clone()]}]}},
                "writer": {"name": "mysqlwriter", "parameter": {
                    "username": "root", "password": "", "column": ["id", "name"],
                    "writeMode": write_mode,
                    "connection": [{"table": ["target"], "jdbcUrl": url}]}}
            }]
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datax_mysqlwriter_update_keeps_and_replace_resets_unwritten_columns() {
    let database = MyDatabase::create().await;
    database
        .execute("CREATE TABLE incoming (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL)")
        .await;
    let incoming: Vec<String> = (1..=300).map(|id| format!("({id}, 'new{id}')")).collect();
    database
        .execute(&format!(
            "INSERT INTO incoming VALUES {}",
            incoming.join(",")
        ))
        .await;
    for (write_mode, extra_of_old_rows) in [("update", "kept"), ("replace", "default")] {
        database.execute("DROP TABLE IF EXISTS target").await;
        database
            .execute("CREATE TABLE target (id INT PRIMARY KEY, name VARCHAR(20) NOT NULL, extra VARCHAR(10) NOT NULL DEFAULT 'default')")
            .await;
        let existing: Vec<String> = (1..=100)
            .map(|id| format!("({id}, 'old{id}', 'kept')"))
            .chain((1001..=1010).map(|id| format!("({id}, 'other{id}', 'kept')")))
            .collect();
        database
            .execute(&format!("INSERT INTO target VALUES {}", existing.join(",")))
            .await;
        let output = sluice_run(&mysql_to_mysql_job(&database, write_mode));
        assert!(output.status.success(), "{write_mode} failed");
        let rows = database
            .text_rows("SELECT COUNT(*), COUNT(DISTINCT id), SUM(name LIKE 'new%'), SUM(extra = 'kept'), SUM(extra = 'default') FROM target")
            .await;
        let row: Vec<String> = rows[0].iter().map(|v| v.clone().unwrap()).collect();
        let (kept, default) = if extra_of_old_rows == "kept" {
            // 100 updated rows and the 10 untouched ones keep 'kept'; 200 new rows get the default.
            ("110", "200")
        } else {
            // Replaced rows are deleted and inserted again: only the untouched 10 keep 'kept'.
            ("10", "300")
        };
        assert_eq!(
            row,
            vec!["310", "310", "300", kept, default],
            "writeMode {write_mode}"
        );
    }
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datax_streamreader_writes_constants_and_streamwriter_prints_them() {
    let postgres = PgDatabase::create().await;
    postgres
        .client()
        .await
        .batch_execute("CREATE TABLE constants (greeting TEXT, born BIGINT, at TIMESTAMP, flag BOOLEAN, raw BYTEA, ratio DOUBLE PRECISION, missing TEXT)")
        .await
        .unwrap();
    let columns = serde_json::json!([
        {"value": "DataX 数据", "type": "string"},
        {"value": 19890604, "type": "long"},
        {"value": "1989-06-04 12:30:00", "type": "date"},
        {"value": true, "type": "bool"},
        {"value": "test", "type": "bytes"},
        {"value": 2.5, "type": "double"},
        {"value": null, "type": "string"}
    ]);
    let job = serde_json::json!({
        "job": {
            "setting": {"speed": {"channel": 3}},
            "content": [{
                "reader": {"name": "streamreader",
                           "parameter": {"sliceRecordCount": 700, "column": columns}},
                "writer": {"name": "postgresqlwriter", "parameter": {
                    "username": "postgres", "password": "", "column": ["greeting", "born", "at", "flag", "raw", "ratio", "missing"],
                    "connection": [{"table": ["constants"],
                                    "jdbcUrl": format!("jdbc:postgresql://127.0.0.1:5432/{}", postgres.name)}]}}
            }]
        }
    });
    let output = sluice_run(&job);
    assert!(output.status.success(), "stream -> postgresql failed");
    let rows = postgres
        .text_rows("SELECT format('%s|%s|%s|%s|%s|%s|%s|%s', n, greeting, born, at, flag, encode(raw, 'escape'), ratio, coalesce(missing, '<null>')) FROM (SELECT count(*) AS n, greeting, born, at, flag, raw, ratio, missing FROM constants GROUP BY 2, 3, 4, 5, 6, 7, 8) AS grouped")
        .await;
    assert_eq!(
        rows,
        vec!["2100|DataX 数据|19890604|1989-06-04 12:30:00|t|test|2.5|<null>".to_string()]
    );

    let printing = serde_json::json!({
        "job": {
            "setting": {"speed": {"channel": 2}},
            "content": [{
                "reader": {"name": "streamreader",
                           "parameter": {"sliceRecordCount": 5, "column": [
                               {"value": "hello", "type": "string"}, {"value": 42, "type": "long"}]}},
                "writer": {"name": "streamwriter", "parameter": {"print": true, "fieldDelimiter": ","}}
            }]
        }
    });
    let output = sluice_run(&printing);
    assert!(output.status.success(), "stream -> stream failed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.lines().filter(|line| *line == "hello,42").count(),
        10,
        "{stdout}"
    );
    postgres.drop_database().await;
}
