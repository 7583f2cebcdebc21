//! The plain WAL writer: frames records into the current segment, syncs, rotates. It has no
//! threads; the group-commit loop and tests drive it.
//!
//! It is fail-stop: after any write, sync or segment-creation error it refuses every further
//! write with [`WalError::Closed`], because after a failed sync nothing is known about what
//! reached the disk, and acknowledging later records on top of that would be a lie.

use std::sync::Arc;

use bytes::Bytes;

use super::disk::{WalDisk, WalSegmentWriter};
use super::record::{SEGMENT_HEADER, encode_record, framed_len, validate_payload};
use super::{WalError, WalPosition};

/// Writes records to the current segment; one sync per batch.
pub struct WalWriter {
    disk: Arc<dyn WalDisk>,
    segment_max_bytes: u64,
    segment_id: u64,
    segment: Box<dyn WalSegmentWriter>,
    segment_len: u64,
    sync_count: u64,
    failed: bool,
    batch_buffer: Vec<u8>,
}

impl WalWriter {
    /// Creates segment `segment_id` (which must not exist), writes and syncs its header.
    pub fn create(
        disk: Arc<dyn WalDisk>,
        segment_id: u64,
        segment_max_bytes: u64,
    ) -> Result<Self, WalError> {
        let segment = start_segment(disk.as_ref(), segment_id)?;
        Ok(WalWriter {
            disk,
            segment_max_bytes,
            segment_id,
            segment,
            segment_len: SEGMENT_HEADER.len() as u64,
            sync_count: 1,
            failed: false,
            batch_buffer: Vec::new(),
        })
    }

    /// The segment appends go to.
    pub fn segment_id(&self) -> u64 {
        self.segment_id
    }

    /// Bytes in the current segment, header included.
    pub fn segment_len(&self) -> u64 {
        self.segment_len
    }

    /// Syncs issued since creation (segment headers included).
    pub fn sync_count(&self) -> u64 {
        self.sync_count
    }

    /// Whether an earlier error stopped this writer.
    pub fn has_failed(&self) -> bool {
        self.failed
    }

    /// Writes every payload, then syncs once; returns each record's position, in order. If the
    /// current segment has reached `segment_max_bytes`, the batch starts a new segment first.
    ///
    /// An invalid payload (empty or too large) rejects the whole batch before anything is written
    /// and leaves the writer usable; an I/O error fails the batch and stops the writer.
    pub fn write_batch(&mut self, payloads: &[Bytes]) -> Result<Vec<WalPosition>, WalError> {
        if self.failed {
            return Err(WalError::Closed);
        }
        for payload in payloads {
            validate_payload(payload)?;
        }
        if payloads.is_empty() {
            return Ok(Vec::new());
        }
        if self.segment_len >= self.segment_max_bytes {
            self.rotate()?;
        }
        self.batch_buffer.clear();
        let mut positions = Vec::with_capacity(payloads.len());
        for payload in payloads {
            positions.push(WalPosition {
                segment: self.segment_id,
                offset: self.segment_len + self.batch_buffer.len() as u64,
            });
            encode_record(payload, &mut self.batch_buffer)?;
        }
        debug_assert_eq!(
            self.batch_buffer.len(),
            payloads
                .iter()
                .map(|payload| framed_len(payload.len()))
                .sum::<usize>(),
            "every payload is framed exactly once"
        );
        if let Err(error) = self.segment.append(&self.batch_buffer) {
            self.failed = true;
            return Err(error.into());
        }
        self.segment_len += self.batch_buffer.len() as u64;
        self.sync_count += 1;
        if let Err(error) = self.segment.sync() {
            self.failed = true;
            return Err(error.into());
        }
        Ok(positions)
    }

    /// Starts the next segment; returns its id. Every record written before lives in a lower
    /// segment. The previous segment needs no sync: every batch was synced when written.
    pub fn rotate(&mut self) -> Result<u64, WalError> {
        if self.failed {
            return Err(WalError::Closed);
        }
        let Some(next_id) = self.segment_id.checked_add(1) else {
            self.failed = true;
            return Err(WalError::SegmentIdsExhausted);
        };
        self.sync_count += 1;
        match start_segment(self.disk.as_ref(), next_id) {
            Ok(segment) => {
                self.segment = segment;
                self.segment_id = next_id;
                self.segment_len = SEGMENT_HEADER.len() as u64;
                Ok(next_id)
            }
            Err(error) => {
                self.failed = true;
                Err(error)
            }
        }
    }

    /// Removes every segment with an id below `segment`, never the current one. Allowed after a
    /// failure too: it only deletes data the caller no longer needs.
    pub fn remove_segments_below(&mut self, segment: u64) -> Result<(), WalError> {
        let limit = segment.min(self.segment_id);
        for id in self.disk.list_segments()? {
            if id >= limit {
                break;
            }
            self.disk.remove_segment(id)?;
        }
        Ok(())
    }
}

/// Creates a segment and durably writes its header.
fn start_segment(
    disk: &dyn WalDisk,
    segment_id: u64,
) -> Result<Box<dyn WalSegmentWriter>, WalError> {
    let mut segment = disk.create_segment(segment_id)?;
    segment.append(SEGMENT_HEADER)?;
    segment.sync()?;
    Ok(segment)
}
