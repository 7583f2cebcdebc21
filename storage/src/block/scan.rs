//! Reading search columns from a block, for TraceQL: the verified footer with every page index
//! (for row-group and page statistics), the Parquet bloom filters of the search columns, and
//! scans of whole row groups restricted to some top-level columns. Everything read is verified
//! against the checksums of the block's `index` file, as trace lookups are.
//!
//! Callers use [`ParquetMetaData`] directly for statistics: [`row_group_count`] row groups,
//! `metadata.row_group(i).column(leaf_column_index(..))` for a column chunk's min/max, and
//! `metadata.page_index()` (`column_index(row_group, leaf)`, `offset_index(..)`) for the page
//! statistics of `trace_id` and of the time columns (the other columns have chunk statistics only).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::RecordBatch;
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
use parquet::bloom_filter::Sbbf;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};

use super::checksums::ChecksumTable;
use super::fetch::{VerifiedReader, into_storage_error};
use super::meta::BlockIndex;
use super::ranges::FetchedRanges;
use super::reader::{BlockReader, roots_projection};
use crate::backend::StorageError;

/// Row groups read at the same time by one scan.
const SCAN_CONCURRENCY: usize = 4;

/// What [`BlockReader::scan`] read.
#[derive(Debug)]
pub struct ScanOutput {
    /// One batch per requested row group with rows (in the order given), holding the requested
    /// columns in the order asked: a trace's rows are never split across two batches.
    pub batches: Vec<RecordBatch>,
    /// Bytes fetched from the store for this call (cache hits not counted).
    pub bytes_read: u64,
}

/// The number of row groups of a block.
pub fn row_group_count(metadata: &ParquetMetaData) -> usize {
    metadata.num_row_groups()
}

/// The position of a leaf column among the file's leaves (for `row_group.column(i)` statistics
/// and page indexes), by its dotted path: the column name for top-level primitive columns,
/// [`super::search_schema::attr_key_leaf`] and the like for nested ones.
pub fn leaf_column_index(metadata: &ParquetMetaData, path: &str) -> Option<usize> {
    metadata
        .file_metadata()
        .schema_descr()
        .columns()
        .iter()
        .position(|column| column.path().string() == path)
}

impl BlockReader {
    /// The block's Parquet footer with the offset and column indexes of every row group and
    /// column, verified against the `index` file (bytes through the block cache, parsed once per
    /// reader).
    pub async fn parquet_metadata(&self) -> Result<Arc<ParquetMetaData>, StorageError> {
        self.full_metadata_counted(&AtomicU64::new(0)).await
    }

    async fn parsed_index_counted(
        &self,
        fetched: &AtomicU64,
    ) -> Result<Arc<BlockIndex>, StorageError> {
        self.parsed_index
            .get_or_try_init(|| async { self.index(fetched).await.map(Arc::new) })
            .await
            .cloned()
    }

    async fn full_metadata_counted(
        &self,
        fetched: &AtomicU64,
    ) -> Result<Arc<ParquetMetaData>, StorageError> {
        self.full_metadata
            .get_or_try_init(|| async {
                let index = self.parsed_index_counted(fetched).await?;
                let (start, bytes, policy) = match &index.tail {
                    Some(tail) => (
                        tail.offset,
                        self.tail_bytes(tail, fetched).await?,
                        PageIndexPolicy::Optional,
                    ),
                    None => {
                        let (start, bytes) = self.footer_bytes(fetched).await?;
                        (start, bytes, PageIndexPolicy::Skip)
                    }
                };
                let tail = FetchedRanges::new(self.meta.size, vec![(start, bytes)]);
                ParquetMetaDataReader::new()
                    .with_offset_index_policy(policy)
                    .with_column_index_policy(policy)
                    .parse_and_finish(&tail)
                    .map(Arc::new)
                    .map_err(|error| self.corrupt(format!("undecodable parquet footer: {error}")))
            })
            .await
            .cloned()
    }

    /// Whether the Parquet bloom filter of leaf `leaf_path` (see
    /// [`super::search_schema::bloom_filter_leaves`]) in `row_group` may contain `value` (a
    /// string's UTF-8 bytes). True when the column or its filter does not exist, or the filter
    /// is damaged (the row group is then read, and verified, anyway). Filters go through the
    /// block cache.
    pub async fn column_bloom_may_contain(
        &self,
        row_group: usize,
        leaf_path: &str,
        value: &[u8],
    ) -> Result<bool, StorageError> {
        let fetched = AtomicU64::new(0);
        let metadata = self.full_metadata_counted(&fetched).await?;
        let Some(group) = metadata.row_groups().get(row_group) else {
            return Err(self.corrupt(format!("no row group {row_group}")));
        };
        let Some(leaf) = leaf_column_index(&metadata, leaf_path) else {
            return Ok(true);
        };
        let column = group.column(leaf);
        let (Some(offset), Some(length)) =
            (column.bloom_filter_offset(), column.bloom_filter_length())
        else {
            return Ok(true);
        };
        let (Ok(offset), Ok(length)) = (u64::try_from(offset), u64::try_from(length)) else {
            return Ok(true);
        };
        let index = self.parsed_index_counted(&fetched).await?;
        let Some(expected) = index
            .row_groups
            .get(row_group)
            .and_then(|group| group.chunks.get(leaf))
            .and_then(|chunk| chunk.bloom_crc32)
        else {
            return Ok(true);
        };
        let Some(bytes) = self
            .bloom_bytes(row_group, leaf, offset, length, expected)
            .await?
        else {
            return Ok(true);
        };
        match Sbbf::from_bytes(&bytes) {
            Ok(filter) => Ok(filter.check(value)),
            Err(error) => {
                tracing::warn!(block = %self.meta.block_id, row_group, leaf_path, %error, "undecodable bloom filter; reading the row group anyway");
                Ok(true)
            }
        }
    }

    /// A column chunk's bloom filter bytes through the cache, verified; `None` when damaged.
    async fn bloom_bytes(
        &self,
        row_group: usize,
        leaf: usize,
        offset: u64,
        length: u64,
        expected: u32,
    ) -> Result<Option<Bytes>, StorageError> {
        let key = format!("sbbf/{}/{row_group}/{leaf}", self.base);
        if let Some(hit) = self.cache.get(&key).await
            && crc32fast::hash(&hit) == expected
        {
            return Ok(Some(hit));
        }
        let range = offset..offset.saturating_add(length);
        let bytes = self.store.get_range(&self.data_path, range).await?;
        if crc32fast::hash(&bytes) != expected {
            tracing::warn!(block = %self.meta.block_id, row_group, leaf, "damaged bloom filter; reading the row group anyway");
            return Ok(None);
        }
        self.cache.insert(key, bytes.clone());
        Ok(Some(bytes))
    }

    /// Reads the top-level `columns` (any block columns, list columns included) of `row_groups`:
    /// only those column chunks are fetched, each verified before it is decoded. A column the
    /// block does not have, or a row group out of range, is an error.
    pub async fn scan(
        &self,
        row_groups: &[usize],
        columns: &[&str],
    ) -> Result<ScanOutput, StorageError> {
        let fetched = Arc::new(AtomicU64::new(0));
        let metadata = self.full_metadata_counted(&fetched).await?;
        let index = self.parsed_index_counted(&fetched).await?;
        if let Some(missing) = row_groups
            .iter()
            .find(|row_group| **row_group >= metadata.num_row_groups())
        {
            return Err(self.corrupt(format!("no row group {missing}")));
        }
        let reader_metadata =
            ArrowReaderMetadata::try_new(Arc::clone(&metadata), ArrowReaderOptions::new())
                .map_err(|error| into_storage_error(&self.data_path, error))?;
        let mut names: Vec<&str> = Vec::with_capacity(columns.len());
        for name in columns {
            if names.contains(name) {
                continue;
            }
            if reader_metadata.schema().index_of(name).is_err() {
                return Err(self.corrupt(format!("the block has no column {name}")));
            }
            names.push(name);
        }
        let checksums = ChecksumTable::build(&index, &metadata, row_groups)
            .map_err(|detail| self.corrupt(detail))?;
        let file = VerifiedReader::new(
            Arc::clone(&self.store),
            Arc::clone(&self.data_path),
            Arc::clone(&metadata),
            Arc::new(checksums),
            Arc::clone(&fetched),
        );
        let names = names.as_slice();
        // The futures are built before anything is awaited (and take their row group by value),
        // so that the scan's future is `Send` for any caller's lifetimes.
        let mut reads = Vec::with_capacity(row_groups.len());
        for row_group in row_groups.iter().copied() {
            reads.push(self.scan_row_group(
                file.clone(),
                reader_metadata.clone(),
                row_group,
                names,
            ));
        }
        let batches: Vec<Option<RecordBatch>> = futures::stream::iter(reads)
            .buffered(SCAN_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(ScanOutput {
            batches: batches.into_iter().flatten().collect(),
            bytes_read: fetched.load(Ordering::Relaxed),
        })
    }

    /// One row group as one batch with the columns `names` in that order (`None` when empty).
    async fn scan_row_group(
        &self,
        file: VerifiedReader,
        reader_metadata: ArrowReaderMetadata,
        row_group: usize,
        names: &[&str],
    ) -> Result<Option<RecordBatch>, StorageError> {
        let metadata = Arc::clone(reader_metadata.metadata());
        let rows = usize::try_from(metadata.row_group(row_group).num_rows()).unwrap_or(0);
        if rows == 0 {
            return Ok(None);
        }
        // Columns whose chunk holds only nulls are not read (decoding an all-null dictionary
        // column is slow): they are filled with a null array.
        let all_null = |name: &&str| {
            leaf_column_index(&metadata, name)
                .and_then(|leaf| metadata.row_group(row_group).column(leaf).statistics())
                .and_then(|stats| stats.null_count_opt())
                .is_some_and(|nulls| usize::try_from(nulls).ok() == Some(rows))
        };
        let read_names: Vec<&str> = names
            .iter()
            .copied()
            .filter(|name| !all_null(name))
            .collect();
        if read_names.len() < names.len() && !read_names.is_empty() {
            let schema = Arc::clone(reader_metadata.schema());
            let Some(read) =
                Box::pin(self.scan_row_group(file, reader_metadata, row_group, &read_names))
                    .await?
            else {
                return Ok(None);
            };
            let mut fields = Vec::with_capacity(names.len());
            let mut arrays = Vec::with_capacity(names.len());
            for name in names {
                let field = schema
                    .field_with_name(name)
                    .map_err(|error| self.corrupt(error.to_string()))?;
                let array = match read.column_by_name(name) {
                    Some(array) => Arc::clone(array),
                    None => arrow_array::new_null_array(field.data_type(), rows),
                };
                fields.push(field.clone());
                arrays.push(array);
            }
            let combined =
                RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), arrays)
                    .map_err(|error| self.corrupt(error.to_string()))?;
            return Ok(Some(combined));
        }
        let stream = ParquetRecordBatchStreamBuilder::new_with_metadata(file, reader_metadata)
            .with_row_groups(vec![row_group])
            .with_projection(roots_projection(&metadata, names))
            .with_batch_size(rows)
            .build()
            .map_err(|error| into_storage_error(&self.data_path, error))?;
        let batches: Vec<RecordBatch> = stream
            .try_collect()
            .await
            .map_err(|error| into_storage_error(&self.data_path, error))?;
        let batch = match batches.as_slice() {
            [single] => single.clone(),
            [] => return Ok(None),
            [first, ..] => arrow_select::concat::concat_batches(&first.schema(), &batches)
                .map_err(|error| self.corrupt(error.to_string()))?,
        };
        let schema = batch.schema();
        let mut order = Vec::with_capacity(names.len());
        for name in names {
            let position = schema
                .index_of(name)
                .map_err(|_| self.corrupt(format!("column {name} was not read")))?;
            order.push(position);
        }
        batch
            .project(&order)
            .map(Some)
            .map_err(|error| self.corrupt(error.to_string()))
    }
}
