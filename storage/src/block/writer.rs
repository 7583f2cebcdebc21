//! Building a block: traces → sorted span rows → `data.parquet` (ZSTD), bloom shards, the `index`
//! file with column-chunk checksums, and `meta.json`, uploaded with `meta.json` last.

use std::collections::BTreeMap;

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
use super::schema::{
    SpanRow, TRACE_ID, block_schema, encode_resource, encode_scope, rows_to_batch,
};
use super::{BlockConfig, block_path};
use crate::backend::{BlockStore, StorageError};

/// Rows handed to the Parquet writer at a time.
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

fn merge_by_trace(traces: Vec<(TraceId, Trace)>) -> BTreeMap<TraceId, Trace> {
    let mut merged: BTreeMap<TraceId, Trace> = BTreeMap::new();
    for (trace_id, trace) in traces {
        merged
            .entry(trace_id)
            .or_default()
            .resource_spans
            .extend(trace.resource_spans);
    }
    merged
}

/// The rows of one trace, sorted by span start.
fn trace_rows(trace_id: TraceId, trace: Trace) -> Vec<SpanRow> {
    let mut rows = Vec::with_capacity(trace.span_count());
    for batch in trace.resource_spans {
        let (resource, service_name) = encode_resource(&batch);
        for scope_spans in batch.scope_spans {
            let scope = encode_scope(&scope_spans);
            for span in scope_spans.spans {
                rows.push(SpanRow {
                    trace_id,
                    span,
                    resource: resource.clone(),
                    scope: scope.clone(),
                    service_name: service_name.clone(),
                });
            }
        }
    }
    rows.sort_by_key(|row| row.span.start_time_unix_nano);
    rows
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
];

/// Columns of encoded messages: min/max statistics say nothing useful about them.
const BLOB_COLUMNS: &[&str] = &["resource", "scope", "attributes", "events", "links"];

/// Rows per data page: a lookup reads about one page per column, so pages stay small.
const PAGE_ROWS: usize = 1024;

fn writer_properties(block_id: Uuid) -> Result<WriterProperties, StorageError> {
    let level = ZstdLevel::try_new(1).map_err(|error| corrupt(block_id, error))?;
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_column_statistics_enabled(ColumnPath::from(TRACE_ID), EnabledStatistics::Page)
        .set_write_batch_size(PAGE_ROWS)
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_max_row_group_row_count(None)
        .set_max_row_group_bytes(None);
    for column in PLAIN_COLUMNS {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(*column), false);
    }
    for column in BLOB_COLUMNS {
        builder = builder
            .set_column_statistics_enabled(ColumnPath::from(*column), EnabledStatistics::None);
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

/// Encodes traces given in ascending trace-id order, streaming: only one write batch of rows and
/// the Parquet writer's open row group are held besides the output. Adjacent entries with the same
/// id are stored together; an id out of order is an error.
pub fn encode_sorted_block(
    tenant: &str,
    block_id: Uuid,
    traces: impl IntoIterator<Item = (TraceId, Trace)>,
    config: &BlockConfig,
) -> Result<EncodedBlock, StorageError> {
    let mut buffer: Vec<u8> = Vec::new();
    let mut writer = ArrowWriter::try_new(
        &mut buffer,
        block_schema(),
        Some(writer_properties(block_id)?),
    )
    .map_err(|error| corrupt(block_id, error))?;
    let mut groups = RowGroupTracker::default();
    let mut pending: Vec<SpanRow> = Vec::with_capacity(WRITE_BATCH_ROWS * 2);
    let mut trace_ids: Vec<TraceId> = Vec::new();
    let mut total_spans = 0u64;
    let mut start_nanos = u64::MAX;
    let mut end_nanos = 0u64;
    let write_pending = |pending: &mut Vec<SpanRow>,
                         writer: &mut ArrowWriter<&mut Vec<u8>>,
                         groups: &mut RowGroupTracker| {
        let (Some(first), Some(last)) = (pending.first(), pending.last()) else {
            return Ok(());
        };
        groups.add(first.trace_id, last.trace_id, pending.len() as u64);
        let batch = rows_to_batch(pending).map_err(|error| corrupt(block_id, error))?;
        pending.clear();
        writer
            .write(&batch)
            .map_err(|error| corrupt(block_id, error))?;
        if writer.in_progress_size() >= config.row_group_size_bytes {
            writer.flush().map_err(|error| corrupt(block_id, error))?;
            groups.close();
        }
        Ok::<(), StorageError>(())
    };
    for (trace_id, trace) in traces {
        match trace_ids.last() {
            Some(previous) if *previous > trace_id => {
                return Err(corrupt(block_id, "traces given out of trace-id order"));
            }
            Some(previous) if *previous == trace_id => {}
            _ => trace_ids.push(trace_id),
        }
        for row in trace_rows(trace_id, trace) {
            start_nanos = start_nanos.min(row.span.start_time_unix_nano);
            end_nanos = end_nanos.max(row.span.end_time_unix_nano);
            total_spans += 1;
            pending.push(row);
        }
        if pending.len() >= WRITE_BATCH_ROWS {
            write_pending(&mut pending, &mut writer, &mut groups)?;
        }
    }
    write_pending(&mut pending, &mut writer, &mut groups)?;
    let parquet_meta = writer.close().map_err(|error| corrupt(block_id, error))?;
    groups.close();
    let data = Bytes::from(buffer);
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
