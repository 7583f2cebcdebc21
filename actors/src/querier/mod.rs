//! The querier: answers trace-by-ID from recent data (ingesters) and from blocks, combined and
//! without duplicate spans.

pub mod actor;
mod recent;
mod search;

pub use recent::RingRecentTraces;
pub use search::{SearchJob, SearchTarget, TagsJob};

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use vivace_cache::Cache;
use vivace_proto::ids::TraceId;
use vivace_proto::tempopb::Trace;
use vivace_storage::backend::{BlockStore, CountingStore};
use vivace_storage::block::BlockReader;

use crate::blocklist::BlockList;
use crate::combine::TraceCombiner;
use crate::metrics::ComponentMetrics;

/// Where to look (Tempo's `mode` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindMode {
    All,
    Blocks,
    Ingesters,
}

impl FindMode {
    /// Parses Tempo's `mode` values; `external` is accepted and treated as `blocks`.
    pub fn parse(text: &str) -> Option<FindMode> {
        match text {
            "" | "all" => Some(FindMode::All),
            "blocks" | "external" => Some(FindMode::Blocks),
            "ingesters" => Some(FindMode::Ingesters),
            _ => None,
        }
    }
}

/// A trace-by-ID request.
#[derive(Debug, Clone)]
pub struct FindRequest {
    pub tenant: String,
    pub trace_id: TraceId,
    pub mode: FindMode,
    pub start_seconds: Option<i64>,
    pub end_seconds: Option<i64>,
    /// Only blocks whose id is in this inclusive range (a query-frontend shard); `None`: all.
    pub block_range: Option<(uuid::Uuid, uuid::Uuid)>,
}

/// A trace-by-ID answer.
#[derive(Debug, Default)]
pub struct FindResult {
    pub trace: Trace,
    pub span_count: usize,
    pub inspected_bytes: u64,
    pub backend_reads: u64,
    pub backend_bytes: u64,
    /// Blocks that could not be read (for example a checksum mismatch), with the reason.
    pub failed_blocks: Vec<String>,
}

/// Recent data source (the local ingester, or ingesters over gRPC in a cluster).
#[async_trait]
pub trait RecentTraces: Send + Sync + 'static {
    async fn find_recent(&self, tenant: &str, trace_id: &TraceId) -> Result<Vec<Bytes>, String>;

    /// Searches recent data.
    async fn search_recent(
        &self,
        _tenant: &str,
        _request: &vivace_proto::tempopb_search::SearchRequest,
    ) -> Result<vivace_proto::tempopb_search::SearchResponse, String> {
        Err("this source cannot search recent data".to_owned())
    }

    /// Tag names or values of recent data.
    async fn tags_recent(
        &self,
        _tenant: &str,
        _query: &vivace_proto::cluster::TagsQuery,
    ) -> Result<vivace_proto::cluster::TagsAnswer, String> {
        Err("this source cannot list tags of recent data".to_owned())
    }
}

/// Block lookups run at once per request.
const BLOCK_CONCURRENCY: usize = 16;

/// The querier's logic.
pub struct Querier {
    store: Arc<dyn BlockStore>,
    cache: Arc<dyn Cache>,
    blocklist: Arc<BlockList>,
    recent: Arc<dyn RecentTraces>,
    metrics: ComponentMetrics,
    /// Where block evaluation runs (off the async runtime).
    blocking: Arc<dyn crate::seams::BlockingPool>,
}

impl Querier {
    pub fn new(
        store: Arc<dyn BlockStore>,
        cache: Arc<dyn Cache>,
        blocklist: Arc<BlockList>,
        recent: Arc<dyn RecentTraces>,
        metrics: ComponentMetrics,
    ) -> Self {
        Querier {
            store,
            cache,
            blocklist,
            recent,
            metrics,
            blocking: Arc::new(crate::seams::TokioBlockingPool),
        }
    }

    /// Replaces the pool block evaluation runs on.
    pub fn with_blocking_pool(mut self, pool: Arc<dyn crate::seams::BlockingPool>) -> Self {
        self.blocking = pool;
        self
    }

    /// Finds a trace in recent data and blocks, combined without duplicate spans.
    pub async fn find_trace_by_id(&self, request: &FindRequest) -> FindResult {
        let mut result = FindResult::default();
        let mut combiner = TraceCombiner::new();
        if request.mode != FindMode::Blocks {
            match self
                .recent
                .find_recent(&request.tenant, &request.trace_id)
                .await
            {
                Ok(fragments) => {
                    for fragment in &fragments {
                        result.inspected_bytes += fragment.len() as u64;
                        combiner.add_encoded(fragment);
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "recent data lookup failed");
                    result.failed_blocks.push(format!("ingester: {error}"));
                }
            }
        }
        if request.mode != FindMode::Ingesters {
            let counting = Arc::new(CountingStore::new(Arc::clone(&self.store)));
            let mut blocks =
                self.blocklist
                    .blocks(&request.tenant, request.start_seconds, request.end_seconds);
            if let Some((first, last)) = request.block_range {
                blocks.retain(|meta| meta.block_id >= first && meta.block_id <= last);
            }
            let lookups = futures::stream::iter(blocks.into_iter().map(|meta| {
                let block_id = meta.block_id;
                let store: Arc<dyn BlockStore> = counting.clone();
                let reader = BlockReader::new(store, Arc::clone(&self.cache), meta);
                let trace_id = request.trace_id;
                async move { (block_id, reader.find_trace(&trace_id).await) }
            }))
            .buffer_unordered(BLOCK_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
            for (block_id, lookup) in lookups {
                match lookup {
                    Ok(Some(partial)) => combiner.add(partial),
                    Ok(None) => {}
                    Err(error) => {
                        self.metrics.block_read_errors.inc();
                        tracing::error!(block = %block_id, tenant = %request.tenant, %error, "block read failed");
                        result
                            .failed_blocks
                            .push(format!("block {block_id}: {error}"));
                    }
                }
            }
            result.backend_reads = counting.reads();
            result.backend_bytes = counting.bytes_read();
            result.inspected_bytes += result.backend_bytes;
        }
        result.span_count = combiner.span_count();
        result.trace = combiner.finish();
        result
    }
}
