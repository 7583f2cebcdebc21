//! Trace lookup in one block: bloom shard (cached) → `index` (cached) → row groups whose trace-id
//! range holds the id → Parquet footer and page indexes (cached) → the `trace_id` pages whose
//! min/max hold the id → the pages of every column holding the trace's rows. Every range read is
//! verified against its checksum, then decoded and regrouped into a trace.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::{Array, FixedSizeBinaryArray};
use bytes::Bytes;
use futures::TryStreamExt as _;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, RowSelection};
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::file::metadata::{
    ColumnChunkMask, PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader,
};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use vivace_cache::Cache;
use vivace_proto::ids::TraceId;
use vivace_proto::tempopb::Trace;

use super::block_path;
use super::bloom::{BloomShard, shard_for};
use super::checksums::ChecksumTable;
use super::fetch::{VerifiedReader, into_storage_error};
use super::meta::{BlockIndex, BlockMeta, TailIndex};
use super::ranges::FetchedRanges;
use super::schema::{
    ReadSpan, TRACE_BY_ID_COLUMNS, TRACE_ID_LEAF, batch_to_spans, spans_to_batches,
};
use crate::backend::{BlockStore, StorageError};

/// Reads traces from one block (and search columns, see `scan.rs`).
pub struct BlockReader {
    pub(super) store: Arc<dyn BlockStore>,
    pub(super) cache: Arc<dyn Cache>,
    pub(super) meta: BlockMeta,
    pub(super) base: String,
    pub(super) data_path: Arc<str>,
    /// The whole footer with every page index, parsed once per reader (see `scan.rs`).
    pub(super) full_metadata: tokio::sync::OnceCell<Arc<ParquetMetaData>>,
    /// The `index` file, parsed once per reader (see `scan.rs`).
    pub(super) parsed_index: tokio::sync::OnceCell<Arc<BlockIndex>>,
}

impl BlockReader {
    /// A reader of the block described by `meta`; bloom shards, `index` and the Parquet footer
    /// go through `cache`.
    pub fn new(store: Arc<dyn BlockStore>, cache: Arc<dyn Cache>, meta: BlockMeta) -> Self {
        let base = block_path(&meta.tenant_id, meta.block_id);
        let data_path: Arc<str> = Arc::from(format!("{base}/data.parquet"));
        BlockReader {
            store,
            cache,
            meta,
            base,
            data_path,
            full_metadata: tokio::sync::OnceCell::new(),
            parsed_index: tokio::sync::OnceCell::new(),
        }
    }

    /// The block's `meta.json`.
    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    pub(super) fn corrupt(&self, detail: impl Into<String>) -> StorageError {
        StorageError::Corrupt {
            path: self.data_path.to_string(),
            detail: detail.into(),
        }
    }

    /// An object through the cache; bytes fetched from the store are added to `fetched`.
    async fn cached(
        &self,
        key: String,
        path: String,
        fetched: &AtomicU64,
    ) -> Result<Bytes, StorageError> {
        if let Some(hit) = self.cache.get(&key).await {
            return Ok(hit);
        }
        let bytes = self.store.get(&path).await?;
        fetched.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.cache.insert(key, bytes.clone());
        Ok(bytes)
    }

    /// Whether the bloom filter says the trace may be here. A damaged shard answers "maybe".
    async fn bloom_may_contain(&self, trace_id: &TraceId) -> Result<bool, StorageError> {
        let shards = self.meta.bloom_shards.max(1) as usize;
        let shard = shard_for(trace_id, shards);
        let key = format!("bloom/{}/{}", self.base, shard);
        let bytes = self
            .cached(
                key,
                format!("{}/bloom-{shard}", self.base),
                &AtomicU64::new(0),
            )
            .await?;
        match BloomShard::check_encoded(&bytes, trace_id) {
            Some(answer) => Ok(answer),
            None => {
                tracing::warn!(block = %self.meta.block_id, shard, "damaged bloom shard; reading the block anyway");
                Ok(true)
            }
        }
    }

    /// The block's `index` file (through the cache).
    pub(super) async fn index(&self, fetched: &AtomicU64) -> Result<BlockIndex, StorageError> {
        let bytes = self
            .cached(
                format!("index/{}", self.base),
                format!("{}/index", self.base),
                fetched,
            )
            .await?;
        serde_json::from_slice(&bytes).map_err(|error| StorageError::Corrupt {
            path: format!("{}/index", self.base),
            detail: error.to_string(),
        })
    }

    /// The tail of `data.parquet` (page indexes and footer) through the cache, verified.
    pub(super) async fn tail_bytes(
        &self,
        tail: &TailIndex,
        fetched: &AtomicU64,
    ) -> Result<Bytes, StorageError> {
        let key = format!("footer/{}", self.base);
        let range = tail.offset..tail.offset + tail.length;
        if let Some(hit) = self.cache.get(&key).await
            && hit.len() as u64 == tail.length
            && crc32fast::hash(&hit) == tail.crc32
        {
            return Ok(hit);
        }
        let bytes = self.store.get_range(&self.data_path, range.clone()).await?;
        fetched.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if crc32fast::hash(&bytes) != tail.crc32 {
            return Err(StorageError::Checksum {
                path: self.data_path.to_string(),
                detail: format!("footer and page indexes at {range:?}"),
            });
        }
        self.cache.insert(key, bytes.clone());
        Ok(bytes)
    }

    /// The footer alone, for blocks written before the index described the tail.
    pub(super) async fn footer_bytes(
        &self,
        fetched: &AtomicU64,
    ) -> Result<(u64, Bytes), StorageError> {
        let key = format!("footer/{}", self.base);
        let footer_length = u64::from(self.meta.footer_size) + 8;
        let start = self
            .meta
            .size
            .checked_sub(footer_length)
            .ok_or_else(|| self.corrupt("footer larger than the file"))?;
        if let Some(hit) = self.cache.get(&key).await
            && hit.len() as u64 == footer_length
        {
            return Ok((start, hit));
        }
        let bytes = self
            .store
            .get_range(&self.data_path, start..self.meta.size)
            .await?;
        fetched.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.cache.insert(key, bytes.clone());
        Ok((start, bytes))
    }

    /// The file's metadata, with the page indexes of `row_groups` when the block has them: the
    /// offset indexes of every column and the column index of `trace_id`.
    async fn lookup_metadata(
        &self,
        index: &BlockIndex,
        row_groups: &[usize],
    ) -> Result<ParquetMetaData, StorageError> {
        let fetched = AtomicU64::new(0);
        let (start, bytes, policy) = match &index.tail {
            Some(tail) => (
                tail.offset,
                self.tail_bytes(tail, &fetched).await?,
                PageIndexPolicy::Optional,
            ),
            None => {
                let (start, bytes) = self.footer_bytes(&fetched).await?;
                (start, bytes, PageIndexPolicy::Skip)
            }
        };
        let tail = FetchedRanges::new(self.meta.size, vec![(start, bytes)]);
        ParquetMetaDataReader::new()
            .with_offset_index_policy(policy)
            .with_column_index_policy(policy)
            .with_offset_index_mask(ColumnChunkMask::row_groups(row_groups.iter().copied()))
            .with_column_index_mask(ColumnChunkMask::row_groups_and_columns(
                row_groups.iter().copied(),
                [TRACE_ID_LEAF],
            ))
            .parse_and_finish(&tail)
            .map_err(|error| self.corrupt(format!("undecodable parquet footer: {error}")))
    }

    /// Finds a trace; `Ok(None)` when it is not in this block.
    pub async fn find_trace(&self, trace_id: &TraceId) -> Result<Option<Trace>, StorageError> {
        if !self.bloom_may_contain(trace_id).await? {
            return Ok(None);
        }
        let index = self.index(&AtomicU64::new(0)).await?;
        let wanted_hex = hex::encode(trace_id);
        let candidates: Vec<usize> = index
            .row_groups
            .iter()
            .enumerate()
            .filter(|(_, row_group)| row_group.may_contain(&wanted_hex))
            .map(|(number, _)| number)
            .collect();
        if candidates.is_empty() {
            return Ok(None);
        }
        let metadata = Arc::new(self.lookup_metadata(&index, &candidates).await?);
        let checksums = ChecksumTable::build(&index, &metadata, &candidates)
            .map_err(|detail| self.corrupt(detail))?;
        let reader_metadata =
            ArrowReaderMetadata::try_new(Arc::clone(&metadata), ArrowReaderOptions::new())
                .map_err(|error| into_storage_error(&self.data_path, error))?;
        let file = VerifiedReader::new(
            Arc::clone(&self.store),
            Arc::clone(&self.data_path),
            metadata,
            Arc::new(checksums),
            Arc::new(AtomicU64::new(0)),
        );
        let mut spans = Vec::new();
        for row_group in candidates {
            let found = self
                .read_trace_rows(&file, &reader_metadata, row_group, trace_id)
                .await?;
            spans.extend(found);
        }
        if spans.is_empty() {
            return Ok(None);
        }
        let resource_spans = spans_to_batches(spans).map_err(|detail| self.corrupt(detail))?;
        Ok(Some(Trace { resource_spans }))
    }

    /// The spans of `trace_id` in one row group: first the candidate `trace_id` pages alone, then
    /// every column for the matching rows only.
    async fn read_trace_rows(
        &self,
        file: &VerifiedReader,
        reader_metadata: &ArrowReaderMetadata,
        row_group: usize,
        trace_id: &TraceId,
    ) -> Result<Vec<ReadSpan>, StorageError> {
        let metadata = reader_metadata.metadata();
        let row_count = usize::try_from(metadata.row_group(row_group).num_rows()).unwrap_or(0);
        let candidate_rows = candidate_row_range(metadata, row_group, trace_id, row_count);
        if candidate_rows.is_empty() {
            return Ok(Vec::new());
        }
        let schema = metadata.file_metadata().schema_descr();
        let ids_stream = ParquetRecordBatchStreamBuilder::new_with_metadata(
            file.clone(),
            reader_metadata.clone(),
        )
        .with_row_groups(vec![row_group])
        .with_projection(ProjectionMask::leaves(schema, [TRACE_ID_LEAF]))
        .with_row_selection(RowSelection::from_consecutive_ranges(
            std::iter::once(candidate_rows.clone()),
            row_count,
        ))
        .build()
        .map_err(|error| into_storage_error(&self.data_path, error))?;
        let id_batches: Vec<_> = ids_stream
            .try_collect()
            .await
            .map_err(|error| into_storage_error(&self.data_path, error))?;
        let mut matching: Vec<Range<usize>> = Vec::new();
        let mut row = candidate_rows.start;
        for batch in &id_batches {
            let ids = batch
                .column(0)
                .as_any()
                .downcast_ref::<FixedSizeBinaryArray>()
                .ok_or_else(|| self.corrupt("trace_id column has the wrong type"))?;
            for position in 0..ids.len() {
                if ids.value(position) == trace_id.as_slice() {
                    match matching.last_mut() {
                        Some(last) if last.end == row => last.end = row + 1,
                        _ => matching.push(row..row + 1),
                    }
                }
                row += 1;
            }
        }
        if matching.is_empty() {
            return Ok(Vec::new());
        }
        let rows_stream = ParquetRecordBatchStreamBuilder::new_with_metadata(
            file.clone(),
            reader_metadata.clone(),
        )
        .with_row_groups(vec![row_group])
        .with_projection(trace_by_id_projection(metadata))
        .with_row_selection(RowSelection::from_consecutive_ranges(
            matching.into_iter(),
            row_count,
        ))
        .build()
        .map_err(|error| into_storage_error(&self.data_path, error))?;
        let row_batches: Vec<_> = rows_stream
            .try_collect()
            .await
            .map_err(|error| into_storage_error(&self.data_path, error))?;
        let mut spans = Vec::new();
        for batch in &row_batches {
            spans.extend(batch_to_spans(batch).map_err(|detail| self.corrupt(detail))?);
        }
        Ok(spans)
    }
}

/// The top-level columns named `names`, as a projection (names the file lacks are left out).
pub(super) fn roots_projection(metadata: &ParquetMetaData, names: &[&str]) -> ProjectionMask {
    let schema = metadata.file_metadata().schema_descr();
    let roots = schema
        .root_schema()
        .get_fields()
        .iter()
        .enumerate()
        .filter(|(_, field)| names.contains(&field.name()))
        .map(|(index, _)| index);
    ProjectionMask::roots(schema, roots)
}

/// The columns a trace lookup decodes (not the search columns).
fn trace_by_id_projection(metadata: &ParquetMetaData) -> ProjectionMask {
    roots_projection(metadata, TRACE_BY_ID_COLUMNS)
}

/// The rows of a row group whose `trace_id` pages may hold the id, from the column index (rows are
/// sorted by trace id, so they are one range). Without a page index: every row.
fn candidate_row_range(
    metadata: &ParquetMetaData,
    row_group: usize,
    trace_id: &TraceId,
    row_count: usize,
) -> Range<usize> {
    let page_index = metadata.page_index();
    let column_index = page_index.and_then(|index| index.column_index(row_group, TRACE_ID_LEAF));
    let offset_index = page_index.and_then(|index| index.offset_index(row_group, TRACE_ID_LEAF));
    let (Some(ColumnIndexMetaData::FIXED_LEN_BYTE_ARRAY(column_index)), Some(offset_index)) =
        (column_index, offset_index)
    else {
        return 0..row_count;
    };
    let locations = offset_index.page_locations();
    if column_index.num_pages() as usize != locations.len() {
        return 0..row_count;
    }
    let wanted = trace_id.as_slice();
    let mut rows: Option<Range<usize>> = None;
    for (page, location) in locations.iter().enumerate() {
        let (Some(min), Some(max)) = (column_index.min_value(page), column_index.max_value(page))
        else {
            return 0..row_count;
        };
        if min > wanted || wanted > max {
            continue;
        }
        let first_row = usize::try_from(location.first_row_index).unwrap_or(0);
        let end_row = locations
            .get(page + 1)
            .and_then(|next| usize::try_from(next.first_row_index).ok())
            .unwrap_or(row_count);
        rows = Some(match rows {
            Some(found) => found.start.min(first_row)..found.end.max(end_row),
            None => first_row..end_row,
        });
    }
    rows.unwrap_or(0..0)
}
