//! Search and tag jobs on the querier: recent data through the ingesters, blocks read here.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::Arc;

use vivace_engine::tags::TagScope;
use vivace_proto::cluster::{TagsAnswer, TagsQuery};
use vivace_proto::tempopb_search as pb;
use vivace_storage::backend::{BlockStore, CountingStore};
use vivace_storage::block::{BlockMeta, BlockReader, search_schema as columns};

use super::Querier;
use crate::search::tag_query::PreparedTags;

/// What a search job covers.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchTarget {
    /// The ingesters' recent data.
    Recent,
    /// Row groups of one block.
    Block {
        block_id: uuid::Uuid,
        row_groups: Range<u32>,
    },
}

/// A search job.
#[derive(Debug, Clone)]
pub struct SearchJob {
    pub tenant: String,
    pub request: pb::SearchRequest,
    pub target: SearchTarget,
}

/// A tag-names or tag-values job: recent data (no block) or one block.
#[derive(Debug, Clone)]
pub struct TagsJob {
    pub tenant: String,
    pub query: TagsQuery,
    pub block_id: Option<uuid::Uuid>,
}

impl Querier {
    fn block_meta(&self, tenant: &str, block_id: uuid::Uuid) -> Result<BlockMeta, String> {
        self.blocklist
            .blocks(tenant, None, None)
            .into_iter()
            .find(|meta| meta.block_id == block_id)
            .ok_or_else(|| format!("block {block_id} is not in the block list"))
    }

    fn counted_reader(&self, meta: BlockMeta) -> (BlockReader, Arc<CountingStore>) {
        let counting = Arc::new(CountingStore::new(Arc::clone(&self.store)));
        let store: Arc<dyn BlockStore> = counting.clone();
        (
            BlockReader::new(store, Arc::clone(&self.cache), meta),
            counting,
        )
    }

    /// Runs a search job.
    pub async fn search(&self, job: &SearchJob) -> Result<pb::SearchResponse, String> {
        let SearchTarget::Block {
            block_id,
            row_groups,
        } = &job.target
        else {
            return self.recent.search_recent(&job.tenant, &job.request).await;
        };
        let prepared = crate::search::prepare(&job.request)?;
        let meta = self.block_meta(&job.tenant, *block_id)?;
        let (reader, counting) = self.counted_reader(meta);
        let range = row_groups.start as usize..row_groups.end as usize;
        let mut answer = prepared
            .search_block(&reader, Some(range), self.blocking.as_ref())
            .await
            .map_err(|error| {
                self.metrics.block_read_errors.inc();
                format!("block {block_id}: {error}")
            })?;
        if let Some(metrics) = answer.metrics.as_mut() {
            metrics.backend_reads = counting.reads();
            metrics.backend_bytes = counting.bytes_read();
        }
        Ok(answer)
    }

    /// Runs a tags job.
    pub async fn tags(&self, job: &TagsJob) -> Result<TagsAnswer, String> {
        let Some(block_id) = job.block_id else {
            return self.recent.tags_recent(&job.tenant, &job.query).await;
        };
        let prepared = PreparedTags::new(&job.query)?;
        let meta = self.block_meta(&job.tenant, block_id)?;
        let (reader, counting) = self.counted_reader(meta);
        let projection = tag_columns(&prepared)?;
        let metadata = reader
            .parquet_metadata()
            .await
            .map_err(|error| format!("block {block_id}: {error}"))?;
        let row_groups: Vec<usize> = (0..metadata.num_row_groups()).collect();
        let scanned = reader
            .scan(&row_groups, &projection)
            .await
            .map_err(|error| format!("block {block_id}: {error}"))?;
        let batches: Vec<&arrow_array::RecordBatch> = scanned.batches.iter().collect();
        let mut answer = prepared.collect(&batches)?;
        answer.inspected_bytes = counting.bytes_read();
        Ok(answer)
    }
}

/// The columns a tags query reads.
fn tag_columns(prepared: &PreparedTags) -> Result<Vec<&'static str>, String> {
    let mut needed: BTreeSet<&'static str> = BTreeSet::new();
    needed.insert(columns::TRACE_ID);
    match &prepared.attribute {
        Some(attribute) => {
            needed.extend(vivace_engine::columns_of(attribute).map_err(|error| error.to_string())?)
        }
        None => {
            for scope in &prepared.scopes {
                match scope {
                    TagScope::Span => {
                        needed.insert(columns::SPAN_ATTRS);
                        needed.extend(columns::DEDICATED_SPAN.iter().map(|(column, _, _)| *column));
                    }
                    TagScope::Resource => {
                        needed.insert(columns::RESOURCE_ATTRS);
                        needed.insert(columns::SERVICE_NAME);
                        needed.extend(
                            columns::DEDICATED_RESOURCE
                                .iter()
                                .map(|(column, _, _)| *column),
                        );
                    }
                    TagScope::Event => {
                        needed.insert(columns::EVENT_ATTRS);
                    }
                    TagScope::Link => {
                        needed.insert(columns::LINK_ATTRS);
                    }
                    TagScope::Instrumentation => {
                        needed.insert(columns::SCOPE_ATTRS);
                    }
                    TagScope::Intrinsic => {}
                }
            }
        }
    }
    if let Some(filter) = &prepared.filter {
        let query = vivace_traceql::parse(&format!("{{ {filter} }}"))
            .map_err(|error| format!("invalid filter: {error}"))?;
        let compiled =
            vivace_engine::CompiledQuery::new(&query).map_err(|error| error.to_string())?;
        needed.extend(compiled.columns());
    }
    Ok(needed.into_iter().collect())
}
