//! Command-line definition.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Sluice: distributed batch data integration. Copies tables and files between databases and
/// object stores as key-range shards spread over a cluster of workers, exactly once.
///
/// Quick start: `sluice run examples/quickstart-generate.yaml` runs a job on an in-process
/// cluster. A real cluster is etcd + `sluice coordinator` + any number of `sluice worker`s;
/// `sluice job submit` sends it work.
#[derive(Debug, Parser)]
#[command(
    name = "sluice",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Coordinator URL(s) for client commands and workers (comma-separated or repeated).
    #[arg(
        long,
        global = true,
        env = "SLUICE_COORDINATOR",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:7070"
    )]
    pub coordinator: Vec<String>,

    /// Output format of read commands.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable text.
    Text,
    /// JSON, for scripts.
    Json,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a coordinator (the control plane) on etcd.
    Coordinator(CoordinatorArgs),
    /// Run a worker (the data plane) connected to the coordinator(s) given by --coordinator.
    Worker(WorkerArgs),
    /// Run a coordinator and N workers in one process on an embedded metadata store.
    Standalone(StandaloneArgs),
    /// Run one job spec on an in-process cluster, with a progress bar and a summary (like `datax.py job.json`).
    Run(RunArgs),
    /// Submit, watch, list and cancel jobs on a running cluster.
    #[command(subcommand)]
    Job(JobCommand),
    /// Manage data sources (named connections) on a running cluster.
    #[command(subcommand, name = "ds", alias = "datasource")]
    DataSource(DataSourceCommand),
    /// Compare a job's source and sink: row count and an order-independent checksum of all columns.
    ///
    /// Reads both ends directly (no cluster needed) through the same connectors the workers use.
    /// Exits 0 only if they match.
    Compare(CompareArgs),
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|error| format!("\"{text}\" is not a duration like 10s, 500ms or 2m: {error}"))
}

/// Arguments of `sluice coordinator`.
#[derive(Debug, Args)]
pub struct CoordinatorArgs {
    /// etcd endpoint(s), comma-separated.
    #[arg(long, env = "SLUICE_ETCD", value_delimiter = ',', required = true)]
    pub etcd: Vec<String>,
    /// Key prefix of this cluster in etcd.
    #[arg(long, env = "SLUICE_ETCD_PREFIX", default_value = "/sluice")]
    pub etcd_prefix: String,
    /// Address to serve the gRPC API on.
    #[arg(long, env = "SLUICE_LISTEN", default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    /// Address to serve Prometheus metrics on (`/metrics`); off when not given.
    #[arg(long, env = "SLUICE_METRICS")]
    pub metrics: Option<SocketAddr>,
    /// A worker silent for this long is declared dead and its shards re-queued.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub worker_timeout: Duration,
    /// Id of this coordinator in logs and the leader record.
    #[arg(long)]
    pub id: Option<String>,
    /// URL clients and workers should use to reach this coordinator (default: http://LISTEN).
    #[arg(long, env = "SLUICE_ADVERTISE_URL")]
    pub advertise_url: Option<String>,
    /// TTL of the leader lease: a dead leader is replaced by a standby after at most this long.
    #[arg(long, default_value = "8s", value_parser = parse_duration)]
    pub leader_ttl: Duration,
}

/// Arguments of `sluice worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Shards this worker runs at once.
    #[arg(long, env = "SLUICE_SLOTS", default_value_t = 2)]
    pub slots: u32,
    /// Resource group this worker belongs to.
    #[arg(long, env = "SLUICE_GROUP", default_value = "default")]
    pub group: String,
    /// Address to serve Prometheus metrics on (`/metrics`); off when not given.
    #[arg(long, env = "SLUICE_METRICS")]
    pub metrics: Option<SocketAddr>,
    /// On SIGTERM, how long running shards may finish before they are cancelled and rolled back.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// Worker id (default: host name and a random suffix).
    #[arg(long)]
    pub id: Option<String>,
}

/// Arguments of `sluice standalone`.
#[derive(Debug, Args)]
pub struct StandaloneArgs {
    /// Directory of the embedded metadata store (created when missing).
    #[arg(long, default_value = ".sluice")]
    pub data_dir: PathBuf,
    /// Workers to run in the process.
    #[arg(long, default_value_t = 2)]
    pub workers: u32,
    /// Slots per worker.
    #[arg(long, default_value_t = 2)]
    pub slots: u32,
    /// Address to serve the gRPC API on.
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    /// Address to serve Prometheus metrics on (`/metrics`); off when not given.
    #[arg(long)]
    pub metrics: Option<SocketAddr>,
}

/// Arguments of `sluice run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Job spec file (JSON or YAML).
    pub file: PathBuf,
    /// Workers of the in-process cluster.
    #[arg(long, default_value_t = 2)]
    pub workers: u32,
    /// Slots per worker.
    #[arg(long, default_value_t = 2)]
    pub slots: u32,
    /// Keep the embedded metadata store here (default: a temporary directory).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Show the cluster's log lines (info level) instead of only warnings.
    #[arg(long, short)]
    pub verbose: bool,
}

/// `sluice job ...`
#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Submit a job spec; prints the job id (with --wait: watches it and exits 0 only on success).
    Submit(SubmitArgs),
    /// Follow a job with a progress bar until it ends; exits 0 only on success.
    Watch {
        /// Job id.
        id: String,
    },
    /// Show one job.
    Get {
        /// Job id.
        id: String,
        /// Also show its shards.
        #[arg(long)]
        shards: bool,
    },
    /// List jobs, newest first.
    List(ListArgs),
    /// Cancel a job; running shards roll back.
    Cancel {
        /// Job id.
        id: String,
    },
    /// Show the first rows of a job spec after column mapping and transformers, read from its
    /// source (inline connection) and written nowhere; needs no cluster.
    Preview {
        /// Job spec file (JSON, YAML or a DataX job).
        file: PathBuf,
        /// Rows to show.
        #[arg(long, default_value_t = 10)]
        rows: usize,
    },
}

/// Arguments of `sluice job submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Job spec file (JSON or YAML).
    pub file: PathBuf,
    /// Watch the job until it ends.
    #[arg(long)]
    pub wait: bool,
    /// Workspace.
    #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "default")]
    pub workspace: String,
    /// Environment: prod or dev.
    #[arg(long, env = "SLUICE_ENV", default_value = "prod")]
    pub env: String,
}

/// Arguments of `sluice job list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only jobs in this state.
    #[arg(long, value_enum)]
    pub state: Option<JobStateFilter>,
    /// Only jobs of this workspace.
    #[arg(long, short = 'w')]
    pub workspace: Option<String>,
    /// Jobs per page.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Page token from a previous list.
    #[arg(long)]
    pub page_token: Option<String>,
}

/// Job states for filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JobStateFilter {
    /// Planning.
    Planning,
    /// Running.
    Running,
    /// Finalizing.
    Finalizing,
    /// Succeeded.
    Succeeded,
    /// Failed.
    Failed,
    /// Cancelled.
    Cancelled,
}

/// `sluice ds ...`
#[derive(Debug, Subcommand)]
pub enum DataSourceCommand {
    /// Create a data source.
    Create(DataSourceArgs),
    /// Replace a data source's options (secrets not given are kept).
    Update(DataSourceArgs),
    /// Show a data source (secrets masked).
    Get {
        /// Name.
        name: String,
        /// Workspace.
        #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// List the data sources of a workspace.
    List {
        /// Workspace.
        #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Delete a data source.
    Delete {
        /// Name.
        name: String,
        /// Workspace.
        #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "default")]
        workspace: String,
    },
}

/// Arguments of `sluice ds create|update`.
#[derive(Debug, Args)]
pub struct DataSourceArgs {
    /// Name: letters, digits, `_` and `-`.
    pub name: String,
    /// Connector type (sqlite, generator, postgresql, ...).
    #[arg(long = "type", short = 't')]
    pub kind: Option<String>,
    /// An option as key=value (repeatable), e.g. --option path=/data/a.db.
    #[arg(long = "option", value_name = "KEY=VALUE")]
    pub options: Vec<String>,
    /// A secret option as key=value (repeatable); never shown again. Use key=@FILE to read it from a file.
    #[arg(long = "secret", value_name = "KEY=VALUE")]
    pub secrets: Vec<String>,
    /// Free text.
    #[arg(long, default_value = "")]
    pub description: String,
    /// Workspace.
    #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "default")]
    pub workspace: String,
}

/// Arguments of `sluice compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Job spec file (JSON or YAML); only inline connections can be compared without a cluster.
    pub file: PathBuf,
}
