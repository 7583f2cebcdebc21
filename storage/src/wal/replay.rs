//! Reading the WAL back at start: every valid record, in segment order. A segment whose records
//! end in a torn or corrupt record is cut at the last good record (the file is truncated and the
//! cut logged); later segments are still read.

use bytes::Bytes;

use super::WalError;
use super::disk::WalDisk;
use super::record::{DecodedRecords, HeaderCheck, SegmentEnd, check_header, decode_records};

/// A record read back from the WAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedRecord {
    /// The segment that held it.
    pub segment: u64,
    /// The payload, exactly as appended.
    pub payload: Bytes,
}

/// What replay found.
#[derive(Debug, Default)]
pub struct ReplayReport {
    /// Every valid record, oldest first.
    pub records: Vec<ReplayedRecord>,
    /// Bytes cut off damaged segments.
    pub truncated_bytes: u64,
    /// Segments read.
    pub segments: usize,
}

/// Reads every segment in order, cutting damaged tails (see the module doc).
///
/// Fails, without touching the segment, on a segment that is not a WAL segment
/// ([`WalError::ForeignSegment`]) or was written by another format version
/// ([`WalError::UnsupportedVersion`]): both need an operator, and emptying them could destroy
/// acknowledged data.
pub fn replay(disk: &dyn WalDisk) -> Result<ReplayReport, WalError> {
    let mut report = ReplayReport::default();
    let segment_ids = disk.list_segments()?;
    let last_segment = segment_ids.last().copied();
    for segment in segment_ids {
        report.segments += 1;
        let contents = Bytes::from(disk.read_segment(segment)?);
        match check_header(&contents) {
            HeaderCheck::Valid => {}
            HeaderCheck::Partial => {
                cut_partial_header(disk, segment, &contents, &mut report)?;
                continue;
            }
            HeaderCheck::Foreign => return Err(WalError::ForeignSegment { segment }),
            HeaderCheck::UnsupportedVersion(version) => {
                return Err(WalError::UnsupportedVersion { segment, version });
            }
        }
        let decoded = decode_records(&contents);
        report
            .records
            .extend(decoded.payloads.iter().map(|range| ReplayedRecord {
                segment,
                payload: contents.slice(range.clone()),
            }));
        let is_last_segment = Some(segment) == last_segment;
        cut_damaged_tail(
            disk,
            segment,
            &contents,
            &decoded,
            is_last_segment,
            &mut report,
        )?;
    }
    Ok(report)
}

/// A segment created but whose header never fully reached the disk holds nothing: empty it.
fn cut_partial_header(
    disk: &dyn WalDisk,
    segment: u64,
    contents: &[u8],
    report: &mut ReplayReport,
) -> Result<(), WalError> {
    if contents.is_empty() {
        return Ok(());
    }
    tracing::warn!(
        segment,
        offset = 0,
        dropped_bytes = contents.len(),
        "wal segment header incomplete; segment emptied"
    );
    disk.truncate_segment(segment, 0)?;
    report.truncated_bytes += contents.len() as u64;
    Ok(())
}

fn cut_damaged_tail(
    disk: &dyn WalDisk,
    segment: u64,
    contents: &[u8],
    decoded: &DecodedRecords,
    is_last_segment: bool,
    report: &mut ReplayReport,
) -> Result<(), WalError> {
    let Some(offset) = decoded.end.damage_offset() else {
        return Ok(());
    };
    let dropped_bytes = contents.len().saturating_sub(decoded.valid_len);
    let reason = decoded.end.describe();
    let is_torn_tail = matches!(decoded.end, SegmentEnd::Torn { .. });
    if is_last_segment || is_torn_tail {
        tracing::warn!(
            segment,
            offset,
            dropped_bytes,
            reason,
            "wal segment tail cut at the last good record"
        );
    } else {
        tracing::error!(
            segment,
            offset,
            dropped_bytes,
            reason,
            "wal segment damaged before its end; cut at the last good record, later segments still replayed"
        );
    }
    disk.truncate_segment(segment, decoded.valid_len as u64)?;
    report.truncated_bytes += dropped_bytes as u64;
    Ok(())
}
