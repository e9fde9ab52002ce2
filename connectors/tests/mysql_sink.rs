//! MySQL sink: exactly-once commit markers under concurrent attempts, dirty-row isolation,
//! upsert, truncate, and a throughput measurement of literal vs parameterised inserts.

#[path = "mysql_support.rs"]
mod mysql_support;
#[path = "postgres_support.rs"]
mod support;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use mysql_async::Conn;
use mysql_support::{count, execute, MyDb};
use sluice_connectors::{batch_channel, BatchSender, ShardCounters, Sink, WriteOutcome};
use std::sync::Arc;
use std::time::Duration;
use support::{identity, run_job, spec};

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

fn sink_for(db: &MyDb, table: &str, extra: &str) -> Box<dyn Sink> {
    let job = spec(&format!(
        "source: {{connection: {conn}, table: ignored}}\nsink: {{connection: {conn}, table: {table}{extra}}}\n",
        conn = db.connection_yaml()
    ));
    sluice_connectors::open_sink(&job, &support::sink_connection(&job)).expect("open sink")
}

async fn feed(sender: BatchSender, batches: Vec<RecordBatch>) {
    for one in batches {
        sender.send(one).await.expect("send");
    }
    sender.finish().await.expect("finish");
}

/// Waits until a transaction of the server matches `condition`. InnoDB refreshes
/// `INNODB_TRX` only when it was last read more than 100 ms ago, so polls are 150 ms apart.
async fn wait_for_trx(conn: &mut Conn, condition: &str, what: &str) {
    for _ in 0..100 {
        // Sleep first: a read less than 100 ms after the previous one gets the stale cache.
        tokio::time::sleep(Duration::from_millis(150)).await;
        let matching = count(
            conn,
            &format!("SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE {condition}"),
        )
        .await;
        if matching > 0 {
            return;
        }
    }
    let all = mysql_support::text_rows(conn, "SELECT trx_state, trx_rows_modified, trx_mysql_thread_id FROM information_schema.INNODB_TRX").await;
    let processes = mysql_support::text_rows(
        conn,
        "SELECT ID, STATE, INFO FROM information_schema.PROCESSLIST",
    )
    .await;
    panic!("{what} never happened: {all:?} {processes:?}");
}

/// Two attempts of one shard run at once: `first` takes the marker, `second` waits on it.
async fn race(
    conn: &mut Conn,
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
        // Let the first attempt take the marker (and write its first rows) before the second.
        wait_for_trx(conn, "trx_rows_modified > 1", "the first attempt's insert").await;
        start_second.send(()).expect("second attempt waits");
        let second_feed = feed(
            second_sender,
            vec![batch(0..500, "second"), batch(500..1000, "second")],
        );
        let release_first = async {
            wait_for_trx(
                conn,
                "trx_state = 'LOCK WAIT'",
                "the second attempt's lock wait",
            )
            .await;
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
        assert!(
            first.is_err(),
            "an aborted input must not commit: {first:?}"
        );
        WriteOutcome::AlreadyCommitted
    };
    (first, second.expect("second attempt"))
}

#[tokio::test]
async fn concurrent_attempts_of_one_shard_commit_exactly_once_in_both_orders() {
    let db = MyDb::create().await;
    let mut conn = db.conn().await;
    let mut observer = db.conn().await;
    execute(
        &mut conn,
        "CREATE TABLE target (id BIGINT, name TEXT) ENGINE=InnoDB",
    )
    .await;
    let sink = sink_for(&db, "target", "");
    sink.prepare(batch(0..1, "x").schema())
        .await
        .expect("prepare");

    // Order 1: attempt 1 takes the marker first and commits; attempt 2 waits, then rolls back.
    let (first, second) = race(&mut observer, sink.as_ref(), 1, 2, true).await;
    assert_eq!(first, WriteOutcome::Committed { rows: 1000 });
    assert_eq!(second, WriteOutcome::AlreadyCommitted);
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM target").await, 1000);
    assert_eq!(
        count(
            &mut conn,
            "SELECT COUNT(*) FROM target WHERE name LIKE 'first%'"
        )
        .await,
        1000
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT attempt FROM _sluice_commits WHERE job_id = 'race-job' AND shard_id = 7"
        )
        .await,
        1
    );

    // Order 2: attempt 4 starts first but its reader dies; attempt 3 waits, then commits.
    execute(&mut conn, "TRUNCATE target; DELETE FROM _sluice_commits").await;
    let (_, second) = race(&mut observer, sink.as_ref(), 4, 3, false).await;
    assert_eq!(second, WriteOutcome::Committed { rows: 1000 });
    assert_eq!(
        count(
            &mut conn,
            "SELECT COUNT(*) FROM target WHERE name LIKE 'second%'"
        )
        .await,
        1000
    );
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM target").await, 1000);
    assert_eq!(
        count(
            &mut conn,
            "SELECT attempt FROM _sluice_commits WHERE job_id = 'race-job' AND shard_id = 7"
        )
        .await,
        3
    );

    // Order 3: the higher attempt takes the marker first; the lower one (a zombie) loses.
    execute(&mut conn, "TRUNCATE target; DELETE FROM _sluice_commits").await;
    let outcomes = race(&mut observer, sink.as_ref(), 6, 5, true).await;
    assert_eq!(
        outcomes,
        (
            WriteOutcome::Committed { rows: 1000 },
            WriteOutcome::AlreadyCommitted
        )
    );
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM target").await, 1000);

    // A later attempt, after the commit, rolls back at once.
    let (sender, receiver) = batch_channel(4, Arc::new(ShardCounters::default()));
    let late = tokio::spawn(feed(sender, vec![batch(0..10, "late")]));
    let outcome = sink
        .write_shard(&identity("race-job", 7, 9), receiver)
        .await
        .expect("late attempt");
    assert_eq!(outcome, WriteOutcome::AlreadyCommitted);
    late.abort();
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM target").await, 1000);
    drop(conn);
    drop(observer);
    db.drop_database().await;
}

#[tokio::test]
async fn rows_the_server_refuses_are_dirty_and_the_rest_commit() {
    refused_rows_are_dirty("").await;
}

#[tokio::test]
async fn rows_the_server_refuses_are_dirty_with_load_data_too() {
    refused_rows_are_dirty(", load_data: true").await;
}

async fn refused_rows_are_dirty(sink_options: &str) {
    let db = MyDb::create().await;
    let mut conn = db.conn().await;
    execute(
        &mut conn,
        "CREATE TABLE src (id BIGINT PRIMARY KEY, amount BIGINT, code BIGINT, label VARCHAR(50)) ENGINE=InnoDB;
         INSERT INTO src SELECT seq, seq, seq % 100, CONCAT('l', seq % 1000) FROM seq_1_to_3000;
         UPDATE src SET amount = -5 WHERE id = 1234;
         UPDATE src SET code = 70000 WHERE id = 2345;
         UPDATE src SET label = 'a label far too long for eight' WHERE id = 17;
         CREATE TABLE dst (id BIGINT PRIMARY KEY, amount BIGINT, code SMALLINT, label VARCHAR(8),
                           CONSTRAINT amount_not_negative CHECK (amount >= 0)) ENGINE=InnoDB;
         INSERT INTO dst VALUES (2999, 0, 0, 'here')",
    )
    .await;
    let job = spec(&format!(
        "source: {{connection: {conn}, table: src, split_pk: id}}\nsink: {{connection: {sink_conn}, table: dst}}\n\
         settings: {{parallelism: 1, batch_rows: 1000, shard_rows: 1000000}}\n",
        conn = db.connection_yaml(),
        sink_conn = db.connection_yaml_with(sink_options)
    ));
    let shards = run_job(&job, "dirty").await;
    let dirty: u64 = shards
        .iter()
        .map(|counters| counters.snapshot().dirty_records)
        .sum();
    let written: u64 = shards
        .iter()
        .map(|counters| counters.snapshot().rows_written)
        .sum();
    let samples: Vec<_> = shards
        .iter()
        .flat_map(|counters| counters.take_dirty_samples())
        .collect();
    assert_eq!(dirty, 4, "{samples:?}");
    assert_eq!(written, 2996);
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM dst").await, 2997);
    assert_eq!(
        count(
            &mut conn,
            "SELECT COUNT(*) FROM dst WHERE id IN (17, 1234, 2345)"
        )
        .await,
        0
    );
    let reason_of = |id: &str| {
        samples
            .iter()
            .find(|sample| sample.row.contains(&format!("\"id\":{id},")))
            .map(|sample| sample.reason.clone())
            .unwrap_or_else(|| panic!("no sample for id {id}: {samples:?}"))
    };
    assert!(
        reason_of("1234").contains("amount_not_negative"),
        "{}",
        reason_of("1234")
    );
    assert!(
        reason_of("2345").contains("Out of range"),
        "{}",
        reason_of("2345")
    );
    assert!(reason_of("17").contains("too long"), "{}", reason_of("17"));
    assert!(
        reason_of("2999").contains("Duplicate entry"),
        "{}",
        reason_of("2999")
    );
    drop(conn);
    db.drop_database().await;
}

#[tokio::test]
async fn upsert_updates_existing_keys_and_truncate_empties_once() {
    let db = MyDb::create().await;
    let mut conn = db.conn().await;
    execute(
        &mut conn,
        "CREATE TABLE src (id BIGINT PRIMARY KEY, name VARCHAR(50)) ENGINE=InnoDB;
         INSERT INTO src SELECT seq, CONCAT('new ', seq) FROM seq_1_to_100;
         CREATE TABLE dst (id BIGINT PRIMARY KEY, name VARCHAR(50), untouched INT DEFAULT 7) ENGINE=InnoDB;
         INSERT INTO dst (id, name, untouched) SELECT seq, CONCAT('old ', seq), 1 FROM seq_51_to_150;",
    )
    .await;
    let upsert = spec(&format!(
        "source: {{connection: {conn}, table: src, split_pk: id}}\nsink: {{connection: {conn}, table: dst, write_mode: upsert, keys: [id]}}\n",
        conn = db.connection_yaml()
    ));
    run_job(&upsert, "upsert").await;
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM dst").await, 150);
    assert_eq!(
        count(
            &mut conn,
            "SELECT COUNT(*) FROM dst WHERE name LIKE 'new %'"
        )
        .await,
        100
    );
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM dst WHERE untouched = 1").await,
        100,
        "only named columns change"
    );

    let truncate = spec(&format!(
        "source: {{connection: {conn}, table: src, split_pk: id}}\nsink: {{connection: {conn}, table: dst, write_mode: truncate, pre_sql: [\"INSERT INTO dst (id, name) VALUES (1000, 'pre')\"], post_sql: [\"DELETE FROM dst WHERE id = 1\"]}}\n",
        conn = db.connection_yaml()
    ));
    run_job(&truncate, "truncate").await;
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM dst").await,
        100,
        "99 copied + pre_sql row"
    );
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM dst WHERE id = 1000").await,
        1
    );
    drop(conn);
    db.drop_database().await;
}

#[tokio::test]
async fn a_missing_table_or_a_non_transactional_engine_names_the_fix() {
    let db = MyDb::create().await;
    let mut conn = db.conn().await;
    let sink = sink_for(&db, "nowhere", "");
    let error = sink
        .prepare(batch(0..1, "x").schema())
        .await
        .expect_err("missing table");
    assert!(
        error.to_string().contains("sink.create_table: true"),
        "{error}"
    );

    execute(
        &mut conn,
        "CREATE TABLE plain (id BIGINT, name TEXT) ENGINE=MyISAM",
    )
    .await;
    let sink = sink_for(&db, "plain", "");
    let (sender, receiver) = batch_channel(4, Arc::new(ShardCounters::default()));
    let feeder = tokio::spawn(feed(sender, vec![batch(0..10, "x")]));
    let error = sink
        .write_shard(&identity("myisam", 0, 1), receiver)
        .await
        .expect_err("myisam");
    assert!(error.to_string().contains("InnoDB"), "{error}");
    feeder.abort();
    assert_eq!(count(&mut conn, "SELECT COUNT(*) FROM plain").await, 0);
    assert_eq!(
        count(&mut conn, "SELECT COUNT(*) FROM _sluice_commits").await,
        0,
        "the marker rolled back"
    );
    drop(conn);
    db.drop_database().await;
}
