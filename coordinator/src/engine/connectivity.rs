//! Connectivity tests in flight: each is sent to one worker of the requested resource group
//! and answered when that worker's `ConnectivityResult` comes back (or fails when the worker
//! leaves; the API gives up after its own timeout).

use super::model::Model;
use crate::error::{CoordinatorError, Result};
use sluice_common::ids::WorkerId;
use sluice_proto::v1 as pb;
use std::collections::{BTreeSet, HashMap};
use tokio::sync::oneshot;

/// Where the answer of one test goes.
pub type TestReply = oneshot::Sender<Result<pb::TestConnectivityResponse>>;

/// Tests sent to workers and not answered yet.
#[derive(Default)]
pub struct PendingTests {
    next: u64,
    pending: HashMap<String, (WorkerId, TestReply)>,
}

impl PendingTests {
    /// Records a test sent to `worker_id`; returns its request id.
    pub fn start(&mut self, worker_id: WorkerId, reply: TestReply) -> String {
        self.next += 1;
        let request_id = format!("connectivity-{}", self.next);
        self.pending.insert(request_id.clone(), (worker_id, reply));
        request_id
    }

    /// Delivers a worker's answer (ignored when it is unknown or from another worker).
    pub fn answer(&mut self, worker_id: &WorkerId, result: pb::ConnectivityResult) {
        let Some((expected, _)) = self.pending.get(&result.request_id) else {
            return;
        };
        if expected != worker_id {
            return;
        }
        if let Some((_, reply)) = self.pending.remove(&result.request_id) {
            let answer = result.response.ok_or_else(|| {
                CoordinatorError::Internal(format!("worker {worker_id} sent an empty test result"))
            });
            let _ = reply.send(answer);
        }
    }

    /// Fails the tests of workers no longer connected and forgets those nobody waits for.
    pub fn prune(&mut self, model: &Model) {
        let gone: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, (worker_id, reply))| {
                reply.is_closed() || !model.workers.contains_key(worker_id)
            })
            .map(|(request_id, _)| request_id.clone())
            .collect();
        for request_id in gone {
            if let Some((worker_id, reply)) = self.pending.remove(&request_id) {
                let _ = reply.send(Err(CoordinatorError::Unavailable(format!(
                    "worker {worker_id} left before answering the connectivity test; run it again"
                ))));
            }
        }
    }
}

/// Picks the worker of `group` that runs a test: not draining, fewest tasks and shards.
///
/// # Errors
/// [`CoordinatorError::FailedPrecondition`] naming the group and the groups that have workers.
pub fn choose_worker(model: &Model, group: &str) -> Result<WorkerId> {
    model
        .workers
        .values()
        .filter(|worker| worker.resource_group == group && !worker.draining)
        .min_by_key(|worker| (worker.tasks, worker.running.len(), worker.worker_id.clone()))
        .map(|worker| worker.worker_id.clone())
        .ok_or_else(|| {
            CoordinatorError::FailedPrecondition(format!(
                "no live worker in resource group \"{group}\"; {}",
                groups_with_workers(model)
            ))
        })
}

/// Describes the groups that have live workers, for errors.
pub fn groups_with_workers(model: &Model) -> String {
    let groups: BTreeSet<&str> = model
        .workers
        .values()
        .filter(|worker| !worker.draining)
        .map(|worker| worker.resource_group.as_str())
        .collect();
    if groups.is_empty() {
        "no worker is connected at all: start one with `sluice worker --group GROUP`".to_string()
    } else {
        format!(
            "groups with workers: {}; start a worker with `--group` or pick one of those",
            groups.into_iter().collect::<Vec<_>>().join(", ")
        )
    }
}
