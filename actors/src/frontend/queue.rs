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
