//! The plain WAL writer: frames records into the current segment, syncs, rotates. No threads; the
//! group-commit loop and tests drive it.

use std::sync::Arc;

use bytes::Bytes;

use super::disk::{WalDisk, WalSegmentWriter};
use super::record::{SEGMENT_HEADER, encode_record};
use super::{WalError, WalPosition};

/// Writes records to the current segment.
pub struct WalWriter {
    disk: Arc<dyn WalDisk>,
    segment_max_bytes: u64,
    segment_id: u64,
    segment: Box<dyn WalSegmentWriter>,
    segment_len: u64,
    buffer: Vec<u8>,
}

impl WalWriter {
    /// Starts a new segment `segment_id`.
    pub fn create(disk: Arc<dyn WalDisk>, segment_id: u64, segment_max_bytes: u64) -> Result<Self, WalError> {
        let mut segment = disk.create_segment(segment_id)?;
        segment.append(SEGMENT_HEADER)?;
        segment.sync()?;
        Ok(WalWriter {
            disk,
            segment_max_bytes,
            segment_id,
            segment,
            segment_len: SEGMENT_HEADER.len() as u64,
            buffer: Vec::new(),
        })
    }

    pub fn segment_id(&self) -> u64 {
        self.segment_id
    }

    /// Writes every payload, then syncs once. Returns the position of each record.
    pub fn write_batch(&mut self, payloads: &[Bytes]) -> Result<Vec<WalPosition>, WalError> {
        if self.segment_len >= self.segment_max_bytes {
            self.rotate()?;
        }
        self.buffer.clear();
        let mut positions = Vec::with_capacity(payloads.len());
        for payload in payloads {
            positions.push(WalPosition {
                segment: self.segment_id,
                offset: self.segment_len + self.buffer.len() as u64,
            });
            encode_record(payload, &mut self.buffer);
        }
        self.segment.append(&self.buffer)?;
        self.segment_len += self.buffer.len() as u64;
        self.segment.sync()?;
        Ok(positions)
    }

    /// Closes the current segment and starts the next; returns the new segment id.
    pub fn rotate(&mut self) -> Result<u64, WalError> {
        self.segment.sync()?;
        let next_id = self.segment_id + 1;
        let mut segment = self.disk.create_segment(next_id)?;
        segment.append(SEGMENT_HEADER)?;
        segment.sync()?;
        self.segment = segment;
        self.segment_id = next_id;
        self.segment_len = SEGMENT_HEADER.len() as u64;
        Ok(next_id)
    }

    /// Removes every segment below `segment` (never the current one).
    pub fn remove_segments_below(&mut self, segment: u64) -> Result<(), WalError> {
        let limit = segment.min(self.segment_id);
        for id in self.disk.list_segments()? {
            if id < limit {
                self.disk.remove_segment(id)?;
            }
        }
        Ok(())
    }
}
