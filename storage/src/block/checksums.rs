//! Checksums of `data.parquet`: which byte ranges ("segments") of a column chunk are checksummed
//! one by one (its dictionary page, then each data page), how the writer computes them, and the
//! table a reader checks every fetched range against.

use std::collections::HashMap;
use std::ops::Range;

use bytes::Bytes;
use parquet::errors::ParquetError;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};
use parquet::file::page_index::offset_index::PageLocation;

use super::meta::{BlockIndex, TailIndex};

/// The segments of a column chunk: the bytes before its first data page (the dictionary page),
/// if any, then every data page (header included), in file order.
pub fn chunk_segments(chunk: Range<u64>, locations: &[PageLocation]) -> Vec<Range<u64>> {
    let mut segments = Vec::with_capacity(locations.len() + 1);
    if let Some(first) = locations.first() {
        let first_page = first.offset as u64;
        if first_page > chunk.start {
            segments.push(chunk.start..first_page);
        }
    }
    for location in locations {
        let start = location.offset as u64;
        segments.push(start..start + location.compressed_page_size as u64);
    }
    segments
}

/// 8 hex digits per checksum.
pub fn encode_checksums(checksums: &[u32]) -> String {
    let bytes: Vec<u8> = checksums
        .iter()
        .flat_map(|checksum| checksum.to_be_bytes())
        .collect();
    hex::encode(bytes)
}

/// The inverse of [`encode_checksums`]; `None` when malformed.
pub fn decode_checksums(text: &str) -> Option<Vec<u32>> {
    let bytes = hex::decode(text).ok()?;
    if bytes.len() % 4 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|word| u32::from_be_bytes([word[0], word[1], word[2], word[3]]))
            .collect(),
    )
}

/// Per row group and column: the encoded page checksums of a finished file, and the tail (page
/// indexes and footer) with its checksum.
pub fn page_checksums(data: &Bytes) -> Result<(Vec<Vec<String>>, Option<TailIndex>), ParquetError> {
    let metadata = ParquetMetaDataReader::new()
        .with_offset_index_policy(PageIndexPolicy::Required)
        .parse_and_finish(data)?;
    let file_length = data.len() as u64;
    let mut tail_start = file_length;
    let mut per_row_group = Vec::with_capacity(metadata.num_row_groups());
    for (row_group_number, row_group) in metadata.row_groups().iter().enumerate() {
        let mut per_column = Vec::with_capacity(row_group.num_columns());
        for (column_number, column) in row_group.columns().iter().enumerate() {
            for index_range in [column.column_index_range(), column.offset_index_range()]
                .into_iter()
                .flatten()
            {
                tail_start = tail_start.min(index_range.start);
            }
            let locations = metadata
                .page_index()
                .and_then(|index| index.offset_index(row_group_number, column_number))
                .map(|offset_index| offset_index.page_locations().as_slice())
                .unwrap_or_default();
            let (offset, length) = column.byte_range();
            let mut checksums = Vec::with_capacity(locations.len() + 1);
            for segment in chunk_segments(offset..offset + length, locations) {
                let bytes = data
                    .get(segment.start as usize..segment.end as usize)
                    .ok_or_else(|| ParquetError::General("page outside the file".to_owned()))?;
                checksums.push(crc32fast::hash(bytes));
            }
            per_column.push(encode_checksums(&checksums));
        }
        per_row_group.push(per_column);
    }
    let tail = (tail_start < file_length).then(|| TailIndex {
        offset: tail_start,
        length: file_length - tail_start,
        crc32: crc32fast::hash(&data[tail_start as usize..]),
    });
    Ok((per_row_group, tail))
}

/// The checksum of every byte range a lookup may read from `data.parquet`: whole column chunks
/// and, where known, their segments.
#[derive(Debug, Default)]
pub struct ChecksumTable {
    by_range: HashMap<(u64, u64), u32>,
}

impl ChecksumTable {
    /// The table for some row groups of a block, given the file's metadata (with the offset
    /// indexes of those row groups, when the block has page checksums).
    pub fn build(
        index: &BlockIndex,
        metadata: &ParquetMetaData,
        row_groups: &[usize],
    ) -> Result<Self, String> {
        let mut by_range = HashMap::new();
        for &row_group_number in row_groups {
            let Some(row_group) = index.row_groups.get(row_group_number) else {
                return Err(format!("row group {row_group_number} missing in the index"));
            };
            for (column_number, chunk) in row_group.chunks.iter().enumerate() {
                by_range.insert((chunk.offset, chunk.offset + chunk.length), chunk.crc32);
                if chunk.page_crc32.is_empty() {
                    continue;
                }
                let Some(offset_index) = metadata.page_index().and_then(|page_index| {
                    page_index.offset_index(row_group_number, column_number)
                }) else {
                    continue;
                };
                let segments = chunk_segments(
                    chunk.offset..chunk.offset + chunk.length,
                    offset_index.page_locations(),
                );
                let checksums = decode_checksums(&chunk.page_crc32)
                    .filter(|checksums| checksums.len() == segments.len())
                    .ok_or_else(|| {
                        format!(
                            "page checksums of row group {row_group_number} column {column_number} do not match its pages"
                        )
                    })?;
                for (segment, checksum) in segments.into_iter().zip(checksums) {
                    by_range.insert((segment.start, segment.end), checksum);
                }
            }
        }
        Ok(ChecksumTable { by_range })
    }

    /// The expected checksum of exactly this range, if it is a known chunk or segment.
    pub fn expected(&self, range: &Range<u64>) -> Option<u32> {
        self.by_range.get(&(range.start, range.end)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_round_trip_through_hex() {
        let checksums = vec![0, 1, u32::MAX, 0xdead_beef];
        assert_eq!(
            decode_checksums(&encode_checksums(&checksums)),
            Some(checksums)
        );
        assert_eq!(decode_checksums("abc"), None);
        assert_eq!(decode_checksums("zzzzzzzz"), None);
    }

    #[test]
    fn segments_start_with_the_dictionary_page() {
        let locations = [
            PageLocation {
                offset: 110,
                compressed_page_size: 40,
                first_row_index: 0,
            },
            PageLocation {
                offset: 150,
                compressed_page_size: 50,
                first_row_index: 1024,
            },
        ];
        assert_eq!(
            chunk_segments(100..200, &locations),
            vec![100..110, 110..150, 150..200]
        );
        assert_eq!(
            chunk_segments(110..200, &locations),
            vec![110..150, 150..200]
        );
    }
}
