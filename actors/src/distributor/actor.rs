//! The distributor actor: a thin actix adapter over [`Distributor`].

use std::sync::Arc;

use actix::prelude::*;
use vivace_proto::otlp::trace::ResourceSpans;

use super::{Distributor, PushTarget, prepare, summarize_outcomes};
use crate::error::PushError;
use crate::metrics::ComponentMetrics;
use crate::seams::{BlockingPool, TokioBlockingPool, run_blocking};

/// An OTLP export for one tenant, already decoded.
#[derive(Message)]
#[rtype(result = "Result<(), PushError>")]
pub struct PushTraces {
    pub tenant: String,
    pub batches: Vec<ResourceSpans>,
    pub span_count: u64,
    pub request_bytes: u64,
}

pub struct DistributorActor {
    logic: Distributor,
    target: Arc<dyn PushTarget>,
    metrics: ComponentMetrics,
    blocking: Arc<dyn BlockingPool>,
}

impl DistributorActor {
    pub fn new(logic: Distributor, target: Arc<dyn PushTarget>, metrics: ComponentMetrics) -> Self {
        DistributorActor {
            logic,
            target,
            metrics,
            blocking: Arc::new(TokioBlockingPool),
        }
    }

    /// Where requests are split and validated (tokio's blocking threads unless replaced).
    pub fn with_blocking_pool(mut self, pool: Arc<dyn BlockingPool>) -> Self {
        self.blocking = pool;
        self
    }
}

impl Actor for DistributorActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1024);
    }
}

impl Handler<PushTraces> for DistributorActor {
    type Result = ResponseFuture<Result<(), PushError>>;

    fn handle(&mut self, message: PushTraces, _ctx: &mut Self::Context) -> Self::Result {
        let admitted = self
            .logic
            .admit(&message.tenant, message.span_count, message.request_bytes);
        let max_attribute_bytes = self.logic.settings().max_attribute_bytes;
        let target = Arc::clone(&self.target);
        let metrics = self.metrics.clone();
        let pool = Arc::clone(&self.blocking);
        Box::pin(async move {
            admitted?;
            let tenant = message.tenant;
            let batches = message.batches;
            let split = run_blocking(pool.as_ref(), move || prepare(batches, max_attribute_bytes))
                .await
                .map_err(|error| {
                    PushError::Internal(format!("push preparation failed: {error}"))
                })?;
            let split = match split {
                Ok(prepared) => prepared,
                Err(error) => {
                    metrics.record_discarded(&tenant, error.reason, error.span_count);
                    return Err(PushError::InvalidArgument(error.message));
                }
            };
            if split.fragments.is_empty() {
                return Ok(());
            }
            let span_counts: Vec<u32> = split
                .fragments
                .iter()
                .map(|fragment| fragment.span_count)
                .collect();
            let outcomes = target.push(tenant.clone(), split.fragments).await?;
            summarize_outcomes(&tenant, &span_counts, &outcomes)
        })
    }
}
