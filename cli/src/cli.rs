//! Command-line definition.

use crate::params::ParamArgs;
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
///
/// Client commands authenticate with a bearer token: --token, else SLUICE_TOKEN, else the
/// `token` (or `token_file`) of the profile file (--profile, SLUICE_PROFILE, default
/// ~/.config/sluice/profile.yaml, which may also name the coordinators). An admin issues
/// tokens with `sluice member token issue MEMBER --workspace WS`.
#[derive(Debug, Parser)]
#[command(
    name = "sluice",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Coordinator URL(s) for client commands and workers (comma-separated or repeated;
    /// default: the profile's `coordinator`, else http://127.0.0.1:7070).
    #[arg(long, global = true, env = "SLUICE_COORDINATOR", value_delimiter = ',')]
    pub coordinator: Vec<String>,

    /// Bearer token of client commands (`slu_...`); issued by `sluice member token issue`.
    #[arg(long, global = true, env = "SLUICE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Profile file (YAML: `coordinator`, `token` or `token_file`); must not be readable by
    /// others when it holds a token. Default: ~/.config/sluice/profile.yaml when it exists.
    #[arg(long, global = true, env = "SLUICE_PROFILE")]
    pub profile: Option<PathBuf>,

    /// Output format of read commands.
    #[arg(long, short = 'o', global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// Threads of the process's async runtime (default: one per core). A process that shares
    /// its cores with the databases it copies between may do better with fewer: on a 2-core
    /// machine running PostgreSQL too, one thread spent ~5% less CPU on a 5M-row copy and was
    /// 1-3% faster.
    #[arg(long, global = true, env = "SLUICE_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,

    /// TLS towards the coordinator (client commands and workers).
    #[command(flatten)]
    pub tls: ClientTlsArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// TLS settings of client commands and workers.
#[derive(Debug, Args)]
pub struct ClientTlsArgs {
    /// CA certificate (PEM) that signed the coordinator's certificate; with it, coordinator
    /// URLs are reached over TLS (use https:// URLs naming the host in the certificate).
    #[arg(long, global = true, env = "SLUICE_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// This client's certificate (PEM), for a coordinator started with --tls-client-ca.
    #[arg(
        long,
        global = true,
        env = "SLUICE_TLS_CLIENT_CERT",
        requires = "tls_client_key"
    )]
    pub tls_client_cert: Option<PathBuf>,
    /// The key (PEM) of --tls-client-cert.
    #[arg(
        long,
        global = true,
        env = "SLUICE_TLS_CLIENT_KEY",
        requires = "tls_client_cert"
    )]
    pub tls_client_key: Option<PathBuf>,
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
    Coordinator(Box<CoordinatorArgs>),
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
    /// Run a job spec on a cron schedule in a time zone; pause, resume and backfill it.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Manage workspaces (basic: prod only; standard: dev and prod) on a running cluster.
    #[command(subcommand, name = "ws", alias = "workspace")]
    Workspace(WorkspaceCommand),
    /// Manage the members of a workspace, their roles (admin, developer, operator, viewer)
    /// and their tokens.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Compare a job's source and sink: row count and an order-independent checksum of all columns.
    ///
    /// Reads both ends directly (no cluster needed) through the same connectors the workers use.
    /// Exits 0 only if they match.
    Compare(CompareArgs),
}

impl Command {
    /// Returns whether the command calls a running cluster's API (and so needs a token).
    pub fn is_client(&self) -> bool {
        matches!(
            self,
            Command::Job(_)
                | Command::DataSource(_)
                | Command::Schedule(_)
                | Command::Workspace(_)
                | Command::Member(_)
        )
    }
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|error| format!("\"{text}\" is not a duration like 10s, 500ms or 2m: {error}"))
}

/// Arguments of `sluice coordinator`.
#[derive(Debug, Args)]
#[command(subcommand_negates_reqs = true)]
pub struct CoordinatorArgs {
    /// Key management instead of running the coordinator.
    #[command(subcommand)]
    pub action: Option<CoordinatorAction>,
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
    /// The cluster's data location, where workers store every dirty record in full (JSON
    /// lines) and `sluice job dirty` reads them: an absolute directory every worker and
    /// coordinator can reach (a shared volume), `file:///dir`, or `s3://bucket/prefix` (AWS_*
    /// environment). Without it only samples of dirty records are kept.
    #[arg(long, env = "SLUICE_DATA_LOCATION")]
    pub data_location: Option<String>,
    /// Key file that seals secrets (passwords) before they reach etcd (AES-256-GCM); create
    /// one with `sluice coordinator keygen --out FILE`. Required unless --insecure-dev-secrets.
    #[arg(long, env = "SLUICE_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// Development only: seal secrets under a built-in public key instead of a key file
    /// (anyone who can read etcd can read them).
    #[arg(long, conflicts_with = "secret_key_file")]
    pub insecure_dev_secrets: bool,
    /// Serve the gRPC API over TLS with this certificate chain (PEM, leaf first); clients
    /// and workers then use https:// URLs and --tls-ca.
    #[arg(long, env = "SLUICE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "SLUICE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require clients and workers to present a certificate signed by this CA (PEM): mutual TLS.
    #[arg(long, env = "SLUICE_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// File holding the cluster admin token (creates workspaces and their first members;
    /// everything in every workspace). Create it with `sluice coordinator token-gen --out
    /// FILE`. Required unless --insecure-no-auth.
    #[arg(long, env = "SLUICE_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// File holding the cluster token workers present (`sluice worker --cluster-token-file`).
    /// Required unless --insecure-no-auth.
    #[arg(long, env = "SLUICE_CLUSTER_TOKEN_FILE")]
    pub cluster_token_file: Option<PathBuf>,
    /// Development only: serve every call without a token (anyone who reaches the port may
    /// do anything).
    #[arg(long, conflicts_with_all = ["admin_token_file", "cluster_token_file"])]
    pub insecure_no_auth: bool,
}

/// `sluice coordinator keygen|rotate-key`.
#[derive(Debug, Subcommand)]
pub enum CoordinatorAction {
    /// Write a new random secret key file (mode 0600) for --secret-key-file.
    Keygen {
        /// Where to write it; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// Seal every stored secret again under a new key. Stop every coordinator first, then
    /// start them with --secret-key-file set to the new key.
    RotateKey(RotateKeyArgs),
    /// Write a new random token file (mode 0600) for --admin-token-file or
    /// --cluster-token-file.
    TokenGen {
        /// Where to write it; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Arguments of `sluice coordinator rotate-key`.
#[derive(Debug, Args)]
pub struct RotateKeyArgs {
    /// etcd endpoint(s), comma-separated.
    #[arg(long, env = "SLUICE_ETCD", value_delimiter = ',', required = true)]
    pub etcd: Vec<String>,
    /// Key prefix of the cluster in etcd.
    #[arg(long, env = "SLUICE_ETCD_PREFIX", default_value = "/sluice")]
    pub etcd_prefix: String,
    /// The key secrets are sealed under now (repeat if some values are under older keys).
    #[arg(
        long = "old-key-file",
        required_unless_present = "old_insecure_dev_secrets"
    )]
    pub old_key_files: Vec<PathBuf>,
    /// The secrets are sealed under the public key of --insecure-dev-secrets now.
    #[arg(long)]
    pub old_insecure_dev_secrets: bool,
    /// The key to seal them under.
    #[arg(long)]
    pub new_key_file: PathBuf,
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
    /// How often the worker reports each running shard's progress (counters, dirty samples).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub report_interval: Duration,
    /// Worker id (default: host name and a random suffix).
    #[arg(long)]
    pub id: Option<String>,
    /// File holding the cluster token (the coordinators' --cluster-token-file); needed
    /// unless the coordinators run with --insecure-no-auth.
    #[arg(long, env = "SLUICE_CLUSTER_TOKEN_FILE")]
    pub cluster_token_file: Option<PathBuf>,
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
    /// Key file that seals stored secrets (default: `secret.key` in --data-dir, created on
    /// first start).
    #[arg(long, env = "SLUICE_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// File holding the cluster admin token: calls then need tokens (see `sluice member`).
    /// Without it a standalone on a loopback address serves every call without a token, and
    /// one on another address refuses to start unless --insecure-no-auth.
    #[arg(long, env = "SLUICE_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// Serve every call without a token even on a non-loopback --listen address.
    #[arg(long, conflicts_with = "admin_token_file")]
    pub insecure_no_auth: bool,
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
    /// Placeholder values.
    #[command(flatten)]
    pub params: ParamArgs,
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
        /// Placeholder values.
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Show a job's dirty records in full (row values, column, stage, error) from the
    /// dirty-data store (coordinators need --data-location; `sluice run --data-dir` keeps it).
    Dirty {
        /// Job id.
        id: String,
        /// Most records to show.
        #[arg(long, default_value_t = 100)]
        limit: u32,
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
    /// Placeholder values.
    #[command(flatten)]
    pub params: ParamArgs,
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
    /// Replace one environment's config of a data source (--env; secrets not given are kept),
    /// or add it.
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
    /// Copy a data source (every environment's config, secrets included) to a new name; the
    /// secrets are copied inside the coordinator and never shown.
    Clone {
        /// The data source to copy.
        name: String,
        /// Name of the copy.
        new_name: String,
        /// Description of the copy (default: the original's).
        #[arg(long, default_value = "")]
        description: String,
        /// Workspace.
        #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Test, from a worker of a resource group, whether a data source can be reached, logged
    /// into and used (exit status 0 only when CONNECTABLE).
    Test {
        /// Name.
        name: String,
        /// Environment whose config is tested: prod, or dev (standard workspaces).
        #[arg(long, env = "SLUICE_ENV", default_value = "prod")]
        env: String,
        /// Resource group of the worker that runs the test.
        #[arg(long, default_value = "default")]
        group: String,
        /// What the data source is tested for: reading (source) or writing (sink).
        #[arg(long, value_enum, default_value_t = TestRole::Source)]
        role: TestRole,
        /// Workspace.
        #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Share one environment of a data source with another workspace: READ (its jobs may read
    /// from it) or WRITE (also write to it). Its jobs name it OWNER/NAME, or --as NAME; they
    /// never see its secrets. Sharing again changes the permission.
    Share {
        /// The data source (of --workspace).
        name: String,
        /// The workspace to share it with.
        #[arg(long = "to")]
        grantee: String,
        /// Environment shared: grantee jobs of this environment use this environment's config.
        #[arg(long, env = "SLUICE_ENV", default_value = "prod")]
        env: String,
        /// read (source only) or write (source and sink).
        #[arg(long, value_enum, default_value_t = PermissionArg::Read)]
        permission: PermissionArg,
        /// A name grantee jobs may use instead of OWNER/NAME.
        #[arg(long = "as", default_value = "")]
        shared_name: String,
        /// Owning workspace.
        #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Revoke a grant (one environment with --env, else all); jobs submitted afterwards can no
    /// longer use the data source.
    Unshare {
        /// The data source (of --workspace).
        name: String,
        /// The workspace to revoke it from.
        #[arg(long = "to")]
        grantee: String,
        /// Environment to revoke (default: every granted environment).
        #[arg(long, default_value = "")]
        env: String,
        /// Owning workspace.
        #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// List the grants a workspace has given (of one data source with NAME) and received.
    Shares {
        /// Only the grants of this data source.
        name: Option<String>,
        /// Workspace.
        #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Create many data sources from a CSV or YAML file, all or none: every row is checked
    /// first and each problem is reported with its line (CSV) or item (YAML) number.
    ///
    /// CSV: a header line with `name`, `type`, optionally `environment` and `description`,
    /// then one column per option (host, port, database, user, password, path, ...); an empty
    /// cell leaves the option unset; one row per data source and environment. YAML: a list of
    /// {name, type, environment, description, options: {...}, secrets: {...}}.
    Import {
        /// The file.
        file: std::path::PathBuf,
        /// Its format (default: from the extension, .csv or .yaml/.yml, else from the content).
        #[arg(long, value_enum)]
        format: Option<ImportFormatArg>,
        /// Workspace the data sources are created in.
        #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "default")]
        workspace: String,
    },
}

/// Permission of a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PermissionArg {
    /// Usable as a job's source.
    Read,
    /// Usable as a job's source and sink.
    Write,
}

/// Format of an import file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ImportFormatArg {
    /// CSV with a header line: name,type,environment,description, then one column per option.
    Csv,
    /// A YAML list of {name, type, environment, description, options, secrets}.
    Yaml,
}

/// Role a data source is tested for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestRole {
    /// Read privileges.
    Source,
    /// Write privileges.
    Sink,
}

/// `sluice ws ...`
#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace.
    Create {
        /// Name: letters, digits, `_` and `-`.
        name: String,
        /// basic (one environment, prod) or standard (dev and prod).
        #[arg(long, value_enum, default_value_t = WorkspaceModeArg::Basic)]
        mode: WorkspaceModeArg,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Show a workspace.
    Get {
        /// Name.
        name: String,
    },
    /// List workspaces.
    List,
    /// Change a workspace's description, or upgrade it from basic to standard (each data
    /// source's config becomes its prod config; add dev configs with `sluice ds update NAME --env dev`).
    Update {
        /// Name.
        name: String,
        /// New mode (basic -> standard only).
        #[arg(long, value_enum)]
        mode: Option<WorkspaceModeArg>,
        /// New description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Delete a workspace (refused while it has data sources or unfinished jobs).
    Delete {
        /// Name.
        name: String,
    },
}

/// Workspace modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkspaceModeArg {
    /// One environment, prod.
    Basic,
    /// Two isolated environments, dev and prod.
    Standard,
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
    /// Free text (update: empty keeps the current description).
    #[arg(long, default_value = "")]
    pub description: String,
    /// Workspace.
    #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "default")]
    pub workspace: String,
    /// Environment whose config the options and secrets are: prod, or dev (standard workspaces).
    #[arg(long, env = "SLUICE_ENV", default_value = "prod")]
    pub env: String,
}

/// Arguments of `sluice compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Job spec file (JSON or YAML); only inline connections can be compared without a cluster.
    pub file: PathBuf,
    /// Placeholder values.
    #[command(flatten)]
    pub params: ParamArgs,
}

/// `sluice schedule ...`
#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Create a schedule: the spec file is submitted at each fire of the cron expression.
    Create(ScheduleCreateArgs),
    /// Show a schedule, its next fire and its recent runs.
    Get(ScheduleName),
    /// List the schedules of a workspace.
    List {
        /// Workspace.
        #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "default")]
        workspace: String,
    },
    /// Stop firing (fires due while paused are not made up).
    Pause(ScheduleName),
    /// Fire again, from the next fire after now.
    Resume(ScheduleName),
    /// Run the spec once per business date of a range, in order.
    Backfill(BackfillArgs),
    /// Delete a schedule (jobs it submitted keep running).
    Delete(ScheduleName),
}

/// A schedule's name and workspace.
#[derive(Debug, Args)]
pub struct ScheduleName {
    /// Name.
    pub name: String,
    /// Workspace.
    #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "default")]
    pub workspace: String,
}

/// Arguments of `sluice schedule create`.
#[derive(Debug, Args)]
pub struct ScheduleCreateArgs {
    /// Name (letters, digits, `_` and `-`).
    pub name: String,
    /// Job spec file (JSON or YAML); placeholders are replaced at each fire.
    #[arg(long, short = 'f')]
    pub file: PathBuf,
    /// Cron expression: 5 fields (minute hour day-of-month month day-of-week) or 6 with a
    /// leading seconds field, e.g. "0 2 * * *" for 02:00 every day.
    #[arg(long)]
    pub cron: String,
    /// IANA time zone of the cron expression and of the job's dates.
    #[arg(long, env = "SLUICE_TIME_ZONE", default_value = "UTC")]
    pub time_zone: String,
    /// What a fire does while the previous job still runs.
    #[arg(long, value_enum, default_value_t = OverlapArg::Skip)]
    pub overlap: OverlapArg,
    /// Value of a `${NAME}` placeholder, as NAME=VALUE (repeatable).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Workspace.
    #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "default")]
    pub workspace: String,
    /// Environment the jobs run in: prod or dev.
    #[arg(long, env = "SLUICE_ENV", default_value = "prod")]
    pub env: String,
}

/// Overlap policy of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OverlapArg {
    /// Record the fire as skipped.
    Skip,
    /// Submit it when the previous job ends (fires run one at a time, in order).
    Queue,
}

/// Arguments of `sluice schedule backfill`.
#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Schedule name.
    pub name: String,
    /// First business date, YYYY-MM-DD.
    #[arg(long)]
    pub from: String,
    /// Last business date, YYYY-MM-DD (inclusive).
    #[arg(long)]
    pub to: String,
    /// Jobs running at once (1 to 16).
    #[arg(long, default_value_t = 1)]
    pub parallelism: u32,
    /// Workspace.
    #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "default")]
    pub workspace: String,
}

/// `sluice member ...`
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Add a member to a workspace with a role.
    Add {
        /// Name: letters, digits, `_`, `-`, `.` and `@`.
        name: String,
        /// Its role.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Workspace (default: the token's own).
        #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "")]
        workspace: String,
        /// Also issue a token and print it (shown once).
        #[arg(long)]
        issue_token: bool,
    },
    /// List the members of a workspace.
    List {
        /// Workspace (default: the token's own).
        #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "")]
        workspace: String,
    },
    /// Change a member's role (takes effect on its next call).
    SetRole {
        /// The member.
        name: String,
        /// The new role.
        #[arg(value_enum)]
        role: RoleArg,
        /// Workspace (default: the token's own).
        #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "")]
        workspace: String,
    },
    /// Remove a member; its tokens are revoked.
    Remove {
        /// The member.
        name: String,
        /// Workspace (default: the token's own).
        #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "")]
        workspace: String,
    },
    /// Issue, list and revoke tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `sluice member token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a token to a member and print it: it is shown this once (the coordinator keeps
    /// only its hash). Admins issue for anyone; every member for itself.
    Issue {
        /// The member (default: the caller).
        member: Option<String>,
        /// What the token is for.
        #[arg(long, default_value = "")]
        description: String,
        /// Workspace (default: the token's own).
        #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "")]
        workspace: String,
        /// Also write the token to this new file (mode 0600), for SLUICE_TOKEN or a profile's
        /// `token_file`.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List tokens (ids, members, descriptions; never the tokens themselves).
    List {
        /// Only this member's.
        #[arg(long)]
        member: Option<String>,
        /// Workspace (default: the token's own).
        #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "")]
        workspace: String,
    },
    /// Revoke a token by id: calls with it are refused from then on.
    Revoke {
        /// Token id, as `sluice member token list` shows it.
        id: String,
        /// Workspace (default: the token's own).
        #[arg(long, short = 'w', env = "SLUICE_WORKSPACE", default_value = "")]
        workspace: String,
    },
}

/// Roles of members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Everything in the workspace, members included.
    Admin,
    /// Jobs, schedules and data sources in dev; reads prod metadata.
    Developer,
    /// Runs and cancels prod jobs and schedules; reads everything.
    Operator,
    /// Reads only.
    Viewer,
}
