//! DataX job JSON, run unchanged, end to end against the machine's MariaDB and PostgreSQL:
//!
//! - `mysqlreader` -> `postgresqlwriter` with a transformer chain (`dx_filter`, `dx_substr`,
//!   `dx_pad`, `dx_replace`, `dx_digest`) submitted through the API to etcd + one coordinator +
//!   two worker processes: the destination rows are compared with rows computed here from the
//!   source rows by the DataX rules, and the job's per-transformer counts and dirty records
//!   with the counts computed alongside;
//! - a `querySql` job run by `sluice run FILE.json`, compared row by row;
//! - a job with a writer `session` (not supported yet) and a misspelt key, refused by `sluice run` and by the API, each
//!   error naming the key's JSON path.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use sluice_e2e::mysql::MyDatabase;
use sluice_e2e::postgres::PgDatabase;
use sluice_e2e::{job_client, sluice_binary, submit, wait_for_end, Cluster};
use sluice_proto::v1 as pb;
use std::time::Duration;

/// Rows of the source table.
const ROWS: i64 = 3_000;

/// One source row.
#[derive(Debug, Clone)]
struct Person {
    id: i64,
    name: Option<String>,
    email: Option<String>,
    code: Option<String>,
    score: Option<i32>,
}

fn people() -> Vec<Person> {
    (1..=ROWS)
        .map(|id| Person {
            id,
            name: if id % 250 == 17 {
                None
            } else if id % 500 == 13 {
                // dx_substr from 1 fails on "": a dirty record, unless filtered first.
                Some(String::new())
            } else if id % 7 == 0 {
                Some(format!("名字{id}"))
            } else {
                Some(format!("name{id}"))
            },
            email: (id % 333 != 0).then(|| format!("user{id}@example.com")),
            code: (id % 100 != 3).then(|| format!("C{id}")),
            score: (id % 401 != 0).then_some((id % 50) as i32),
        })
        .collect()
}

fn sql_text(value: &Option<String>) -> String {
    value
        .as_ref()
        .map_or("NULL".to_string(), |text| format!("'{text}'"))
}

/// The DataX rules, written out plainly per row: the oracle the job is compared with.
/// Returns the expected destination rows (rendered as the test's query renders them) and the
/// per-step counts (in, out, filtered, failed).
fn expected(rows: &[Person]) -> (Vec<String>, Vec<[u64; 4]>) {
    let mut counts = vec![[0u64; 4]; 5];
    let mut output = Vec::new();
    for person in rows {
        // [0] dx_filter(score, "<", "10"): drops scores below 10; NULL is kept.
        counts[0][0] += 1;
        if person.score.is_some_and(|score| score < 10) {
            counts[0][2] += 1;
            continue;
        }
        counts[0][1] += 1;
        // [1] dx_substr(name, "1", "4"): NULL passes; a start past the end fails the row.
        counts[1][0] += 1;
        let name = match &person.name {
            None => None,
            Some(text) => {
                let chars: Vec<char> = text.chars().collect();
                if chars.is_empty() {
                    counts[1][3] += 1;
                    continue;
                }
                Some(chars[1..chars.len().min(5)].iter().collect::<String>())
            }
        };
        counts[1][1] += 1;
        // [2] dx_pad(name, "r", "6", "_"): NULL pads as "".
        counts[2][0] += 1;
        let mut padded = name.unwrap_or_default();
        while padded.chars().count() < 6 {
            padded.push('_');
        }
        counts[2][1] += 1;
        // [3] dx_replace(email, "0", "4", "****").
        counts[3][0] += 1;
        let email = person
            .email
            .as_ref()
            .map(|text| format!("****{}", &text[4..]));
        counts[3][1] += 1;
        // [4] dx_digest(code, "md5", "toUpperCase"): NULL hashes as "".
        counts[4][0] += 1;
        let code = person.code.clone().unwrap_or_default();
        let digest = md5_upper(&code);
        counts[4][1] += 1;
        output.push(format!(
            "{}|{}|{}|{}|{}",
            person.id,
            padded,
            email.unwrap_or_else(|| "<null>".into()),
            digest,
            person
                .score
                .map_or("<null>".to_string(), |score| score.to_string())
        ));
    }
    (output, counts)
}

fn md5_upper(text: &str) -> String {
    use md5::Digest as _;
    md5::Md5::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect()
}

async fn source_database() -> MyDatabase {
    let database = MyDatabase::create().await;
    database
        .execute(
            "CREATE TABLE people (id BIGINT PRIMARY KEY, name VARCHAR(64), email VARCHAR(128), \
             code VARCHAR(16), score INT)",
        )
        .await;
    for chunk in people().chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|person| {
                format!(
                    "({}, {}, {}, {}, {})",
                    person.id,
                    sql_text(&person.name),
                    sql_text(&person.email),
                    sql_text(&person.code),
                    person
                        .score
                        .map_or("NULL".to_string(), |score| score.to_string())
                )
            })
            .collect();
        database
            .execute(&format!("INSERT INTO people VALUES {}", values.join(", ")))
            .await;
    }
    database
}

fn datax_job(mysql: &MyDatabase, postgres: &PgDatabase) -> String {
    serde_json::json!({
        "job": {
            "setting": {
                "speed": {"channel": 2},
                "errorLimit": {"record": 100, "percentage": 0.05}
            },
            "content": [{
                "reader": {
                    "name": "mysqlreader",
                    "parameter": {
                        "username": "root",
                        "password": "",
                        "column": ["id", "name", "email", "code", "score"],
                        "splitPk": "id",
                        "connection": [{
                            "table": ["people"],
                            "jdbcUrl": [format!("jdbc:mysql://127.0.0.1:3306/{}?useUnicode=true&characterEncoding=utf8", mysql.name)]
                        }]
                    }
                },
                "writer": {
                    "name": "postgresqlwriter",
                    "parameter": {
                        "username": "postgres",
                        "password": "",
                        "column": ["id", "name", "email", "code", "score"],
                        "preSql": ["DELETE FROM @table"],
                        "postSql": ["ANALYZE @table"],
                        "connection": [{
                            "table": ["people_out"],
                            "jdbcUrl": format!("jdbc:postgresql://127.0.0.1:5432/{}", postgres.name)
                        }]
                    }
                },
                "transformer": [
                    {"name": "dx_filter", "parameter": {"columnIndex": 4, "paras": ["<", "10"]}},
                    {"name": "dx_substr", "parameter": {"columnIndex": 1, "paras": ["1", "4"]}},
                    {"name": "dx_pad", "parameter": {"columnIndex": 1, "paras": ["r", "6", "_"]}},
                    {"name": "dx_replace", "parameter": {"columnIndex": 2, "paras": ["0", "4", "****"]}},
                    {"name": "dx_digest", "parameter": {"columnIndex": 3, "paras": ["md5", "toUpperCase"]}}
                ]
            }]
        }
    })
    .to_string()
}

const PEOPLE_OUT: &str =
    "CREATE TABLE people_out (id BIGINT PRIMARY KEY, name TEXT, email TEXT, code TEXT, score INT)";

const RENDER_PEOPLE_OUT: &str = "SELECT format('%s|%s|%s|%s|%s', id, coalesce(name, '<null>'), \
     coalesce(email, '<null>'), coalesce(code, '<null>'), coalesce(score::text, '<null>')) \
     FROM people_out ORDER BY id";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datax_mysql_to_postgres_with_a_transformer_chain() {
    let mysql = source_database().await;
    let postgres = PgDatabase::create().await;
    postgres
        .client()
        .await
        .batch_execute(PEOPLE_OUT)
        .await
        .unwrap();
    // A row the preSql must delete.
    postgres
        .client()
        .await
        .batch_execute("INSERT INTO people_out VALUES (-1, 'stale', NULL, NULL, NULL)")
        .await
        .unwrap();

    let mut cluster = Cluster::start().await;
    cluster.add_coordinator().await;
    cluster.add_worker(2);
    cluster.add_worker(2);
    cluster.wait_for_workers(2).await;
    let mut client = job_client(&cluster.coordinator_urls[0], Duration::from_secs(10)).await;
    let job_id = submit(&mut client, &datax_job(&mysql, &postgres)).await;
    let job = wait_for_end(&mut client, &job_id, Duration::from_secs(300)).await;
    if job.state != pb::JobState::Succeeded as i32 {
        cluster.dump_logs();
    }
    assert_eq!(job.state, pb::JobState::Succeeded as i32, "{}", job.error);

    let (expected_rows, expected_counts) = expected(&people());
    let rows = postgres.text_rows(RENDER_PEOPLE_OUT).await;
    assert_eq!(rows.len(), expected_rows.len(), "row count");
    for (row, expected_row) in rows.iter().zip(&expected_rows) {
        assert_eq!(row, expected_row);
    }

    let counts: Vec<(String, [u64; 4])> = job
        .transformers
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                [t.rows_in, t.rows_out, t.filtered, t.failed],
            )
        })
        .collect();
    let names = [
        "dx_filter",
        "dx_substr",
        "dx_pad",
        "dx_replace",
        "dx_digest",
    ];
    let expected_named: Vec<(String, [u64; 4])> = names
        .iter()
        .map(|name| name.to_string())
        .zip(expected_counts.iter().copied())
        .collect();
    println!("per-transformer counts: {counts:?}");
    assert_eq!(counts, expected_named);
    let failed: u64 = expected_counts.iter().map(|count| count[3]).sum();
    assert!(failed > 0, "the data must make dx_substr fail some rows");
    let counters = job.counters.unwrap_or_default();
    assert_eq!(counters.rows_read, ROWS as u64);
    assert_eq!(counters.rows_written, expected_rows.len() as u64);
    assert_eq!(counters.dirty_records, failed);
    assert!(
        job.shards_total >= 8,
        "splitPk made {} shards",
        job.shards_total
    );

    // `sluice job get` shows the counts.
    let output = std::process::Command::new(sluice_binary())
        .args([
            "job",
            "get",
            &job_id,
            "--coordinator",
            &cluster.coordinator_urls[0],
        ])
        .output()
        .expect("run sluice job get");
    let text = String::from_utf8_lossy(&output.stdout);
    println!("{text}{}", String::from_utf8_lossy(&output.stderr));
    let substr = expected_counts[1];
    assert!(
        text.contains(&format!(
            "[1] dx_substr          {} in, {} out, 0 filtered, {} failed",
            group(substr[0]),
            group(substr[1]),
            group(substr[3])
        )),
        "{text}"
    );

    drop(cluster);
    mysql.drop_database().await;
    postgres.drop_database().await;
}

fn group(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datax_query_sql_job_runs_with_sluice_run() {
    let mysql = source_database().await;
    let postgres = PgDatabase::create().await;
    postgres
        .client()
        .await
        .batch_execute("CREATE TABLE tagged (id BIGINT PRIMARY KEY, label TEXT, doubled BIGINT)")
        .await
        .unwrap();
    let job = serde_json::json!({
        "job": {
            "setting": {"speed": {"channel": 1}},
            "content": [{
                "reader": {
                    "name": "mysqlreader",
                    "parameter": {
                        "username": "root",
                        "password": "",
                        "connection": [{
                            "querySql": ["SELECT id, CONCAT(code, '/', COALESCE(name, '-')) AS label, score * 2 AS doubled FROM people WHERE id <= 120 AND code IS NOT NULL;"],
                            "jdbcUrl": [format!("jdbc:mysql://127.0.0.1:3306/{}", mysql.name)]
                        }]
                    }
                },
                "writer": {
                    "name": "postgresqlwriter",
                    "parameter": {
                        "username": "postgres",
                        "password": "",
                        "column": ["id", "label", "doubled"],
                        "connection": [{
                            "table": ["tagged"],
                            "jdbcUrl": format!("jdbc:postgresql://127.0.0.1:5432/{}", postgres.name)
                        }]
                    }
                }
            }]
        }
    });
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("query.json");
    std::fs::write(&file, job.to_string()).unwrap();
    let output = std::process::Command::new(sluice_binary())
        .arg("run")
        .arg(&file)
        .output()
        .expect("run sluice run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "sluice run failed");

    let expected_rows: Vec<String> = people()
        .into_iter()
        .filter(|person| person.id <= 120)
        .filter_map(|person| {
            let code = person.code?;
            Some(format!(
                "{}|{}/{}|{}",
                person.id,
                code,
                person.name.unwrap_or_else(|| "-".into()),
                person
                    .score
                    .map_or("<null>".to_string(), |score| (i64::from(score) * 2)
                        .to_string())
            ))
        })
        .collect();
    let rows = postgres
        .text_rows(
            "SELECT format('%s|%s|%s', id, label, coalesce(doubled::text, '<null>')) FROM tagged ORDER BY id",
        )
        .await;
    assert_eq!(rows, expected_rows);
    assert!(
        stdout.contains(&format!("rows written    {}", expected_rows.len())),
        "{stdout}"
    );

    // `sluice job preview` shows rows after the transformers and writes nothing.
    let preview_job = serde_json::json!({
        "job": {
            "content": [{
                "reader": {
                    "name": "mysqlreader",
                    "parameter": {
                        "username": "root",
                        "password": "",
                        "connection": [{
                            "querySql": ["SELECT id, name FROM people WHERE id <= 20 ORDER BY id"],
                            "jdbcUrl": [format!("jdbc:mysql://127.0.0.1:3306/{}", mysql.name)]
                        }]
                    }
                },
                "writer": {
                    "name": "postgresqlwriter",
                    "parameter": {
                        "username": "postgres",
                        "column": ["id", "short_name"],
                        "connection": [{
                            "table": ["nowhere"],
                            "jdbcUrl": format!("jdbc:postgresql://127.0.0.1:5432/{}", postgres.name)
                        }]
                    }
                },
                "transformer": [
                    {"name": "dx_substr", "parameter": {"columnIndex": 1, "paras": ["0", "3"]}},
                    {"name": "dx_filter", "parameter": {"columnIndex": 0, "paras": [">", "5"]}}
                ]
            }]
        }
    });
    let preview_file = directory.path().join("preview.json");
    std::fs::write(&preview_file, preview_job.to_string()).unwrap();
    let output = std::process::Command::new(sluice_binary())
        .args(["job", "preview"])
        .arg(&preview_file)
        .output()
        .expect("run sluice job preview");
    let preview = String::from_utf8_lossy(&output.stdout);
    println!("{preview}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "sluice job preview failed");
    let mut expected_preview = vec!["id  short_name".to_string()];
    expected_preview.extend((1..=5).map(|id| format!("{id:<2}  nam")));
    expected_preview.push("(5 rows shown, 20 read from the source, nothing written)".into());
    expected_preview.push(format!(
        "transform  [0] {:<18} 20 in, 20 out, 0 filtered, 0 failed",
        "dx_substr"
    ));
    expected_preview.push(format!(
        "transform  [1] {:<18} 20 in, 5 out, 15 filtered, 0 failed",
        "dx_filter"
    ));
    assert_eq!(preview.lines().collect::<Vec<_>>(), expected_preview);

    mysql.drop_database().await;
    postgres.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datax_job_with_unsupported_keys_is_refused_naming_them() {
    let job = serde_json::json!({
        "job": {
            "setting": {"speed": {"channel": 1, "byte": 1048576}},
            "content": [{
                "reader": {
                    "name": "mysqlreader",
                    "parameter": {
                        "username": "root",
                        "password": "",
                        "column": ["*"],
                        "splitKey": "id",
                        "connection": [{"table": ["t"], "jdbcUrl": ["jdbc:mysql://127.0.0.1:3306/nowhere"]}]
                    }
                },
                "writer": {
                    "name": "postgresqlwriter",
                    "parameter": {
                        "username": "postgres",
                        "column": ["*"],
                        "session": ["SET search_path TO x"],
                        "connection": [{"table": ["t"], "jdbcUrl": "jdbc:postgresql://127.0.0.1:5432/nowhere"}]
                    }
                }
            }]
        }
    })
    .to_string();
    let directory = tempfile::tempdir().unwrap();
    let file = directory.path().join("bad.json");
    std::fs::write(&file, &job).unwrap();
    let output = std::process::Command::new(sluice_binary())
        .arg("run")
        .arg(&file)
        .output()
        .expect("run sluice run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stderr}");
    assert!(!output.status.success(), "an unsupported key must fail");
    assert!(
        stderr.contains(
            "job.content[0].writer.parameter.session: not supported yet: session statements"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("job.content[0].reader.parameter.splitKey: is not a key Sluice knows here"),
        "{stderr}"
    );

    // The API refuses it the same way.
    let mut cluster = Cluster::start().await;
    cluster.add_coordinator().await;
    let mut client = job_client(&cluster.coordinator_urls[0], Duration::from_secs(10)).await;
    let status = client
        .submit(pb::SubmitJobRequest {
            workspace: String::new(),
            environment: String::new(),
            spec: job,
            format: 0,
            ..Default::default()
        })
        .await
        .expect_err("submit must be refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(
        status
            .message()
            .contains("job.content[0].reader.parameter.splitKey"),
        "{}",
        status.message()
    );
}
