//! An in-memory [`WalDisk`] for tests and the simulation: it models power loss (unsynced bytes
//! vanish) and can inject corruption, sync failures and slow syncs.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::disk::{WalDisk, WalSegmentWriter};

#[derive(Debug, Default, Clone)]
struct MemSegment {
    synced: Vec<u8>,
    unsynced: Vec<u8>,
}

#[derive(Debug, Default)]
struct SyncControl {
    /// Every sync fails while set.
    failing: bool,
    /// Every sync blocks while set.
    held: bool,
    /// Syncs currently blocked by `held`.
    waiting: usize,
}

#[derive(Debug, Default)]
struct MemDiskState {
    segments: Mutex<BTreeMap<u64, MemSegment>>,
    sync_control: Mutex<SyncControl>,
    sync_released: Condvar,
}

/// Segments in memory. Clones share the same state. Each segment keeps its synced bytes and its
/// unsynced tail; [`MemWalDisk::crash`] drops every unsynced tail, like a power loss.
#[derive(Debug, Default, Clone)]
pub struct MemWalDisk {
    state: Arc<MemDiskState>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn missing_segment(id: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("wal segment {id} does not exist"),
    )
}

impl MemWalDisk {
    /// An empty disk.
    pub fn new() -> Self {
        MemWalDisk::default()
    }

    fn segments(&self) -> MutexGuard<'_, BTreeMap<u64, MemSegment>> {
        lock(&self.state.segments)
    }

    /// Power loss: every byte that was appended but not synced disappears.
    pub fn crash(&self) {
        for segment in self.segments().values_mut() {
            segment.unsynced.clear();
        }
    }

    /// Flips every bit of the byte at `offset` of a segment (synced bytes first, then the
    /// unsynced tail). Does nothing if there is no such byte.
    pub fn corrupt(&self, segment: u64, offset: usize) {
        let mut segments = self.segments();
        let Some(found) = segments.get_mut(&segment) else {
            return;
        };
        let synced_len = found.synced.len();
        let byte = match offset.checked_sub(synced_len) {
            None => found.synced.get_mut(offset),
            Some(tail_offset) => found.unsynced.get_mut(tail_offset),
        };
        if let Some(byte) = byte {
            *byte ^= 0xff;
        }
    }

    /// Bytes of a segment that survive a crash, if the segment exists.
    pub fn synced_len(&self, segment: u64) -> Option<usize> {
        self.segments()
            .get(&segment)
            .map(|found| found.synced.len())
    }

    /// Bytes of a segment, synced or not, if the segment exists.
    pub fn total_len(&self, segment: u64) -> Option<usize> {
        self.segments()
            .get(&segment)
            .map(|found| found.synced.len() + found.unsynced.len())
    }

    /// Stores a segment with exactly these (synced) bytes, replacing any previous one (tests).
    pub fn put_segment(&self, segment: u64, bytes: Vec<u8>) {
        self.segments().insert(
            segment,
            MemSegment {
                synced: bytes,
                unsynced: Vec::new(),
            },
        );
    }

    /// While `failing`, every sync returns an error and leaves its bytes unsynced.
    pub fn fail_syncs(&self, failing: bool) {
        lock(&self.state.sync_control).failing = failing;
    }

    /// While `held`, every sync blocks (lets tests queue work behind an in-flight sync).
    pub fn hold_syncs(&self, held: bool) {
        lock(&self.state.sync_control).held = held;
        self.state.sync_released.notify_all();
    }

    /// How many syncs are blocked by [`MemWalDisk::hold_syncs`] right now.
    pub fn held_syncs(&self) -> usize {
        lock(&self.state.sync_control).waiting
    }

    /// Waits while syncs are held, then fails if syncs are set to fail.
    fn wait_for_sync_turn(&self) -> io::Result<()> {
        let mut control = lock(&self.state.sync_control);
        control.waiting += 1;
        while control.held {
            control = self
                .state
                .sync_released
                .wait(control)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        control.waiting -= 1;
        if control.failing {
            return Err(io::Error::other("injected wal sync failure"));
        }
        Ok(())
    }
}

struct MemSegmentWriter {
    disk: MemWalDisk,
    id: u64,
}

impl WalSegmentWriter for MemSegmentWriter {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        let mut segments = self.disk.segments();
        let segment = segments
            .get_mut(&self.id)
            .ok_or_else(|| missing_segment(self.id))?;
        segment.unsynced.extend_from_slice(data);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.disk.wait_for_sync_turn()?;
        let mut segments = self.disk.segments();
        let segment = segments
            .get_mut(&self.id)
            .ok_or_else(|| missing_segment(self.id))?;
        let pending = std::mem::take(&mut segment.unsynced);
        segment.synced.extend_from_slice(&pending);
        Ok(())
    }
}

impl WalDisk for MemWalDisk {
    fn list_segments(&self) -> io::Result<Vec<u64>> {
        Ok(self.segments().keys().copied().collect())
    }

    fn read_segment(&self, id: u64) -> io::Result<Vec<u8>> {
        let segments = self.segments();
        let segment = segments.get(&id).ok_or_else(|| missing_segment(id))?;
        let mut contents = segment.synced.clone();
        contents.extend_from_slice(&segment.unsynced);
        Ok(contents)
    }

    fn create_segment(&self, id: u64) -> io::Result<Box<dyn WalSegmentWriter>> {
        let mut segments = self.segments();
        if segments.contains_key(&id) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("wal segment {id} already exists"),
            ));
        }
        segments.insert(id, MemSegment::default());
        Ok(Box::new(MemSegmentWriter {
            disk: self.clone(),
            id,
        }))
    }

    fn truncate_segment(&self, id: u64, len: u64) -> io::Result<()> {
        let mut segments = self.segments();
        let segment = segments.get_mut(&id).ok_or_else(|| missing_segment(id))?;
        let mut contents = std::mem::take(&mut segment.synced);
        contents.append(&mut segment.unsynced);
        let kept_len = usize::try_from(len).unwrap_or(usize::MAX);
        contents.truncate(kept_len);
        segment.synced = contents;
        Ok(())
    }

    fn remove_segment(&self, id: u64) -> io::Result<()> {
        self.segments()
            .remove(&id)
            .ok_or_else(|| missing_segment(id))?;
        Ok(())
    }
}
