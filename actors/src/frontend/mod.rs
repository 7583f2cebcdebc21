//! The query-frontend: splits a trace-by-ID query into jobs (recent data, and shards of the
//! block-id space), queues them per tenant, and combines what the queriers answer. Queriers pull
//! jobs: in process ([`worker::run_local_worker`]) or over gRPC (`Frontend.Process`, see
//! [`service`] and [`worker::run_remote_worker`]), so adding a querier adds capacity.

mod job;
pub mod queue;
mod search;
pub mod service;
pub mod shard;
mod wire;
pub mod worker;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;

use crate::blocklist::BlockList;
use crate::combine::TraceCombiner;
use crate::querier::{FindMode, FindRequest, FindResult};
pub use job::{JobAnswer, JobRequest};
pub use queue::{JobId, Leased, QueueError, SharedQueue};
pub use search::{SearchSettings, TagsRequest};
use shard::{block_boundaries, shard_count};
pub use wire::{job_from_wire, job_to_wire, result_from_wire, result_to_wire};

/// Runs one job (the querier).
#[async_trait]
pub trait JobExecutor: Send + Sync + 'static {
    async fn execute(&self, request: JobRequest) -> JobAnswer;
}

/// Where a job's answer goes; shared by the copies a retry makes.
type ReplySlot = Arc<Mutex<Option<oneshot::Sender<Result<JobAnswer, String>>>>>;

/// A queued job.
#[derive(Clone)]
pub struct FrontendJob {
    pub request: JobRequest,
    reply: ReplySlot,
}

impl FrontendJob {
    /// True when nobody waits for the answer any more (the query timed out or was cancelled).
    pub fn is_abandoned(&self) -> bool {
        self.reply
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .is_none_or(|sender| sender.is_closed())
    }

    /// Delivers the answer (the first delivery wins; later ones are ignored).
    pub fn reply(&self, answer: Result<JobAnswer, String>) {
        let sender = self
            .reply
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(sender) = sender {
            let _ = sender.send(answer);
        }
    }
}

/// Settings (`query_frontend.trace_by_id`, `query_frontend.max_*`).
#[derive(Debug, Clone, Copy)]
pub struct FrontendSettings {
    pub blocks_per_shard: usize,
    pub max_shards: usize,
    pub max_outstanding_per_tenant: usize,
    pub max_retries: u32,
    pub query_timeout: Duration,
}

impl Default for FrontendSettings {
    fn default() -> Self {
        FrontendSettings {
            blocks_per_shard: 30,
            max_shards: 50,
            max_outstanding_per_tenant: 2_000,
            max_retries: 2,
            query_timeout: Duration::from_secs(30),
        }
    }
}

/// Why the frontend could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontendError {
    /// HTTP 429.
    #[error("too many outstanding requests")]
    TooManyOutstanding,
    /// HTTP 504.
    #[error("query timed out after {0:?}")]
    Timeout(Duration),
    /// HTTP 400: the request cannot be answered as asked.
    #[error("{0}")]
    BadRequest(String),
    /// HTTP 500: a job failed.
    #[error("{0}")]
    JobFailed(String),
    /// HTTP 503.
    #[error("query-frontend is stopping")]
    Stopped,
}

impl FrontendError {
    /// The HTTP status Tempo answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            FrontendError::TooManyOutstanding => 429,
            FrontendError::Timeout(_) => 504,
            FrontendError::Stopped => 503,
            FrontendError::BadRequest(_) => 400,
            FrontendError::JobFailed(_) => 500,
        }
    }
}

/// The frontend's logic.
pub struct Frontend {
    queue: SharedQueue<FrontendJob>,
    blocklist: Arc<BlockList>,
    settings: FrontendSettings,
    search: SearchSettings,
}

impl Frontend {
    pub fn new(blocklist: Arc<BlockList>, settings: FrontendSettings) -> Self {
        Frontend {
            queue: SharedQueue::new(settings.max_outstanding_per_tenant, settings.max_retries),
            blocklist,
            settings,
            search: SearchSettings::default(),
        }
    }

    /// Replaces the search settings.
    pub fn with_search_settings(mut self, search: SearchSettings) -> Self {
        self.search = search;
        self
    }

    /// Queues a job; its answer arrives on the returned receiver.
    fn submit(
        &self,
        request: JobRequest,
    ) -> Result<oneshot::Receiver<Result<JobAnswer, String>>, FrontendError> {
        let (sender, receiver) = oneshot::channel();
        let tenant = request.tenant().to_owned();
        let job = FrontendJob {
            request,
            reply: Arc::new(Mutex::new(Some(sender))),
        };
        match self.queue.enqueue(&tenant, job) {
            Ok(_) => Ok(receiver),
            Err(QueueError::TooManyOutstanding) => Err(FrontendError::TooManyOutstanding),
            Err(_) => Err(FrontendError::Stopped),
        }
    }

    /// The queue queriers pull from.
    pub fn queue(&self) -> SharedQueue<FrontendJob> {
        self.queue.clone()
    }

    /// The jobs of a trace-by-ID query: recent data, then shards of the block-id space.
    pub fn plan(&self, request: &FindRequest) -> Vec<FindRequest> {
        let mut jobs = Vec::new();
        if request.mode != FindMode::Blocks {
            jobs.push(FindRequest {
                mode: FindMode::Ingesters,
                block_range: None,
                ..request.clone()
            });
        }
        if request.mode == FindMode::Ingesters {
            return jobs;
        }
        let block_count = self
            .blocklist
            .blocks(&request.tenant, request.start_seconds, request.end_seconds)
            .len();
        if block_count == 0 {
            return jobs;
        }
        let shards = shard_count(
            block_count,
            self.settings.blocks_per_shard,
            self.settings.max_shards,
        );
        for range in block_boundaries(shards) {
            jobs.push(FindRequest {
                mode: FindMode::Blocks,
                block_range: Some((range.start, range.end)),
                ..request.clone()
            });
        }
        jobs
    }

    /// Answers a trace-by-ID query through the queriers.
    pub async fn find_trace_by_id(
        &self,
        request: FindRequest,
    ) -> Result<FindResult, FrontendError> {
        let mut answers = Vec::new();
        for job_request in self.plan(&request) {
            answers.push(self.submit(JobRequest::TraceById(job_request))?);
        }
        let gathered = tokio::time::timeout(
            self.settings.query_timeout,
            futures::future::join_all(answers),
        )
        .await
        .map_err(|_| FrontendError::Timeout(self.settings.query_timeout))?;
        let mut combined = FindResult::default();
        let mut combiner = TraceCombiner::new();
        for answer in gathered {
            match answer {
                Ok(Ok(JobAnswer::TraceById(partial))) => {
                    combined.inspected_bytes += partial.inspected_bytes;
                    combined.backend_reads += partial.backend_reads;
                    combined.backend_bytes += partial.backend_bytes;
                    combined.failed_blocks.extend(partial.failed_blocks);
                    combiner.add(partial.trace);
                }
                Ok(Ok(_)) => combined
                    .failed_blocks
                    .push("querier answered another kind of job".to_owned()),
                Ok(Err(error)) => combined.failed_blocks.push(error),
                Err(_) => combined
                    .failed_blocks
                    .push("job dropped before it was answered".to_owned()),
            }
        }
        combined.span_count = combiner.span_count();
        combined.trace = combiner.finish();
        Ok(combined)
    }

    /// Stops the queue: waiting workers return.
    pub fn stop(&self) {
        self.queue.stop();
    }
}
