//! End-to-end: spec placeholders through the `sluice` CLI against etcd, a coordinator and a
//! worker process, on the real PostgreSQL: `--param` values, DataWorks built-in dates computed
//! in the job's time zone, and a missing parameter refused at submit naming the field.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use sluice_e2e::postgres::PgDatabase;
use sluice_e2e::{sluice_binary, Cluster};
use std::process::{Command, Output};

fn sluice(url: &str, arguments: &[&str]) -> Output {
    let output = Command::new(sluice_binary())
        .arg("--coordinator")
        .arg(url)
        .args(arguments)
        .output()
        .expect("run sluice");
    println!(
        "$ sluice {}\n{}{}",
        arguments.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placeholders_select_the_business_date_in_the_job_time_zone() {
    let database = PgDatabase::create().await;
    // Three days x two regions; the job must copy exactly the (2025-03-01, eu) rows.
    database
        .client()
        .await
        .batch_execute(
            "CREATE TABLE orders (id bigint PRIMARY KEY, day date NOT NULL, region text NOT NULL, amount numeric(10,2));
             INSERT INTO orders SELECT g, DATE '2025-02-28' + (g % 3), CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g * 1.25
             FROM generate_series(1, 3000) g;",
        )
        .await
        .expect("source table");
    let mut cluster = Cluster::start().await;
    let url = cluster.add_coordinator().await;
    cluster.add_worker(2);
    let work = tempfile::tempdir().unwrap();
    let spec_path = work.path().join("daily.yaml");
    let connection = database.connection_yaml();
    std::fs::write(
        &spec_path,
        format!(
            "source:\n  connection: {connection}\n  table: orders\n  split_pk: id\n  where: \"day = '${{day}}' AND region = '${{region}}'\"\n\
             sink:\n  connection: {connection}\n  table: orders_$bizdate\n  create_table: true\n\
             settings: {{parallelism: 2, shard_rows: 1000}}\n"
        ),
    )
    .unwrap();
    let spec = spec_path.display().to_string();

    // 04:00 on 2 March in Shanghai is 20:00 on 1 March in UTC: the business date is 1 March
    // only when the cycle time is read in the job's zone (in UTC it would be 28 February).
    let common = [
        "job",
        "submit",
        spec.as_str(),
        "--wait",
        "--param",
        "day=${yyyy-mm-dd}",
        "--cycle-time",
        "2025-03-02 04:00:00",
        "--time-zone",
        "Asia/Shanghai",
    ];
    let missing = sluice(&url, &common);
    assert!(!missing.status.success(), "a missing parameter must fail");
    let message = String::from_utf8_lossy(&missing.stderr).to_string();
    assert!(message.contains("source.where"), "{message}");
    assert!(message.contains("--param region=VALUE"), "{message}");

    let mut with_region = common.to_vec();
    with_region.extend(["--param", "region=eu"]);
    let submitted = sluice(&url, &with_region);
    assert!(submitted.status.success(), "the job must succeed");

    let expected = database
        .text_rows(
            "SELECT count(*)::text || ' ' || sum(amount)::text FROM orders WHERE day = '2025-03-01' AND region = 'eu'",
        )
        .await;
    let copied = database
        .text_rows("SELECT count(*)::text || ' ' || sum(amount)::text FROM orders_20250301")
        .await;
    assert_eq!(copied, expected);
    assert_eq!(expected[0].split(' ').next(), Some("500"));
    let other_rows = database
        .text_rows(
            "SELECT count(*)::text FROM orders_20250301 WHERE day <> '2025-03-01' OR region <> 'eu'",
        )
        .await;
    assert_eq!(other_rows, vec!["0".to_string()]);
    database.drop_database().await;
}
