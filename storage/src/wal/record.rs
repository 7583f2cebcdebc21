//! The WAL's on-disk record format: `[u32 LE length][u32 LE crc32 of payload][payload]`, after a
//! segment header `VWAL` + version byte.

/// Segment header: magic and format version.
pub const SEGMENT_HEADER: &[u8; 5] = b"VWAL\x01";

/// Bytes before each payload.
pub const RECORD_HEADER_BYTES: usize = 8;

/// Largest payload accepted.
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

/// Appends one framed record to `out`.
pub fn encode_record(payload: &[u8], out: &mut Vec<u8>) {
    debug_assert!(payload.len() <= MAX_RECORD_BYTES, "record larger than the limit");
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Where decoding a segment stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentEnd {
    /// Every byte belonged to a valid record.
    Clean,
    /// The header is missing or foreign.
    BadHeader,
    /// A record is cut short (a torn write).
    Torn { offset: usize },
    /// A record's checksum or length is wrong.
    Corrupt { offset: usize },
}

/// The valid records of a segment, with the byte range of each payload, and how it ended.
pub fn decode_segment(bytes: &[u8]) -> (Vec<std::ops::Range<usize>>, SegmentEnd, usize) {
    let mut records = Vec::new();
    if bytes.len() < SEGMENT_HEADER.len() || &bytes[..SEGMENT_HEADER.len()] != SEGMENT_HEADER {
        return (records, SegmentEnd::BadHeader, 0);
    }
    let mut offset = SEGMENT_HEADER.len();
    while offset < bytes.len() {
        let remaining = bytes.len() - offset;
        if remaining < RECORD_HEADER_BYTES {
            return (records, SegmentEnd::Torn { offset }, offset);
        }
        let mut length_bytes = [0u8; 4];
        length_bytes.copy_from_slice(&bytes[offset..offset + 4]);
        let length = u32::from_le_bytes(length_bytes) as usize;
        let mut crc_bytes = [0u8; 4];
        crc_bytes.copy_from_slice(&bytes[offset + 4..offset + 8]);
        let expected_crc = u32::from_le_bytes(crc_bytes);
        if length > MAX_RECORD_BYTES {
            return (records, SegmentEnd::Corrupt { offset }, offset);
        }
        let payload_start = offset + RECORD_HEADER_BYTES;
        if remaining - RECORD_HEADER_BYTES < length {
            return (records, SegmentEnd::Torn { offset }, offset);
        }
        let payload = payload_start..payload_start + length;
        if crc32fast::hash(&bytes[payload.clone()]) != expected_crc {
            return (records, SegmentEnd::Corrupt { offset }, offset);
        }
        records.push(payload);
        offset = payload_start + length;
    }
    (records, SegmentEnd::Clean, offset)
}
