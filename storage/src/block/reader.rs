//! Trace lookup in one block: bloom shard (cached) → index (cached) → row groups whose trace-id
//! range holds the id → ranged reads of their column chunks, each verified against its checksum →
//! the rows of the trace, decoded and regrouped.

use std::sync::Arc;

use arrow_array::{Array, FixedSizeBinaryArray};
use bytes::Bytes;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::reader::{ChunkReader, Length};
use vivace_cache::Cache;
use vivace_proto::ids::TraceId;
use vivace_proto::tempopb::Trace;

use super::block_path;
use super::bloom::{BloomShard, shard_for};
use super::meta::{BlockIndex, BlockMeta, RowGroupIndex};
use super::schema::{TRACE_ID, batch_to_spans, spans_to_batches};
use crate::backend::{BlockStore, StorageError};

/// Reads traces from one block.
pub struct BlockReader {
    store: Arc<dyn BlockStore>,
    cache: Arc<dyn Cache>,
    meta: BlockMeta,
    base: String,
}

/// The byte ranges of one row group fetched from `data.parquet`, served to the Parquet decoder.
#[derive(Clone)]
struct FetchedRanges {
    file_len: u64,
    ranges: Vec<(u64, Bytes)>,
}

impl Length for FetchedRanges {
    fn len(&self) -> u64 {
        self.file_len
    }
}

impl FetchedRanges {
    fn slice(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        for (offset, bytes) in &self.ranges {
            let end = offset + bytes.len() as u64;
            if start >= *offset && start + length as u64 <= end {
                let from = (start - offset) as usize;
                return Ok(bytes.slice(from..from + length));
            }
        }
        Err(parquet::errors::ParquetError::General(format!(
            "read of {length} bytes at {start} outside the fetched ranges"
        )))
    }
}

impl ChunkReader for FetchedRanges {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        for (offset, bytes) in &self.ranges {
            let end = offset + bytes.len() as u64;
            if start >= *offset && start < end {
                return Ok(bytes::Buf::reader(bytes.slice((start - offset) as usize..)));
            }
        }
        Err(parquet::errors::ParquetError::General(format!(
            "read at {start} outside the fetched ranges"
        )))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.slice(start, length)
    }
}

impl BlockReader {
    pub fn new(store: Arc<dyn BlockStore>, cache: Arc<dyn Cache>, meta: BlockMeta) -> Self {
        let base = block_path(&meta.tenant_id, meta.block_id);
        BlockReader {
            store,
            cache,
            meta,
            base,
        }
    }

    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    fn data_path(&self) -> String {
        format!("{}/data.parquet", self.base)
    }

    async fn cached(&self, key: String, path: String) -> Result<Bytes, StorageError> {
        if let Some(hit) = self.cache.get(&key).await {
            return Ok(hit);
        }
        let fetched = self.store.get(&path).await?;
        self.cache.insert(key, fetched.clone());
        Ok(fetched)
    }

    /// Whether the bloom filter says the trace may be here. A damaged shard answers "maybe".
    async fn bloom_may_contain(&self, trace_id: &TraceId) -> Result<bool, StorageError> {
        let shards = self.meta.bloom_shards.max(1) as usize;
        let shard = shard_for(trace_id, shards);
        let key = format!("bloom/{}/{}", self.base, shard);
        let bytes = self
            .cached(key, format!("{}/bloom-{shard}", self.base))
            .await?;
        match BloomShard::decode(&bytes) {
            Some(filter) => Ok(filter.may_contain(trace_id)),
            None => {
                tracing::warn!(block = %self.meta.block_id, shard, "damaged bloom shard; reading the block anyway");
                Ok(true)
            }
        }
    }

    async fn index(&self) -> Result<BlockIndex, StorageError> {
        let bytes = self
            .cached(
                format!("index/{}", self.base),
                format!("{}/index", self.base),
            )
            .await?;
        serde_json::from_slice(&bytes).map_err(|error| StorageError::Corrupt {
            path: format!("{}/index", self.base),
            detail: error.to_string(),
        })
    }

    async fn parquet_metadata(&self) -> Result<Arc<ParquetMetaData>, StorageError> {
        let key = format!("footer/{}", self.base);
        let path = self.data_path();
        let footer_len = u64::from(self.meta.footer_size) + 8;
        let bytes = match self.cache.get(&key).await {
            Some(hit) => hit,
            None => {
                let size = self.meta.size;
                let start = size
                    .checked_sub(footer_len)
                    .ok_or_else(|| StorageError::Corrupt {
                        path: path.clone(),
                        detail: "footer larger than the file".to_owned(),
                    })?;
                let fetched = self.store.get_range(&path, start..size).await?;
                self.cache.insert(key, fetched.clone());
                fetched
            }
        };
        if bytes.len() < 8 || &bytes[bytes.len() - 4..] != b"PAR1" {
            return Err(StorageError::Corrupt {
                path,
                detail: "missing parquet footer magic".to_owned(),
            });
        }
        let metadata =
            ParquetMetaDataReader::decode_metadata(&bytes[..bytes.len() - 8]).map_err(|error| {
                StorageError::Corrupt {
                    path: path.clone(),
                    detail: format!("undecodable parquet footer: {error}"),
                }
            })?;
        Ok(Arc::new(metadata))
    }

    async fn fetch_row_group(
        &self,
        row_group: &RowGroupIndex,
    ) -> Result<Vec<(u64, Bytes)>, StorageError> {
        let path = self.data_path();
        let (Some(first), Some(last)) = (row_group.chunks.first(), row_group.chunks.last()) else {
            return Ok(Vec::new());
        };
        let start = first.offset;
        let end = last.offset + last.length;
        let bytes = self.store.get_range(&path, start..end).await?;
        let mut ranges = Vec::with_capacity(row_group.chunks.len());
        for chunk in &row_group.chunks {
            let from = (chunk.offset - start) as usize;
            let slice = bytes
                .get(from..from + chunk.length as usize)
                .map(|_| bytes.slice(from..from + chunk.length as usize))
                .ok_or_else(|| StorageError::Corrupt {
                    path: path.clone(),
                    detail: "column chunk outside the fetched range".to_owned(),
                })?;
            if crc32fast::hash(&slice) != chunk.crc32 {
                return Err(StorageError::Checksum {
                    path: path.clone(),
                    detail: format!(
                        "column chunk at offset {} ({} bytes)",
                        chunk.offset, chunk.length
                    ),
                });
            }
            ranges.push((chunk.offset, slice));
        }
        Ok(ranges)
    }

    /// Finds a trace; `Ok(None)` when it is not in this block.
    pub async fn find_trace(&self, trace_id: &TraceId) -> Result<Option<Trace>, StorageError> {
        if !self.bloom_may_contain(trace_id).await? {
            return Ok(None);
        }
        let index = self.index().await?;
        let wanted_hex = hex::encode(trace_id);
        let candidates: Vec<(usize, &RowGroupIndex)> = index
            .row_groups
            .iter()
            .enumerate()
            .filter(|(_, row_group)| row_group.may_contain(&wanted_hex))
            .collect();
        if candidates.is_empty() {
            return Ok(None);
        }
        let metadata = self.parquet_metadata().await?;
        let mut spans = Vec::new();
        for (row_group_number, row_group) in candidates {
            let ranges = self.fetch_row_group(row_group).await?;
            let fetched = FetchedRanges {
                file_len: self.meta.size,
                ranges,
            };
            let found =
                decode_trace_rows(&fetched, Arc::clone(&metadata), row_group_number, trace_id)
                    .map_err(|detail| StorageError::Corrupt {
                        path: self.data_path(),
                        detail,
                    })?;
            spans.extend(found);
        }
        if spans.is_empty() {
            return Ok(None);
        }
        let resource_spans = spans_to_batches(spans).map_err(|detail| StorageError::Corrupt {
            path: self.data_path(),
            detail,
        })?;
        Ok(Some(Trace { resource_spans }))
    }
}

/// Decodes the rows of `trace_id` in one row group: first the trace-id column alone, then every
/// column for the matching rows only.
fn decode_trace_rows(
    fetched: &FetchedRanges,
    metadata: Arc<ParquetMetaData>,
    row_group: usize,
    trace_id: &TraceId,
) -> Result<Vec<super::schema::ReadSpan>, String> {
    let reader_metadata = ArrowReaderMetadata::try_new(metadata, ArrowReaderOptions::new())
        .map_err(|error| error.to_string())?;
    let schema_descriptor = reader_metadata
        .metadata()
        .file_metadata()
        .schema_descr_ptr();
    let trace_id_column = schema_descriptor
        .columns()
        .iter()
        .position(|column| column.name() == TRACE_ID)
        .ok_or("no trace_id column")?;
    let ids_reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
        fetched.clone(),
        reader_metadata.clone(),
    )
    .with_row_groups(vec![row_group])
    .with_projection(ProjectionMask::leaves(
        &schema_descriptor,
        [trace_id_column],
    ))
    .build()
    .map_err(|error| error.to_string())?;
    let mut matching: Vec<bool> = Vec::new();
    for batch in ids_reader {
        let batch = batch.map_err(|error| error.to_string())?;
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<FixedSizeBinaryArray>()
            .ok_or("trace_id column has the wrong type")?;
        matching.extend((0..ids.len()).map(|row| ids.value(row) == trace_id.as_slice()));
    }
    let Some(first) = matching.iter().position(|hit| *hit) else {
        return Ok(Vec::new());
    };
    let count = matching[first..].iter().take_while(|hit| **hit).count();
    let mut selectors = vec![RowSelector::skip(first), RowSelector::select(count)];
    let rest = matching.len() - first - count;
    if rest > 0 {
        selectors.push(RowSelector::skip(rest));
    }
    let rows_reader =
        ParquetRecordBatchReaderBuilder::new_with_metadata(fetched.clone(), reader_metadata)
            .with_row_groups(vec![row_group])
            .with_row_selection(RowSelection::from(selectors))
            .build()
            .map_err(|error| error.to_string())?;
    let mut spans = Vec::new();
    for batch in rows_reader {
        let batch = batch.map_err(|error| error.to_string())?;
        spans.extend(batch_to_spans(&batch)?);
    }
    Ok(spans)
}
