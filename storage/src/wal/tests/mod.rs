//! WAL tests: the record codec, replay of damaged segments, the group-committing handle, and
//! property tests of replay under truncation and corruption.

mod codec;
mod handle;
mod inline;
mod properties;
mod replay;

use std::sync::Arc;

use bytes::Bytes;

use super::record::{SEGMENT_HEADER, encode_record};
use super::{MemWalDisk, ReplayReport, Wal, WalConfig};

/// Opens a WAL on a memory disk with the default configuration.
fn open_mem(disk: &MemWalDisk) -> (Wal, ReplayReport) {
    Wal::open(Arc::new(disk.clone()), WalConfig::default()).expect("wal opens")
}

/// The payloads a replay returned, in order.
fn payloads(report: &ReplayReport) -> Vec<Bytes> {
    report
        .records
        .iter()
        .map(|record| record.payload.clone())
        .collect()
}

/// A segment image holding these records; also returns the offset where each record ends.
fn segment_image(records: &[Vec<u8>]) -> (Vec<u8>, Vec<usize>) {
    let mut image = SEGMENT_HEADER.to_vec();
    let mut record_ends = Vec::with_capacity(records.len());
    for record in records {
        encode_record(record, &mut image).expect("valid record");
        record_ends.push(image.len());
    }
    (image, record_ends)
}

/// Distinct, non-empty payloads of varied sizes.
fn numbered_payloads(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|index| format!("record-{index}-{}", "x".repeat(index % 7)).into_bytes())
        .collect()
}
