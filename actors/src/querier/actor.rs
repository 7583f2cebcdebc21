//! The querier actor: a thin actix adapter over [`Querier`].

use std::sync::Arc;

use actix::prelude::*;

use super::{FindRequest, FindResult, Querier};
use crate::frontend::{JobAnswer, JobRequest};

/// Trace-by-ID.
#[derive(Message)]
#[rtype(result = "FindResult")]
pub struct FindTraceById(pub FindRequest);

/// Runs lookups on the node's multi-thread I/O runtime, not on the actor thread.
pub struct QuerierActor {
    querier: Arc<Querier>,
    io_runtime: tokio::runtime::Handle,
}

impl QuerierActor {
    pub fn new(querier: Querier, io_runtime: tokio::runtime::Handle) -> Self {
        QuerierActor {
            querier: Arc::new(querier),
            io_runtime,
        }
    }
}

impl Actor for QuerierActor {
    type Context = Context<Self>;
}

impl Handler<FindTraceById> for QuerierActor {
    type Result = ResponseFuture<FindResult>;

    fn handle(&mut self, message: FindTraceById, _ctx: &mut Self::Context) -> Self::Result {
        let querier = Arc::clone(&self.querier);
        let lookup = self
            .io_runtime
            .spawn(async move { querier.find_trace_by_id(&message.0).await });
        Box::pin(async move {
            lookup.await.unwrap_or_else(|error| FindResult {
                failed_blocks: vec![format!("lookup task failed: {error}")],
                ..FindResult::default()
            })
        })
    }
}

/// A search or tags job.
#[derive(Message)]
#[rtype(result = "JobAnswer")]
pub struct RunJob(pub JobRequest);

impl Handler<RunJob> for QuerierActor {
    type Result = ResponseFuture<JobAnswer>;

    fn handle(&mut self, message: RunJob, _ctx: &mut Self::Context) -> Self::Result {
        let querier = Arc::clone(&self.querier);
        let work = self.io_runtime.spawn(async move {
            match message.0 {
                JobRequest::TraceById(request) => {
                    JobAnswer::TraceById(querier.find_trace_by_id(&request).await)
                }
                JobRequest::Search(job) => JobAnswer::Search(querier.search(&job).await),
                JobRequest::Tags(job) => JobAnswer::Tags(querier.tags(&job).await),
            }
        });
        Box::pin(async move {
            work.await.unwrap_or_else(|error| {
                JobAnswer::Search(Err(format!("querier task failed: {error}")))
            })
        })
    }
}

#[async_trait::async_trait]
impl crate::frontend::JobExecutor for Addr<QuerierActor> {
    async fn execute(&self, request: JobRequest) -> JobAnswer {
        let kind_of_failure = |error: String| match &request {
            JobRequest::TraceById(_) => JobAnswer::TraceById(FindResult {
                failed_blocks: vec![error],
                ..FindResult::default()
            }),
            JobRequest::Search(_) => JobAnswer::Search(Err(error)),
            JobRequest::Tags(_) => JobAnswer::Tags(Err(error)),
        };
        match self.send(RunJob(request.clone())).await {
            Ok(answer) => answer,
            Err(error) => kind_of_failure(format!("querier unavailable: {error}")),
        }
    }
}
