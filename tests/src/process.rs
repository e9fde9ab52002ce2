//! Child processes held in guards that kill them on drop.

use crate::{free_port, sluice_binary};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct ChildGuard {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl ChildGuard {
    /// Spawns `command`, sending stdout and stderr to `log`.
    pub fn spawn(name: &str, mut command: Command, log: PathBuf) -> ChildGuard {
        let file =
            File::create(&log).unwrap_or_else(|error| panic!("create {}: {error}", log.display()));
        let stderr = file.try_clone().expect("clone log handle");
        command
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(stderr))
            .stdin(Stdio::null());
        let child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {name} ({command:?}): {error}"));
        println!("started {name} (pid {}), log {}", child.id(), log.display());
        ChildGuard {
            name: name.to_string(),
            child: Some(child),
            log,
        }
    }

    /// Returns the process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends a signal by name (`KILL`, `TERM`, `STOP`, `CONT`).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(
            status.success(),
            "kill -{signal} {} ({}) failed",
            self.pid(),
            self.name
        );
        println!("sent SIG{signal} to {} (pid {})", self.name, self.pid());
    }

    /// Waits for the process to exit on its own; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                panic!(
                    "{} did not exit within {timeout:?}; log: {}",
                    self.name,
                    self.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Returns the log written so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A real etcd server on free loopback ports with a temporary data directory.
pub struct Etcd {
    /// Client URL.
    pub endpoint: String,
    arguments: Vec<String>,
    log_dir: PathBuf,
    starts: u32,
    process: Option<ChildGuard>,
    _data: tempfile::TempDir,
}

impl Etcd {
    /// Starts etcd and waits until it answers.
    pub async fn start(logs: &Path) -> Etcd {
        let found = Command::new("etcd")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        assert!(
            found.is_ok_and(|status| status.success()),
            "etcd is not installed: run scripts/setup.sh (it runs `apt-get install -y etcd-server`)"
        );
        let data = tempfile::tempdir().expect("etcd data dir");
        let client_port = free_port();
        let peer_port = free_port();
        let endpoint = format!("http://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let arguments = vec![
            "--name".to_string(),
            "e2e".to_string(),
            "--data-dir".to_string(),
            data.path().display().to_string(),
            "--listen-client-urls".to_string(),
            endpoint.clone(),
            "--advertise-client-urls".to_string(),
            endpoint.clone(),
            "--listen-peer-urls".to_string(),
            peer.clone(),
            "--initial-advertise-peer-urls".to_string(),
            peer.clone(),
            "--initial-cluster".to_string(),
            format!("e2e={peer}"),
        ];
        let mut etcd = Etcd {
            endpoint,
            arguments,
            log_dir: logs.to_path_buf(),
            starts: 0,
            process: None,
            _data: data,
        };
        etcd.restart().await;
        etcd
    }

    /// Returns etcd's data directory (its WAL and database files).
    pub fn data_dir(&self) -> &Path {
        self._data.path()
    }

    /// Returns every key and value in etcd, as `etcdctl get --prefix ""` prints them.
    pub fn dump(&self) -> String {
        let output = Command::new("etcdctl")
            .arg("--endpoints")
            .arg(&self.endpoint)
            .arg("get")
            .arg("--prefix")
            .arg("")
            .output()
            .expect("run etcdctl (installed with etcd by scripts/setup.sh)");
        assert!(
            output.status.success(),
            "etcdctl get failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Stops etcd (SIGKILL); its data directory is kept for [`Etcd::restart`].
    pub fn stop(&mut self) {
        if let Some(process) = self.process.take() {
            process.signal("KILL");
            drop(process);
        }
    }

    /// Starts etcd again on the same ports and data and waits until it answers.
    pub async fn restart(&mut self) {
        self.starts += 1;
        let mut command = Command::new("etcd");
        command.args(&self.arguments);
        let process = ChildGuard::spawn(
            "etcd",
            command,
            self.log_dir.join(format!("etcd-{}.log", self.starts)),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match sluice_common::meta::etcd::EtcdStore::connect(
                std::slice::from_ref(&self.endpoint),
                "/probe",
            )
            .await
            {
                Ok(_) => break,
                Err(error) => {
                    assert!(
                        Instant::now() < deadline,
                        "etcd did not come up: {error}; log: {}",
                        process.log_text()
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        self.process = Some(process);
    }
}

/// Coordinator and worker processes of one test.
pub struct Cluster {
    /// Directory of the logs (kept after the test when it fails).
    pub logs: tempfile::TempDir,
    /// The etcd server.
    pub etcd: Etcd,
    /// Coordinator processes.
    pub coordinators: Vec<ChildGuard>,
    /// Coordinator URLs, in the order of `coordinators`.
    pub coordinator_urls: Vec<String>,
    /// Coordinator metrics addresses.
    pub coordinator_metrics: Vec<String>,
    /// Worker processes.
    pub workers: Vec<ChildGuard>,
    /// Worker ids, in the order of `workers`.
    pub worker_ids: Vec<String>,
    /// `--leader-ttl` of coordinators started from now on.
    pub leader_ttl: String,
    /// `--report-interval` of workers started from now on.
    pub worker_report_interval: String,
    /// `--data-location` of coordinators started from now on (none by default).
    pub data_location: Option<String>,
    /// The secret key file coordinators start with (`sluice coordinator keygen`).
    pub secret_key_file: PathBuf,
    /// `SLUICE_LOG` of processes started from now on (default: their own, info).
    pub log_filter: Option<String>,
    /// With authentication ([`Cluster::start_with_auth`]): the cluster admin token file
    /// coordinators start with; `None`: coordinators run with `--insecure-no-auth`.
    pub admin_token_file: Option<PathBuf>,
    /// With authentication: the cluster token file coordinators start with.
    pub cluster_token_file: Option<PathBuf>,
    /// `--cluster-token-file` of workers started from now on (by default the cluster's).
    pub worker_token_file: Option<PathBuf>,
    prefix: String,
}

impl Cluster {
    /// Starts etcd only.
    pub async fn start() -> Cluster {
        let logs = tempfile::Builder::new()
            .prefix("sluice-e2e-")
            .tempdir()
            .expect("log dir");
        let etcd = Etcd::start(logs.path()).await;
        let secret_key_file = logs.path().join("secret.key");
        let keygen = Command::new(sluice_binary())
            .args(["coordinator", "keygen", "--out"])
            .arg(&secret_key_file)
            .output()
            .expect("run sluice coordinator keygen");
        assert!(
            keygen.status.success(),
            "sluice coordinator keygen failed: {}",
            String::from_utf8_lossy(&keygen.stderr)
        );
        Cluster {
            logs,
            etcd,
            coordinators: Vec::new(),
            coordinator_urls: Vec::new(),
            coordinator_metrics: Vec::new(),
            workers: Vec::new(),
            worker_ids: Vec::new(),
            leader_ttl: "5s".to_string(),
            worker_report_interval: "1s".to_string(),
            data_location: None,
            secret_key_file,
            log_filter: None,
            admin_token_file: None,
            cluster_token_file: None,
            worker_token_file: None,
            prefix: "/sluice-e2e".to_string(),
        }
    }

    /// Starts etcd only; coordinators started from now on need tokens: the cluster admin
    /// token ([`Cluster::admin_token`]) and the cluster token workers present, each written
    /// by `sluice coordinator token-gen`.
    pub async fn start_with_auth() -> Cluster {
        let mut cluster = Cluster::start().await;
        let admin = cluster.logs.path().join("admin.token");
        let workers = cluster.logs.path().join("cluster.token");
        for path in [&admin, &workers] {
            let generated = Command::new(sluice_binary())
                .args(["coordinator", "token-gen", "--out"])
                .arg(path)
                .output()
                .expect("run sluice coordinator token-gen");
            assert!(
                generated.status.success(),
                "sluice coordinator token-gen failed: {}",
                String::from_utf8_lossy(&generated.stderr)
            );
        }
        cluster.admin_token_file = Some(admin);
        cluster.cluster_token_file = Some(workers.clone());
        cluster.worker_token_file = Some(workers);
        cluster
    }

    /// Returns the cluster admin token (with authentication).
    pub fn admin_token(&self) -> Option<String> {
        let path = self.admin_token_file.as_ref()?;
        Some(
            std::fs::read_to_string(path)
                .expect("read the admin token")
                .trim()
                .to_string(),
        )
    }

    /// Starts a coordinator process and waits until its API answers; returns its URL.
    pub async fn add_coordinator(&mut self) -> String {
        let port = free_port();
        let metrics_port = free_port();
        let index = self.coordinators.len() + 1;
        let mut command = Command::new(sluice_binary());
        command
            .arg("coordinator")
            .arg("--etcd")
            .arg(&self.etcd.endpoint)
            .arg("--etcd-prefix")
            .arg(&self.prefix)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--metrics")
            .arg(format!("127.0.0.1:{metrics_port}"))
            .arg("--worker-timeout")
            .arg("5s")
            .arg("--leader-ttl")
            .arg(&self.leader_ttl)
            .arg("--id")
            .arg(format!("coordinator-{index}"))
            .arg("--secret-key-file")
            .arg(&self.secret_key_file);
        if let Some(location) = &self.data_location {
            command.arg("--data-location").arg(location);
        }
        match (&self.admin_token_file, &self.cluster_token_file) {
            (Some(admin), Some(workers)) => {
                command
                    .arg("--admin-token-file")
                    .arg(admin)
                    .arg("--cluster-token-file")
                    .arg(workers);
            }
            _ => {
                command.arg("--insecure-no-auth");
            }
        }
        if let Some(filter) = &self.log_filter {
            command.env("SLUICE_LOG", filter);
        }
        let guard = ChildGuard::spawn(
            &format!("coordinator-{index}"),
            command,
            self.logs.path().join(format!("coordinator-{index}.log")),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut client = crate::job_client(&url, Duration::from_secs(20)).await;
        if self.coordinators.is_empty() {
            // The first coordinator wins the election: wait until it serves jobs.
            let deadline = Instant::now() + Duration::from_secs(20);
            let admin_token = self.admin_token();
            let probe = || {
                crate::with_token(
                    sluice_proto::v1::ListJobsRequest {
                        page_size: 1,
                        ..Default::default()
                    },
                    admin_token.as_deref(),
                )
            };
            while client.list(probe()).await.is_err() {
                assert!(
                    Instant::now() < deadline,
                    "coordinator-{index} did not become leader"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        self.coordinators.push(guard);
        self.coordinator_urls.push(url.clone());
        self.coordinator_metrics
            .push(format!("127.0.0.1:{metrics_port}"));
        url
    }

    /// Starts a worker process connected to every coordinator; returns its id.
    pub fn add_worker(&mut self, slots: u32) -> String {
        self.add_worker_in_group(slots, None)
    }

    /// Starts a worker process of resource `group` (`--group`; `None`: the default group)
    /// connected to every coordinator; returns its id.
    pub fn add_worker_in_group(&mut self, slots: u32, group: Option<&str>) -> String {
        let index = self.workers.len() + 1;
        let worker_id = format!("worker-{index}");
        let mut command = Command::new(sluice_binary());
        command
            .arg("worker")
            .arg("--coordinator")
            .arg(self.coordinator_urls.join(","))
            .arg("--slots")
            .arg(slots.to_string())
            .arg("--id")
            .arg(&worker_id)
            .arg("--drain-timeout")
            .arg("30s")
            .arg("--report-interval")
            .arg(&self.worker_report_interval);
        if let Some(group) = group {
            command.arg("--group").arg(group);
        }
        if let Some(token_file) = &self.worker_token_file {
            command.arg("--cluster-token-file").arg(token_file);
        }
        if let Some(filter) = &self.log_filter {
            command.env("SLUICE_LOG", filter);
        }
        let guard = ChildGuard::spawn(
            &worker_id,
            command,
            self.logs.path().join(format!("{worker_id}.log")),
        );
        self.workers.push(guard);
        self.worker_ids.push(worker_id.clone());
        worker_id
    }

    /// Waits until the first coordinator counts `count` registered workers (so that a job
    /// submitted next can spread over all of them).
    pub async fn wait_for_workers(&self, count: usize) {
        let address = &self.coordinator_metrics[0];
        let expected = format!("sluice_workers {count}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let metrics = crate::fetch_metrics(address);
            if metrics.lines().any(|line| line.trim() == expected) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{count} workers did not register within 20 s; metrics:\n{metrics}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Returns the name and text of every log of this cluster (etcd's included).
    pub fn all_logs(&self) -> Vec<(String, String)> {
        let mut logs = Vec::new();
        if let Ok(entries) = std::fs::read_dir(self.logs.path()) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|extension| extension == "log") {
                    let text = std::fs::read(&path).unwrap_or_default();
                    logs.push((
                        path.display().to_string(),
                        String::from_utf8_lossy(&text).into_owned(),
                    ));
                }
            }
        }
        logs
    }

    /// Prints every log (for failing tests).
    pub fn dump_logs(&self) {
        for guard in self.coordinators.iter().chain(&self.workers) {
            println!("----- {} -----\n{}", guard.name, guard.log_text());
        }
    }
}
