//! PostgreSQL sink: exactly-once commit markers under concurrent attempts, dirty-row isolation,
//! upsert, truncate and pre/post SQL.

#[path = "postgres_support.rs"]
mod support;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use sluice_common::records::KeyRange;
use sluice_connectors::{batch_channel, BatchSender, ShardCounters, Sink, WriteOutcome};
use std::sync::Arc;
use std::time::Duration;
use support::{count, identity, run_job, spec, text_rows, TestDb};
use tokio_postgres::Client;

fn batch(ids: std::ops::Range<i64>, name: &str) -> RecordBatch {
    let names: Vec<String> = ids.clone().map(|id| format!("{name} {id}")).collect();
    RecordBatch::try_from_iter([
        (
            "id",
            Arc::new(Int64Array::from(ids.collect::<Vec<_>>())) as ArrayRef,
        ),
        ("name", Arc::new(StringArray::from(names)) as ArrayRef),
    ])
    .expect("batch")
}

fn sink_for(db: &TestDb, table: &str, extra: &str) -> Box<dyn Sink> {
    let job = spec(&format!(
        "source: {{connection: {conn}, table: ignored}}\nsink: {{connection: {conn}, table: {table}{extra}}}\n",
        conn = db.connection_yaml()
    ));
    sluice_connectors::open_sink(&job, &support::sink_connection(&job)).expect("open sink")
}

/// Returns the dirty records and rows written of every shard together.
fn dirty_and_written(shards: &[Arc<ShardCounters>]) -> (u64, u64) {
    shards.iter().fold((0, 0), |(dirty, written), counters| {
        let snapshot = counters.snapshot();
        (
            dirty + snapshot.dirty_records,
            written + snapshot.rows_written,
        )
    })
}

/// Waits until some session of the test database is blocked on a lock.
async fn wait_for_lock_waiter(client: &Client, database: &str) {
    for _ in 0..200 {
        let waiting = count(
            client,
            &format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' AND wait_event_type = 'Lock'"),
        )
        .await;
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the second attempt never waited on the first one's commit marker");
}

async fn feed(sender: BatchSender, batches: Vec<RecordBatch>) {
    for one in batches {
        sender.send(one).await.expect("send");
    }
    sender.finish().await.expect("finish");
}

/// Two attempts of one shard run at once: `first` takes the marker, `second` waits on it.
async fn race(
    db: &TestDb,
    client: &Client,
    sink: &dyn Sink,
    first_attempt: u32,
    second_attempt: u32,
    first_commits: bool,
) -> (WriteOutcome, WriteOutcome) {
    let (first_sender, first_receiver) = batch_channel(4, Arc::new(ShardCounters::default()));
    let (second_sender, second_receiver) = batch_channel(4, Arc::new(ShardCounters::default()));
    let first_shard = identity("race-job", 7, first_attempt);
    let second_shard = identity("race-job", 7, second_attempt);
    let (start_second, second_may_start) = tokio::sync::oneshot::channel::<()>();
    let first_write = sink.write_shard(&first_shard, first_receiver);
    let second_write = async {
        second_may_start.await.expect("start signal");
        sink.write_shard(&second_shard, second_receiver).await
    };
    let driver = async {
        first_sender
            .send(batch(0..500, "first"))
            .await
            .expect("send");
        // Let the first attempt take the marker before the second starts.
        for _ in 0..200 {
            if count(client, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = '_sluice_commits' AND l.mode = 'RowExclusiveLock'").await > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        start_second.send(()).expect("second attempt waits");
        let second_feed = feed(
            second_sender,
            vec![batch(0..500, "second"), batch(500..1000, "second")],
        );
        let release_first = async {
            wait_for_lock_waiter(client, &db.name).await;
            if first_commits {
                first_sender
                    .send(batch(500..1000, "first"))
                    .await
                    .expect("send");
                first_sender.finish().await.expect("finish");
            } else {
                // The first attempt's reader dies: no end marker, the writer rolls back.
                drop(first_sender);
            }
        };
        tokio::join!(second_feed, release_first);
    };
    let (first, second, ()) = tokio::join!(first_write, second_write, driver);
    let first = if first_commits {
        first.expect("first attempt")
    } else {
        assert!(first.is_err(), "an aborted input must not commit");
        WriteOutcome::AlreadyCommitted
    };
    (first, second.expect("second attempt"))
}

#[tokio::test]
async fn concurrent_attempts_of_one_shard_commit_exactly_once_in_both_orders() {
    let db = TestDb::create().await;
    let client = db.client().await;
    client
        .batch_execute("CREATE TABLE target (id bigint, name text)")
        .await
        .expect("target");
    let sink = sink_for(&db, "target", "");
    sink.prepare(Arc::new(batch(0..1, "x").schema().as_ref().clone()))
        .await
        .expect("prepare");

    // Order 1: attempt 1 takes the marker first and commits; attempt 2 waits, then rolls back.
    let (first, second) = race(&db, &client, sink.as_ref(), 1, 2, true).await;
    assert_eq!(first, WriteOutcome::Committed { rows: 1000 });
    assert_eq!(second, WriteOutcome::AlreadyCommitted);
    assert_eq!(count(&client, "SELECT count(*) FROM target").await, 1000);
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM target WHERE name LIKE 'first%'"
        )
        .await,
        1000
    );
    assert_eq!(
        count(
            &client,
            "SELECT attempt FROM _sluice_commits WHERE job_id = 'race-job' AND shard_id = 7"
        )
        .await,
        1
    );

    // Order 2 (fresh shard): attempt 4 starts first but its reader dies; attempt 3 commits.
    client
        .batch_execute("TRUNCATE target; DELETE FROM _sluice_commits")
        .await
        .expect("reset");
    let (_, second) = race(&db, &client, sink.as_ref(), 4, 3, false).await;
    assert_eq!(second, WriteOutcome::Committed { rows: 1000 });
    assert_eq!(
        count(
            &client,
            "SELECT count(*) FROM target WHERE name LIKE 'second%'"
        )
        .await,
        1000
    );
    assert_eq!(count(&client, "SELECT count(*) FROM target").await, 1000);
    assert_eq!(
        count(
            &client,
            "SELECT attempt FROM _sluice_commits WHERE job_id = 'race-job' AND shard_id = 7"
        )
        .await,
        3
    );

    // Order 3: the higher attempt takes the marker first; the lower one (a zombie) loses.
    client
        .batch_execute("TRUNCATE target; DELETE FROM _sluice_commits")
        .await
        .expect("reset");
    let (first, second) = race(&db, &client, sink.as_ref(), 6, 5, true).await;
    assert_eq!(
        (first, second),
        (
            WriteOutcome::Committed { rows: 1000 },
            WriteOutcome::AlreadyCommitted
        )
    );
    assert_eq!(count(&client, "SELECT count(*) FROM target").await, 1000);

    // A later attempt, after the commit, rolls back at once.
    let (sender, receiver) = batch_channel(4, Arc::new(ShardCounters::default()));
    let late = tokio::spawn(feed(sender, vec![batch(0..10, "late")]));
    let outcome = sink
        .write_shard(&identity("race-job", 7, 9), receiver)
        .await
        .expect("late attempt");
    assert_eq!(outcome, WriteOutcome::AlreadyCommitted);
    late.abort();
    assert_eq!(count(&client, "SELECT count(*) FROM target").await, 1000);
    drop(client);
    db.drop_database().await;
}

#[tokio::test]
async fn rows_the_database_refuses_are_dirty_and_the_rest_commit() {
    let db = TestDb::create().await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE src (id bigint PRIMARY KEY, amount bigint, code bigint);
             INSERT INTO src SELECT g, g, g % 100 FROM generate_series(1, 3000) g;
             UPDATE src SET amount = -5 WHERE id = 1234;
             UPDATE src SET code = 70000 WHERE id = 2345;
             CREATE TABLE dst (id bigint PRIMARY KEY, amount bigint CONSTRAINT amount_not_negative CHECK (amount >= 0), code smallint)",
        )
        .await
        .expect("tables");
    let job = spec(&format!(
        "source: {{connection: {conn}, table: src, split_pk: id}}\nsink: {{connection: {conn}, table: dst}}\nsettings: {{parallelism: 1, batch_rows: 1000, shard_rows: 1000000}}\n",
        conn = db.connection_yaml()
    ));
    let shards = run_job(&job, "dirty").await;
    let (dirty, written) = dirty_and_written(&shards);
    let samples: Vec<_> = shards
        .iter()
        .flat_map(|counters| counters.take_dirty_samples())
        .collect();
    assert_eq!(dirty, 2, "{samples:?}");
    assert_eq!(written, 2998);
    assert_eq!(count(&client, "SELECT count(*) FROM dst").await, 2998);
    assert_eq!(
        count(&client, "SELECT count(*) FROM dst WHERE id IN (1234, 2345)").await,
        0
    );
    let check = samples
        .iter()
        .find(|sample| sample.row.contains("\"id\":1234"))
        .expect("check sample");
    assert!(
        check
            .reason
            .contains("violates check constraint \"amount_not_negative\""),
        "{}",
        check.reason
    );
    assert!(check.reason.contains("23514"), "{}", check.reason);
    let range = samples
        .iter()
        .find(|sample| sample.row.contains("\"id\":2345"))
        .expect("range sample");
    assert_eq!(range.column, "code");
    assert!(range.reason.contains("smallint"), "{}", range.reason);
    drop(client);
    db.drop_database().await;
}

/// A shard larger than one COPY piece (4 MiB): refused rows in the first and in a later piece
/// are isolated, every other row lands exactly once.
#[tokio::test]
async fn refused_rows_in_later_pieces_are_isolated_and_the_rest_lands_once() {
    let db = TestDb::create().await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE src (id bigint PRIMARY KEY, amount bigint, note text);
             INSERT INTO src SELECT g, g, repeat('x', 150) FROM generate_series(1, 60000) g;
             UPDATE src SET amount = -1 WHERE id IN (17, 59990);
             CREATE TABLE dst (id bigint PRIMARY KEY, amount bigint CHECK (amount >= 0), note text)",
        )
        .await
        .expect("tables");
    let job = spec(&format!(
        "source: {{connection: {conn}, table: src, split_pk: id}}\nsink: {{connection: {conn}, table: dst}}\nsettings: {{parallelism: 1, batch_rows: 4096, shard_rows: 1000000}}\n",
        conn = db.connection_yaml()
    ));
    let shards = run_job(&job, "pieces").await;
    let (dirty, written) = dirty_and_written(&shards);
    assert_eq!((dirty, written), (2, 59_998));
    assert_eq!(
        count(&client, "SELECT count(*) FROM dst").await,
        59_998,
        "rows"
    );
    assert_eq!(
        count(&client, "SELECT sum(id)::bigint FROM dst").await,
        60_000 * 60_001 / 2 - 17 - 59_990,
        "the same rows once each"
    );
    drop(client);
    db.drop_database().await;
}

#[tokio::test]
async fn upsert_updates_by_key_and_truncate_empties_once_with_pre_and_post_sql() {
    let db = TestDb::create().await;
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE src (id bigint PRIMARY KEY, name text);
             INSERT INTO src VALUES (1, 'new 1'), (2, 'new 2'), (3, 'new 3');
             CREATE TABLE dst (id bigint PRIMARY KEY, name text);
             INSERT INTO dst VALUES (1, 'old 1'), (2, 'old 2'), (100, 'kept');
             CREATE TABLE audit (step text)",
        )
        .await
        .expect("tables");
    let upsert = spec(&format!(
        "source: {{connection: {conn}, table: src, split_pk: id}}\n\
         sink: {{connection: {conn}, table: dst, write_mode: upsert, keys: [id], pre_sql: [\"INSERT INTO audit VALUES ('pre')\"], post_sql: [\"INSERT INTO audit VALUES ('post')\"]}}\n\
         settings: {{parallelism: 2}}\n",
        conn = db.connection_yaml()
    ));
    run_job(&upsert, "upsert").await;
    let rows = text_rows(&client, "SELECT id, name FROM dst ORDER BY id").await;
    let expected: Vec<Vec<Option<String>>> = [
        ("1", "new 1"),
        ("2", "new 2"),
        ("3", "new 3"),
        ("100", "kept"),
    ]
    .iter()
    .map(|(id, name)| vec![Some(id.to_string()), Some(name.to_string())])
    .collect();
    assert_eq!(rows, expected);
    assert_eq!(
        text_rows(&client, "SELECT step FROM audit").await,
        vec![
            vec![Some("pre".to_string())],
            vec![Some("post".to_string())]
        ]
    );
    // Running the upsert again (new job) is idempotent.
    run_job(&upsert, "upsert-again").await;
    assert_eq!(count(&client, "SELECT count(*) FROM dst").await, 4);

    let truncate = spec(&format!(
        "source: {{connection: {conn}, table: src, split_pk: id}}\nsink: {{connection: {conn}, table: dst, write_mode: truncate}}\nsettings: {{parallelism: 2}}\n",
        conn = db.connection_yaml()
    ));
    let shards = run_job(&truncate, "truncate").await;
    assert!(shards.len() > 1, "several shards, one truncate");
    assert_eq!(
        text_rows(&client, "SELECT id FROM dst ORDER BY id").await,
        vec![
            vec![Some("1".to_string())],
            vec![Some("2".to_string())],
            vec![Some("3".to_string())]
        ]
    );
    drop(client);
    db.drop_database().await;
}

#[tokio::test]
async fn missing_table_and_column_errors_name_what_exists() {
    let db = TestDb::create().await;
    let client = db.client().await;
    client
        .batch_execute("CREATE TABLE present (id bigint, name text)")
        .await
        .expect("table");
    let job = spec(&format!(
        "source: {{connection: {conn}, table: absent}}\nsink: {{connection: {conn}, table: absent}}\n",
        conn = db.connection_yaml()
    ));
    let source =
        sluice_connectors::open_source(&job, &support::source_connection(&job)).expect("open");
    let error = source.schema().await.expect_err("missing table");
    assert!(
        error
            .to_string()
            .contains("tables in schema public: present"),
        "{error}"
    );
    assert!(!error.is_retryable());
    let sink = sluice_connectors::open_sink(&job, &support::sink_connection(&job)).expect("open");
    let error = sink
        .prepare(Arc::new(batch(0..1, "x").schema().as_ref().clone()))
        .await
        .expect_err("missing sink table");
    assert!(error.to_string().contains("sink.create_table"), "{error}");
    let wrong_column = spec(&format!(
        "source: {{connection: {conn}, table: present, columns: [id, nmae]}}\nsink: {{connection: {conn}, table: present}}\n",
        conn = db.connection_yaml()
    ));
    let source =
        sluice_connectors::open_source(&wrong_column, &support::source_connection(&wrong_column))
            .expect("open");
    let error = source
        .read(
            &KeyRange::All,
            &batch_channel(1, Arc::new(ShardCounters::default())).0,
        )
        .await
        .expect_err("bad column");
    assert_eq!(
        error.to_string(),
        "source.columns[1]: \"nmae\" is not a column of public.present; columns are: id, name"
    );
    drop(client);
    db.drop_database().await;
}
