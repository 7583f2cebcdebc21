//! Building a block: traces → sorted span rows → `data.parquet` (ZSTD), bloom shards, the `index`
//! file with column-chunk checksums, and `meta.json`, uploaded with `meta.json` last.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use uuid::Uuid;
use vivace_proto::ids::TraceId;
use vivace_proto::tempopb::Trace;

use super::bloom::build_shards;
use super::checksums::page_checksums;
use super::meta::{BLOCK_FORMAT, BlockIndex, BlockMeta, ChunkIndex, RowGroupIndex};
use super::schema::{block_schema, traces_to_batch};
use super::search_schema::{
    ATTR_BOOL, ATTR_FLOAT, ATTR_INT, ATTR_KEY, ATTR_STRING, END, EVENT_ATTRS, EVENT_NAMES,
    EVENT_TIMES_SINCE_START, LINK_ATTRS, LINK_SPAN_IDS, LINK_TRACE_IDS, RESOURCE_ATTRS,
    SCOPE_ATTRS, SPAN_ATTRS, START, TRACE_END, TRACE_ID, TRACE_START, bloom_filter_leaves,
};
use super::trace_view::merge_by_trace;
use super::{BlockConfig, block_path};
use crate::backend::{BlockStore, StorageError};

/// Spans handed to the Parquet writer at a time (whole traces, so a batch may hold more).
const WRITE_BATCH_ROWS: usize = 256;

/// A block ready to upload.
pub struct EncodedBlock {
    pub meta: BlockMeta,
    data: Bytes,
    blooms: Vec<Bytes>,
    index: Bytes,
}

fn corrupt(block_id: Uuid, detail: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt {
        path: block_id.to_string(),
        detail: detail.to_string(),
    }
}

fn timestamp(nanos: u64) -> DateTime<Utc> {
    DateTime::from_timestamp((nanos / 1_000_000_000) as i64, 0).unwrap_or_default()
}

/// Columns whose values rarely repeat: dictionary encoding only costs CPU there.
const PLAIN_COLUMNS: &[&str] = &[
    "trace_id",
    "span_id",
    "parent_span_id",
    "start_time_unix_nano",
    "end_time_unix_nano",
    "attributes",
    "events",
    "links",
    TRACE_START,
    TRACE_END,
];

/// List columns whose values rarely repeat (their single leaf).
const PLAIN_LISTS: &[&str] = &[EVENT_TIMES_SINCE_START, LINK_TRACE_IDS, LINK_SPAN_IDS];

/// Columns of encoded messages: min/max statistics say nothing useful about them.
const BLOB_COLUMNS: &[&str] = &["resource", "scope", "attributes", "events", "links"];

/// List columns whose leaves get no statistics: min/max over all keys' values (or over ids and
/// offsets) prune nothing; their keys and string values have bloom filters instead.
const UNSORTED_LISTS: &[&str] = &[
    SPAN_ATTRS,
    RESOURCE_ATTRS,
    SCOPE_ATTRS,
    EVENT_ATTRS,
    LINK_ATTRS,
    EVENT_NAMES,
    EVENT_TIMES_SINCE_START,
    LINK_TRACE_IDS,
    LINK_SPAN_IDS,
];

/// The leaves of a list column of the search schema.
fn list_leaves(list: &str) -> Vec<String> {
    match list {
        EVENT_NAMES | EVENT_TIMES_SINCE_START | LINK_TRACE_IDS | LINK_SPAN_IDS => {
            vec![format!("{list}.list.item")]
        }
        _ => [ATTR_KEY, ATTR_STRING, ATTR_INT, ATTR_FLOAT, ATTR_BOOL]
            .iter()
            .map(|field| format!("{list}.list.item.{field}"))
            .collect(),
    }
}

/// Columns with page statistics (a column index): lookups by id, searches by time.
const PAGE_STATISTICS: &[&str] = &[TRACE_ID, START, END, TRACE_START, TRACE_END];

/// Rows per data page: a lookup reads about one page per column, so pages stay small.
const PAGE_ROWS: usize = 1024;

/// False-positive rate of the search columns' Parquet bloom filters.
const SEARCH_BLOOM_FPP: f64 = 0.01;

/// A dotted leaf path (`span_attrs.list.item.key`) as a column path.
fn leaf_path(path: &str) -> ColumnPath {
    ColumnPath::new(path.split('.').map(str::to_owned).collect())
}

/// The most distinct values a search bloom filter is sized for before it is folded down to its
/// false-positive rate: about one value per 16 bytes of row group, within [1024, 2^20].
fn search_bloom_max_ndv(config: &BlockConfig) -> u64 {
    (config.row_group_size_bytes as u64 / 16).clamp(1024, 1 << 20)
}

fn writer_properties(
    block_id: Uuid,
    config: &BlockConfig,
) -> Result<WriterProperties, StorageError> {
    let level = ZstdLevel::try_new(1).map_err(|error| corrupt(block_id, error))?;
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_write_batch_size(PAGE_ROWS)
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_max_row_group_row_count(None)
        .set_max_row_group_bytes(None);
    for column in PAGE_STATISTICS {
        builder = builder
            .set_column_statistics_enabled(ColumnPath::from(*column), EnabledStatistics::Page);
    }
    for column in PLAIN_COLUMNS {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(*column), false);
    }
    for list in PLAIN_LISTS {
        builder =
            builder.set_column_dictionary_enabled(leaf_path(&format!("{list}.list.item")), false);
    }
    for column in BLOB_COLUMNS {
        builder = builder
            .set_column_statistics_enabled(ColumnPath::from(*column), EnabledStatistics::None);
    }
    for leaf in UNSORTED_LISTS.iter().flat_map(|list| list_leaves(list)) {
        builder = builder.set_column_statistics_enabled(leaf_path(&leaf), EnabledStatistics::None);
    }
    let max_ndv = search_bloom_max_ndv(config);
    for leaf in bloom_filter_leaves() {
        let path = leaf_path(&leaf);
        builder = builder
            .set_column_bloom_filter_enabled(path.clone(), true)
            .set_column_bloom_filter_fpp(path.clone(), SEARCH_BLOOM_FPP)
            .set_column_bloom_filter_max_ndv(path, max_ndv);
    }
    Ok(builder.build())
}

/// Row-group bookkeeping while streaming rows into the Parquet writer.
#[derive(Default)]
struct RowGroupTracker {
    closed: Vec<(TraceId, TraceId, u64)>,
    current: Option<(TraceId, TraceId, u64)>,
}

impl RowGroupTracker {
    fn add(&mut self, first: TraceId, last: TraceId, rows: u64) {
        self.current = Some(match self.current {
            Some((min, _, count)) => (min, last, count + rows),
            None => (first, last, rows),
        });
    }

    fn close(&mut self) {
        if let Some(group) = self.current.take() {
            self.closed.push(group);
        }
    }
}

/// Whole traces waiting to be written, and what has been written.
struct StreamingWriter<'c> {
    block_id: Uuid,
    config: &'c BlockConfig,
    writer: ArrowWriter<Vec<u8>>,
    groups: RowGroupTracker,
    pending: Vec<(TraceId, Trace)>,
    pending_spans: usize,
    trace_ids: Vec<TraceId>,
    total_spans: u64,
    start_nanos: u64,
    end_nanos: u64,
}

impl StreamingWriter<'_> {
    /// Queues one whole trace (all entries of its id merged), writing a batch when enough spans
    /// wait. Row groups are only closed between batches, so a trace never spans two.
    fn add_trace(&mut self, trace_id: TraceId, trace: Trace) -> Result<(), StorageError> {
        self.trace_ids.push(trace_id);
        let spans = trace.span_count();
        if spans == 0 {
            return Ok(());
        }
        for span in trace
            .resource_spans
            .iter()
            .flat_map(|batch| &batch.scope_spans)
            .flat_map(|scope| &scope.spans)
        {
            self.start_nanos = self.start_nanos.min(span.start_time_unix_nano);
            self.end_nanos = self.end_nanos.max(span.end_time_unix_nano);
        }
        self.total_spans += spans as u64;
        self.pending_spans += spans;
        self.pending.push((trace_id, trace));
        if self.pending_spans >= WRITE_BATCH_ROWS {
            self.write_pending()?;
        }
        Ok(())
    }

    fn write_pending(&mut self) -> Result<(), StorageError> {
        let block_id = self.block_id;
        let (Some((first, _)), Some((last, _))) = (self.pending.first(), self.pending.last())
        else {
            return Ok(());
        };
        self.groups.add(*first, *last, self.pending_spans as u64);
        let batch = traces_to_batch(&self.pending).map_err(|error| corrupt(block_id, error))?;
        self.pending.clear();
        self.pending_spans = 0;
        self.writer
            .write(&batch)
            .map_err(|error| corrupt(block_id, error))?;
        if self.writer.in_progress_size() >= self.config.row_group_size_bytes {
            self.writer
                .flush()
                .map_err(|error| corrupt(block_id, error))?;
            self.groups.close();
        }
        Ok(())
    }
}

/// Encodes traces into a block (CPU-heavy: run it on a blocking thread). Entries sharing a trace
/// id are merged.
pub fn encode_block(
    tenant: &str,
    block_id: Uuid,
    traces: Vec<(TraceId, Trace)>,
    config: &BlockConfig,
) -> Result<EncodedBlock, StorageError> {
    encode_sorted_block(tenant, block_id, merge_by_trace(traces), config)
}

/// Encodes traces given in ascending trace-id order, streaming: only about one write batch of
/// traces and the Parquet writer's open row group are held besides the output. Adjacent entries
/// with the same id are merged (as [`encode_block`] does); an id out of order is an error.
pub fn encode_sorted_block(
    tenant: &str,
    block_id: Uuid,
    traces: impl IntoIterator<Item = (TraceId, Trace)>,
    config: &BlockConfig,
) -> Result<EncodedBlock, StorageError> {
    let writer = ArrowWriter::try_new(
        Vec::new(),
        block_schema(),
        Some(writer_properties(block_id, config)?),
    )
    .map_err(|error| corrupt(block_id, error))?;
    let mut state = StreamingWriter {
        block_id,
        config,
        writer,
        groups: RowGroupTracker::default(),
        pending: Vec::new(),
        pending_spans: 0,
        trace_ids: Vec::new(),
        total_spans: 0,
        start_nanos: u64::MAX,
        end_nanos: 0,
    };
    let mut current: Option<(TraceId, Trace)> = None;
    for (trace_id, trace) in traces {
        match &mut current {
            Some((previous, merged)) if *previous == trace_id => {
                merged.resource_spans.extend(trace.resource_spans);
                continue;
            }
            Some((previous, _)) if *previous > trace_id => {
                return Err(corrupt(block_id, "traces given out of trace-id order"));
            }
            _ => {}
        }
        if let Some((done_id, done)) = current.replace((trace_id, trace)) {
            state.add_trace(done_id, done)?;
        }
    }
    if let Some((done_id, done)) = current.take() {
        state.add_trace(done_id, done)?;
    }
    state.write_pending()?;
    let StreamingWriter {
        mut writer,
        mut groups,
        trace_ids,
        total_spans,
        mut start_nanos,
        end_nanos,
        ..
    } = state;
    let parquet_meta = writer.finish().map_err(|error| corrupt(block_id, error))?;
    groups.close();
    let data = Bytes::from(std::mem::take(writer.inner_mut()));
    if parquet_meta.num_row_groups() != groups.closed.len() {
        return Err(corrupt(
            block_id,
            "row group count differs from the rows written",
        ));
    }
    let (page_crc32, tail) = page_checksums(&data).map_err(|error| corrupt(block_id, error))?;
    if page_crc32.len() != groups.closed.len() {
        return Err(corrupt(
            block_id,
            "page checksums missing for some row groups",
        ));
    }
    let mut index = BlockIndex {
        row_groups: Vec::with_capacity(groups.closed.len()),
        tail,
    };
    for ((row_group, (min, max, rows)), row_group_pages) in parquet_meta
        .row_groups()
        .iter()
        .zip(&groups.closed)
        .zip(page_crc32)
    {
        let mut chunks = Vec::with_capacity(row_group.num_columns());
        for (column, column_pages) in row_group.columns().iter().zip(row_group_pages) {
            let (offset, length) = column.byte_range();
            let slice = data
                .get(offset as usize..(offset + length) as usize)
                .ok_or_else(|| corrupt(block_id, "column chunk outside the file"))?;
            chunks.push(ChunkIndex {
                offset,
                length,
                crc32: crc32fast::hash(slice),
                page_crc32: column_pages,
                bloom_crc32: bloom_checksum(&data, column)
                    .map_err(|error| corrupt(block_id, error))?,
            });
        }
        index.row_groups.push(RowGroupIndex {
            min_trace_id: hex::encode(min),
            max_trace_id: hex::encode(max),
            rows: *rows,
            chunks,
        });
    }
    let footer_size = data
        .len()
        .checked_sub(8)
        .and_then(|tail| data.get(tail..tail + 4))
        .and_then(|bytes| bytes.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| corrupt(block_id, "parquet file without a footer"))?;
    let blooms: Vec<Bytes> = build_shards(
        &trace_ids,
        config.bloom_false_positive,
        config.bloom_shard_size_bytes,
    )
    .iter()
    .map(|shard| shard.encode())
    .collect();
    if total_spans == 0 {
        start_nanos = 0;
    }
    let meta = BlockMeta {
        format: BLOCK_FORMAT.to_owned(),
        block_id,
        tenant_id: tenant.to_owned(),
        start_time: timestamp(start_nanos),
        end_time: timestamp(end_nanos.max(start_nanos)),
        total_objects: trace_ids.len() as i64,
        total_spans,
        size: data.len() as u64,
        compaction_level: 0,
        index_page_size: 0,
        total_records: groups.closed.len() as u32,
        bloom_shards: blooms.len() as u32,
        footer_size,
        replication_factor: 1,
    };
    let index_bytes =
        Bytes::from(serde_json::to_vec(&index).map_err(|error| corrupt(block_id, error))?);
    Ok(EncodedBlock {
        meta,
        data,
        blooms,
        index: index_bytes,
    })
}

/// The crc32 of a column chunk's Parquet bloom filter (header and bitset), if it has one.
fn bloom_checksum(
    data: &Bytes,
    column: &parquet::file::metadata::ColumnChunkMetaData,
) -> Result<Option<u32>, &'static str> {
    let (Some(offset), Some(length)) = (column.bloom_filter_offset(), column.bloom_filter_length())
    else {
        return Ok(None);
    };
    let start = usize::try_from(offset).map_err(|_| "bloom filter offset out of range")?;
    let length = usize::try_from(length).map_err(|_| "bloom filter length out of range")?;
    let bytes = data
        .get(start..start.saturating_add(length))
        .ok_or("bloom filter outside the file")?;
    Ok(Some(crc32fast::hash(bytes)))
}

impl EncodedBlock {
    /// Writes `data.parquet`, the bloom shards, `index`, then `meta.json` last: a block without
    /// `meta.json` does not exist for readers.
    pub async fn upload(&self, store: &dyn BlockStore) -> Result<(), StorageError> {
        let base = block_path(&self.meta.tenant_id, self.meta.block_id);
        store
            .put(&format!("{base}/data.parquet"), self.data.clone())
            .await?;
        for (shard, bloom) in self.blooms.iter().enumerate() {
            store
                .put(&format!("{base}/bloom-{shard}"), bloom.clone())
                .await?;
        }
        store
            .put(&format!("{base}/index"), self.index.clone())
            .await?;
        let meta =
            serde_json::to_vec(&self.meta).map_err(|error| corrupt(self.meta.block_id, error))?;
        store
            .put(&format!("{base}/meta.json"), Bytes::from(meta))
            .await
    }

    /// The encoded `data.parquet` (for tests and benchmarks).
    pub fn data(&self) -> &Bytes {
        &self.data
    }
}
