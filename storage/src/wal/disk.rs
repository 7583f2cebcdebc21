//! The WAL's disk seam: files in production, memory in tests and the simulation.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

/// Segment storage. Object-safe so the simulation can supply its own.
pub trait WalDisk: Send + Sync + 'static {
    /// Segment ids, ascending.
    fn list_segments(&self) -> io::Result<Vec<u64>>;
    fn read_segment(&self, id: u64) -> io::Result<Vec<u8>>;
    fn create_segment(&self, id: u64) -> io::Result<Box<dyn WalSegmentWriter>>;
    fn truncate_segment(&self, id: u64, len: u64) -> io::Result<()>;
    fn remove_segment(&self, id: u64) -> io::Result<()>;
}

/// Appends to one segment.
pub trait WalSegmentWriter: Send {
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    /// Makes every appended byte durable.
    fn sync(&mut self) -> io::Result<()>;
}

/// Segments as files `%020d.wal` in a folder.
#[derive(Debug, Clone)]
pub struct FsWalDisk {
    dir: PathBuf,
}

impl FsWalDisk {
    /// Opens (creating) the folder.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(FsWalDisk { dir })
    }

    fn path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:020}.wal"))
    }

    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }
}

struct FileSegment {
    file: File,
}

impl WalSegmentWriter for FileSegment {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

impl WalDisk for FsWalDisk {
    fn list_segments(&self) -> io::Result<Vec<u64>> {
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let Some(stem) = name.to_str().and_then(|text| text.strip_suffix(".wal")) else {
                continue;
            };
            if let Ok(id) = stem.parse::<u64>() {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    fn read_segment(&self, id: u64) -> io::Result<Vec<u8>> {
        std::fs::read(self.path(id))
    }

    fn create_segment(&self, id: u64) -> io::Result<Box<dyn WalSegmentWriter>> {
        let file = OpenOptions::new().create(true).append(true).open(self.path(id))?;
        self.sync_dir()?;
        Ok(Box::new(FileSegment { file }))
    }

    fn truncate_segment(&self, id: u64, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(self.path(id))?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn remove_segment(&self, id: u64) -> io::Result<()> {
        std::fs::remove_file(self.path(id))?;
        self.sync_dir()
    }
}

#[derive(Debug, Default, Clone)]
struct MemSegment {
    synced: Vec<u8>,
    unsynced: Vec<u8>,
}

/// Segments in memory; [`MemWalDisk::crash`] loses what was not synced.
#[derive(Debug, Default, Clone)]
pub struct MemWalDisk {
    segments: Arc<Mutex<BTreeMap<u64, MemSegment>>>,
}

impl MemWalDisk {
    pub fn new() -> Self {
        MemWalDisk::default()
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<u64, MemSegment>> {
        self.segments.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Power loss: every unsynced byte disappears.
    pub fn crash(&self) {
        for segment in self.lock().values_mut() {
            segment.unsynced.clear();
        }
    }

    /// Flips one byte of a segment's synced contents (tests).
    pub fn corrupt(&self, segment: u64, offset: usize) {
        if let Some(found) = self.lock().get_mut(&segment)
            && let Some(byte) = found.synced.get_mut(offset)
        {
            *byte ^= 0xff;
        }
    }

    /// Synced length of a segment (tests).
    pub fn synced_len(&self, segment: u64) -> Option<usize> {
        self.lock().get(&segment).map(|found| found.synced.len())
    }
}

struct MemSegmentWriter {
    disk: MemWalDisk,
    id: u64,
}

impl WalSegmentWriter for MemSegmentWriter {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        let mut segments = self.disk.lock();
        let segment = segments
            .get_mut(&self.id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "segment removed"))?;
        segment.unsynced.extend_from_slice(data);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut segments = self.disk.lock();
        let segment = segments
            .get_mut(&self.id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "segment removed"))?;
        let pending = std::mem::take(&mut segment.unsynced);
        segment.synced.extend_from_slice(&pending);
        Ok(())
    }
}

impl WalDisk for MemWalDisk {
    fn list_segments(&self) -> io::Result<Vec<u64>> {
        Ok(self.lock().keys().copied().collect())
    }

    fn read_segment(&self, id: u64) -> io::Result<Vec<u8>> {
        let segments = self.lock();
        let segment = segments
            .get(&id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such segment"))?;
        let mut contents = segment.synced.clone();
        contents.extend_from_slice(&segment.unsynced);
        Ok(contents)
    }

    fn create_segment(&self, id: u64) -> io::Result<Box<dyn WalSegmentWriter>> {
        self.lock().entry(id).or_default();
        Ok(Box::new(MemSegmentWriter { disk: self.clone(), id }))
    }

    fn truncate_segment(&self, id: u64, len: u64) -> io::Result<()> {
        let mut segments = self.lock();
        let segment = segments
            .get_mut(&id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such segment"))?;
        let mut contents = std::mem::take(&mut segment.synced);
        contents.extend_from_slice(&segment.unsynced);
        contents.truncate(len as usize);
        segment.synced = contents;
        segment.unsynced.clear();
        Ok(())
    }

    fn remove_segment(&self, id: u64) -> io::Result<()> {
        self.lock().remove(&id);
        Ok(())
    }
}
