//! End-to-end: TLS. The test makes a CA, a coordinator certificate (for 127.0.0.1) and a
//! client certificate with `rcgen`, starts etcd, a coordinator that serves TLS and requires
//! client certificates (`--tls-cert --tls-key --tls-client-ca`) and a worker that connects
//! over TLS (`--tls-ca --tls-client-cert --tls-client-key`), and runs a real job through the
//! CLI over TLS. A plaintext client, and a TLS client without a certificate, are refused.

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use sluice_e2e::{free_port, generator_digest, sluice_binary, sqlite_digest, ChildGuard, Etcd};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// PEM files of one test PKI.
struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn leaf(
    names: Vec<String>,
    purpose: ExtendedKeyUsagePurpose,
    issuer: &CertifiedIssuer<'_, KeyPair>,
) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(names).unwrap();
    params.extended_key_usages = vec![purpose];
    let certificate = params.signed_by(&key, issuer).unwrap();
    (certificate.pem(), key.serialize_pem())
}

fn make_pki(directory: &Path) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "sluice e2e CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let (server_cert, server_key) = leaf(
        vec!["127.0.0.1".to_string(), "localhost".to_string()],
        ExtendedKeyUsagePurpose::ServerAuth,
        &ca,
    );
    let (client_cert, client_key) = leaf(
        vec!["sluice-client".to_string()],
        ExtendedKeyUsagePurpose::ClientAuth,
        &ca,
    );
    let write = |name: &str, text: &str| {
        let path = directory.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    Pki {
        ca: write("ca.pem", &ca.pem()),
        server_cert: write("server.pem", &server_cert),
        server_key: write("server.key", &server_key),
        client_cert: write("client.pem", &client_cert),
        client_key: write("client.key", &client_key),
    }
}

/// Runs the CLI with `tls` arguments first (they are global options).
fn sluice(url: &str, tls: &[&Path], arguments: &[&str]) -> Output {
    let mut command = Command::new(sluice_binary());
    command.arg("--coordinator").arg(url);
    for (flag, path) in ["--tls-ca", "--tls-client-cert", "--tls-client-key"]
        .iter()
        .zip(tls)
    {
        command.arg(flag).arg(path);
    }
    let output = command.args(arguments).output().expect("run sluice");
    println!(
        "$ sluice --coordinator {url} ({} TLS files) {}\n{}{}",
        tls.len(),
        arguments.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_over_tls_and_plaintext_clients_are_refused() {
    let logs = tempfile::Builder::new()
        .prefix("sluice-e2e-tls-")
        .tempdir()
        .unwrap();
    let pki = make_pki(logs.path());
    let etcd = Etcd::start(logs.path()).await;
    let key_file = logs.path().join("secret.key");
    let keygen = Command::new(sluice_binary())
        .args(["coordinator", "keygen", "--out"])
        .arg(&key_file)
        .output()
        .unwrap();
    assert!(keygen.status.success());

    let port = free_port();
    let mut coordinator = Command::new(sluice_binary());
    coordinator
        .args([
            "coordinator",
            "--etcd",
            &etcd.endpoint,
            "--etcd-prefix",
            "/sluice-tls",
        ])
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--secret-key-file")
        .arg(&key_file)
        // Bearer tokens are tested in access_control.rs; this test is about the transport.
        .arg("--insecure-no-auth")
        .arg("--tls-cert")
        .arg(&pki.server_cert)
        .arg("--tls-key")
        .arg(&pki.server_key)
        .arg("--tls-client-ca")
        .arg(&pki.ca);
    let coordinator = ChildGuard::spawn(
        "coordinator",
        coordinator,
        logs.path().join("coordinator.log"),
    );
    let url = format!("https://127.0.0.1:{port}");
    let full_tls = [
        pki.ca.as_path(),
        pki.client_cert.as_path(),
        pki.client_key.as_path(),
    ];

    // Wait until it leads, over TLS.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sluice(&url, &full_tls, &["job", "list"]).status.success() {
        assert!(
            Instant::now() < deadline,
            "the TLS coordinator did not answer; log:\n{}",
            coordinator.log_text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Plaintext (gRPC over cleartext HTTP/2) is refused.
    let plaintext = sluice(&format!("http://127.0.0.1:{port}"), &[], &["job", "list"]);
    assert!(!plaintext.status.success(), "a plaintext client was served");
    let mut raw = sluice_proto::v1::job_service_client::JobServiceClient::connect(format!(
        "http://127.0.0.1:{port}"
    ))
    .await
    .expect("the TCP connection itself opens");
    let answer = raw.list(sluice_proto::v1::ListJobsRequest::default()).await;
    assert!(
        answer.is_err(),
        "a plaintext gRPC call was answered: {answer:?}"
    );
    // TLS without a client certificate is refused too (the coordinator requires one).
    let anonymous = sluice(&url, &[pki.ca.as_path()], &["job", "list"]);
    assert!(
        !anonymous.status.success(),
        "a client without a certificate was served"
    );
    // A client that does not trust the coordinator's CA refuses it.
    let untrusting = sluice(&url, &[], &["job", "list"]);
    assert!(!untrusting.status.success());

    // A worker over TLS, and a real job.
    let mut worker = Command::new(sluice_binary());
    worker
        .arg("--coordinator")
        .arg(&url)
        .arg("--tls-ca")
        .arg(&pki.ca)
        .arg("--tls-client-cert")
        .arg(&pki.client_cert)
        .arg("--tls-client-key")
        .arg(&pki.client_key)
        .args(["worker", "--slots", "2", "--id", "tls-worker"]);
    let worker = ChildGuard::spawn("worker", worker, logs.path().join("worker.log"));
    let target = logs.path().join("tls_target.db");
    let spec = logs.path().join("job.yaml");
    std::fs::write(
        &spec,
        format!(
            "source: {{connection: {{type: generator, rows: 20000, seed: 11}}, split_pk: id}}\n\
             sink: {{connection: {{type: sqlite, path: {}}}, table: tls_events, create_table: true}}\n\
             settings: {{parallelism: 2, shard_rows: 2500}}\n",
            target.display()
        ),
    )
    .unwrap();
    let submitted = sluice(
        &url,
        &full_tls,
        &["job", "submit", spec.to_str().unwrap(), "--wait"],
    );
    assert!(
        submitted.status.success(),
        "the job over TLS failed; coordinator log:\n{}\nworker log:\n{}",
        coordinator.log_text(),
        worker.log_text()
    );
    assert_eq!(
        sqlite_digest(&target, "tls_events").await,
        generator_digest(20000, 11).await,
        "the target differs from the source"
    );
    drop(worker);
    drop(coordinator);
    drop(etcd);
}
