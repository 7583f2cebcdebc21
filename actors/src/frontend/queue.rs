//! The query-frontend's job queue: per-tenant FIFO queues served round-robin across tenants.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

pub type JobId = u64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueueError {
    #[error("too many outstanding requests")]
    TooManyOutstanding,
    #[error("job {0} failed after {1} attempts")]
    Exhausted(JobId, u32),
    #[error("queue is stopped")]
    Stopped,
}

/// A job handed to a worker.
#[derive(Debug, Clone)]
pub struct Leased<J> {
    pub id: JobId,
    pub tenant: String,
    pub attempt: u32,
    pub job: J,
}

struct Entry<J> {
    id: JobId,
    attempt: u32,
    job: J,
}

/// The synchronous core.
pub struct JobQueue<J> {
    max_outstanding_per_tenant: usize,
    max_retries: u32,
    next_id: JobId,
    queues: BTreeMap<String, VecDeque<Entry<J>>>,
    /// Tenants in round-robin order.
    turn: VecDeque<String>,
    leased: HashMap<JobId, (String, Entry<J>)>,
}

impl<J: Clone> JobQueue<J> {
    pub fn new(max_outstanding_per_tenant: usize, max_retries: u32) -> Self {
        JobQueue {
            max_outstanding_per_tenant,
            max_retries,
            next_id: 1,
            queues: BTreeMap::new(),
            turn: VecDeque::new(),
            leased: HashMap::new(),
        }
    }

    pub fn enqueue(&mut self, tenant: &str, job: J) -> Result<JobId, QueueError> {
        if self.tenant_queued(tenant) >= self.max_outstanding_per_tenant {
            return Err(QueueError::TooManyOutstanding);
        }
        let id = self.next_id;
        self.next_id += 1;
        self.push(
            tenant,
            Entry {
                id,
                attempt: 1,
                job,
            },
            false,
        );
        Ok(id)
    }

    fn push(&mut self, tenant: &str, entry: Entry<J>, front: bool) {
        let queue = self.queues.entry(tenant.to_owned()).or_default();
        if queue.is_empty() && !self.turn.iter().any(|name| name == tenant) {
            self.turn.push_back(tenant.to_owned());
        }
        if front {
            queue.push_front(entry);
        } else {
            queue.push_back(entry);
        }
    }

    pub fn lease(&mut self) -> Option<Leased<J>> {
        while let Some(tenant) = self.turn.pop_front() {
            let Some(queue) = self.queues.get_mut(&tenant) else {
                continue;
            };
            let Some(entry) = queue.pop_front() else {
                self.queues.remove(&tenant);
                continue;
            };
            if queue.is_empty() {
                self.queues.remove(&tenant);
            } else {
                self.turn.push_back(tenant.clone());
            }
            let leased = Leased {
                id: entry.id,
                tenant: tenant.clone(),
                attempt: entry.attempt,
                job: entry.job.clone(),
            };
            self.leased.insert(entry.id, (tenant, entry));
            return Some(leased);
        }
        None
    }

    pub fn complete(&mut self, id: JobId) {
        self.leased.remove(&id);
    }

    pub fn retry(&mut self, id: JobId) -> Result<(), QueueError> {
        let Some((tenant, mut entry)) = self.leased.remove(&id) else {
            return Ok(());
        };
        if entry.attempt > self.max_retries {
            return Err(QueueError::Exhausted(id, entry.attempt));
        }
        entry.attempt += 1;
        self.push(&tenant, entry, true);
        Ok(())
    }

    pub fn queued_len(&self) -> usize {
        self.queues.values().map(VecDeque::len).sum()
    }

    pub fn leased_len(&self) -> usize {
        self.leased.len()
    }

    pub fn tenant_queued(&self, tenant: &str) -> usize {
        self.queues.get(tenant).map_or(0, VecDeque::len)
    }
}

struct Shared<J> {
    queue: Mutex<(JobQueue<J>, bool)>,
    available: Notify,
}

/// The queue shared by the frontend and its workers.
pub struct SharedQueue<J> {
    shared: Arc<Shared<J>>,
}

impl<J> Clone for SharedQueue<J> {
    fn clone(&self) -> Self {
        SharedQueue {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<J: Clone> SharedQueue<J> {
    pub fn new(max_outstanding_per_tenant: usize, max_retries: u32) -> Self {
        SharedQueue {
            shared: Arc::new(Shared {
                queue: Mutex::new((
                    JobQueue::new(max_outstanding_per_tenant, max_retries),
                    false,
                )),
                available: Notify::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (JobQueue<J>, bool)> {
        self.shared
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn enqueue(&self, tenant: &str, job: J) -> Result<JobId, QueueError> {
        let id = {
            let mut guard = self.lock();
            if guard.1 {
                return Err(QueueError::Stopped);
            }
            guard.0.enqueue(tenant, job)?
        };
        self.shared.available.notify_one();
        Ok(id)
    }

    pub async fn next(&self) -> Result<Leased<J>, QueueError> {
        loop {
            let notified = self.shared.available.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut guard = self.lock();
                if guard.1 {
                    return Err(QueueError::Stopped);
                }
                if let Some(leased) = guard.0.lease() {
                    let more = guard.0.queued_len() > 0;
                    drop(guard);
                    if more {
                        self.shared.available.notify_one();
                    }
                    return Ok(leased);
                }
            }
            notified.await;
        }
    }

    pub fn complete(&self, id: JobId) {
        self.lock().0.complete(id);
    }

    pub fn retry(&self, id: JobId) -> Result<(), QueueError> {
        let outcome = self.lock().0.retry(id);
        self.shared.available.notify_one();
        outcome
    }

    pub fn stop(&self) {
        self.lock().1 = true;
        self.shared.available.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn tenants_are_served_round_robin_and_fifo_within_a_tenant() {
        let mut queue = JobQueue::new(100, 2);
        for job in 0..10 {
            queue.enqueue("a", format!("a{job}")).expect("queued");
        }
        queue.enqueue("b", "b0".to_owned()).expect("queued");
        let first = queue.lease().expect("job");
        let second = queue.lease().expect("job");
        assert_eq!(first.job, "a0");
        assert_eq!(second.job, "b0", "b waits for at most one job of a");
        assert_eq!(queue.lease().expect("job").job, "a1");
        assert_eq!(queue.queued_len(), 8);
        assert_eq!(queue.leased_len(), 3);
    }

    #[test]
    fn outstanding_jobs_are_limited_per_tenant() {
        let mut queue = JobQueue::new(2, 0);
        queue.enqueue("a", 1).expect("queued");
        queue.enqueue("a", 2).expect("queued");
        let refused = queue.enqueue("a", 3).expect_err("refused");
        assert_eq!(refused.to_string(), "too many outstanding requests");
        queue
            .enqueue("b", 4)
            .expect("other tenants are not affected");
        let leased = queue.lease().expect("job");
        assert_eq!(queue.tenant_queued("a"), 1, "a leased job is not queued");
        queue.enqueue("a", 5).expect("room again");
        queue.complete(leased.id);
    }

    #[test]
    fn a_retried_job_goes_first_until_its_attempts_run_out() {
        let mut queue = JobQueue::new(10, 1);
        queue.enqueue("a", "first").expect("queued");
        queue.enqueue("a", "second").expect("queued");
        let leased = queue.lease().expect("job");
        assert_eq!(leased.attempt, 1);
        queue.retry(leased.id).expect("one retry allowed");
        let again = queue.lease().expect("job");
        assert_eq!(
            (again.id, again.job, again.attempt),
            (leased.id, "first", 2)
        );
        assert_eq!(
            queue.retry(again.id),
            Err(QueueError::Exhausted(leased.id, 2))
        );
        assert_eq!(queue.lease().expect("job").job, "second");
        assert!(queue.lease().is_none());
    }

    #[tokio::test]
    async fn waiting_workers_wake_for_jobs_and_on_stop() {
        let queue: SharedQueue<u32> = SharedQueue::new(10, 0);
        let first = tokio::spawn({
            let queue = queue.clone();
            async move { queue.next().await }
        });
        let second = tokio::spawn({
            let queue = queue.clone();
            async move { queue.next().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        queue.enqueue("a", 1).expect("queued");
        queue.enqueue("b", 2).expect("queued");
        let mut jobs = vec![
            first.await.expect("task").expect("job").job,
            second.await.expect("task").expect("job").job,
        ];
        jobs.sort_unstable();
        assert_eq!(jobs, vec![1, 2], "each waiter gets a distinct job");

        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move { queue.next().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        queue.stop();
        assert_eq!(
            waiting.await.expect("task").expect_err("stopped"),
            QueueError::Stopped
        );
        assert_eq!(queue.enqueue("a", 3), Err(QueueError::Stopped));
    }

    #[tokio::test]
    async fn a_cancelled_wait_loses_no_job() {
        let queue: SharedQueue<u32> = SharedQueue::new(10, 0);
        let cancelled = tokio::time::timeout(Duration::from_millis(10), queue.next()).await;
        assert!(cancelled.is_err(), "nothing queued yet");
        queue.enqueue("a", 7).expect("queued");
        let leased = tokio::time::timeout(Duration::from_secs(1), queue.next())
            .await
            .expect("woken")
            .expect("job");
        assert_eq!(leased.job, 7);
    }

    #[derive(Debug, Clone)]
    enum Step {
        Enqueue(u8),
        Lease,
        Complete,
        Retry,
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        proptest::collection::vec(
            prop_oneof![
                (0u8..3).prop_map(Step::Enqueue),
                Just(Step::Lease),
                Just(Step::Complete),
                Just(Step::Retry),
            ],
            0..80,
        )
    }

    proptest! {
        /// Every enqueued job ends exactly once, completed or exhausted, once the queue is drained.
        #[test]
        fn no_job_is_lost_or_duplicated(steps in steps()) {
            let mut queue = JobQueue::new(1_000, 2);
            let mut leased: Vec<JobId> = Vec::new();
            let mut enqueued = Vec::new();
            let mut ended: Vec<JobId> = Vec::new();
            for step in steps {
                match step {
                    Step::Enqueue(tenant) => {
                        let id = queue.enqueue(&format!("t{tenant}"), ()).expect("queued");
                        enqueued.push(id);
                    }
                    Step::Lease => {
                        if let Some(job) = queue.lease() {
                            prop_assert!(!leased.contains(&job.id), "leased twice");
                            leased.push(job.id);
                        }
                    }
                    Step::Complete => {
                        if let Some(id) = leased.pop() {
                            queue.complete(id);
                            ended.push(id);
                        }
                    }
                    Step::Retry => {
                        if let Some(id) = leased.pop()
                            && queue.retry(id).is_err()
                        {
                            ended.push(id);
                        }
                    }
                }
            }
            for id in leased.drain(..) {
                queue.complete(id);
                ended.push(id);
            }
            while let Some(job) = queue.lease() {
                queue.complete(job.id);
                ended.push(job.id);
            }
            ended.sort_unstable();
            enqueued.sort_unstable();
            prop_assert_eq!(ended, enqueued);
            prop_assert_eq!(queue.leased_len(), 0);
        }
    }
}
