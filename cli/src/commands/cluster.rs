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
use sluice_common::tokens::Token;
use sluice_coordinator::auth::AuthConfig;
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

/// Reads a token file, warning when others than its owner may read it.
fn read_token_file(path: &Path, flag: &str) -> anyhow::Result<Token> {
    let token = Token::read_file(path).with_context(|| flag.to_string())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path) {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "the token file may be read by others than its owner: chmod 600 it");
            }
        }
    }
    Ok(token)
}

/// Returns how `sluice coordinator` authenticates calls, or why it must not start.
fn coordinator_auth(args: &CoordinatorArgs) -> anyhow::Result<AuthConfig> {
    if args.insecure_no_auth {
        return Ok(AuthConfig::Disabled);
    }
    match (&args.admin_token_file, &args.cluster_token_file) {
        (Some(admin), Some(cluster)) => {
            let admin_token = read_token_file(admin, "--admin-token-file")?;
            let cluster_token = read_token_file(cluster, "--cluster-token-file")?;
            anyhow::ensure!(
                admin_token != cluster_token,
                "--admin-token-file and --cluster-token-file hold the same token: give workers their own (`sluice coordinator token-gen --out FILE`)"
            );
            Ok(AuthConfig::Enabled {
                admin_token: Some(admin_token.hash()),
                cluster_token: Some(cluster_token.hash()),
            })
        }
        _ => anyhow::bail!(
            "no tokens: give --admin-token-file FILE and --cluster-token-file FILE (or SLUICE_ADMIN_TOKEN_FILE and SLUICE_CLUSTER_TOKEN_FILE) so every call is authenticated; create each with `sluice coordinator token-gen --out FILE`. For a throwaway development cluster only, --insecure-no-auth serves every call without a token"
        ),
    }
}

/// `sluice coordinator token-gen --out FILE`.
fn token_gen(out: &Path) -> anyhow::Result<ExitCode> {
    let token = Token::generate()?;
    token.write_new_file(out)?;
    println!(
        "wrote a new token ({}) to {} (mode 0600); give it to coordinators as --admin-token-file or --cluster-token-file, and to workers as --cluster-token-file",
        token.hash().id(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
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
        Some(CoordinatorAction::TokenGen { out }) => return token_gen(&out),
        None => {}
    }
    telemetry::init_tracing("info");
    let secrets = coordinator_cipher(&args)?;
    let auth = coordinator_auth(&args)?;
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
        auth,
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
    if let Some(path) = &args.cluster_token_file {
        config.cluster_token = Some(read_token_file(path, "--cluster-token-file")?);
    }
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
        admin_token: Option<&Token>,
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
        // With an admin token, calls need tokens; the in-process workers then present a
        // cluster token drawn for this process only.
        let cluster_token = match admin_token {
            Some(_) => Some(Token::generate()?),
            None => None,
        };
        let auth = match (admin_token, &cluster_token) {
            (Some(admin), Some(cluster)) => AuthConfig::Enabled {
                admin_token: Some(admin.hash()),
                cluster_token: Some(cluster.hash()),
            },
            _ => AuthConfig::Disabled,
        };
        let (stop_coordinator, coordinator_stop) = watch::channel(false);
        let coordinator_task = tokio::spawn(sluice_coordinator::serve(
            listener,
            store,
            CoordinatorConfig {
                coordinator_id: "standalone".to_string(),
                secrets,
                data_location: Some(data_dir.join("data").display().to_string()),
                auth,
                ..CoordinatorConfig::default()
            },
            wait_for(coordinator_stop),
        ));
        // Workers connect once the coordinator leads, so none is turned away at start.
        wait_until_leading(&url, admin_token).await?;
        let (stop_workers, workers_stop) = watch::channel(false);
        let mut worker_tasks = Vec::new();
        for index in 0..workers {
            let mut config = WorkerConfig::new(vec![url.clone()]);
            config.slots = slots;
            config.worker_id = WorkerId(format!("local-{}", index + 1));
            config.cluster_token = cluster_token.clone();
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
async fn wait_until_leading(url: &str, token: Option<&Token>) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Ok(mut client) =
            sluice_proto::v1::job_service_client::JobServiceClient::connect(url.to_string()).await
        {
            let mut request = tonic::Request::new(sluice_proto::v1::ListJobsRequest {
                page_size: 1,
                ..Default::default()
            });
            if let Some(token) = token {
                let header = format!("Bearer {}", token.expose())
                    .parse()
                    .context("the admin token is not a valid header value")?;
                request.metadata_mut().insert("authorization", header);
            }
            if client.list(request).await.is_ok() {
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
    let admin_token = match &args.admin_token_file {
        Some(path) => Some(read_token_file(path, "--admin-token-file")?),
        None if args.listen.ip().is_loopback() => {
            tracing::info!("no --admin-token-file: calls need no token (only this machine can reach {})", args.listen);
            None
        }
        None if args.insecure_no_auth => {
            tracing::warn!(listen = %args.listen, "--insecure-no-auth: anyone who reaches this address may do anything");
            None
        }
        None => anyhow::bail!(
            "--listen {} is reachable from other machines: give --admin-token-file FILE (create it with `sluice coordinator token-gen --out FILE`) so calls need tokens, or --insecure-no-auth",
            args.listen
        ),
    };
    let cluster = LocalCluster::start(
        &args.data_dir,
        args.listen,
        args.workers,
        args.slots,
        args.secret_key_file.as_deref(),
        admin_token.as_ref(),
    )
    .await?;
    tracing::info!(url = %cluster.url, workers = args.workers, slots = args.slots, data_dir = %args.data_dir.display(), "standalone cluster ready");
    shutdown_signal().await;
    cluster.stop().await?;
    Ok(ExitCode::SUCCESS)
}
