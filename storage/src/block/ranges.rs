//! Byte ranges of a file already in memory, served to Parquet's synchronous readers (the footer
//! and page-index parser).

use bytes::Bytes;
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};

/// Some ranges of a file of `file_length` bytes; reads outside them fail.
#[derive(Clone)]
pub struct FetchedRanges {
    file_length: u64,
    ranges: Vec<(u64, Bytes)>,
}

impl FetchedRanges {
    /// `ranges` are (offset in the file, bytes).
    pub fn new(file_length: u64, ranges: Vec<(u64, Bytes)>) -> Self {
        FetchedRanges {
            file_length,
            ranges,
        }
    }

    fn containing(&self, start: u64, length: u64) -> Option<Bytes> {
        self.ranges.iter().find_map(|(offset, bytes)| {
            let end = offset + bytes.len() as u64;
            let inside = start >= *offset && start.checked_add(length)? <= end;
            inside.then(|| {
                let from = (start - offset) as usize;
                bytes.slice(from..from + length as usize)
            })
        })
    }
}

impl Length for FetchedRanges {
    fn len(&self) -> u64 {
        self.file_length
    }
}

impl ChunkReader for FetchedRanges {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        let rest = self.ranges.iter().find_map(|(offset, bytes)| {
            let end = offset + bytes.len() as u64;
            (start >= *offset && start < end).then(|| bytes.slice((start - offset) as usize..))
        });
        rest.map(bytes::Buf::reader).ok_or_else(|| {
            ParquetError::General(format!("read at {start} outside the fetched ranges"))
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        self.containing(start, length as u64).ok_or_else(|| {
            ParquetError::General(format!(
                "read of {length} bytes at {start} outside the fetched ranges"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inside_the_ranges_only() {
        let ranges = FetchedRanges::new(100, vec![(90, Bytes::from_static(b"0123456789"))]);
        assert_eq!(ranges.get_bytes(92, 3).expect("inside").as_ref(), b"234");
        assert!(ranges.get_bytes(95, 10).is_err());
        assert!(ranges.get_bytes(10, 1).is_err());
        assert!(ranges.get_read(89).is_err());
        assert!(ranges.get_bytes(u64::MAX, 2).is_err());
    }
}
