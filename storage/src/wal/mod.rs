//! The write-ahead log: checksummed, length-prefixed records in numbered segments, group commit
//! (one fsync answers every append queued meanwhile), replay with the torn tail cut.

mod disk;
mod record;
mod replay;
mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use bytes::Bytes;
use tokio::sync::oneshot;

pub use disk::{FsWalDisk, MemWalDisk, WalDisk, WalSegmentWriter};
pub use record::MAX_RECORD_BYTES;
pub use replay::{ReplayReport, ReplayedRecord, replay};
pub use writer::WalWriter;

/// WAL settings.
#[derive(Debug, Clone)]
pub struct WalConfig {
    /// A segment larger than this is closed before the next append.
    pub segment_max_bytes: u64,
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
    #[error("wal i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the wal is closed after an earlier write failure")]
    Closed,
    #[error("wal record of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
}

/// Where a record was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalPosition {
    pub segment: u64,
    pub offset: u64,
}

/// Counters since start.
#[derive(Clone, Copy, Debug, Default)]
pub struct WalStats {
    pub appends: u64,
    pub fsyncs: u64,
    pub bytes: u64,
}

#[derive(Default)]
struct Counters {
    appends: AtomicU64,
    fsyncs: AtomicU64,
    bytes: AtomicU64,
    current_segment: AtomicU64,
}

enum Command {
    Append(Bytes, oneshot::Sender<Result<WalPosition, WalError>>),
    Rotate(oneshot::Sender<Result<u64, WalError>>),
    RemoveBelow(u64, oneshot::Sender<Result<(), WalError>>),
}

/// Most bytes written by one group commit.
const GROUP_COMMIT_BYTES: usize = 8 * 1024 * 1024;

/// The WAL handle: cheap to clone; the writer thread stops when every clone is dropped.
#[derive(Clone)]
pub struct Wal {
    commands: mpsc::Sender<Command>,
    counters: Arc<Counters>,
}

/// A submitted operation; await it for the outcome.
pub type Pending<T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, WalError>> + Send>>;

fn pending<T: Send + 'static>(receiver: oneshot::Receiver<Result<T, WalError>>) -> Pending<T> {
    Box::pin(async move { receiver.await.unwrap_or(Err(WalError::Closed)) })
}

impl Wal {
    /// Replays every segment (cutting a torn tail), then starts a new segment for appends.
    pub fn open(disk: Arc<dyn WalDisk>, config: WalConfig) -> Result<(Wal, ReplayReport), WalError> {
        let report = replay(disk.as_ref())?;
        let next_segment = disk.list_segments()?.last().map_or(1, |last| last + 1);
        let writer = WalWriter::create(Arc::clone(&disk), next_segment, config.segment_max_bytes)?;
        let counters = Arc::new(Counters::default());
        counters.current_segment.store(next_segment, Ordering::SeqCst);
        let (sender, receiver) = mpsc::channel();
        let thread_counters = Arc::clone(&counters);
        std::thread::Builder::new()
            .name("wal-writer".to_owned())
            .spawn(move || run_writer(writer, receiver, thread_counters))?;
        Ok((
            Wal {
                commands: sender,
                counters,
            },
            report,
        ))
    }

    /// Queues an append now; the returned future resolves once the record is synced.
    pub fn submit_append(&self, payload: Bytes) -> Pending<WalPosition> {
        if payload.len() > MAX_RECORD_BYTES {
            let size = payload.len();
            return Box::pin(async move {
                Err(WalError::TooLarge {
                    size,
                    limit: MAX_RECORD_BYTES,
                })
            });
        }
        let (sender, receiver) = oneshot::channel();
        if self.commands.send(Command::Append(payload, sender)).is_err() {
            return Box::pin(async { Err(WalError::Closed) });
        }
        pending(receiver)
    }

    /// Appends a record; resolves once it is written and synced.
    pub async fn append(&self, payload: Bytes) -> Result<WalPosition, WalError> {
        self.submit_append(payload).await
    }

    /// Queues a rotation now; resolves to the new segment id. Every append submitted before lives
    /// in a lower segment.
    pub fn submit_rotate(&self) -> Pending<u64> {
        let (sender, receiver) = oneshot::channel();
        if self.commands.send(Command::Rotate(sender)).is_err() {
            return Box::pin(async { Err(WalError::Closed) });
        }
        pending(receiver)
    }

    /// Closes the current segment and starts the next; returns the new segment id.
    pub async fn rotate(&self) -> Result<u64, WalError> {
        self.submit_rotate().await
    }

    /// Deletes every segment with an id below `segment`.
    pub async fn remove_segments_below(&self, segment: u64) -> Result<(), WalError> {
        let (sender, receiver) = oneshot::channel();
        if self.commands.send(Command::RemoveBelow(segment, sender)).is_err() {
            return Err(WalError::Closed);
        }
        pending(receiver).await
    }

    /// Counters since start.
    pub fn stats(&self) -> WalStats {
        WalStats {
            appends: self.counters.appends.load(Ordering::Relaxed),
            fsyncs: self.counters.fsyncs.load(Ordering::Relaxed),
            bytes: self.counters.bytes.load(Ordering::Relaxed),
        }
    }

    /// The segment appends currently go to.
    pub fn current_segment(&self) -> u64 {
        self.counters.current_segment.load(Ordering::SeqCst)
    }
}

fn run_writer(mut writer: WalWriter, commands: mpsc::Receiver<Command>, counters: Arc<Counters>) {
    let mut failed = false;
    let mut next_command: Option<Command> = None;
    loop {
        let first = match next_command.take() {
            Some(command) => command,
            None => match commands.recv() {
                Ok(command) => command,
                Err(_) => return,
            },
        };
        match first {
            Command::Rotate(reply) => {
                let outcome = if failed { Err(WalError::Closed) } else { writer.rotate() };
                if let Ok(segment) = &outcome {
                    counters.current_segment.store(*segment, Ordering::SeqCst);
                }
                let _ = reply.send(outcome);
            }
            Command::RemoveBelow(segment, reply) => {
                let _ = reply.send(writer.remove_segments_below(segment));
            }
            Command::Append(payload, reply) => {
                let mut payloads = vec![payload];
                let mut replies = vec![reply];
                let mut batch_bytes = payloads[0].len();
                while batch_bytes < GROUP_COMMIT_BYTES {
                    match commands.try_recv() {
                        Ok(Command::Append(more, more_reply)) => {
                            batch_bytes += more.len();
                            payloads.push(more);
                            replies.push(more_reply);
                        }
                        Ok(other) => {
                            next_command = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if failed {
                    for reply in replies {
                        let _ = reply.send(Err(WalError::Closed));
                    }
                    continue;
                }
                match writer.write_batch(&payloads) {
                    Ok(positions) => {
                        counters.fsyncs.fetch_add(1, Ordering::Relaxed);
                        counters.appends.fetch_add(payloads.len() as u64, Ordering::Relaxed);
                        counters.bytes.fetch_add(batch_bytes as u64, Ordering::Relaxed);
                        counters.current_segment.store(writer.segment_id(), Ordering::SeqCst);
                        for (reply, position) in replies.into_iter().zip(positions) {
                            let _ = reply.send(Ok(position));
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, "wal write failed; refusing further appends");
                        failed = true;
                        let message = error.to_string();
                        for reply in replies {
                            let _ = reply.send(Err(WalError::Io(std::io::Error::other(message.clone()))));
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
