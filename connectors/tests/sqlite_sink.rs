//! The SQLite sink's exactly-once contract: a shard commits with its marker in one transaction,
//! a second attempt of a committed shard reports "already committed" and writes nothing, an
//! input cut off without its end marker rolls back.

#![allow(clippy::unwrap_used, missing_docs)]

use sluice_common::ids::{Attempt, JobId, ShardId};
use sluice_common::records::KeyRange;
use sluice_common::spec::{
    parse_job_spec, validate, ConnectionConfig, SpecFormat, ValidatedJobSpec,
};
use sluice_connectors::checksum::digest_source;
use sluice_connectors::{
    batch_channel, open_sink, open_sink_as_source, open_source, ConnectorError, ShardCounters,
    ShardIdentity, WriteOutcome,
};
use std::path::Path;
use std::sync::Arc;

fn job(target: &Path) -> (ValidatedJobSpec, ConnectionConfig, ConnectionConfig) {
    let text = format!(
        "source: {{connection: {{type: generator, rows: 5000}}, split_pk: id}}\nsink: {{connection: {{type: sqlite, path: {:?}}}, table: t, create_table: true}}\nsettings: {{batch_rows: 500}}",
        target.display().to_string()
    );
    let validated = validate(parse_job_spec(&text, SpecFormat::Yaml).unwrap()).unwrap();
    let source = ConnectionConfig {
        kind: "generator".into(),
        options: [("rows".to_string(), "5000".to_string())].into(),
        ..Default::default()
    };
    let sink = ConnectionConfig {
        kind: "sqlite".into(),
        options: [("path".to_string(), target.display().to_string())].into(),
        ..Default::default()
    };
    (validated, source, sink)
}

/// Runs one attempt of shard 0 (`ids [0, 1000)`); `cut_off` drops the stream before its end.
async fn attempt(
    spec: &ValidatedJobSpec,
    source: &ConnectionConfig,
    sink: &ConnectionConfig,
    attempt: u32,
    cut_off: bool,
) -> Result<WriteOutcome, ConnectorError> {
    let reader = open_source(spec, source).unwrap();
    let writer = open_sink(spec, sink).unwrap();
    let (sender, receiver) = batch_channel(2, Arc::new(ShardCounters::default()));
    let identity = ShardIdentity {
        job_id: JobId("job".into()),
        shard_id: ShardId(0),
        attempt: Attempt(attempt),
    };
    let range = KeyRange::Int {
        lo: None,
        hi: Some(1000),
    };
    let read = async move {
        reader.read(&range, &sender).await?;
        if cut_off {
            drop(sender);
            return Ok(());
        }
        sender.finish().await
    };
    let (read_result, write_result) = tokio::join!(read, writer.write_shard(&identity, receiver));
    // A writer that finds the shard committed stops reading, so its reader sees `Aborted`.
    if matches!(write_result, Ok(WriteOutcome::Committed { .. })) {
        read_result.unwrap();
    }
    write_result
}

async fn rows_in_target(spec: &ValidatedJobSpec, sink: &ConnectionConfig) -> u64 {
    let reader = open_sink_as_source(spec, sink).unwrap();
    digest_source(reader.as_ref(), &KeyRange::All)
        .await
        .unwrap()
        .rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_attempt_of_a_committed_shard_writes_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let (spec, source, sink) = job(&directory.path().join("t.db"));
    let schema = open_source(&spec, &source).unwrap().schema().await.unwrap();
    open_sink(&spec, &sink)
        .unwrap()
        .prepare(schema)
        .await
        .unwrap();
    assert_eq!(
        attempt(&spec, &source, &sink, 1, false).await.unwrap(),
        WriteOutcome::Committed { rows: 1000 }
    );
    assert_eq!(
        attempt(&spec, &source, &sink, 2, false).await.unwrap(),
        WriteOutcome::AlreadyCommitted
    );
    assert_eq!(rows_in_target(&spec, &sink).await, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_attempts_commit_exactly_once() {
    for round in 0..4 {
        let directory = tempfile::tempdir().unwrap();
        let (spec, source, sink) = job(&directory.path().join("t.db"));
        let schema = open_source(&spec, &source).unwrap().schema().await.unwrap();
        open_sink(&spec, &sink)
            .unwrap()
            .prepare(schema)
            .await
            .unwrap();
        // Alternate which attempt starts first.
        let (first, second) = if round % 2 == 0 { (1, 2) } else { (2, 1) };
        let (one, two) = tokio::join!(
            attempt(&spec, &source, &sink, first, false),
            attempt(&spec, &source, &sink, second, false)
        );
        let outcomes = [one.unwrap(), two.unwrap()];
        let committed = outcomes
            .iter()
            .filter(|outcome| matches!(outcome, WriteOutcome::Committed { .. }))
            .count();
        assert_eq!(committed, 1, "round {round}: {outcomes:?}");
        assert!(outcomes.contains(&WriteOutcome::AlreadyCommitted));
        assert_eq!(rows_in_target(&spec, &sink).await, 1000);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_cut_off_without_end_marker_rolls_back() {
    let directory = tempfile::tempdir().unwrap();
    let (spec, source, sink) = job(&directory.path().join("t.db"));
    let schema = open_source(&spec, &source).unwrap().schema().await.unwrap();
    open_sink(&spec, &sink)
        .unwrap()
        .prepare(schema)
        .await
        .unwrap();
    let cut = attempt(&spec, &source, &sink, 1, true).await;
    assert!(matches!(cut, Err(ConnectorError::Aborted)), "{cut:?}");
    assert_eq!(
        rows_in_target(&spec, &sink).await,
        0,
        "nothing of the cut-off attempt may remain"
    );
    assert_eq!(
        attempt(&spec, &source, &sink, 2, false).await.unwrap(),
        WriteOutcome::Committed { rows: 1000 }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_table_without_create_table_names_the_fix() {
    let directory = tempfile::tempdir().unwrap();
    let target = directory.path().join("t.db");
    let text = format!("source: {{connection: {{type: generator, rows: 10}}}}\nsink: {{connection: {{type: sqlite, path: {:?}}}, table: nosuch}}", target.display().to_string());
    let spec = validate(parse_job_spec(&text, SpecFormat::Yaml).unwrap()).unwrap();
    let sink = ConnectionConfig {
        kind: "sqlite".into(),
        options: [("path".to_string(), target.display().to_string())].into(),
        ..Default::default()
    };
    let source = ConnectionConfig {
        kind: "generator".into(),
        options: [("rows".to_string(), "10".to_string())].into(),
        ..Default::default()
    };
    let schema = open_source(&spec, &source).unwrap().schema().await.unwrap();
    let error = open_sink(&spec, &sink)
        .unwrap()
        .prepare(schema)
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("sink.table:") && message.contains("create_table: true"),
        "{message}"
    );
    assert!(!error.is_retryable());
}
