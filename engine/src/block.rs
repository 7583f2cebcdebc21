//! Searching a block: row groups pruned by time, statistics and bloom filters, then only the
//! columns the query reads are fetched and evaluated.

use std::ops::Range;
use std::sync::Arc;

use parquet::file::metadata::ParquetMetaData;
use parquet::file::statistics::Statistics;
use vivace_storage::block::BlockReader;
use vivace_storage::block::search_schema as columns;

use crate::compile::CompiledQuery;
use crate::error::EngineError;
use crate::prune::Need;
use crate::result::TraceMatch;
use crate::spanset::{EvalOptions, evaluate_batch};

/// What a block search covers.
#[derive(Debug, Clone, Default)]
pub struct BlockSearch {
    /// Row groups to consider; `None` means all.
    pub row_groups: Option<Range<usize>>,
    /// Only traces overlapping `[start, end]` (unix nanos); `None` means any time.
    pub time_range: Option<(u64, u64)>,
    /// Stop once this many traces matched (0: no limit).
    pub limit: usize,
}

/// Work done by a search.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    pub inspected_bytes: u64,
    pub inspected_spans: u64,
    pub inspected_traces: u64,
    pub row_groups_read: u64,
    pub row_groups_pruned: u64,
}

impl SearchStats {
    /// Adds another search's work.
    pub fn add(&mut self, other: &SearchStats) {
        self.inspected_bytes += other.inspected_bytes;
        self.inspected_spans += other.inspected_spans;
        self.inspected_traces += other.inspected_traces;
        self.row_groups_read += other.row_groups_read;
        self.row_groups_pruned += other.row_groups_pruned;
    }
}

/// Min and max of an integer column chunk, when recorded.
fn int_range(meta: &ParquetMetaData, row_group: usize, column: &str) -> Option<(i64, i64)> {
    let leaf = vivace_storage::block::leaf_column_index(meta, column)?;
    match meta.row_group(row_group).column(leaf).statistics()? {
        Statistics::Int32(stats) => {
            Some((i64::from(*stats.min_opt()?), i64::from(*stats.max_opt()?)))
        }
        Statistics::Int64(stats) => Some((*stats.min_opt()?, *stats.max_opt()?)),
        _ => None,
    }
}

/// Min and max of a `UInt64` column chunk (stored as INT64 with unsigned order).
fn u64_range(meta: &ParquetMetaData, row_group: usize, column: &str) -> Option<(u64, u64)> {
    let leaf = vivace_storage::block::leaf_column_index(meta, column)?;
    match meta.row_group(row_group).column(leaf).statistics()? {
        Statistics::Int64(stats) => Some((*stats.min_opt()? as u64, *stats.max_opt()? as u64)),
        _ => None,
    }
}

/// Whether a string column chunk's min/max admit `value`.
fn string_in_range(meta: &ParquetMetaData, row_group: usize, column: &str, value: &str) -> bool {
    let Some(leaf) = vivace_storage::block::leaf_column_index(meta, column) else {
        return true;
    };
    let Some(Statistics::ByteArray(stats)) = meta.row_group(row_group).column(leaf).statistics()
    else {
        return true;
    };
    match (stats.min_opt(), stats.max_opt()) {
        (Some(min), Some(max)) => min.data() <= value.as_bytes() && value.as_bytes() <= max.data(),
        _ => true,
    }
}

/// Whether row group `row_group` may hold what `need` asks for.
async fn may_hold(
    reader: &BlockReader,
    meta: &ParquetMetaData,
    row_group: usize,
    need: &Need,
) -> Result<bool, EngineError> {
    match need {
        Need::Anything => Ok(true),
        Need::All(needs) => {
            for inner in needs {
                if !Box::pin(may_hold(reader, meta, row_group, inner)).await? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Need::Any(needs) => {
            for inner in needs {
                if Box::pin(may_hold(reader, meta, row_group, inner)).await? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Need::String { column, value } => {
            if !string_in_range(meta, row_group, column, value) {
                return Ok(false);
            }
            Ok(reader
                .column_bloom_may_contain(row_group, column, value.as_bytes())
                .await?)
        }
        Need::Key { list, key } => Ok(reader
            .column_bloom_may_contain(
                row_group,
                &vivace_storage::block::search_schema::attr_key_leaf(list),
                key.as_bytes(),
            )
            .await?),
        Need::StringValue { list, value } => Ok(reader
            .column_bloom_may_contain(
                row_group,
                &vivace_storage::block::search_schema::attr_string_leaf(list),
                value.as_bytes(),
            )
            .await?),
        Need::IntRange { column, min, max } => Ok(match int_range(meta, row_group, column) {
            Some((low, high)) => low <= *max && *min <= high,
            None => true,
        }),
    }
}

/// The query's columns for one row group, without the generic attribute lists whose bloom
/// filters say none of the keys the query reads is there.
async fn row_group_projection(
    reader: &BlockReader,
    row_group: usize,
    query: &CompiledQuery,
    projection: &[&'static str],
) -> Result<Vec<&'static str>, EngineError> {
    let mut columns = Vec::with_capacity(projection.len());
    for column in projection {
        let keys = query.list_keys().get(column);
        let has_bloom = *column == columns::SPAN_ATTRS || *column == columns::RESOURCE_ATTRS;
        let Some(keys) = keys.filter(|_| has_bloom) else {
            columns.push(*column);
            continue;
        };
        let leaf = vivace_storage::block::search_schema::attr_key_leaf(column);
        let mut any_present = false;
        for key in keys {
            if reader
                .column_bloom_may_contain(row_group, &leaf, key.as_bytes())
                .await?
            {
                any_present = true;
                break;
            }
        }
        if any_present {
            columns.push(*column);
        }
    }
    Ok(columns)
}

/// Runs CPU-heavy work (evaluating a row group) away from the caller's async runtime.
pub trait Offload: Send + Sync {
    fn spawn(&self, job: Box<dyn FnOnce() + Send>);
}

/// Runs the work in place.
#[derive(Debug, Default, Clone, Copy)]
pub struct Inline;

impl Offload for Inline {
    fn spawn(&self, job: Box<dyn FnOnce() + Send>) {
        job();
    }
}

/// Searches the row groups of a block that `search` covers, evaluating in place.
pub async fn search_block(
    reader: &BlockReader,
    query: &CompiledQuery,
    need: &Need,
    search: &BlockSearch,
    options: &EvalOptions,
) -> Result<(Vec<TraceMatch>, SearchStats), EngineError> {
    search_row_groups(reader, query, need, search, |batches| {
        let found: Result<Vec<Vec<TraceMatch>>, EngineError> = batches
            .iter()
            .map(|batch| evaluate_batch(query, batch, options))
            .collect();
        std::future::ready(found.map(|lists| lists.into_iter().flatten().collect()))
    })
    .await
}

/// Searches the row groups of a block that `search` covers, each row group evaluated by
/// `offload` (a blocking pool) while the caller's runtime only waits.
pub async fn search_block_offloaded(
    reader: &BlockReader,
    query: &Arc<CompiledQuery>,
    need: &Need,
    search: &BlockSearch,
    options: &EvalOptions,
    offload: &dyn Offload,
) -> Result<(Vec<TraceMatch>, SearchStats), EngineError> {
    search_row_groups(reader, query, need, search, |batches| {
        let (sender, receiver) = futures::channel::oneshot::channel();
        let shared = Arc::clone(query);
        let options = *options;
        offload.spawn(Box::new(move || {
            let found: Result<Vec<TraceMatch>, EngineError> = batches
                .iter()
                .map(|batch| evaluate_batch(&shared, batch, &options))
                .collect::<Result<Vec<_>, _>>()
                .map(|lists| lists.into_iter().flatten().collect());
            let _ignored_if_caller_gone = sender.send(found);
        }));
        async move {
            receiver.await.map_err(|_| {
                EngineError::Unsupported("an evaluation that stopped without an answer".to_owned())
            })?
        }
    })
    .await
}

/// The row-group loop shared by both searches: pruning, reading, then `evaluate` on the batches.
async fn search_row_groups<F, Fut>(
    reader: &BlockReader,
    query: &CompiledQuery,
    need: &Need,
    search: &BlockSearch,
    evaluate: F,
) -> Result<(Vec<TraceMatch>, SearchStats), EngineError>
where
    F: Fn(Vec<arrow_array::RecordBatch>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<TraceMatch>, EngineError>>,
{
    let meta = reader.parquet_metadata().await?;
    let total = meta.num_row_groups();
    let range = search
        .row_groups
        .clone()
        .map(|range| range.start.min(total)..range.end.min(total))
        .unwrap_or(0..total);
    let projection = query.columns();
    let mut stats = SearchStats::default();
    let mut matches = Vec::new();
    for row_group in range {
        if let Some((start, end)) = search.time_range
            && let (Some((first, _)), Some((_, last))) = (
                u64_range(&meta, row_group, columns::TRACE_START),
                u64_range(&meta, row_group, columns::TRACE_END),
            )
            && (last < start || first > end)
        {
            stats.row_groups_pruned += 1;
            continue;
        }
        if !may_hold(reader, &meta, row_group, need).await? {
            stats.row_groups_pruned += 1;
            continue;
        }
        let columns = row_group_projection(reader, row_group, query, &projection).await?;
        let scanned = reader.scan(&[row_group], &columns).await?;
        stats.row_groups_read += 1;
        stats.inspected_bytes += scanned.bytes_read;
        for batch in &scanned.batches {
            stats.inspected_spans += batch.num_rows() as u64;
            stats.inspected_traces += count_traces(batch);
        }
        for found in evaluate(scanned.batches).await? {
            if overlaps(&found, search.time_range) {
                matches.push(found);
            }
        }
        if search.limit > 0 && matches.len() >= search.limit {
            break;
        }
    }
    Ok((matches, stats))
}

/// Whether a trace overlaps the searched time range.
pub fn overlaps(found: &TraceMatch, time_range: Option<(u64, u64)>) -> bool {
    let Some((start, end)) = time_range else {
        return true;
    };
    let trace_end = found.start_unix_nanos.saturating_add(found.duration_nanos);
    found.start_unix_nanos <= end && trace_end >= start
}

/// Number of traces in a batch (rows of a trace are contiguous).
pub fn count_traces(batch: &arrow_array::RecordBatch) -> u64 {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    let Some(ids) = batch
        .column_by_name(columns::TRACE_ID)
        .and_then(|column| column.as_fixed_size_binary_opt())
    else {
        return 0;
    };
    if ids.is_empty() {
        return 0;
    }
    1 + (1..ids.len())
        .filter(|row| ids.value(*row) != ids.value(row - 1))
        .count() as u64
}
