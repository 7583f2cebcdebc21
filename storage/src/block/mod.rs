//! The block format: one Parquet file of spans sorted by trace id (`data.parquet`, ZSTD, pages of
//! 1024 rows, a page index with per-page trace-id and time min/max), sharded bloom filters
//! (`bloom-<i>`), an `index` (JSON: per row group its trace-id range and, per column chunk, its
//! byte range, crc32, the crc32 of each of its pages and of its Parquet bloom filter; the range and
//! crc32 of the file's tail of page indexes and footer), and `meta.json` (Tempo's keys), all under
//! `<tenant>/<block id>/`, `meta.json` last.
//!
//! Each row is a span with its trace-by-id columns (the span kept whole, partly as protobuf) and
//! its search columns ([`search_schema`]); a trace's rows are contiguous and in one row group.
//!
//! A lookup reads one bloom shard, the `index` and the tail (all three cached), then only the
//! pages that hold the trace: about one page per column of the trace-by-id columns, each verified
//! before it is decoded. A search ([`BlockReader::scan`]) reads whole column chunks of the search
//! columns it needs, in the row groups that statistics and Parquet bloom filters leave.

mod bloom;
mod checksums;
mod fetch;
mod meta;
pub mod nested_set;
mod ranges;
mod reader;
mod scan;
mod schema;
mod search_attrs;
mod search_columns;
pub mod search_schema;
mod trace_view;
mod writer;

use uuid::Uuid;

use crate::backend::{BlockStore, StorageError};
pub use meta::{BLOCK_FORMAT, BlockIndex, BlockMeta, ChunkIndex, RowGroupIndex, TailIndex};
pub use reader::BlockReader;
pub use scan::{ScanOutput, leaf_column_index, row_group_count};
pub use search_columns::{search_batch, search_batch_of};
pub use search_schema::{attr_key_leaf, attr_string_leaf, bloom_filter_leaves, search_schema};
pub use writer::{EncodedBlock, encode_block, encode_sorted_block};

/// How blocks are built.
#[derive(Debug, Clone)]
pub struct BlockConfig {
    /// A row group is closed once the writer holds this many (encoded, in-progress) bytes.
    pub row_group_size_bytes: usize,
    pub bloom_false_positive: f64,
    pub bloom_shard_size_bytes: usize,
}

impl Default for BlockConfig {
    fn default() -> Self {
        BlockConfig {
            row_group_size_bytes: 8 * 1024 * 1024,
            bloom_false_positive: 0.01,
            bloom_shard_size_bytes: 100 * 1024,
        }
    }
}

/// `<tenant>/<block id>`.
pub fn block_path(tenant: &str, block_id: Uuid) -> String {
    format!("{tenant}/{block_id}")
}

/// Tenants with at least one folder in the store.
pub async fn list_tenants(store: &dyn BlockStore) -> Result<Vec<String>, StorageError> {
    store.list_dirs("").await
}

/// The blocks of a tenant: folders with a readable `meta.json`. A folder without one is a block
/// still being written (or abandoned) and does not exist; an unreadable one is logged and skipped.
pub async fn list_blocks(
    store: &dyn BlockStore,
    tenant: &str,
) -> Result<Vec<BlockMeta>, StorageError> {
    let mut blocks = Vec::new();
    for folder in store.list_dirs(tenant).await? {
        let Ok(block_id) = Uuid::parse_str(&folder) else {
            continue;
        };
        let path = format!("{}/meta.json", block_path(tenant, block_id));
        let bytes = match store.get(&path).await {
            Ok(bytes) => bytes,
            Err(StorageError::NotFound(_)) => continue,
            Err(error) => return Err(error),
        };
        match serde_json::from_slice::<BlockMeta>(&bytes) {
            Ok(meta) => blocks.push(meta),
            Err(error) => {
                tracing::warn!(%path, %error, "skipping block with an unreadable meta.json")
            }
        }
    }
    Ok(blocks)
}

#[cfg(test)]
mod bloom_column_tests;
#[cfg(test)]
mod integrity_tests;
#[cfg(test)]
mod scan_tests;
#[cfg(test)]
mod search_tests;
#[cfg(test)]
mod tests;
