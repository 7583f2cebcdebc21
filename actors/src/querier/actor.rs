//! The querier actor: a thin actix adapter over [`Querier`].

use std::sync::Arc;

use actix::prelude::*;

use super::{FindRequest, FindResult, Querier};

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

#[async_trait::async_trait]
impl crate::frontend::JobExecutor for Addr<QuerierActor> {
    async fn execute(&self, request: FindRequest) -> FindResult {
        self.send(FindTraceById(request))
            .await
            .unwrap_or_else(|error| FindResult {
                failed_blocks: vec![format!("querier unavailable: {error}")],
                ..FindResult::default()
            })
    }
}
