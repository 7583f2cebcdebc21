//! Searching an ingester's recent data: its live and head traces, and the blocks it has cut but
//! not yet dropped, as search columns built in memory.

use std::sync::{Arc, OnceLock};

use arrow_array::RecordBatch;
use bytes::Bytes;
use vivace_proto::cluster::{TagsAnswer, TagsQuery};
use vivace_proto::ids::TraceId;
use vivace_proto::tempopb_search as pb;

use super::combine::SearchCombiner;
use super::exec::PreparedSearch;
use super::tag_query::PreparedTags;
use crate::combine::TraceCombiner;

/// Search columns of a set of traces, with the encoded bytes they came from.
#[derive(Debug, Clone)]
pub struct SearchBatch {
    pub batch: RecordBatch,
    pub bytes: u64,
}

/// Builds search columns from traces held as encoded fragments.
pub fn build_batch<'a>(
    traces: impl IntoIterator<Item = (TraceId, &'a [Bytes])>,
) -> Result<SearchBatch, String> {
    let mut bytes = 0u64;
    let mut decoded = Vec::new();
    for (trace_id, fragments) in traces {
        let mut combiner = TraceCombiner::new();
        for fragment in fragments {
            bytes += fragment.len() as u64;
            combiner.add_encoded(fragment);
        }
        decoded.push((trace_id, combiner.finish()));
    }
    decoded.sort_by_key(|(trace_id, _)| *trace_id);
    let batch = vivace_storage::block::search_batch(decoded)
        .map_err(|error| format!("building search columns failed: {error}"))?;
    Ok(SearchBatch { batch, bytes })
}

/// A search batch built once, on first use (for blocks that no longer change).
#[derive(Debug, Default)]
pub struct LazyBatch {
    cell: OnceLock<Result<Arc<SearchBatch>, String>>,
}

impl LazyBatch {
    /// Whether the batch was built already.
    pub fn is_built(&self) -> bool {
        self.cell.get().is_some()
    }

    pub fn get_or_build(
        &self,
        build: impl FnOnce() -> Result<SearchBatch, String>,
    ) -> Result<Arc<SearchBatch>, String> {
        self.cell.get_or_init(|| build().map(Arc::new)).clone()
    }
}

/// What a recent-data query runs over.
pub struct RecentData {
    pub batches: Vec<Arc<SearchBatch>>,
}

/// Searches recent data.
pub fn search(data: &RecentData, search: &PreparedSearch) -> Result<pb::SearchResponse, String> {
    let mut combiner = SearchCombiner::new(0, search.options.spans_per_spanset);
    for batch in &data.batches {
        combiner.add(search.search_batch(&batch.batch, batch.bytes)?);
    }
    let mut answer = combiner.finish();
    if search.limit > 0 {
        answer.traces.truncate(search.limit);
    }
    Ok(answer)
}

/// Tag names or values of recent data.
pub fn tags(data: &RecentData, query: &TagsQuery) -> Result<TagsAnswer, String> {
    let prepared = PreparedTags::new(query)?;
    let batches: Vec<&RecordBatch> = data.batches.iter().map(|batch| &batch.batch).collect();
    let mut answer = prepared.collect(&batches)?;
    answer.inspected_bytes = data.batches.iter().map(|batch| batch.bytes).sum();
    Ok(answer)
}
