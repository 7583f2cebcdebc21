//! The WAL's disk seam and its production implementation: one file per segment.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where segments live. Production uses files ([`FsWalDisk`]); tests and the simulation use
/// memory ([`super::MemWalDisk`]). Object-safe.
pub trait WalDisk: Send + Sync + 'static {
    /// Every segment id, ascending.
    fn list_segments(&self) -> io::Result<Vec<u64>>;
    /// The whole contents of a segment, synced or not.
    fn read_segment(&self, id: u64) -> io::Result<Vec<u8>>;
    /// Creates a new, empty segment and returns its appender. Creating a segment that already
    /// exists is an error (`ErrorKind::AlreadyExists`); once this returns, the segment's existence
    /// is durable.
    fn create_segment(&self, id: u64) -> io::Result<Box<dyn WalSegmentWriter>>;
    /// Cuts a segment to `len` bytes, durably.
    fn truncate_segment(&self, id: u64, len: u64) -> io::Result<()>;
    /// Deletes a segment, durably.
    fn remove_segment(&self, id: u64) -> io::Result<()>;
}

/// Appends to one segment.
pub trait WalSegmentWriter: Send {
    /// Appends bytes at the end of the segment (not yet durable).
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    /// Makes every appended byte durable.
    fn sync(&mut self) -> io::Result<()>;
}

/// Segments as files named `%020d.wal` in one folder; `sync` is `fdatasync`.
#[derive(Debug, Clone)]
pub struct FsWalDisk {
    dir: PathBuf,
}

impl FsWalDisk {
    /// Uses `dir` for segments, creating it (and its parents) if needed.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir: PathBuf = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(FsWalDisk { dir })
    }

    /// The folder holding the segments.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds segment `id`.
    pub fn segment_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:020}.wal"))
    }

    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }
}

/// The segment id of a file name `%020d.wal`; other names are not segments.
fn segment_id_from_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".wal")?;
    if digits.len() != 20 || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

struct FileSegmentWriter {
    file: File,
}

impl WalSegmentWriter for FileSegmentWriter {
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
            let file_name = entry?.file_name();
            let Some(id) = file_name.to_str().and_then(segment_id_from_file_name) else {
                continue;
            };
            ids.push(id);
        }
        ids.sort_unstable();
        Ok(ids)
    }

    fn read_segment(&self, id: u64) -> io::Result<Vec<u8>> {
        std::fs::read(self.segment_path(id))
    }

    fn create_segment(&self, id: u64) -> io::Result<Box<dyn WalSegmentWriter>> {
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(self.segment_path(id))?;
        self.sync_dir()?;
        Ok(Box::new(FileSegmentWriter { file }))
    }

    fn truncate_segment(&self, id: u64, len: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(self.segment_path(id))?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn remove_segment(&self, id: u64) -> io::Result<()> {
        std::fs::remove_file(self.segment_path(id))?;
        self.sync_dir()
    }
}

#[cfg(test)]
mod tests {
    use super::segment_id_from_file_name;

    #[test]
    fn only_twenty_digit_wal_names_are_segments() {
        assert_eq!(
            segment_id_from_file_name("00000000000000000042.wal"),
            Some(42)
        );
        assert_eq!(segment_id_from_file_name("42.wal"), None);
        assert_eq!(segment_id_from_file_name("+0000000000000000042.wal"), None);
        assert_eq!(
            segment_id_from_file_name("00000000000000000042.wal.tmp"),
            None
        );
        assert_eq!(segment_id_from_file_name("99999999999999999999.wal"), None);
    }
}
