//! Shared helpers of the PostgreSQL integration tests: a throwaway database per test, spec
//! building, and running shards through the Source/Sink traits the way a worker does.
//!
//! Included with `#[path = "postgres_support.rs"] mod support;`; as its own test target it
//! holds no test.

#![allow(dead_code)]

use sluice_common::ids::{Attempt, JobId, ShardId};
use sluice_common::records::KeyRange;
use sluice_common::spec::{
    parse_job_spec, validate, ConnectionConfig, SpecFormat, ValidatedJobSpec,
};
use sluice_connectors::checksum::TableDigest;
use sluice_connectors::{
    batch_channel, PlanRequest, ShardCounters, ShardIdentity, Sink, Source, WriteOutcome,
};
use std::sync::Arc;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// Host of the test server.
pub const HOST: &str = "127.0.0.1";
const START_HINT: &str =
    "PostgreSQL must run on 127.0.0.1:5432 with trust auth for user postgres; start it with: \
     pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start";

async fn connect_to(database: &str) -> Client {
    let config = format!("host={HOST} port=5432 user=postgres dbname={database}");
    let (client, connection) = match tokio_postgres::connect(&config, NoTls).await {
        Ok(pair) => pair,
        Err(error) => {
            panic!("cannot connect to PostgreSQL database {database}: {error}. {START_HINT}")
        }
    };
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A database created for one test and dropped by [`TestDb::drop_database`].
pub struct TestDb {
    /// Database name.
    pub name: String,
    admin: Client,
}

impl TestDb {
    /// Creates a fresh database `sluice_test_<random>`.
    pub async fn create() -> TestDb {
        let admin = connect_to("postgres").await;
        let name = format!(
            "sluice_test_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        // Parallel tests race on the template database; PostgreSQL refuses a CREATE DATABASE
        // while another session uses it, so retry that one error.
        let mut tries = 0;
        loop {
            match admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
            {
                Ok(()) => break,
                Err(error)
                    if error.to_string().contains("being accessed by other users")
                        && tries < 50 =>
                {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(error) => panic!("create test database {name}: {error}"),
            }
        }
        TestDb { name, admin }
    }

    /// Returns a new session on the test database.
    pub async fn client(&self) -> Client {
        connect_to(&self.name).await
    }

    /// Returns the inline connection of the test database, for specs.
    pub fn connection_yaml(&self) -> String {
        format!(
            "{{type: postgresql, host: \"{HOST}\", port: 5432, database: {}, user: postgres}}",
            self.name
        )
    }

    /// Drops the database.
    pub async fn drop_database(self) {
        self.admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .expect("drop test database");
    }
}

/// Parses and validates a YAML spec.
pub fn spec(yaml: &str) -> ValidatedJobSpec {
    validate(parse_job_spec(yaml, SpecFormat::Yaml).expect("spec parses")).expect("spec is valid")
}

/// Returns the resolved source connection of a spec.
pub fn source_connection(spec: &ValidatedJobSpec) -> ConnectionConfig {
    let inline = spec
        .spec
        .source
        .connection
        .as_ref()
        .expect("inline source connection");
    sluice_common::spec::inline_connection_config(inline).expect("source connection")
}

/// Returns the resolved sink connection of a spec.
pub fn sink_connection(spec: &ValidatedJobSpec) -> ConnectionConfig {
    let inline = spec
        .spec
        .sink
        .connection
        .as_ref()
        .expect("inline sink connection");
    sluice_common::spec::inline_connection_config(inline).expect("sink connection")
}

/// Returns a shard identity.
pub fn identity(job: &str, shard: u32, attempt: u32) -> ShardIdentity {
    ShardIdentity {
        job_id: JobId(job.to_string()),
        shard_id: ShardId(shard),
        attempt: Attempt(attempt),
    }
}

/// Runs one shard: reads `range` from `source` into `sink` through a bounded channel.
pub async fn run_shard(
    source: &dyn Source,
    range: &KeyRange,
    sink: &dyn Sink,
    shard: &ShardIdentity,
) -> (WriteOutcome, Arc<ShardCounters>) {
    let counters = Arc::new(ShardCounters::default());
    let (sender, receiver) = batch_channel(4, Arc::clone(&counters));
    let reader = async {
        source.read(range, &sender).await.expect("read shard");
        sender.finish().await.expect("finish shard");
    };
    let (_, outcome) = tokio::join!(reader, sink.write_shard(shard, receiver));
    (outcome.expect("write shard"), counters)
}

/// Runs a whole job in-process: plan, prepare, every shard, finalize. Returns the counters of
/// every shard.
pub async fn run_job(spec: &ValidatedJobSpec, job: &str) -> Vec<Arc<ShardCounters>> {
    let source =
        sluice_connectors::open_source(spec, &source_connection(spec)).expect("open source");
    let sink = sluice_connectors::open_sink(spec, &sink_connection(spec)).expect("open sink");
    let request = PlanRequest {
        parallelism: spec.spec.settings.parallelism,
        shard_rows: spec.spec.settings.shard_rows,
    };
    let plan = source.plan(&request).await.expect("plan");
    sink.prepare(source.schema().await.expect("schema"))
        .await
        .expect("prepare");
    let mut all = Vec::new();
    for (index, range) in plan.ranges.iter().enumerate() {
        let (outcome, counters) = run_shard(
            source.as_ref(),
            range,
            sink.as_ref(),
            &identity(job, index as u32, 1),
        )
        .await;
        assert!(
            matches!(outcome, WriteOutcome::Committed { .. }),
            "shard {index} ({range}): {outcome:?}"
        );
        all.push(counters);
    }
    sink.finalize().await.expect("finalize");
    all
}

/// Reads `range` of `source` and returns its digest and row count.
pub async fn digest_range(source: &dyn Source, range: &KeyRange) -> TableDigest {
    let counters = Arc::new(ShardCounters::default());
    let (sender, mut receiver) = batch_channel(4, counters);
    let reader = async {
        source.read(range, &sender).await.expect("read");
        sender.finish().await.expect("finish");
    };
    let collector = async {
        let mut digest = TableDigest::default();
        while let Some(batch) = receiver.next().await.expect("batch") {
            digest.add_batch(&batch).expect("digest");
        }
        digest
    };
    let ((), digest) = tokio::join!(reader, collector);
    digest
}

/// Returns the rows of `sql` as PostgreSQL's text output.
pub async fn text_rows(client: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    let messages = client.simple_query(sql).await.expect("query");
    messages
        .into_iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|index| row.get(index).map(str::to_string))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// Returns a single integer.
pub async fn count(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.expect("count").get(0)
}
