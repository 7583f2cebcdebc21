//! Reading the WAL back at start: every valid record in order; a torn or corrupt tail is cut.

use bytes::Bytes;

use super::WalError;
use super::disk::WalDisk;
use super::record::{SEGMENT_HEADER, SegmentEnd, decode_segment};

/// A record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedRecord {
    pub segment: u64,
    pub payload: Bytes,
}

/// What replay found.
#[derive(Debug, Default)]
pub struct ReplayReport {
    pub records: Vec<ReplayedRecord>,
    /// Bytes cut off damaged segment tails.
    pub truncated_bytes: u64,
    pub segments: usize,
}

/// Reads every segment in order. A segment that ends in a torn or corrupt record is truncated at
/// the last good record (logged); later segments are still read.
pub fn replay(disk: &dyn WalDisk) -> Result<ReplayReport, WalError> {
    let mut report = ReplayReport::default();
    for segment in disk.list_segments()? {
        report.segments += 1;
        let contents = Bytes::from(disk.read_segment(segment)?);
        let (ranges, end, valid_len) = decode_segment(&contents);
        for range in ranges {
            report.records.push(ReplayedRecord {
                segment,
                payload: contents.slice(range),
            });
        }
        match end {
            SegmentEnd::Clean => {}
            SegmentEnd::BadHeader => {
                if contents.is_empty() || SEGMENT_HEADER.starts_with(&contents[..contents.len().min(SEGMENT_HEADER.len())]) {
                    // Created but its header never fully reached the disk: nothing to keep.
                    tracing::warn!(segment, bytes = contents.len(), "wal segment without a complete header; emptied");
                } else {
                    tracing::error!(segment, bytes = contents.len(), "wal segment has a foreign header; emptied");
                }
                report.truncated_bytes += contents.len() as u64;
                disk.truncate_segment(segment, 0)?;
            }
            SegmentEnd::Torn { offset } | SegmentEnd::Corrupt { offset } => {
                let dropped = contents.len() - valid_len;
                let kind = if matches!(end, SegmentEnd::Torn { .. }) { "torn" } else { "corrupt" };
                tracing::warn!(segment, offset, dropped_bytes = dropped, kind, "wal segment tail cut at the last good record");
                report.truncated_bytes += dropped as u64;
                disk.truncate_segment(segment, valid_len as u64)?;
            }
        }
    }
    Ok(report)
}
