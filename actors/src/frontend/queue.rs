//! The query-frontend's job queue (Tempo's frontend queue): per-tenant FIFO queues served
//! round-robin across tenants, a per-tenant limit on queued jobs, and retries of jobs whose worker
//! failed. [`JobQueue`] is the synchronous core; [`SharedQueue`] lets async workers wait on it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// Identifies a job from enqueue to completion; never reused by a queue.
pub type JobId = u64;

/// Why the queue refused or dropped a job.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueueError {
    /// The tenant already has the maximum number of queued jobs (Tempo's text; HTTP 429).
    #[error("too many outstanding requests")]
    TooManyOutstanding,
    /// The job failed on every allowed attempt (job id, attempts made) and was dropped.
    #[error("job {0} failed after {1} attempts")]
    Exhausted(JobId, u32),
    /// The queue was stopped: it takes no jobs and hands none out.
    #[error("queue is stopped")]
    Stopped,
}

/// A job handed to a worker; the worker must `complete` or `retry` it by `id`.
#[derive(Debug, Clone)]
pub struct Leased<J> {
    pub id: JobId,
    pub tenant: String,
    /// 1 on the first lease, one more on each retry.
    pub attempt: u32,
    pub job: J,
}

/// A job as the queue keeps it, queued or leased.
struct StoredJob<J> {
    id: JobId,
    attempt: u32,
    job: J,
}

/// A leased job, kept so that it can be put back on `retry`.
struct LeasedJob<J> {
    tenant: String,
    stored: StoredJob<J>,
}

/// Per-tenant FIFO queues served round-robin across tenants (fair: a tenant with 1000 queued jobs
/// does not delay another tenant's single job by more than one job per tenant turn).
pub struct JobQueue<J> {
    max_outstanding_per_tenant: usize,
    max_retries: u32,
    next_id: JobId,
    queued_by_tenant: HashMap<String, VecDeque<StoredJob<J>>>,
    /// The tenants with queued jobs, each once, in the order they are served.
    tenant_turns: VecDeque<String>,
    leased: HashMap<JobId, LeasedJob<J>>,
}

impl<J> JobQueue<J> {
    /// A queue holding at most `max_outstanding_per_tenant` queued jobs per tenant (0 refuses
    /// every job) and running each job at most `1 + max_retries` times.
    pub fn new(max_outstanding_per_tenant: usize, max_retries: u32) -> Self {
        JobQueue {
            max_outstanding_per_tenant,
            max_retries,
            next_id: 1,
            queued_by_tenant: HashMap::new(),
            tenant_turns: VecDeque::new(),
            leased: HashMap::new(),
        }
    }

    /// Queues a job; refuses when the tenant already has max_outstanding queued (queued, not leased).
    pub fn enqueue(&mut self, tenant: &str, job: J) -> Result<JobId, QueueError> {
        if self.tenant_queued(tenant) >= self.max_outstanding_per_tenant {
            return Err(QueueError::TooManyOutstanding);
        }
        let id = self.next_id;
        self.next_id += 1;
        let stored = StoredJob {
            id,
            attempt: 1,
            job,
        };
        self.put(tenant, stored, false);
        Ok(id)
    }

    /// The leased job finished (success or a final answer): forget it. Unknown ids are ignored.
    pub fn complete(&mut self, id: JobId) {
        self.leased.remove(&id);
    }

    /// The worker holding the job died or failed: puts it back at the front of its tenant's queue
    /// with one more attempt, or drops it with `Exhausted` when it has had `1 + max_retries`
    /// attempts. Ids that are not leased (already completed or exhausted) are ignored.
    pub fn retry(&mut self, id: JobId) -> Result<(), QueueError> {
        let Some(LeasedJob { tenant, mut stored }) = self.leased.remove(&id) else {
            return Ok(());
        };
        if stored.attempt > self.max_retries {
            return Err(QueueError::Exhausted(id, stored.attempt));
        }
        stored.attempt += 1;
        self.put(&tenant, stored, true);
        Ok(())
    }

    /// Jobs waiting to be leased, over all tenants.
    pub fn queued_len(&self) -> usize {
        self.queued_by_tenant.values().map(VecDeque::len).sum()
    }

    /// Jobs handed out and neither completed nor retried yet.
    pub fn leased_len(&self) -> usize {
        self.leased.len()
    }

    /// Jobs of `tenant` waiting to be leased.
    pub fn tenant_queued(&self, tenant: &str) -> usize {
        self.queued_by_tenant.get(tenant).map_or(0, VecDeque::len)
    }

    /// Adds a job to its tenant's queue (at the front for a retry), giving the tenant a turn if
    /// it had none.
    fn put(&mut self, tenant: &str, stored: StoredJob<J>, at_front: bool) {
        let tenant_queue = self.queued_by_tenant.entry(tenant.to_owned()).or_default();
        if tenant_queue.is_empty() {
            debug_assert!(!self.tenant_turns.iter().any(|name| name == tenant));
            self.tenant_turns.push_back(tenant.to_owned());
        }
        if at_front {
            tenant_queue.push_front(stored);
        } else {
            tenant_queue.push_back(stored);
        }
    }
}

impl<J: Clone> JobQueue<J> {
    /// Leases the next job (round-robin over tenants with queued jobs); None when empty. The
    /// queue keeps a copy of the job until it is completed, so that `retry` can put it back.
    pub fn lease(&mut self) -> Option<Leased<J>> {
        let tenant = self.tenant_turns.pop_front()?;
        let Some(tenant_queue) = self.queued_by_tenant.get_mut(&tenant) else {
            debug_assert!(false, "tenant {tenant} had a turn but no queue");
            return None;
        };
        let Some(stored) = tenant_queue.pop_front() else {
            debug_assert!(false, "tenant {tenant} had a turn but no queued job");
            return None;
        };
        if tenant_queue.is_empty() {
            self.queued_by_tenant.remove(&tenant);
        } else {
            self.tenant_turns.push_back(tenant.clone());
        }
        let leased = Leased {
            id: stored.id,
            tenant: tenant.clone(),
            attempt: stored.attempt,
            job: stored.job.clone(),
        };
        let previous = self.leased.insert(stored.id, LeasedJob { tenant, stored });
        debug_assert!(previous.is_none(), "job {} leased twice", leased.id);
        Some(leased)
    }
}

/// The queue and whether it was stopped, behind one lock.
struct QueueState<J> {
    queue: JobQueue<J>,
    stopped: bool,
}

struct SharedState<J> {
    state: Mutex<QueueState<J>>,
    /// Signalled when a job may be available, and on stop.
    job_available: Notify,
}

/// The queue shared by the frontend and its workers (cheap to clone).
pub struct SharedQueue<J> {
    shared: Arc<SharedState<J>>,
}

impl<J> Clone for SharedQueue<J> {
    fn clone(&self) -> Self {
        SharedQueue {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<J> SharedQueue<J> {
    /// See [`JobQueue::new`].
    pub fn new(max_outstanding_per_tenant: usize, max_retries: u32) -> Self {
        let state = QueueState {
            queue: JobQueue::new(max_outstanding_per_tenant, max_retries),
            stopped: false,
        };
        SharedQueue {
            shared: Arc::new(SharedState {
                state: Mutex::new(state),
                job_available: Notify::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, QueueState<J>> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a job and wakes one waiting worker; `Stopped` after [`SharedQueue::stop`].
    pub fn enqueue(&self, tenant: &str, job: J) -> Result<JobId, QueueError> {
        let id = {
            let mut state = self.lock();
            if state.stopped {
                return Err(QueueError::Stopped);
            }
            state.queue.enqueue(tenant, job)?
        };
        self.shared.job_available.notify_one();
        Ok(id)
    }

    /// See [`JobQueue::complete`].
    pub fn complete(&self, id: JobId) {
        self.lock().queue.complete(id);
    }

    /// See [`JobQueue::retry`]; wakes one waiting worker for the job put back.
    pub fn retry(&self, id: JobId) -> Result<(), QueueError> {
        self.lock().queue.retry(id)?;
        self.shared.job_available.notify_one();
        Ok(())
    }

    /// Stops the queue: waiting and later `next` calls return `Stopped`, `enqueue` refuses.
    /// Jobs still queued are dropped with the queue.
    pub fn stop(&self) {
        self.lock().stopped = true;
        self.shared.job_available.notify_waiters();
    }

    /// See [`JobQueue::queued_len`].
    pub fn queued_len(&self) -> usize {
        self.lock().queue.queued_len()
    }

    /// See [`JobQueue::leased_len`].
    pub fn leased_len(&self) -> usize {
        self.lock().queue.leased_len()
    }
}

impl<J: Clone> SharedQueue<J> {
    /// Waits until a job is available and leases it; `Stopped` once the queue is stopped.
    ///
    /// Cancellation-safe: a job is leased only in the same step that returns it, so dropping the
    /// future never loses a job, and a wake-up it received but did not use passes to another
    /// waiter (tokio's `Notified` forwards an unused `notify_one` on drop).
    pub async fn next(&self) -> Result<Leased<J>, QueueError> {
        loop {
            // Registered before looking at the queue, so an enqueue in between is not missed.
            let job_available = self.shared.job_available.notified();
            tokio::pin!(job_available);
            job_available.as_mut().enable();
            let (leased, jobs_left) = {
                let mut state = self.lock();
                if state.stopped {
                    return Err(QueueError::Stopped);
                }
                (state.queue.lease(), state.queue.queued_len() > 0)
            };
            if let Some(leased) = leased {
                if jobs_left {
                    // Wake-ups can coalesce; hand one on so that no queued job waits idle.
                    self.shared.job_available.notify_one();
                }
                return Ok(leased);
            }
            job_available.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::task::{Context, Waker};
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    const PATIENCE: Duration = Duration::from_secs(5);

    fn lease_job<J: Clone>(queue: &mut JobQueue<J>) -> J {
        queue.lease().expect("a queued job").job
    }

    #[test]
    fn a_tenant_with_many_jobs_does_not_hold_up_another() {
        let mut queue = JobQueue::new(100, 2);
        for index in 0..10 {
            queue.enqueue("a", format!("a{index}")).expect("queued");
        }
        queue.enqueue("b", "b0".to_owned()).expect("queued");
        let first_two = [lease_job(&mut queue), lease_job(&mut queue)];
        assert!(first_two.contains(&"b0".to_owned()), "{first_two:?}");
        assert_eq!((queue.queued_len(), queue.leased_len()), (9, 2));
    }

    #[test]
    fn jobs_of_one_tenant_are_leased_in_order() {
        let mut queue = JobQueue::new(100, 2);
        for job in 0..5 {
            queue.enqueue("a", job).expect("queued");
        }
        let leased: Vec<u32> = (0..5).map(|_| lease_job(&mut queue)).collect();
        assert_eq!(leased, vec![0, 1, 2, 3, 4]);
        assert!(queue.lease().is_none());
    }

    #[test]
    fn only_queued_jobs_count_toward_the_outstanding_limit() {
        let mut queue = JobQueue::new(2, 0);
        queue.enqueue("a", 1).expect("queued");
        queue.enqueue("a", 2).expect("queued");
        let refused = queue.enqueue("a", 3).expect_err("over the limit");
        assert_eq!(refused.to_string(), "too many outstanding requests");
        queue
            .enqueue("b", 4)
            .expect("other tenants are not limited");
        let leased = queue.lease().expect("a queued job");
        assert_eq!((leased.tenant.as_str(), queue.tenant_queued("a")), ("a", 1));
        queue.enqueue("a", 5).expect("a leased job frees a place");
        queue.complete(leased.id);
        assert_eq!(queue.leased_len(), 0);
    }

    #[test]
    fn a_retried_job_goes_first_and_counts_its_attempts() {
        let mut queue = JobQueue::new(10, 2);
        queue.enqueue("a", "first").expect("queued");
        queue.enqueue("a", "second").expect("queued");
        let leased = queue.lease().expect("a queued job");
        assert_eq!(leased.attempt, 1);
        queue.retry(leased.id).expect("retries left");
        let again = queue.lease().expect("the retried job");
        assert_eq!(
            (again.id, again.job, again.attempt),
            (leased.id, "first", 2)
        );
        assert_eq!(queue.leased_len(), 1);
    }

    #[test]
    fn a_job_is_dropped_after_max_retries() {
        let mut queue = JobQueue::new(10, 2);
        let id = queue.enqueue("a", "job").expect("queued");
        for attempt in 1..=2 {
            assert_eq!(queue.lease().expect("the job").attempt, attempt);
            queue.retry(id).expect("retries left");
        }
        assert_eq!(queue.lease().expect("the job").attempt, 3);
        let exhausted = queue.retry(id).expect_err("no retries left");
        assert_eq!(exhausted, QueueError::Exhausted(id, 3));
        assert_eq!(
            exhausted.to_string(),
            format!("job {id} failed after 3 attempts")
        );
        assert_eq!((queue.queued_len(), queue.leased_len()), (0, 0));
        assert_eq!(queue.retry(id), Ok(()), "a forgotten job is ignored");
    }

    type Waiter = tokio::task::JoinHandle<Result<Leased<u32>, QueueError>>;

    /// A task waiting in `next`, given time to start waiting.
    async fn waiting_worker(queue: &SharedQueue<u32>) -> Waiter {
        let queue = queue.clone();
        let waiter = tokio::spawn(async move { queue.next().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        waiter
    }

    /// What a waiting worker got, failing the test if it is not woken.
    async fn outcome(waiter: Waiter) -> Result<Leased<u32>, QueueError> {
        let joined = tokio::time::timeout(PATIENCE, waiter).await;
        joined.expect("woken in time").expect("task ran")
    }

    #[tokio::test]
    async fn a_waiting_worker_wakes_on_enqueue_and_on_retry() {
        let queue = SharedQueue::new(10, 1);
        let waiter = waiting_worker(&queue).await;
        queue.enqueue("a", 7).expect("queued");
        let leased = outcome(waiter).await.expect("a job");
        let waiter_for_retry = waiting_worker(&queue).await;
        queue.retry(leased.id).expect("retries left");
        let retried = outcome(waiter_for_retry).await.expect("a job");
        assert_eq!((retried.id, retried.attempt), (leased.id, 2));
    }

    #[tokio::test]
    async fn several_waiters_each_get_a_distinct_job() {
        let queue = SharedQueue::new(10, 0);
        let mut waiters = Vec::new();
        for _ in 0..5 {
            waiters.push(waiting_worker(&queue).await);
        }
        for job in 0..5 {
            let tenant = if job % 2 == 0 { "a" } else { "b" };
            queue.enqueue(tenant, job).expect("queued");
        }
        let mut jobs = Vec::new();
        for waiter in waiters {
            jobs.push(outcome(waiter).await.expect("a job").job);
        }
        jobs.sort_unstable();
        assert_eq!(jobs, vec![0, 1, 2, 3, 4]);
    }

    #[tokio::test]
    async fn stop_wakes_waiters_and_refuses_jobs() {
        let queue = SharedQueue::new(10, 0);
        let first = waiting_worker(&queue).await;
        let second = waiting_worker(&queue).await;
        queue.stop();
        assert_eq!(
            outcome(first).await.expect_err("stopped"),
            QueueError::Stopped
        );
        assert_eq!(
            outcome(second).await.expect_err("stopped"),
            QueueError::Stopped
        );
        assert_eq!(queue.enqueue("a", 1), Err(QueueError::Stopped));
        assert_eq!(
            queue.next().await.expect_err("stopped"),
            QueueError::Stopped
        );
    }

    #[tokio::test]
    async fn dropping_a_waiting_next_loses_nothing() {
        let queue = SharedQueue::new(10, 0);
        let mut context = Context::from_waker(Waker::noop());
        let mut dropped = Box::pin(queue.next());
        let mut kept = Box::pin(queue.next());
        assert!(dropped.as_mut().poll(&mut context).is_pending());
        assert!(kept.as_mut().poll(&mut context).is_pending());
        // The wake-up goes to the longest waiter, which is dropped without using it.
        queue.enqueue("a", 7).expect("queued");
        drop(dropped);
        let leased = tokio::time::timeout(PATIENCE, kept).await.expect("woken");
        assert_eq!(leased.expect("a job").job, 7);
        let timed_out = tokio::time::timeout(Duration::from_millis(10), queue.next()).await;
        assert!(timed_out.is_err(), "nothing queued");
        queue.enqueue("a", 8).expect("queued");
        let leased = tokio::time::timeout(PATIENCE, queue.next()).await;
        assert_eq!(leased.expect("woken").expect("a job").job, 8);
        assert_eq!((queue.queued_len(), queue.leased_len()), (0, 2));
    }

    #[derive(Debug, Clone)]
    enum Step {
        Enqueue(u8),
        Lease,
        /// Completes the leased job at this index (modulo the number leased).
        Complete(usize),
        /// Retries the leased job at this index (modulo the number leased).
        Retry(usize),
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        let step = prop_oneof![
            (0u8..3).prop_map(Step::Enqueue),
            Just(Step::Lease),
            any::<usize>().prop_map(Step::Complete),
            any::<usize>().prop_map(Step::Retry),
        ];
        proptest::collection::vec(step, 0..120)
    }

    proptest! {
        /// Every enqueued job ends exactly once, completed or exhausted, once the queue is drained.
        #[test]
        fn no_job_is_lost_or_duplicated(steps in steps()) {
            let max_retries = 2;
            let mut queue = JobQueue::new(4, max_retries);
            let mut enqueued = Vec::new();
            let mut leased: Vec<JobId> = Vec::new();
            let mut ended: Vec<JobId> = Vec::new();
            for step in steps {
                match step {
                    Step::Enqueue(tenant) => {
                        if let Ok(id) = queue.enqueue(&format!("t{tenant}"), ()) {
                            enqueued.push(id);
                        }
                    }
                    Step::Lease => {
                        if let Some(job) = queue.lease() {
                            prop_assert!(!leased.contains(&job.id), "job {} leased twice", job.id);
                            prop_assert!(job.attempt >= 1 && job.attempt <= 1 + max_retries);
                            leased.push(job.id);
                        }
                    }
                    Step::Complete(index) if !leased.is_empty() => {
                        let id = leased.swap_remove(index % leased.len());
                        queue.complete(id);
                        ended.push(id);
                    }
                    Step::Retry(index) if !leased.is_empty() => {
                        let id = leased.swap_remove(index % leased.len());
                        if queue.retry(id).is_err() {
                            ended.push(id);
                        }
                    }
                    Step::Complete(_) | Step::Retry(_) => {}
                }
                prop_assert_eq!(queue.leased_len(), leased.len());
                prop_assert_eq!(queue.queued_len() + leased.len() + ended.len(), enqueued.len());
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
            prop_assert_eq!(ended, enqueued);
            prop_assert_eq!((queue.queued_len(), queue.leased_len()), (0, 0));
        }
    }
}
