//! Parquet's async reader over a [`BlockStore`]: nearby ranges are coalesced into one ranged read,
//! reads run concurrently, and every range handed to the decoder is checked against its checksum
//! first (a range without a known checksum is refused).

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures::FutureExt as _;
use futures::future::BoxFuture;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaData;

use super::checksums::ChecksumTable;
use crate::backend::{BlockStore, StorageError};

/// Ranges closer than this are fetched with one read (the gap is read and thrown away).
const COALESCE_GAP_BYTES: u64 = 64 * 1024;

/// Reads `data.parquet` of one block for the Parquet decoder, verifying what it reads.
#[derive(Clone)]
pub struct VerifiedReader {
    store: Arc<dyn BlockStore>,
    path: Arc<str>,
    metadata: Arc<ParquetMetaData>,
    checksums: Arc<ChecksumTable>,
    /// Bytes fetched from the store (gaps between coalesced ranges included).
    fetched: Arc<AtomicU64>,
}

impl VerifiedReader {
    /// A reader that adds the bytes it fetches to `fetched`.
    pub fn new(
        store: Arc<dyn BlockStore>,
        path: Arc<str>,
        metadata: Arc<ParquetMetaData>,
        checksums: Arc<ChecksumTable>,
        fetched: Arc<AtomicU64>,
    ) -> Self {
        VerifiedReader {
            store,
            path,
            metadata,
            checksums,
            fetched,
        }
    }

    async fn fetch(&self, ranges: Vec<Range<u64>>) -> Result<Vec<Bytes>, StorageError> {
        let groups = coalesce(&ranges);
        let reads = groups
            .iter()
            .map(|group| self.store.get_range(&self.path, group.clone()));
        let fetched = futures::future::try_join_all(reads).await?;
        let total: u64 = fetched.iter().map(|bytes| bytes.len() as u64).sum();
        self.fetched.fetch_add(total, Ordering::Relaxed);
        let mut results = Vec::with_capacity(ranges.len());
        for range in &ranges {
            let Some(group_number) = groups
                .iter()
                .position(|group| group.start <= range.start && range.end <= group.end)
            else {
                return Err(self.corrupt(format!("range {range:?} was not fetched")));
            };
            let group_start = groups[group_number].start;
            let from = (range.start - group_start) as usize;
            let to = (range.end - group_start) as usize;
            let bytes = &fetched[group_number];
            if to > bytes.len() {
                return Err(self.corrupt(format!("range {range:?} beyond the end of the file")));
            }
            let slice = bytes.slice(from..to);
            self.verify(range, &slice)?;
            results.push(slice);
        }
        Ok(results)
    }

    fn verify(&self, range: &Range<u64>, bytes: &Bytes) -> Result<(), StorageError> {
        let Some(expected) = self.checksums.expected(range) else {
            return Err(self.corrupt(format!("read of {range:?} has no known checksum")));
        };
        let actual = crc32fast::hash(bytes);
        if actual != expected {
            return Err(StorageError::Checksum {
                path: self.path.to_string(),
                detail: format!(
                    "bytes {}..{}: crc32 {actual:08x}, expected {expected:08x}",
                    range.start, range.end
                ),
            });
        }
        Ok(())
    }

    fn corrupt(&self, detail: String) -> StorageError {
        StorageError::Corrupt {
            path: self.path.to_string(),
            detail,
        }
    }
}

/// The ranges to read so that every requested range lies in one of them.
fn coalesce(ranges: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut sorted: Vec<Range<u64>> = ranges.to_vec();
    sorted.sort_by_key(|range| range.start);
    let mut groups: Vec<Range<u64>> = Vec::with_capacity(sorted.len());
    for range in sorted {
        match groups.last_mut() {
            Some(last) if range.start <= last.end.saturating_add(COALESCE_GAP_BYTES) => {
                last.end = last.end.max(range.end);
            }
            _ => groups.push(range),
        }
    }
    groups
}

/// Wraps a storage error for the Parquet decoder; [`into_storage_error`] unwraps it again.
fn to_parquet_error(error: StorageError) -> ParquetError {
    ParquetError::External(Box::new(error))
}

/// The storage error behind a decoder error, or a `Corrupt` error describing it.
pub fn into_storage_error(path: &str, error: ParquetError) -> StorageError {
    match error {
        ParquetError::External(inner) => match inner.downcast::<StorageError>() {
            Ok(storage_error) => *storage_error,
            Err(other) => StorageError::Corrupt {
                path: path.to_owned(),
                detail: other.to_string(),
            },
        },
        other => StorageError::Corrupt {
            path: path.to_owned(),
            detail: other.to_string(),
        },
    }
}

impl AsyncFileReader for VerifiedReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            let mut fetched = self.fetch(vec![range]).await.map_err(to_parquet_error)?;
            fetched
                .pop()
                .ok_or_else(|| ParquetError::General("empty read".to_owned()))
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move { self.fetch(ranges).await.map_err(to_parquet_error) }.boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        let metadata = Arc::clone(&self.metadata);
        async move { Ok(metadata) }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearby_ranges_are_read_together() {
        let far = 10 * COALESCE_GAP_BYTES;
        assert_eq!(
            coalesce(&[far..far + 5, 0..10, 20..30, 5..8]),
            vec![0..30, far..far + 5]
        );
        assert!(coalesce(&[]).is_empty());
    }
}
