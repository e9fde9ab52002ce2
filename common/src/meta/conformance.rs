//! The contract of [`MetaStore`], as generic test cases run against every implementation.
//!
//! Each implementation invokes [`meta_store_conformance!`](crate::meta_store_conformance) once
//! with an async factory returning a fresh, isolated store (its own file or etcd prefix).

use super::{DeleteOutcome, MetaStore, Precondition, PutOutcome, WatchEvent};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// Expands into one `#[tokio::test]` per conformance case, each on a store from `$factory`.
#[macro_export]
macro_rules! meta_store_conformance {
    ($factory:expr) => {
        $crate::meta_store_conformance!(@cases $factory;
            put_then_get_returns_value_and_revisions,
            put_if_absent_conflicts_when_present,
            put_all_writes_every_key_at_one_revision,
            create_all_writes_all_or_nothing,
            stale_revision_compare_and_swap_fails,
            concurrent_compare_and_swap_has_exactly_one_winner,
            concurrent_writers_lose_no_update,
            list_prefix_returns_only_that_prefix_sorted,
            delete_honours_revision,
            lease_expiry_removes_keys,
            keep_alive_extends_lease,
            revoke_removes_keys_at_once,
            watch_delivers_puts_and_deletes_in_order,
            watch_resumes_from_revision,
        );
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $factory.await;
                $crate::meta::conformance::$case(std::sync::Arc::new(store)).await;
            }
        )*
    };
}

/// A put is visible to get, with the revision the put returned.
pub async fn put_then_get_returns_value_and_revisions<S: MetaStore>(store: Arc<S>) {
    let outcome = store
        .put("a/key", b"one".to_vec(), Precondition::None, None)
        .await
        .expect("put");
    let PutOutcome::Written { revision } = outcome else {
        panic!("unconditional put must be written, got {outcome:?}")
    };
    let stored = store.get("a/key").await.expect("get").expect("present");
    assert_eq!(stored.value, b"one");
    assert_eq!(stored.mod_revision, revision);
    assert_eq!(stored.create_revision, revision);
    let second = store
        .put("a/key", b"two".to_vec(), Precondition::None, None)
        .await
        .expect("put");
    let PutOutcome::Written {
        revision: second_revision,
    } = second
    else {
        panic!("second put must be written")
    };
    assert!(second_revision > revision, "revisions must grow");
    let updated = store.get("a/key").await.expect("get").expect("present");
    assert_eq!(updated.create_revision, revision, "create revision is kept");
    assert_eq!(updated.value, b"two");
    assert!(store.get("a/missing").await.expect("get").is_none());
}

/// `create_all` writes every key at one revision when none exists, and nothing when one does.
pub async fn create_all_writes_all_or_nothing<S: MetaStore>(store: Arc<S>) {
    store
        .put("create/taken", b"before".to_vec(), Precondition::None, None)
        .await
        .expect("put");
    let refused = store
        .create_all(vec![
            ("create/first".to_string(), b"1".to_vec()),
            ("create/taken".to_string(), b"2".to_vec()),
        ])
        .await
        .expect("create_all");
    assert_eq!(refused, None, "a key existed: nothing may be written");
    assert!(store.get("create/first").await.expect("get").is_none());
    let taken = store.get("create/taken").await.expect("get").expect("kept");
    assert_eq!(taken.value, b"before");
    let revision = store
        .create_all(vec![
            ("create/first".to_string(), b"1".to_vec()),
            ("create/second".to_string(), b"2".to_vec()),
        ])
        .await
        .expect("create_all")
        .expect("written");
    for key in ["create/first", "create/second"] {
        let created = store.get(key).await.expect("get").expect("present");
        assert_eq!(created.mod_revision, revision);
        assert_eq!(created.create_revision, revision);
    }
}

/// `put_all` writes several keys (new and existing) at one revision, visible together.
pub async fn put_all_writes_every_key_at_one_revision<S: MetaStore>(store: Arc<S>) {
    store
        .put("batch/old", b"before".to_vec(), Precondition::None, None)
        .await
        .expect("put");
    let old = store.get("batch/old").await.expect("get").expect("present");
    let revision = store
        .put_all(vec![
            ("batch/old".to_string(), b"after".to_vec()),
            ("batch/new".to_string(), b"fresh".to_vec()),
        ])
        .await
        .expect("put_all");
    assert!(revision > old.mod_revision, "revisions must grow");
    let updated = store.get("batch/old").await.expect("get").expect("present");
    let created = store.get("batch/new").await.expect("get").expect("present");
    assert_eq!(updated.value, b"after");
    assert_eq!(created.value, b"fresh");
    assert_eq!(updated.mod_revision, revision);
    assert_eq!(created.mod_revision, revision);
    assert_eq!(created.create_revision, revision);
    assert_eq!(updated.create_revision, old.create_revision);
    let listed = store.list_prefix("batch/").await.expect("list");
    assert_eq!(listed.len(), 2);
}

/// `Precondition::Absent` writes once and then reports the existing value.
pub async fn put_if_absent_conflicts_when_present<S: MetaStore>(store: Arc<S>) {
    let first = store
        .put("absent/k", b"first".to_vec(), Precondition::Absent, None)
        .await
        .expect("put");
    assert!(first.is_written());
    let second = store
        .put("absent/k", b"second".to_vec(), Precondition::Absent, None)
        .await
        .expect("put");
    match second {
        PutOutcome::Conflict {
            current: Some(current),
        } => assert_eq!(current.value, b"first"),
        other => panic!("expected a conflict showing the current value, got {other:?}"),
    }
}

/// A compare-and-swap against an old revision is refused and changes nothing.
pub async fn stale_revision_compare_and_swap_fails<S: MetaStore>(store: Arc<S>) {
    store
        .put("cas/k", b"v1".to_vec(), Precondition::None, None)
        .await
        .expect("put");
    let first = store.get("cas/k").await.expect("get").expect("present");
    let updated = store
        .put(
            "cas/k",
            b"v2".to_vec(),
            Precondition::ModRevision(first.mod_revision),
            None,
        )
        .await
        .expect("cas");
    assert!(updated.is_written());
    let stale = store
        .put(
            "cas/k",
            b"v3".to_vec(),
            Precondition::ModRevision(first.mod_revision),
            None,
        )
        .await
        .expect("cas");
    assert!(!stale.is_written(), "stale revision must not win");
    let missing = store
        .put(
            "cas/missing",
            b"x".to_vec(),
            Precondition::ModRevision(first.mod_revision),
            None,
        )
        .await
        .expect("cas");
    assert!(
        !missing.is_written(),
        "a revision precondition on a missing key fails"
    );
    assert_eq!(
        store
            .get("cas/k")
            .await
            .expect("get")
            .expect("present")
            .value,
        b"v2"
    );
}

/// Of many writers racing on one revision, exactly one wins.
pub async fn concurrent_compare_and_swap_has_exactly_one_winner<S: MetaStore>(store: Arc<S>) {
    store
        .put("race/k", b"start".to_vec(), Precondition::None, None)
        .await
        .expect("put");
    let revision = store
        .get("race/k")
        .await
        .expect("get")
        .expect("present")
        .mod_revision;
    let mut tasks = Vec::new();
    for writer in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .put(
                    "race/k",
                    format!("writer-{writer}").into_bytes(),
                    Precondition::ModRevision(revision),
                    None,
                )
                .await
                .expect("cas")
                .is_written()
        }));
    }
    let mut winners = 0;
    for task in tasks {
        if task.await.expect("join") {
            winners += 1;
        }
    }
    assert_eq!(
        winners, 1,
        "exactly one concurrent compare-and-swap must win"
    );
}

/// Writers that retry compare-and-swap on conflict lose no increment.
pub async fn concurrent_writers_lose_no_update<S: MetaStore>(store: Arc<S>) {
    store
        .put("counter/k", b"0".to_vec(), Precondition::None, None)
        .await
        .expect("put");
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                loop {
                    let current = store.get("counter/k").await.expect("get").expect("present");
                    let value: u64 = String::from_utf8_lossy(&current.value)
                        .parse()
                        .expect("number");
                    let next = (value + 1).to_string().into_bytes();
                    let outcome = store
                        .put(
                            "counter/k",
                            next,
                            Precondition::ModRevision(current.mod_revision),
                            None,
                        )
                        .await
                        .expect("cas");
                    if outcome.is_written() {
                        break;
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.expect("join");
    }
    let final_value = store.get("counter/k").await.expect("get").expect("present");
    assert_eq!(final_value.value, b"40");
}

/// Prefix listing returns exactly the keys under the prefix, sorted.
pub async fn list_prefix_returns_only_that_prefix_sorted<S: MetaStore>(store: Arc<S>) {
    for key in ["list/b", "list/a", "list/c/deep", "listing", "lisu"] {
        store
            .put(key, key.as_bytes().to_vec(), Precondition::None, None)
            .await
            .expect("put");
    }
    let keys: Vec<String> = store
        .list_prefix("list/")
        .await
        .expect("list")
        .into_iter()
        .map(|kv| kv.key)
        .collect();
    assert_eq!(keys, vec!["list/a", "list/b", "list/c/deep"]);
    assert!(store
        .list_prefix("nothing/")
        .await
        .expect("list")
        .is_empty());
}

/// Deletion with a revision precondition only deletes the version it names.
pub async fn delete_honours_revision<S: MetaStore>(store: Arc<S>) {
    store
        .put("del/k", b"v".to_vec(), Precondition::None, None)
        .await
        .expect("put");
    let current = store.get("del/k").await.expect("get").expect("present");
    let stale = store
        .delete("del/k", Precondition::ModRevision(current.mod_revision - 1))
        .await
        .expect("delete");
    assert_eq!(stale, DeleteOutcome::Conflict);
    let deleted = store
        .delete("del/k", Precondition::ModRevision(current.mod_revision))
        .await
        .expect("delete");
    assert_eq!(deleted, DeleteOutcome::Deleted);
    assert!(store.get("del/k").await.expect("get").is_none());
    let again = store
        .delete("del/k", Precondition::None)
        .await
        .expect("delete");
    assert_eq!(again, DeleteOutcome::NotFound);
}

async fn wait_until_absent<S: MetaStore>(store: &S, key: &str, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if store.get(key).await.expect("get").is_none() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A key bound to a lease that is not kept alive disappears after the TTL.
pub async fn lease_expiry_removes_keys<S: MetaStore>(store: Arc<S>) {
    let lease = store
        .grant_lease(Duration::from_secs(2))
        .await
        .expect("lease");
    store
        .put(
            "lease/worker",
            b"alive".to_vec(),
            Precondition::None,
            Some(lease),
        )
        .await
        .expect("put");
    let stored = store
        .get("lease/worker")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(stored.lease, Some(lease));
    assert!(
        wait_until_absent(store.as_ref(), "lease/worker", Duration::from_secs(10)).await,
        "the key of an expired lease must be removed"
    );
    assert!(
        store.keep_alive(lease).await.is_err(),
        "an expired lease cannot be renewed"
    );
}

/// Keep-alives hold a lease past its TTL.
pub async fn keep_alive_extends_lease<S: MetaStore>(store: Arc<S>) {
    let lease = store
        .grant_lease(Duration::from_secs(2))
        .await
        .expect("lease");
    store
        .put(
            "keep/worker",
            b"alive".to_vec(),
            Precondition::None,
            Some(lease),
        )
        .await
        .expect("put");
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        store.keep_alive(lease).await.expect("keep alive");
    }
    assert!(
        store.get("keep/worker").await.expect("get").is_some(),
        "a lease kept alive for 4 s with a 2 s TTL must still hold its key"
    );
    store.revoke_lease(lease).await.expect("revoke");
}

/// Revoking a lease deletes its keys at once.
pub async fn revoke_removes_keys_at_once<S: MetaStore>(store: Arc<S>) {
    let lease = store
        .grant_lease(Duration::from_secs(60))
        .await
        .expect("lease");
    store
        .put("revoke/a", b"1".to_vec(), Precondition::None, Some(lease))
        .await
        .expect("put");
    store.revoke_lease(lease).await.expect("revoke");
    assert!(store.get("revoke/a").await.expect("get").is_none());
}

async fn next_event(stream: &mut super::WatchStream) -> WatchEvent {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a watch event within 10 s")
        .expect("the watch stream is open")
        .expect("no watch error")
}

/// A watch sees puts and deletes under its prefix, in order, and nothing else.
pub async fn watch_delivers_puts_and_deletes_in_order<S: MetaStore>(store: Arc<S>) {
    let mut stream = store.watch_prefix("watch/", None).await.expect("watch");
    store
        .put("watch/a", b"1".to_vec(), Precondition::None, None)
        .await
        .expect("put");
    store
        .put("other/x", b"ignored".to_vec(), Precondition::None, None)
        .await
        .expect("put");
    store
        .put("watch/a", b"2".to_vec(), Precondition::None, None)
        .await
        .expect("put");
    store
        .delete("watch/a", Precondition::None)
        .await
        .expect("delete");
    let first = next_event(&mut stream).await;
    let second = next_event(&mut stream).await;
    let third = next_event(&mut stream).await;
    match (&first, &second, &third) {
        (WatchEvent::Put(one), WatchEvent::Put(two), WatchEvent::Delete { key, .. }) => {
            assert_eq!(one.value, b"1");
            assert_eq!(two.value, b"2");
            assert_eq!(key, "watch/a");
        }
        other => panic!("unexpected events {other:?}"),
    }
    assert!(first.revision() < second.revision() && second.revision() < third.revision());
}

/// A watch started at an old revision replays what happened since.
pub async fn watch_resumes_from_revision<S: MetaStore>(store: Arc<S>) {
    let outcome = store
        .put("resume/a", b"1".to_vec(), Precondition::None, None)
        .await
        .expect("put");
    let PutOutcome::Written { revision } = outcome else {
        panic!("written")
    };
    store
        .put("resume/b", b"2".to_vec(), Precondition::None, None)
        .await
        .expect("put");
    let mut stream = store
        .watch_prefix("resume/", Some(revision))
        .await
        .expect("watch");
    let first = next_event(&mut stream).await;
    let second = next_event(&mut stream).await;
    assert_eq!(first.key(), "resume/a");
    assert_eq!(first.revision(), revision);
    assert_eq!(second.key(), "resume/b");
    store
        .put("resume/c", b"3".to_vec(), Precondition::None, None)
        .await
        .expect("put");
    assert_eq!(next_event(&mut stream).await.key(), "resume/c");
}
