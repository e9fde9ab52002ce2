//! Pure assignment choices, kept apart from IO so they can be tested exhaustively.

use sluice_common::ids::WorkerId;

/// What the scheduler knows of a worker when choosing where work goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCapacity {
    /// The worker.
    pub worker_id: WorkerId,
    /// Slots not running a shard.
    pub free_slots: u32,
    /// Planning and finalisation tasks it runs now.
    pub tasks: u32,
}

/// Returns the worker that should take the next shard: the one with the most free slots
/// (spreading a job over the cluster), ties broken by fewer tasks, then by id.
pub fn choose_worker_for_shard(workers: &[WorkerCapacity]) -> Option<&WorkerId> {
    workers
        .iter()
        .filter(|worker| worker.free_slots > 0)
        .max_by(|left, right| {
            left.free_slots
                .cmp(&right.free_slots)
                .then(right.tasks.cmp(&left.tasks))
                .then(right.worker_id.cmp(&left.worker_id))
        })
        .map(|worker| &worker.worker_id)
}

/// Returns the worker that should run a planning or finalisation task: the one with the fewest
/// tasks, then the most free slots. Tasks do not need a free slot (they are short).
pub fn choose_worker_for_task(workers: &[WorkerCapacity]) -> Option<&WorkerId> {
    workers
        .iter()
        .min_by(|left, right| {
            left.tasks
                .cmp(&right.tasks)
                .then(right.free_slots.cmp(&left.free_slots))
                .then(left.worker_id.cmp(&right.worker_id))
        })
        .map(|worker| &worker.worker_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(id: &str, free_slots: u32, tasks: u32) -> WorkerCapacity {
        WorkerCapacity {
            worker_id: WorkerId(id.into()),
            free_slots,
            tasks,
        }
    }

    #[test]
    fn shards_go_to_the_emptiest_worker() {
        let workers = [worker("a", 1, 0), worker("b", 3, 0), worker("c", 3, 1)];
        assert_eq!(
            choose_worker_for_shard(&workers),
            Some(&WorkerId("b".into()))
        );
    }

    #[test]
    fn no_free_slot_means_no_assignment() {
        let workers = [worker("a", 0, 0), worker("b", 0, 2)];
        assert_eq!(choose_worker_for_shard(&workers), None);
        assert_eq!(choose_worker_for_shard(&[]), None);
    }

    #[test]
    fn tasks_go_to_the_least_busy_worker_even_when_full() {
        let workers = [worker("a", 0, 1), worker("b", 0, 0)];
        assert_eq!(
            choose_worker_for_task(&workers),
            Some(&WorkerId("b".into()))
        );
    }

    #[test]
    fn ties_are_broken_by_id_deterministically() {
        let workers = [worker("b", 2, 0), worker("a", 2, 0)];
        assert_eq!(
            choose_worker_for_shard(&workers),
            Some(&WorkerId("a".into()))
        );
    }
}
