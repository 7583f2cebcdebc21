//! The WAL's on-disk format.
//!
//! A segment starts with a 5-byte header (`VWAL` + format version), then holds records framed as
//! `[u32 LE payload length][u32 LE crc32 of the payload][payload]`. Payloads are never empty: a
//! zero length marks the end of the valid data, so a zero-filled tail (which some file systems
//! leave after a crash) is never read back as records.

use std::ops::Range;

use super::WalError;

/// The magic bytes every segment starts with.
pub const SEGMENT_MAGIC: &[u8; 4] = b"VWAL";

/// The segment format version this code writes and reads.
pub const SEGMENT_VERSION: u8 = 1;

/// The full segment header: magic then version.
pub const SEGMENT_HEADER: &[u8; 5] = b"VWAL\x01";

/// Bytes of framing before each payload.
pub const RECORD_HEADER_BYTES: usize = 8;

/// The largest payload accepted (64 MiB).
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

/// Checks that a payload can be framed: not empty, not larger than [`MAX_RECORD_BYTES`].
pub fn validate_payload(payload: &[u8]) -> Result<(), WalError> {
    if payload.is_empty() {
        return Err(WalError::EmptyRecord);
    }
    if payload.len() > MAX_RECORD_BYTES {
        return Err(WalError::TooLarge {
            size: payload.len(),
            limit: MAX_RECORD_BYTES,
        });
    }
    Ok(())
}

/// Bytes a payload of `payload_len` bytes takes in a segment, framing included.
pub fn framed_len(payload_len: usize) -> usize {
    RECORD_HEADER_BYTES + payload_len
}

/// Appends one framed record to `out`. The payload must have passed [`validate_payload`].
pub fn encode_record(payload: &[u8], out: &mut Vec<u8>) -> Result<(), WalError> {
    validate_payload(payload)?;
    let length = u32::try_from(payload.len()).map_err(|_| WalError::TooLarge {
        size: payload.len(),
        limit: MAX_RECORD_BYTES,
    })?;
    out.reserve(framed_len(payload.len()));
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// What the first bytes of a segment say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderCheck {
    /// A complete header of the current version.
    Valid,
    /// Fewer bytes than a header, all matching it: the segment was created but its header never
    /// fully reached the disk. Holds no records.
    Partial,
    /// Not a WAL segment.
    Foreign,
    /// A WAL segment written by another format version.
    UnsupportedVersion(u8),
}

/// Classifies a segment by its header.
pub fn check_header(segment: &[u8]) -> HeaderCheck {
    let Some((header, _)) = segment.split_first_chunk::<5>() else {
        if SEGMENT_HEADER.starts_with(segment) {
            return HeaderCheck::Partial;
        }
        return HeaderCheck::Foreign;
    };
    let Some((magic, version)) = header.split_first_chunk::<4>() else {
        return HeaderCheck::Foreign;
    };
    if magic != SEGMENT_MAGIC {
        return HeaderCheck::Foreign;
    }
    match version {
        [SEGMENT_VERSION] => HeaderCheck::Valid,
        [other] => HeaderCheck::UnsupportedVersion(*other),
        _ => HeaderCheck::Foreign,
    }
}

/// How the record area of a segment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentEnd {
    /// Every byte belongs to a valid record.
    Clean,
    /// The record at `offset` is cut short (a torn write).
    Torn { offset: usize },
    /// The record at `offset` is invalid: `reason` says how.
    Corrupt { offset: usize, reason: &'static str },
}

impl SegmentEnd {
    /// Where the valid data ends, if the segment did not end cleanly.
    pub fn damage_offset(&self) -> Option<usize> {
        match self {
            SegmentEnd::Clean => None,
            SegmentEnd::Torn { offset } | SegmentEnd::Corrupt { offset, .. } => Some(*offset),
        }
    }

    /// A short word for logs.
    pub fn describe(&self) -> &'static str {
        match self {
            SegmentEnd::Clean => "clean",
            SegmentEnd::Torn { .. } => "torn record",
            SegmentEnd::Corrupt { reason, .. } => reason,
        }
    }
}

/// The valid records of a segment's record area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedRecords {
    /// The byte range of each valid payload, in order.
    pub payloads: Vec<Range<usize>>,
    /// Length of the prefix made of the header and valid records; the rest is damaged.
    pub valid_len: usize,
    /// How the records ended.
    pub end: SegmentEnd,
}

/// Decodes the records of a segment whose header was found [`HeaderCheck::Valid`]. Stops at the
/// first torn or invalid record; never panics, whatever the bytes.
pub fn decode_records(segment: &[u8]) -> DecodedRecords {
    let mut payloads = Vec::new();
    let mut offset = SEGMENT_HEADER.len().min(segment.len());
    loop {
        let Some(remaining) = segment.get(offset..) else {
            return damaged(payloads, SegmentEnd::Torn { offset });
        };
        if remaining.is_empty() {
            return DecodedRecords {
                payloads,
                valid_len: offset,
                end: SegmentEnd::Clean,
            };
        }
        let Some((length_bytes, after_length)) = remaining.split_first_chunk::<4>() else {
            return damaged(payloads, SegmentEnd::Torn { offset });
        };
        let Some((crc_bytes, payload_area)) = after_length.split_first_chunk::<4>() else {
            return damaged(payloads, SegmentEnd::Torn { offset });
        };
        let Ok(payload_len) = usize::try_from(u32::from_le_bytes(*length_bytes)) else {
            return damaged(
                payloads,
                corrupt(offset, "record length does not fit in memory"),
            );
        };
        if payload_len == 0 {
            return damaged(
                payloads,
                corrupt(offset, "zero record length (zeroed tail)"),
            );
        }
        if payload_len > MAX_RECORD_BYTES {
            return damaged(payloads, corrupt(offset, "record length over the limit"));
        }
        let Some(payload) = payload_area.get(..payload_len) else {
            return damaged(payloads, SegmentEnd::Torn { offset });
        };
        if crc32fast::hash(payload) != u32::from_le_bytes(*crc_bytes) {
            return damaged(payloads, corrupt(offset, "record checksum mismatch"));
        }
        let payload_start = offset + RECORD_HEADER_BYTES;
        payloads.push(payload_start..payload_start + payload_len);
        offset = payload_start + payload_len;
    }
}

fn corrupt(offset: usize, reason: &'static str) -> SegmentEnd {
    SegmentEnd::Corrupt { offset, reason }
}

fn damaged(payloads: Vec<Range<usize>>, end: SegmentEnd) -> DecodedRecords {
    let valid_len = end.damage_offset().unwrap_or_default();
    DecodedRecords {
        payloads,
        valid_len,
        end,
    }
}
