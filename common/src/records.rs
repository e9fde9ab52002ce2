//! Values persisted in the metadata store. Each record is JSON with a `"v"` format version, so
//! stored values stay readable as the code changes.

mod grant;
mod member;
mod schedule;

pub use grant::{GrantRecord, SharePermission, GRANT_RECORD_VERSION};
pub use member::{MemberRecord, Role, TokenRecord};

pub use schedule::{
    Backfill, BackfillDate, OverlapPolicy, ScheduleRecord, ScheduleRun, SCHEDULE_RUNS_KEPT,
};

use crate::ids::{Attempt, JobId, ShardId, WorkerId};
use crate::meta::{KeyValue, MetaStore, Precondition, PutOutcome};
use crate::secrets::{SealedSecret, SecretCipher, SecretError};
use crate::spec::{ConnectionConfig, JobSpec};
use crate::MetaError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Current format version of every record written by this build.
pub const RECORD_VERSION: u32 = 1;

/// The part of a source's key space one shard reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyRange {
    /// Every row.
    All,
    /// `split_pk >= lo AND split_pk < hi`; `None` is unbounded.
    Int {
        /// Inclusive lower bound.
        lo: Option<i64>,
        /// Exclusive upper bound.
        hi: Option<i64>,
    },
    /// `split_pk IS NULL`.
    Null,
    /// `split_pk >= lo AND split_pk < hi` on a text or uuid key, compared in the source's order.
    Text {
        /// Inclusive lower bound.
        lo: Option<String>,
        /// Exclusive upper bound.
        hi: Option<String>,
    },
    /// Physical pages `[lo, hi)` (PostgreSQL `ctid` blocks), for tables without a usable key.
    Pages {
        /// First page.
        lo: u64,
        /// Page after the last; `None` is the end of the table.
        hi: Option<u64>,
    },
}

impl fmt::Display for KeyRange {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRange::All => formatter.write_str("all rows"),
            KeyRange::Null => formatter.write_str("key IS NULL"),
            KeyRange::Int { lo, hi } => {
                let lower = lo.map_or("-inf".to_string(), |value| value.to_string());
                let upper = hi.map_or("+inf".to_string(), |value| value.to_string());
                write!(formatter, "[{lower}, {upper})")
            }
            KeyRange::Text { lo, hi } => {
                let lower = lo
                    .as_deref()
                    .map_or("-inf".to_string(), |value| format!("{value:?}"));
                let upper = hi
                    .as_deref()
                    .map_or("+inf".to_string(), |value| format!("{value:?}"));
                write!(formatter, "[{lower}, {upper})")
            }
            KeyRange::Pages { lo, hi } => {
                let upper = hi.map_or("end".to_string(), |value| value.to_string());
                write!(formatter, "pages [{lo}, {upper})")
            }
        }
    }
}

/// Row and byte counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Rows read from the source.
    pub rows_read: u64,
    /// Bytes read (Arrow in-memory size).
    pub bytes_read: u64,
    /// Rows written to the sink.
    pub rows_written: u64,
    /// Bytes written (Arrow in-memory size).
    pub bytes_written: u64,
    /// Dirty records.
    pub dirty_records: u64,
}

impl Counters {
    /// Returns the field-wise sum of two counters.
    pub fn plus(self, other: Counters) -> Counters {
        Counters {
            rows_read: self.rows_read + other.rows_read,
            bytes_read: self.bytes_read + other.bytes_read,
            rows_written: self.rows_written + other.rows_written,
            bytes_written: self.bytes_written + other.bytes_written,
            dirty_records: self.dirty_records + other.dirty_records,
        }
    }
}

/// Rows that went into, came out of, were dropped by, and failed at one transformer of a job's
/// chain (`transformers[i]` of the spec). `rows_in = rows_out + filtered + failed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransformerCounts {
    /// Rows given to the transformer.
    pub rows_in: u64,
    /// Rows it passed on.
    pub rows_out: u64,
    /// Rows it dropped (`dx_filter` matches).
    pub filtered: u64,
    /// Rows it failed on; each is a dirty record.
    pub failed: u64,
}

impl TransformerCounts {
    /// Returns the field-wise sum of two counts.
    pub fn plus(self, other: TransformerCounts) -> TransformerCounts {
        TransformerCounts {
            rows_in: self.rows_in + other.rows_in,
            rows_out: self.rows_out + other.rows_out,
            filtered: self.filtered + other.filtered,
            failed: self.failed + other.failed,
        }
    }
}

/// Adds two per-transformer lists position by position; the shorter counts as zeros.
pub fn sum_transformer_counts(
    left: &[TransformerCounts],
    right: &[TransformerCounts],
) -> Vec<TransformerCounts> {
    let length = left.len().max(right.len());
    (0..length)
        .map(|index| {
            let one = left.get(index).copied().unwrap_or_default();
            let other = right.get(index).copied().unwrap_or_default();
            one.plus(other)
        })
        .collect()
}

/// Lifecycle state of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// A worker is computing the shards.
    Planning,
    /// Shards are being copied.
    Running,
    /// Every shard committed; finalisation runs on a worker.
    Finalizing,
    /// Done.
    Succeeded,
    /// Failed; see the job's error.
    Failed,
    /// Cancelled on request.
    Cancelled,
}

impl JobState {
    /// Returns whether the job has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }

    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 6] = [
        JobState::Planning,
        JobState::Running,
        JobState::Finalizing,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    /// Returns the lowercase name used in metrics and JSON.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Planning => "planning",
            JobState::Running => "running",
            JobState::Finalizing => "finalizing",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
}

/// Lifecycle state of a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShardState {
    /// Waiting for a worker.
    Pending,
    /// Handed to a worker.
    Assigned,
    /// The worker reported progress.
    Running,
    /// Committed.
    Committed,
    /// Failed for good.
    Failed,
}

impl ShardState {
    /// Whether an attempt holds the shard (handed to a worker, or running there).
    pub fn is_in_flight(self) -> bool {
        matches!(self, ShardState::Assigned | ShardState::Running)
    }

    /// Every state, in lifecycle order.
    pub const ALL: [ShardState; 5] = [
        ShardState::Pending,
        ShardState::Assigned,
        ShardState::Running,
        ShardState::Committed,
        ShardState::Failed,
    ];

    /// Returns the lowercase name used in metrics and JSON.
    pub fn name(self) -> &'static str {
        match self {
            ShardState::Pending => "pending",
            ShardState::Assigned => "assigned",
            ShardState::Running => "running",
            ShardState::Committed => "committed",
            ShardState::Failed => "failed",
        }
    }
}

/// Format version of [`DataSourceRecord`]s written by this build (2: one config per
/// environment; 1 had one config, read as the `prod` config).
pub const DATA_SOURCE_RECORD_VERSION: u32 = 2;

/// The `prod` environment: every workspace has it.
pub const ENV_PROD: &str = "prod";
/// The `dev` environment: only standard workspaces have it.
pub const ENV_DEV: &str = "dev";

/// A connection whose secret options are sealed ([`SecretCipher::seal`]): the form in which
/// connections are stored. Same JSON shape as [`ConnectionConfig`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SealedConnection {
    /// Connector type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Non-secret options.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Secret options, sealed.
    #[serde(default)]
    pub secrets: BTreeMap<String, SealedSecret>,
}

impl SealedConnection {
    /// Seals every secret of `connection`.
    ///
    /// # Errors
    /// [`SecretError`] when no nonce can be drawn.
    pub fn seal(connection: &ConnectionConfig, cipher: &SecretCipher) -> Result<Self, SecretError> {
        let mut secrets = BTreeMap::new();
        for (name, value) in &connection.secrets {
            secrets.insert(name.clone(), cipher.seal(value)?);
        }
        Ok(SealedConnection {
            kind: connection.kind.clone(),
            options: connection.options.clone(),
            secrets,
        })
    }

    /// Opens every secret: the connection a worker needs.
    ///
    /// # Errors
    /// [`SecretError`] when a secret is under an unknown key, corrupt, or not sealed.
    pub fn open(&self, cipher: &SecretCipher) -> Result<ConnectionConfig, SecretError> {
        let mut secrets = BTreeMap::new();
        for (name, sealed) in &self.secrets {
            secrets.insert(name.clone(), cipher.open(sealed)?);
        }
        Ok(ConnectionConfig {
            kind: self.kind.clone(),
            options: self.options.clone(),
            secrets,
        })
    }

    /// Returns the connection with every secret replaced by `***`: enough to validate which
    /// options are present, never a secret.
    pub fn masked(&self) -> ConnectionConfig {
        ConnectionConfig {
            kind: self.kind.clone(),
            options: self.options.clone(),
            secrets: self
                .secrets
                .keys()
                .map(|name| (name.clone(), SECRET_MASK.to_string()))
                .collect(),
        }
    }

    /// Seals again every secret that is not under `cipher`'s primary key; returns whether
    /// anything changed.
    ///
    /// # Errors
    /// As [`SecretCipher::reseal`].
    pub fn reseal(&mut self, cipher: &SecretCipher) -> Result<bool, SecretError> {
        reseal_all(&mut self.secrets, cipher)
    }
}

/// Shown instead of a secret value in every API response.
pub const SECRET_MASK: &str = "***";

fn reseal_all(
    secrets: &mut BTreeMap<String, SealedSecret>,
    cipher: &SecretCipher,
) -> Result<bool, SecretError> {
    let mut changed = false;
    for sealed in secrets.values_mut() {
        if let Some(new_value) = cipher.reseal(sealed)? {
            *sealed = new_value;
            changed = true;
        }
    }
    Ok(changed)
}

/// The connection config of a data source in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EnvironmentConfig {
    /// Non-secret options.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Secret options, sealed.
    #[serde(default)]
    pub secrets: BTreeMap<String, SealedSecret>,
}

/// A data source: a named, typed connection of a workspace, with one config per environment.
/// Key `datasources/{ws}/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredDataSource")]
pub struct DataSourceRecord {
    /// Format version.
    pub v: u32,
    /// Owning workspace.
    pub workspace: String,
    /// Name, unique in the workspace.
    pub name: String,
    /// Connector type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Connection config per environment (`prod`, `dev`); an environment may have none yet.
    #[serde(default)]
    pub configs: BTreeMap<String, EnvironmentConfig>,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, Unix milliseconds.
    pub updated_at_ms: i64,
}

/// Every format of a stored data source; format 1 kept its one config at the top level.
#[derive(Deserialize)]
struct StoredDataSource {
    v: u32,
    workspace: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    configs: BTreeMap<String, EnvironmentConfig>,
    #[serde(default)]
    options: BTreeMap<String, String>,
    #[serde(default)]
    secrets: BTreeMap<String, SealedSecret>,
    created_at_ms: i64,
    updated_at_ms: i64,
}

impl From<StoredDataSource> for DataSourceRecord {
    fn from(stored: StoredDataSource) -> Self {
        let mut configs = stored.configs;
        if configs.is_empty() && stored.v < 2 {
            configs.insert(
                ENV_PROD.to_string(),
                EnvironmentConfig {
                    options: stored.options,
                    secrets: stored.secrets,
                },
            );
        }
        DataSourceRecord {
            v: stored.v,
            workspace: stored.workspace,
            name: stored.name,
            kind: stored.kind,
            description: stored.description,
            configs,
            created_at_ms: stored.created_at_ms,
            updated_at_ms: stored.updated_at_ms,
        }
    }
}

impl DataSourceRecord {
    /// Returns the sealed connection of `environment`, if the data source has a config there.
    pub fn connection(&self, environment: &str) -> Option<SealedConnection> {
        self.configs
            .get(environment)
            .map(|config| SealedConnection {
                kind: self.kind.clone(),
                options: config.options.clone(),
                secrets: config.secrets.clone(),
            })
    }

    /// Seals again every secret not under `cipher`'s primary key; returns whether anything
    /// changed.
    ///
    /// # Errors
    /// As [`SecretCipher::reseal`].
    pub fn reseal(&mut self, cipher: &SecretCipher) -> Result<bool, SecretError> {
        let mut changed = false;
        for config in self.configs.values_mut() {
            changed |= reseal_all(&mut config.secrets, cipher)?;
        }
        Ok(changed)
    }
}

/// How many environments a workspace has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceMode {
    /// One environment, `prod`.
    Basic,
    /// `dev` and `prod`, isolated: a job sees only its environment's configs.
    Standard,
}

impl WorkspaceMode {
    /// Returns the environments of the mode.
    pub fn environments(self) -> &'static [&'static str] {
        match self {
            WorkspaceMode::Basic => &[ENV_PROD],
            WorkspaceMode::Standard => &[ENV_DEV, ENV_PROD],
        }
    }

    /// Returns the lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            WorkspaceMode::Basic => "basic",
            WorkspaceMode::Standard => "standard",
        }
    }
}

/// A workspace. Key `workspaces/{ws}`. The `default` workspace exists without a record (as a
/// basic workspace) until it is changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceRecord {
    /// Format version.
    pub v: u32,
    /// Name.
    pub name: String,
    /// Mode.
    pub mode: WorkspaceMode,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// Creation time, Unix milliseconds.
    pub created_at_ms: i64,
    /// Last change, Unix milliseconds.
    pub updated_at_ms: i64,
}

impl WorkspaceRecord {
    /// Returns the record the `default` workspace has before anyone changes it.
    pub fn implicit_default() -> WorkspaceRecord {
        WorkspaceRecord {
            v: RECORD_VERSION,
            name: crate::DEFAULT_WORKSPACE.to_string(),
            mode: WorkspaceMode::Basic,
            description: "the workspace of requests that name none".to_string(),
            created_at_ms: 0,
            updated_at_ms: 0,
        }
    }
}

/// A job. Key `jobs/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Format version.
    pub v: u32,
    /// Job id.
    pub id: JobId,
    /// Workspace.
    pub workspace: String,
    /// Environment.
    pub environment: String,
    /// State.
    pub state: JobState,
    /// Why the job failed.
    #[serde(default)]
    pub error: Option<String>,
    /// The validated spec.
    pub spec: JobSpec,
    /// Resolved source connection, secrets sealed.
    pub source_connection: SealedConnection,
    /// Resolved sink connection, secrets sealed.
    pub sink_connection: SealedConnection,
    /// Resolved connection of `settings.dirty_data`, secrets sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirty_connection: Option<SealedConnection>,
    /// Submission time, Unix milliseconds.
    pub created_at_ms: i64,
    /// When the first shard was handed out.
    #[serde(default)]
    pub started_at_ms: Option<i64>,
    /// When the job ended.
    #[serde(default)]
    pub finished_at_ms: Option<i64>,
    /// Counters of committed shards (running attempts are kept in memory only).
    #[serde(default)]
    pub counters: Counters,
    /// Rows the planner expects.
    #[serde(default)]
    pub estimated_rows: u64,
    /// Number of shards (0 while planning).
    #[serde(default)]
    pub shard_count: u32,
    /// Shard attempts beyond the first.
    #[serde(default)]
    pub retries: u32,
    /// Smallest and largest value of an integer split key when the job was planned: the finite
    /// bounds used to cut open-ended shard ranges into pieces (see `KeyBounds`).
    #[serde(default)]
    pub key_bounds: Option<KeyBounds>,
    /// Shards split off running shards so far.
    #[serde(default)]
    pub splits: u32,
    /// Per-transformer counts of committed shards, in spec order (empty without transformers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transformers: Vec<TransformerCounts>,
}

impl JobRecord {
    /// Seals again every secret of the job's connections not under `cipher`'s primary key;
    /// returns whether anything changed.
    ///
    /// # Errors
    /// As [`SecretCipher::reseal`].
    pub fn reseal(&mut self, cipher: &SecretCipher) -> Result<bool, SecretError> {
        let source = self.source_connection.reseal(cipher)?;
        let sink = self.sink_connection.reseal(cipher)?;
        let dirty = match self.dirty_connection.as_mut() {
            Some(sealed) => sealed.reseal(cipher)?,
            None => false,
        };
        Ok(source || sink || dirty)
    }
}

/// Smallest and largest value of an integer split key, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyBounds {
    /// Smallest key.
    pub min: i64,
    /// Largest key.
    pub max: i64,
}

/// A shard of a job. Key `shards/{job}/{shard:06}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// Format version.
    pub v: u32,
    /// Job id.
    pub job_id: JobId,
    /// Shard number.
    pub shard_id: ShardId,
    /// Key range.
    pub range: KeyRange,
    /// State.
    pub state: ShardState,
    /// Current attempt.
    pub attempt: Attempt,
    /// Worker of the current (or last) attempt.
    #[serde(default)]
    pub worker_id: Option<WorkerId>,
    /// Counters of the committed attempt.
    #[serde(default)]
    pub counters: Counters,
    /// Per-transformer counts of the committed attempt, in spec order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transformers: Vec<TransformerCounts>,
    /// Last error.
    #[serde(default)]
    pub error: Option<String>,
    /// Set when the shard was re-queued while its previous attempt had not reported its end (its
    /// worker was lost, or nobody claimed it after a coordinator change): that attempt may still
    /// commit its whole original range, so the shard must never be split.
    #[serde(default)]
    pub earlier_attempt_may_commit: bool,
}

/// A registered worker, bound to its lease. Key `workers/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerRecord {
    /// Format version.
    pub v: u32,
    /// Worker id.
    pub worker_id: WorkerId,
    /// Resource group.
    pub resource_group: String,
    /// Slots.
    pub slots: u32,
    /// Sluice version.
    pub version: String,
    /// Registration time, Unix milliseconds.
    pub registered_at_ms: i64,
}

/// Decodes a stored JSON record.
///
/// # Errors
/// [`MetaError::Corrupt`] when the value is not the expected JSON.
pub fn decode<T: DeserializeOwned>(key_value: &KeyValue) -> Result<T, MetaError> {
    serde_json::from_slice(&key_value.value).map_err(|error| MetaError::Corrupt {
        key: key_value.key.clone(),
        message: error.to_string(),
    })
}

/// Encodes a record as JSON bytes.
pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    // Serialising these plain structs (string keys, no non-finite floats) cannot fail.
    serde_json::to_vec(record).unwrap_or_default()
}

/// Writes a record unconditionally.
///
/// # Errors
/// Whatever the store returns.
pub async fn put_record<T: Serialize + Sync>(
    store: &dyn MetaStore,
    key: &str,
    record: &T,
) -> Result<i64, MetaError> {
    match store
        .put(key, encode(record), Precondition::None, None)
        .await?
    {
        PutOutcome::Written { revision } => Ok(revision),
        PutOutcome::Conflict { .. } => Ok(0),
    }
}

/// Returns the current Unix time in milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_range_json_is_stable() {
        let range = KeyRange::Int {
            lo: Some(1),
            hi: None,
        };
        let json = serde_json::to_string(&range).expect("json");
        assert_eq!(json, r#"{"kind":"int","lo":1,"hi":null}"#);
        assert_eq!(
            serde_json::from_str::<KeyRange>(&json).expect("parse"),
            range
        );
        assert_eq!(range.to_string(), "[1, +inf)");
    }

    #[test]
    fn format_1_data_sources_read_as_their_prod_config() {
        let stored = r#"{"v":1,"workspace":"default","name":"wh","type":"postgresql","description":"","options":{"host":"h","database":"d","user":"u"},"secrets":{"password":"enc:v1:k:00:00"},"created_at_ms":1,"updated_at_ms":2}"#;
        let record: DataSourceRecord = serde_json::from_str(stored).expect("parse");
        let prod = record.connection(ENV_PROD).expect("prod config");
        assert_eq!(prod.options.get("host").map(String::as_str), Some("h"));
        assert_eq!(prod.secrets.len(), 1);
        assert!(record.connection(ENV_DEV).is_none());
        let written = serde_json::to_string(&record).expect("json");
        assert!(written.contains(r#""configs":{"prod":"#), "{written}");
    }

    #[test]
    fn sealed_connections_store_no_plaintext_and_mask_for_validation() {
        let cipher = SecretCipher::new(crate::secrets::SecretKey::generate().expect("key"));
        let mut connection = ConnectionConfig {
            kind: "mysql".into(),
            ..Default::default()
        };
        connection.options.insert("user".into(), "u".into());
        connection
            .secrets
            .insert("password".into(), "Sup3r-secret".into());
        let sealed = SealedConnection::seal(&connection, &cipher).expect("seal");
        let json = serde_json::to_string(&sealed).expect("json");
        assert!(!json.contains("Sup3r-secret"), "{json}");
        assert_eq!(sealed.open(&cipher).expect("open"), connection);
        assert_eq!(sealed.masked().secrets["password"], SECRET_MASK);
    }

    #[test]
    fn counters_add_field_wise() {
        let one = Counters {
            rows_read: 1,
            bytes_read: 2,
            rows_written: 3,
            bytes_written: 4,
            dirty_records: 5,
        };
        let sum = one.plus(one);
        assert_eq!(sum.rows_written, 6);
        assert_eq!(sum.dirty_records, 10);
    }

    #[test]
    fn transformer_counts_add_by_position() {
        let one = TransformerCounts {
            rows_in: 4,
            rows_out: 2,
            filtered: 1,
            failed: 1,
        };
        let sum = sum_transformer_counts(&[one], &[one, one]);
        assert_eq!(sum.len(), 2);
        assert_eq!(sum[0].rows_in, 8);
        assert_eq!(sum[1], one);
    }
}
