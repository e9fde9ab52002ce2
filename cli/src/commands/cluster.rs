//! `sluice coordinator`, `sluice worker`, `sluice standalone`, and the in-process cluster that
//! `standalone` and `run` share.

use crate::cli::{CoordinatorAction, CoordinatorArgs, RotateKeyArgs, StandaloneArgs, WorkerArgs};
use crate::signals::shutdown_signal;
use anyhow::Context;
use sluice_common::ids::WorkerId;
use sluice_common::meta::embedded::EmbeddedStore;
use sluice_common::meta::etcd::EtcdStore;
use sluice_common::meta::SharedMetaStore;
use sluice_common::secrets::{SecretCipher, SecretKey};
use sluice_common::telemetry;
use sluice_coordinator::CoordinatorConfig;
use sluice_worker::WorkerConfig;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

fn start_metrics(address: Option<SocketAddr>) -> anyhow::Result<()> {
    if let Some(address) = address {
        telemetry::serve_metrics(address)?;
        tracing::info!(%address, "serving Prometheus metrics at /metrics");
    }
    Ok(())
}

/// Reads a key file, warning when others than its owner may read it.
fn read_key_file(path: &Path) -> anyhow::Result<SecretKey> {
    let key = SecretKey::read_file(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path) {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "the secret key file may be read by others than its owner: chmod 600 it");
            }
        }
    }
    Ok(key)
}

/// Returns the cipher `sluice coordinator` runs with, or why it must not start.
fn coordinator_cipher(args: &CoordinatorArgs) -> anyhow::Result<SecretCipher> {
    match (&args.secret_key_file, args.insecure_dev_secrets) {
        (Some(path), _) => Ok(SecretCipher::new(read_key_file(path)?)),
        (None, true) => Ok(SecretCipher::insecure_dev()),
        (None, false) => anyhow::bail!(
            "no secret key: give --secret-key-file FILE (or SLUICE_SECRET_KEY_FILE) so passwords are encrypted before they reach etcd; create one with `sluice coordinator keygen --out FILE`. For a throwaway development cluster only, --insecure-dev-secrets seals them under a public key"
        ),
    }
}

/// `sluice coordinator keygen --out FILE`.
fn keygen(out: &Path) -> anyhow::Result<ExitCode> {
    let key = SecretKey::generate()?;
    key.write_new_file(out)?;
    println!(
        "wrote secret key {} to {} (mode 0600); start coordinators with --secret-key-file {}",
        key.id(),
        out.display(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `sluice coordinator rotate-key`.
async fn rotate_key(args: RotateKeyArgs) -> anyhow::Result<ExitCode> {
    telemetry::init_tracing("info");
    let new_key = read_key_file(&args.new_key_file)?;
    let mut cipher = SecretCipher::new(new_key);
    for path in &args.old_key_files {
        cipher = cipher.with_previous(read_key_file(path)?);
    }
    if args.old_insecure_dev_secrets {
        cipher = cipher.with_previous(SecretKey::insecure_dev());
    }
    let store = EtcdStore::connect(&args.etcd, &args.etcd_prefix)
        .await
        .context("cannot open the metadata store")?;
    let report = sluice_coordinator::rotate::rotate_secrets(&store, &cipher).await?;
    println!(
        "checked {} records: resealed {} data source(s) and {} job(s) under key {}",
        report.records_checked,
        report.data_sources_rewritten,
        report.jobs_rewritten,
        cipher.primary_key_id()
    );
    Ok(ExitCode::SUCCESS)
}

/// `sluice coordinator`.
pub async fn coordinator(args: CoordinatorArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        Some(CoordinatorAction::Keygen { out }) => return keygen(&out),
        Some(CoordinatorAction::RotateKey(rotate)) => return rotate_key(rotate).await,
        None => {}
    }
    telemetry::init_tracing("info");
    let secrets = coordinator_cipher(&args)?;
    start_metrics(args.metrics)?;
    let store = EtcdStore::connect(&args.etcd, &args.etcd_prefix)
        .await
        .context("cannot open the metadata store")?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let mut config = CoordinatorConfig {
        worker_timeout: args.worker_timeout,
        leader_ttl: args.leader_ttl,
        advertise_url: args.advertise_url.unwrap_or_default(),
        secrets,
        data_location: args.data_location,
        tls: crate::tls::server_tls(
            args.tls_cert.as_deref(),
            args.tls_key.as_deref(),
            args.tls_client_ca.as_deref(),
        )?,
        ..CoordinatorConfig::default()
    };
    if let Some(id) = args.id {
        config.coordinator_id = id;
    }
    sluice_coordinator::serve(listener, Arc::new(store), config, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// `sluice worker`.
pub async fn worker(args: WorkerArgs, coordinators: Vec<String>) -> anyhow::Result<ExitCode> {
    telemetry::init_tracing("info");
    start_metrics(args.metrics)?;
    let mut config = WorkerConfig::new(coordinators);
    config.slots = args.slots;
    config.resource_group = args.group;
    config.drain_timeout = args.drain_timeout;
    config.report_interval = args
        .report_interval
        .max(std::time::Duration::from_millis(50));
    if let Some(id) = args.id {
        config.worker_id = WorkerId(id);
    }
    config.tls = crate::tls::client_tls();
    sluice_worker::run(config, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// A coordinator and workers in this process, on an embedded store.
pub struct LocalCluster {
    /// URL of the coordinator.
    pub url: String,
    stop_workers: watch::Sender<bool>,
    stop_coordinator: watch::Sender<bool>,
    coordinator_task: JoinHandle<Result<(), sluice_coordinator::ServeError>>,
    worker_tasks: Vec<JoinHandle<Result<(), sluice_worker::WorkerError>>>,
}

impl LocalCluster {
    /// Starts the coordinator on `listen` (port 0 picks a free one) and `workers` workers.
    /// Secrets are sealed under the key in `secret_key_file`, by default `secret.key` in
    /// `data_dir`, created on first start: the embedded store then never holds a plaintext
    /// secret, and `sluice run`'s temporary directory takes its key with it.
    pub async fn start(
        data_dir: &Path,
        listen: SocketAddr,
        workers: u32,
        slots: u32,
        secret_key_file: Option<&Path>,
    ) -> anyhow::Result<LocalCluster> {
        let secrets = SecretCipher::new(match secret_key_file {
            Some(path) => read_key_file(path)?,
            None => key_in_data_dir(data_dir)?,
        });
        let store_path = data_dir.join("meta.redb");
        let store: SharedMetaStore =
            Arc::new(EmbeddedStore::open(&store_path).await.with_context(|| {
                format!(
                    "cannot open the embedded metadata store in {}",
                    data_dir.display()
                )
            })?);
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let address = listener.local_addr()?;
        let url = format!("http://{address}");
        let (stop_coordinator, coordinator_stop) = watch::channel(false);
        let coordinator_task = tokio::spawn(sluice_coordinator::serve(
            listener,
            store,
            CoordinatorConfig {
                coordinator_id: "standalone".to_string(),
                secrets,
                data_location: Some(data_dir.join("data").display().to_string()),
                ..CoordinatorConfig::default()
            },
            wait_for(coordinator_stop),
        ));
        // Workers connect once the coordinator leads, so none is turned away at start.
        wait_until_leading(&url).await?;
        let (stop_workers, workers_stop) = watch::channel(false);
        let mut worker_tasks = Vec::new();
        for index in 0..workers {
            let mut config = WorkerConfig::new(vec![url.clone()]);
            config.slots = slots;
            config.worker_id = WorkerId(format!("local-{}", index + 1));
            worker_tasks.push(tokio::spawn(sluice_worker::run(
                config,
                wait_for(workers_stop.clone()),
            )));
        }
        Ok(LocalCluster {
            url,
            stop_workers,
            stop_coordinator,
            coordinator_task,
            worker_tasks,
        })
    }

    /// Drains the workers, then stops the coordinator.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop_workers.send(true);
        for task in self.worker_tasks {
            task.await.context("a worker task panicked")??;
        }
        let _ = self.stop_coordinator.send(true);
        self.coordinator_task
            .await
            .context("the coordinator task panicked")??;
        Ok(())
    }
}

/// Returns the key in `data_dir/secret.key`, creating it (mode 0600) when missing.
fn key_in_data_dir(data_dir: &Path) -> anyhow::Result<SecretKey> {
    let path = data_dir.join("secret.key");
    if path.exists() {
        return read_key_file(&path);
    }
    let key = SecretKey::generate()?;
    key.write_new_file(&path)?;
    tracing::info!(path = %path.display(), key_id = %key.id(), "created the secret key of the embedded store");
    Ok(key)
}

/// Waits until the in-process coordinator has won its election and serves jobs.
async fn wait_until_leading(url: &str) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Ok(mut client) =
            sluice_proto::v1::job_service_client::JobServiceClient::connect(url.to_string()).await
        {
            let probe = client
                .list(sluice_proto::v1::ListJobsRequest {
                    page_size: 1,
                    ..Default::default()
                })
                .await;
            if probe.is_ok() {
                return Ok(());
            }
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("the in-process coordinator at {url} did not become ready within 20 s");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn wait_for(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// `sluice standalone`.
pub async fn standalone(args: StandaloneArgs) -> anyhow::Result<ExitCode> {
    telemetry::init_tracing("info");
    start_metrics(args.metrics)?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let cluster = LocalCluster::start(
        &args.data_dir,
        args.listen,
        args.workers,
        args.slots,
        args.secret_key_file.as_deref(),
    )
    .await?;
    tracing::info!(url = %cluster.url, workers = args.workers, slots = args.slots, data_dir = %args.data_dir.display(), "standalone cluster ready");
    shutdown_signal().await;
    cluster.stop().await?;
    Ok(ExitCode::SUCCESS)
}
