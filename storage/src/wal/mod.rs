//! The write-ahead log: checksummed, length-prefixed records in numbered segments; group commit
//! (one sync answers every append queued meanwhile); replay that cuts a torn tail at the last
//! good record.
//!
//! Layout: [`record`] is the on-disk format, [`disk`] the disk seam and its file implementation,
//! [`MemWalDisk`] the in-memory one, [`WalWriter`] the thread-free write logic, `group_commit`
//! the writer thread's loop, [`replay`] the start-up read, and this file the [`Wal`] handle.

mod disk;
mod group_commit;
mod mem_disk;
pub mod record;
mod replay;
mod writer;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;

pub use disk::{FsWalDisk, WalDisk, WalSegmentWriter};
pub use group_commit::GROUP_COMMIT_BYTES;
pub use mem_disk::MemWalDisk;
pub use record::MAX_RECORD_BYTES;
pub use replay::{ReplayReport, ReplayedRecord, replay};
pub use writer::WalWriter;

use group_commit::{Command, Counters, execute, run_writer_loop};

/// WAL settings.
#[derive(Debug, Clone)]
pub struct WalConfig {
    /// Once the current segment reaches this size, the next append opens a new segment.
    pub segment_max_bytes: u64,
}

/// Where the WAL's writes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WalExecution {
    /// A "wal-writer" thread with group commit (production).
    #[default]
    Thread,
    /// In the caller, one write and sync per command, with no thread to race: the deterministic
    /// simulation's choice. `ack_delay` holds back the answer to an append (a slow fsync as the
    /// caller sees it; the record is already synced).
    Inline { ack_delay: Duration },
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            segment_max_bytes: 128 * 1024 * 1024,
        }
    }
}

/// Why a WAL operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// The disk failed.
    #[error("wal i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The WAL stopped accepting writes after an earlier write or sync failure (or its writer
    /// thread is gone).
    #[error("the wal is closed after an earlier write failure")]
    Closed,
    /// The payload is larger than [`MAX_RECORD_BYTES`].
    #[error("wal record of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    /// Empty payloads are not accepted (a zero length marks a zeroed tail on disk).
    #[error("wal records must not be empty")]
    EmptyRecord,
    /// A segment file does not start with the WAL header: not ours, left untouched.
    #[error("wal segment {segment} is not a wal segment (bad header); move it away to start")]
    ForeignSegment { segment: u64 },
    /// A segment was written by another format version, left untouched.
    #[error("wal segment {segment} has unsupported format version {version}")]
    UnsupportedVersion { segment: u64, version: u8 },
    /// The segment id reached `u64::MAX`.
    #[error("wal segment ids exhausted")]
    SegmentIdsExhausted,
}

impl WalError {
    /// A copy for each caller of a failed batch (`io::Error` is not `Clone`; the kind is kept).
    fn duplicate(&self) -> WalError {
        match self {
            WalError::Io(error) => {
                WalError::Io(std::io::Error::new(error.kind(), error.to_string()))
            }
            WalError::Closed => WalError::Closed,
            WalError::TooLarge { size, limit } => WalError::TooLarge {
                size: *size,
                limit: *limit,
            },
            WalError::EmptyRecord => WalError::EmptyRecord,
            WalError::ForeignSegment { segment } => WalError::ForeignSegment { segment: *segment },
            WalError::UnsupportedVersion { segment, version } => WalError::UnsupportedVersion {
                segment: *segment,
                version: *version,
            },
            WalError::SegmentIdsExhausted => WalError::SegmentIdsExhausted,
        }
    }
}

/// Where a record was written: its segment and the byte offset of its framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WalPosition {
    pub segment: u64,
    pub offset: u64,
}

/// Counters since the WAL was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Records appended and synced.
    pub appends: u64,
    /// Syncs issued (one per group commit, plus one per new segment header).
    pub fsyncs: u64,
    /// Payload bytes appended and synced (framing excluded).
    pub bytes: u64,
}

/// An operation already queued to the writer; await it for the outcome.
pub type Pending<T> = Pin<Box<dyn Future<Output = Result<T, WalError>> + Send>>;

/// The WAL handle: cheap to clone, `Send + Sync`. When the last clone is dropped, the writer
/// thread finishes every queued command and the drop waits for it to exit, so a dropped WAL never
/// writes again (a simulated crash can follow the drop safely).
#[derive(Clone)]
pub struct Wal {
    shared: Arc<WalShared>,
}

struct WalShared {
    commands: Option<mpsc::Sender<Command>>,
    counters: Arc<Counters>,
    writer_thread: Option<JoinHandle<()>>,
    /// Set for [`WalExecution::Inline`]: commands run here, in the caller.
    inline: Option<InlineWriter>,
}

struct InlineWriter {
    writer: Mutex<WalWriter>,
    ack_delay: Duration,
}

impl Drop for WalShared {
    fn drop(&mut self) {
        drop(self.commands.take());
        let Some(writer_thread) = self.writer_thread.take() else {
            return;
        };
        if writer_thread.join().is_err() {
            tracing::error!("wal writer thread panicked");
        }
    }
}

fn pending<T: Send + 'static>(receiver: oneshot::Receiver<Result<T, WalError>>) -> Pending<T> {
    Box::pin(async move { receiver.await.unwrap_or(Err(WalError::Closed)) })
}

fn ready<T: Send + 'static>(outcome: Result<T, WalError>) -> Pending<T> {
    Box::pin(std::future::ready(outcome))
}

impl Wal {
    /// Replays every segment in order (validating each record), cuts a torn or corrupt tail at the
    /// last good record (truncating the segment, logged), then starts a new segment (id = largest
    /// existing + 1, or 1) for appends. A corrupt record in the middle of an older segment ends
    /// that segment there (logged); later segments are still replayed. A foreign or
    /// other-version segment fails the open and is left untouched.
    pub fn open(
        disk: Arc<dyn WalDisk>,
        config: WalConfig,
    ) -> Result<(Wal, ReplayReport), WalError> {
        Wal::open_with(disk, config, WalExecution::Thread)
    }

    /// [`Wal::open`] with a choice of where writes run.
    pub fn open_with(
        disk: Arc<dyn WalDisk>,
        config: WalConfig,
        execution: WalExecution,
    ) -> Result<(Wal, ReplayReport), WalError> {
        let report = replay(disk.as_ref())?;
        let next_segment = match disk.list_segments()?.last() {
            Some(last) => last.checked_add(1).ok_or(WalError::SegmentIdsExhausted)?,
            None => 1,
        };
        let writer = WalWriter::create(Arc::clone(&disk), next_segment, config.segment_max_bytes)?;
        let counters = Arc::new(Counters::default());
        counters
            .current_segment
            .store(next_segment, Ordering::SeqCst);
        let shared = match execution {
            WalExecution::Thread => {
                let (sender, receiver) = mpsc::channel();
                let thread_counters = Arc::clone(&counters);
                let writer_thread = std::thread::Builder::new()
                    .name("wal-writer".to_owned())
                    .spawn(move || run_writer_loop(writer, receiver, thread_counters))?;
                WalShared {
                    commands: Some(sender),
                    counters,
                    writer_thread: Some(writer_thread),
                    inline: None,
                }
            }
            WalExecution::Inline { ack_delay } => {
                counters.publish(&writer);
                WalShared {
                    commands: None,
                    counters,
                    writer_thread: None,
                    inline: Some(InlineWriter {
                        writer: Mutex::new(writer),
                        ack_delay,
                    }),
                }
            }
        };
        tracing::info!(
            segments = report.segments,
            records = report.records.len(),
            truncated_bytes = report.truncated_bytes,
            segment = next_segment,
            "wal opened"
        );
        Ok((
            Wal {
                shared: Arc::new(shared),
            },
            report,
        ))
    }

    fn send(&self, command: Command) -> Result<(), WalError> {
        if let Some(inline) = &self.shared.inline {
            let mut writer = inline
                .writer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            execute(&mut writer, command, &self.shared.counters);
            return Ok(());
        }
        let Some(commands) = &self.shared.commands else {
            return Err(WalError::Closed);
        };
        commands.send(command).map_err(|_| WalError::Closed)
    }

    /// Queues an append now (ordering it after everything queued before) and returns a future that
    /// resolves once the record is written and synced.
    pub fn submit_append(&self, payload: Bytes) -> Pending<WalPosition> {
        if let Err(error) = record::validate_payload(&payload) {
            return ready(Err(error));
        }
        let (reply, receiver) = oneshot::channel();
        if let Err(error) = self.send(Command::Append { payload, reply }) {
            return ready(Err(error));
        }
        match &self.shared.inline {
            Some(inline) if !inline.ack_delay.is_zero() => {
                let delay = inline.ack_delay;
                Box::pin(async move {
                    tokio::time::sleep(delay).await;
                    receiver.await.unwrap_or(Err(WalError::Closed))
                })
            }
            _ => pending(receiver),
        }
    }

    /// Group commit: resolves only after the record is written and synced; many concurrent
    /// appends share one sync.
    pub async fn append(&self, payload: Bytes) -> Result<WalPosition, WalError> {
        self.submit_append(payload).await
    }

    /// Queues a rotation now; resolves to the new segment id. Every append submitted before lives
    /// in a lower segment.
    pub fn submit_rotate(&self) -> Pending<u64> {
        let (reply, receiver) = oneshot::channel();
        if let Err(error) = self.send(Command::Rotate { reply }) {
            return ready(Err(error));
        }
        pending(receiver)
    }

    /// Closes the current segment and opens the next; returns the new segment id. Every record
    /// whose append resolved (or was submitted) before rotate was called lives in a segment below
    /// the returned id.
    pub async fn rotate(&self) -> Result<u64, WalError> {
        self.submit_rotate().await
    }

    /// Deletes every segment with an id below `segment`, never the current one.
    pub async fn remove_segments_below(&self, segment: u64) -> Result<(), WalError> {
        let (reply, receiver) = oneshot::channel();
        self.send(Command::RemoveBelow { segment, reply })?;
        pending(receiver).await
    }

    /// Counters since open.
    pub fn stats(&self) -> WalStats {
        let counters = &self.shared.counters;
        WalStats {
            appends: counters.appends.load(Ordering::Relaxed),
            fsyncs: counters.fsyncs.load(Ordering::Relaxed),
            bytes: counters.bytes.load(Ordering::Relaxed),
        }
    }

    /// The segment appends currently go to.
    /// True once the writer stopped after an I/O error: the WAL refuses every append from then
    /// on, and only a restart (which replays what was synced) makes the node writable again.
    pub fn has_failed(&self) -> bool {
        self.shared.counters.failed.load(Ordering::SeqCst)
    }

    pub fn current_segment(&self) -> u64 {
        self.shared.counters.current_segment.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests;
