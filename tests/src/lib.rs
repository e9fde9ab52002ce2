//! Harness for end-to-end tests: starts real etcd, coordinator and worker processes on free
//! loopback ports, each in a guard that kills it on drop, and waits on health rather than sleeps.
//!
//! A missing prerequisite (the `sluice` binary, `etcd`) fails the test with the command that
//! provides it; nothing is skipped.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

pub mod moto;
pub mod mysql;
pub mod postgres;
pub mod process;

pub use process::{ChildGuard, Cluster, Etcd};

use sluice_common::records::KeyRange;
use sluice_common::spec::{
    inline_connection_config, parse_job_spec, validate, ConnectionConfig, SpecFormat,
};
use sluice_connectors::checksum::{digest_source, TableDigest};
use sluice_proto::v1 as pb;
use sluice_proto::v1::job_service_client::JobServiceClient;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// Returns the `sluice` binary built next to this test.
pub fn sluice_binary() -> PathBuf {
    if let Ok(path) = std::env::var("SLUICE_BIN") {
        return PathBuf::from(path);
    }
    let executable = std::env::current_exe().expect("current test executable");
    // target/<profile>/deps/<test> -> target/<profile>/sluice
    let profile_dir = executable
        .parent()
        .and_then(Path::parent)
        .expect("target profile directory");
    let binary = profile_dir.join("sluice");
    assert!(
        binary.exists(),
        "{} does not exist: build it first with `cargo build -p sluice-cli` (scripts/test.sh does), or set SLUICE_BIN",
        binary.display()
    );
    binary
}

/// Returns a free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// Connects a job client, retrying until `timeout`.
pub async fn job_client(url: &str, timeout: Duration) -> JobServiceClient<Channel> {
    let deadline = Instant::now() + timeout;
    loop {
        match JobServiceClient::connect(url.to_string()).await {
            Ok(client) => return client,
            Err(error) if Instant::now() < deadline => {
                let _ = error;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("coordinator at {url} not reachable within {timeout:?}: {error}"),
        }
    }
}

/// Returns `message` as a request carrying `authorization: Bearer TOKEN` (when given).
pub fn with_token<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}")
                .parse()
                .expect("a token is a valid header value"),
        );
    }
    request
}

/// Runs the `sluice` CLI against the coordinator at `url`, prints the command and both of its
/// streams (for failing tests), and returns its output.
pub fn sluice_cli(url: &str, arguments: &[&str]) -> std::process::Output {
    let output = std::process::Command::new(sluice_binary())
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

/// Runs the `sluice` CLI against `url` like [`sluice_cli`], and appends both of its streams
/// (its answers; not the command line, which is input) to `transcript`, for tests that search
/// everything the CLI printed. Arguments starting with `password=` are printed masked.
pub fn sluice_cli_transcript(
    url: &str,
    arguments: &[&str],
    transcript: &mut String,
) -> std::process::Output {
    let output = std::process::Command::new(sluice_binary())
        .arg("--coordinator")
        .arg(url)
        .args(arguments)
        .output()
        .expect("run sluice");
    let answer = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let shown: Vec<&str> = arguments
        .iter()
        .map(|argument| {
            if argument.starts_with("password=") {
                "password=(given)"
            } else {
                argument
            }
        })
        .collect();
    println!("$ sluice {}\n{answer}", shown.join(" "));
    transcript.push_str(&answer);
    output
}

/// Submits a spec and returns the job id.
pub async fn submit(client: &mut JobServiceClient<Channel>, spec: &str) -> String {
    client
        .submit(pb::SubmitJobRequest {
            workspace: String::new(),
            environment: String::new(),
            spec: spec.to_string(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|status| panic!("submit failed: {}", status.message()))
        .into_inner()
        .job_id
}

/// Polls a job until it ends or `timeout` passes; returns it with its shards.
pub async fn wait_for_end(
    client: &mut JobServiceClient<Channel>,
    job_id: &str,
    timeout: Duration,
) -> pb::Job {
    let deadline = Instant::now() + timeout;
    loop {
        let job = client
            .get(pb::GetJobRequest {
                job_id: job_id.to_string(),
                include_shards: true,
            })
            .await
            .unwrap_or_else(|status| panic!("get job failed: {}", status.message()))
            .into_inner();
        let ended = matches!(
            pb::JobState::try_from(job.state),
            Ok(pb::JobState::Succeeded | pb::JobState::Failed | pb::JobState::Cancelled)
        );
        if ended {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job {job_id} did not end within {timeout:?}: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Returns the digest of every row a connection reads (of `table`, for stores with tables),
/// through the connector a job would use.
pub async fn connection_digest(connection: ConnectionConfig, table: Option<&str>) -> TableDigest {
    let mut inline = serde_json::Map::new();
    inline.insert("type".into(), connection.kind.clone().into());
    for (name, value) in &connection.options {
        inline.insert(name.clone(), value.clone().into());
    }
    let mut source = serde_json::json!({ "connection": inline });
    if let Some(table) = table {
        source["table"] = table.into();
    }
    // JSON is YAML: the source side goes in as it is.
    source_digest(&source.to_string()).await
}

/// Returns the digest of every row the generator makes for `rows` and `seed`.
pub async fn generator_digest(rows: u64, seed: u64) -> TableDigest {
    let connection = ConnectionConfig {
        kind: "generator".into(),
        options: [
            ("rows".to_string(), rows.to_string()),
            ("seed".to_string(), seed.to_string()),
        ]
        .into(),
        ..Default::default()
    };
    connection_digest(connection, None).await
}

/// Returns the digest of every row of an SQLite table.
pub async fn sqlite_digest(path: &Path, table: &str) -> TableDigest {
    let connection = ConnectionConfig {
        kind: "sqlite".into(),
        options: [("path".to_string(), path.display().to_string())].into(),
        ..Default::default()
    };
    connection_digest(connection, Some(table)).await
}

/// Returns the digest of every row a job's source reads, `source` being the YAML of a spec's
/// `source` section with an inline connection (`{connection: {...}, table: t}` or
/// `{connection: {...}, query: "SELECT ..."}`).
pub async fn source_digest(source: &str) -> TableDigest {
    let spec = format!(
        "source: {source}\nsink: {{connection: {{type: sqlite, path: unused.db}}, table: t}}"
    );
    let validated = validate(parse_job_spec(&spec, SpecFormat::Yaml).expect("spec"))
        .unwrap_or_else(|errors| panic!("invalid source {source}: {errors:?}"));
    let inline = validated
        .spec
        .source
        .connection
        .as_ref()
        .expect("an inline source connection");
    let connection = inline_connection_config(inline)
        .unwrap_or_else(|errors| panic!("source connection {source}: {errors:?}"));
    let reader = sluice_connectors::open_source(&validated, &connection)
        .unwrap_or_else(|error| panic!("open {source}: {error}"));
    digest_source(reader.as_ref(), &KeyRange::All)
        .await
        .unwrap_or_else(|error| panic!("digest {source}: {error}"))
}

/// Fetches `http://{address}/metrics` with a bare HTTP/1.0 request.
pub fn fetch_metrics(address: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address)
        .unwrap_or_else(|error| panic!("metrics endpoint {address}: {error}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {address}\r\n\r\n").expect("send request");
    let mut body = String::new();
    stream.read_to_string(&mut body).expect("read metrics");
    body
}
