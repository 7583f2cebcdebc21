//! The group-commit loop run by the "wal-writer" thread: it blocks for the first command, drains
//! the appends already queued behind it (up to [`GROUP_COMMIT_BYTES`]), writes them all, syncs
//! once, then answers every caller. Rotations and removals travel the same channel, so they are
//! ordered with the appends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::writer::WalWriter;
use super::{WalError, WalPosition};

/// Most payload bytes written by one group commit (a single larger record still goes alone).
pub const GROUP_COMMIT_BYTES: usize = 8 * 1024 * 1024;

/// A request to the writer thread.
pub(super) enum Command {
    Append {
        payload: Bytes,
        reply: oneshot::Sender<Result<WalPosition, WalError>>,
    },
    Rotate {
        reply: oneshot::Sender<Result<u64, WalError>>,
    },
    RemoveBelow {
        segment: u64,
        reply: oneshot::Sender<Result<(), WalError>>,
    },
}

/// Counters shared by the writer thread and every [`super::Wal`] handle.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub appends: AtomicU64,
    pub fsyncs: AtomicU64,
    pub bytes: AtomicU64,
    pub current_segment: AtomicU64,
    /// The writer stopped after an I/O error (fail-stop): every further append is refused.
    pub failed: std::sync::atomic::AtomicBool,
}

impl Counters {
    pub(super) fn publish(&self, writer: &WalWriter) {
        self.fsyncs.store(writer.sync_count(), Ordering::Relaxed);
        self.current_segment
            .store(writer.segment_id(), Ordering::SeqCst);
        self.failed.store(writer.has_failed(), Ordering::SeqCst);
    }
}

/// Runs until every sender is dropped, then returns once the queue is drained.
pub(super) fn run_writer_loop(
    mut writer: WalWriter,
    commands: mpsc::Receiver<Command>,
    counters: Arc<Counters>,
) {
    counters.publish(&writer);
    let mut carried_over: Option<Command> = None;
    loop {
        let command = match carried_over.take() {
            Some(command) => command,
            None => match commands.recv() {
                Ok(command) => command,
                Err(mpsc::RecvError) => return,
            },
        };
        match command {
            Command::Append { payload, reply } => {
                let mut batch = AppendBatch::starting_with(payload, reply);
                carried_over = batch.drain_queued(&commands);
                batch.commit(&mut writer, &counters);
            }
            other => execute(&mut writer, other, &counters),
        }
    }
}

/// Runs one command to completion (an append is a batch of one): the writer thread's step, and
/// the whole of the inline execution.
pub(super) fn execute(writer: &mut WalWriter, command: Command, counters: &Counters) {
    match command {
        Command::Append { payload, reply } => {
            AppendBatch::starting_with(payload, reply).commit(writer, counters);
        }
        Command::Rotate { reply } => {
            let outcome = writer.rotate();
            if let Err(error) = &outcome {
                log_stop(
                    error,
                    writer,
                    "wal rotation failed; refusing further appends",
                );
            }
            counters.publish(writer);
            send_reply(reply, outcome);
        }
        Command::RemoveBelow { segment, reply } => {
            let outcome = writer.remove_segments_below(segment);
            if let Err(error) = &outcome {
                tracing::warn!(%error, below = segment, "wal segment removal failed");
            }
            send_reply(reply, outcome);
        }
    }
}

struct AppendBatch {
    payloads: Vec<Bytes>,
    replies: Vec<oneshot::Sender<Result<WalPosition, WalError>>>,
    payload_bytes: usize,
}

impl AppendBatch {
    fn starting_with(
        payload: Bytes,
        reply: oneshot::Sender<Result<WalPosition, WalError>>,
    ) -> Self {
        AppendBatch {
            payload_bytes: payload.len(),
            payloads: vec![payload],
            replies: vec![reply],
        }
    }

    /// Takes the appends already queued, up to the byte budget. Returns a non-append command that
    /// was taken off the queue and must run next.
    fn drain_queued(&mut self, commands: &mpsc::Receiver<Command>) -> Option<Command> {
        while self.payload_bytes < GROUP_COMMIT_BYTES {
            let Ok(command) = commands.try_recv() else {
                return None;
            };
            let Command::Append { payload, reply } = command else {
                return Some(command);
            };
            self.payload_bytes += payload.len();
            self.payloads.push(payload);
            self.replies.push(reply);
        }
        None
    }

    fn commit(self, writer: &mut WalWriter, counters: &Counters) {
        let was_failed = writer.has_failed();
        let outcome = writer.write_batch(&self.payloads);
        counters.publish(writer);
        match outcome {
            Ok(positions) => {
                counters
                    .appends
                    .fetch_add(self.payloads.len() as u64, Ordering::Relaxed);
                counters
                    .bytes
                    .fetch_add(self.payload_bytes as u64, Ordering::Relaxed);
                for (reply, position) in self.replies.into_iter().zip(positions) {
                    send_reply(reply, Ok(position));
                }
            }
            Err(error) => {
                if !was_failed {
                    log_stop(&error, writer, "wal write failed; refusing further appends");
                }
                for reply in self.replies {
                    send_reply(reply, Err(error.duplicate()));
                }
            }
        }
    }
}

fn log_stop(error: &WalError, writer: &WalWriter, message: &'static str) {
    if !writer.has_failed() {
        return;
    }
    tracing::error!(%error, segment = writer.segment_id(), "{}", message);
}

/// Answers a caller; one that stopped waiting is no concern of the writer.
fn send_reply<T>(reply: oneshot::Sender<Result<T, WalError>>, outcome: Result<T, WalError>) {
    let _ignored_if_caller_gone = reply.send(outcome);
}
