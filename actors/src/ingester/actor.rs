//! The ingester actor: a thin actix adapter over [`Ingester`] that owns the WAL and flushes cut
//! blocks to object storage.
//!
//! WAL safety: a push is applied to memory and its WAL append is *submitted* in the same handler,
//! and a flush round computes its checkpoint and submits the WAL rotation in one handler too, so
//! every record in a segment older than the rotation is either in the checkpoint (written to the
//! new segment) or in a block being flushed. Old segments are removed only after every block of
//! the round is in object storage.

use std::sync::Arc;

use actix::prelude::*;
use bytes::Bytes;
use vivace_proto::ids::TraceId;
use vivace_storage::backend::BlockStore;
use vivace_storage::block::BlockConfig;
use vivace_storage::wal::Wal;

use super::Ingester;
use super::flush::FlushRound;
use crate::blocklist::BlockList;
use crate::distributor::TraceFragment;
use crate::error::{PushError, TracePushOutcome};
use crate::ingester::wal_record::WalRecord;
use crate::metrics::ComponentMetrics;
use crate::seams::{BlockingPool, TokioBlockingPool, run_blocking};

/// Pushes fragments of one tenant; answers once they are durable in the WAL.
#[derive(Message)]
#[rtype(result = "Result<Vec<TracePushOutcome>, PushError>")]
pub struct PushFragments {
    pub tenant: String,
    pub fragments: Vec<TraceFragment>,
}

/// Fragments of a trace held by this ingester (live, head and unflushed blocks).
#[derive(Message)]
#[rtype(result = "Vec<Bytes>")]
pub struct FindRecent {
    pub tenant: String,
    pub trace_id: TraceId,
}

/// Searches a tenant's recent data (`request` is a `tempopb.SearchRequest`).
#[derive(Message)]
#[rtype(result = "Result<vivace_proto::tempopb_search::SearchResponse, String>")]
pub struct SearchRecent {
    pub tenant: String,
    pub request: vivace_proto::tempopb_search::SearchRequest,
}

/// Tag names or values of a tenant's recent data.
#[derive(Message)]
#[rtype(result = "Result<vivace_proto::cluster::TagsAnswer, String>")]
pub struct TagsRecent {
    pub tenant: String,
    pub query: vivace_proto::cluster::TagsQuery,
}

/// Cuts every live trace and head block now and flushes them (`POST /flush`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct FlushAll;

/// Stops taking writes, flushes everything to object storage, and answers when nothing is left
/// (an ingester turning LEAVING: `POST /shutdown` or SIGTERM).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave;

/// The actor; construct with [`IngesterActor::new`] after WAL replay.
pub struct IngesterActor {
    logic: Ingester,
    wal: Wal,
    store: Arc<dyn BlockStore>,
    blocklist: Arc<BlockList>,
    block_config: BlockConfig,
    metrics: ComponentMetrics,
    flush_in_progress: bool,
    /// Set by [`Leave`]: pushes are refused and everything is being flushed.
    leaving: bool,
    leave_waiters: Vec<tokio::sync::oneshot::Sender<()>>,
    blocking: Arc<dyn BlockingPool>,
}

impl IngesterActor {
    pub fn new(
        logic: Ingester,
        wal: Wal,
        store: Arc<dyn BlockStore>,
        blocklist: Arc<BlockList>,
        block_config: BlockConfig,
        metrics: ComponentMetrics,
    ) -> Self {
        IngesterActor {
            logic,
            wal,
            store,
            blocklist,
            block_config,
            metrics,
            flush_in_progress: false,
            leaving: false,
            leave_waiters: Vec::new(),
            blocking: Arc::new(TokioBlockingPool),
        }
    }

    /// Where blocks are encoded (tokio's blocking threads unless replaced).
    pub fn with_blocking_pool(mut self, pool: Arc<dyn BlockingPool>) -> Self {
        self.blocking = pool;
        self
    }

    /// While leaving: answers the waiters once everything is flushed, else tries again soon.
    fn continue_leaving(&mut self, ctx: &mut Context<Self>) {
        if !self.leaving || self.flush_in_progress {
            return;
        }
        if self.logic.holds_nothing() {
            for waiter in self.leave_waiters.drain(..) {
                let _ = waiter.send(());
            }
            return;
        }
        ctx.run_later(std::time::Duration::from_millis(500), |actor, ctx| {
            actor.tick(ctx, true);
            actor.continue_leaving(ctx);
        });
    }

    fn tick(&mut self, ctx: &mut Context<Self>, force: bool) {
        self.logic.drop_expired_flushed_blocks();
        self.logic.cut_idle_traces(force);
        self.logic.cut_blocks(force);
        if self.flush_in_progress || self.logic.completing_blocks().is_empty() {
            return;
        }
        self.start_flush_round(ctx);
    }

    fn start_flush_round(&mut self, ctx: &mut Context<Self>) {
        // Started in this handler: ordered after every push already applied to memory.
        let Some(round) = FlushRound::start(&self.logic, &self.wal) else {
            return;
        };
        self.flush_in_progress = true;
        let store = Arc::clone(&self.store);
        let block_config = self.block_config.clone();
        let metrics = self.metrics.clone();
        let pool = Arc::clone(&self.blocking);
        let run = async move {
            round
                .run(store, block_config, &metrics, pool.as_ref())
                .await
        };
        ctx.spawn(run.into_actor(self).map(|flushed, actor, ctx| {
            for meta in flushed {
                actor.logic.block_flushed(meta.block_id);
                actor.blocklist.add(meta);
            }
            actor.flush_in_progress = false;
            actor.continue_leaving(ctx);
        }));
    }
}

impl Actor for IngesterActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(1024);
        let period = self.logic.cut_settings().flush_check_period;
        ctx.run_interval(period, |actor, ctx| actor.tick(ctx, false));
    }
}

impl Handler<PushFragments> for IngesterActor {
    type Result = ResponseFuture<Result<Vec<TracePushOutcome>, PushError>>;

    fn handle(&mut self, message: PushFragments, _ctx: &mut Self::Context) -> Self::Result {
        if self.leaving {
            return Box::pin(async {
                Err(PushError::Unavailable(
                    "ingester is LEAVING: it no longer takes writes".to_owned(),
                ))
            });
        }
        let (outcomes, accepted) = self.logic.push(&message.tenant, message.fragments);
        if accepted.is_empty() {
            return Box::pin(async move { Ok(outcomes) });
        }
        let payload = WalRecord::from_fragments(&message.tenant, &accepted).to_payload();
        let append = self.wal.submit_append(payload);
        Box::pin(async move {
            append.await.map_err(|error| {
                PushError::Internal(format!("failed to write to the wal: {error}"))
            })?;
            Ok(outcomes)
        })
    }
}

impl Handler<FindRecent> for IngesterActor {
    type Result = MessageResult<FindRecent>;

    fn handle(&mut self, message: FindRecent, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.logic.find(&message.tenant, &message.trace_id))
    }
}

impl Handler<SearchRecent> for IngesterActor {
    type Result = ResponseFuture<Result<vivace_proto::tempopb_search::SearchResponse, String>>;

    fn handle(&mut self, message: SearchRecent, _ctx: &mut Self::Context) -> Self::Result {
        let sources = self.logic.search_sources(&message.tenant);
        let pool = Arc::clone(&self.blocking);
        Box::pin(async move {
            let prepared = crate::search::prepare(&message.request)?;
            run_blocking(pool.as_ref(), move || {
                crate::search::recent::search(&sources.batches()?, &prepared)
            })
            .await?
        })
    }
}

impl Handler<TagsRecent> for IngesterActor {
    type Result = ResponseFuture<Result<vivace_proto::cluster::TagsAnswer, String>>;

    fn handle(&mut self, message: TagsRecent, _ctx: &mut Self::Context) -> Self::Result {
        let sources = self.logic.search_sources(&message.tenant);
        let pool = Arc::clone(&self.blocking);
        Box::pin(async move {
            run_blocking(pool.as_ref(), move || {
                crate::search::recent::tags(&sources.batches()?, &message.query)
            })
            .await?
        })
    }
}

impl Handler<FlushAll> for IngesterActor {
    type Result = ();

    fn handle(&mut self, _message: FlushAll, ctx: &mut Self::Context) {
        self.tick(ctx, true);
    }
}

impl Handler<Leave> for IngesterActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _message: Leave, ctx: &mut Self::Context) -> Self::Result {
        self.leaving = true;
        let (sender, receiver) = tokio::sync::oneshot::channel();
        self.leave_waiters.push(sender);
        self.tick(ctx, true);
        self.continue_leaving(ctx);
        Box::pin(async move {
            let _ = receiver.await;
        })
    }
}
