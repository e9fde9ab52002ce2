//! Sessions kept between shards (`postgres::pool`): a session given back is handed to the next
//! shard of the same server, database and user with its session options; never to another
//! database, and not once its server backend is gone.

#[path = "postgres_support.rs"]
mod support;

use sluice_connectors::postgres::PgSettings;
use std::time::Duration;
use support::{count, sink_connection, spec, TestDb};
use tokio_postgres::Client;

fn settings_for(db: &TestDb) -> PgSettings {
    let job = spec(&format!(
        "source: {{connection: {conn}, table: t}}\nsink: {{connection: {conn}, table: t}}\n",
        conn = db.connection_yaml()
    ));
    PgSettings::from_connection(&sink_connection(&job), "sink").expect("settings")
}

async fn backend_pid(client: &Client) -> i32 {
    client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("backend pid")
        .get(0)
}

#[tokio::test]
async fn released_sessions_are_reused_only_where_they_belong_and_while_open() {
    let db = TestDb::create().await;
    let other = TestDb::create().await;
    let settings = settings_for(&db);

    let first = settings.connect().await.expect("connect");
    let pid = backend_pid(&first).await;
    settings.release(first);
    let again = settings.connect().await.expect("connect again");
    assert_eq!(
        backend_pid(&again).await,
        pid,
        "the released session is reused"
    );
    let zone: String = again
        .query_one("SHOW TIME ZONE", &[])
        .await
        .expect("time zone")
        .get(0);
    assert_eq!(zone, "UTC", "session options survive");
    settings.release(again);

    let elsewhere = settings_for(&other).connect().await.expect("connect other");
    assert_ne!(
        backend_pid(&elsewhere).await,
        pid,
        "another database gets its own session"
    );

    // The kept session's backend goes away: the next connect opens a new one that works.
    let admin = db.client().await;
    admin
        .query("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .expect("terminate");
    for _ in 0..100 {
        let alive = count(
            &admin,
            &format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {pid}"),
        )
        .await;
        if alive == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let fresh = settings.connect().await.expect("connect after termination");
    assert_ne!(
        backend_pid(&fresh).await,
        pid,
        "a closed session is not handed out"
    );

    drop((fresh, elsewhere, admin));
    other.drop_database().await;
    db.drop_database().await;
}
