//! The non-deterministic inputs of component logic (clock, identifiers, threads for blocking
//! work), behind traits so that the simulation can swap them. Production wires the real ones in `node/`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where CPU-heavy synchronous work runs: tokio's blocking threads in production, inline in the
/// simulation (where a thread's timing would reorder events).
pub trait BlockingPool: Send + Sync + 'static {
    fn spawn(&self, job: Box<dyn FnOnce() + Send>);
}

/// `tokio::task::spawn_blocking`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioBlockingPool;

impl BlockingPool for TokioBlockingPool {
    fn spawn(&self, job: Box<dyn FnOnce() + Send>) {
        drop(tokio::task::spawn_blocking(job));
    }
}

/// Runs the job right away, in the caller.
#[derive(Debug, Default, Clone, Copy)]
pub struct InlinePool;

impl BlockingPool for InlinePool {
    fn spawn(&self, job: Box<dyn FnOnce() + Send>) {
        job();
    }
}

/// Runs `work` on `pool` and waits for its answer; an error when the job died (it panicked).
pub async fn run_blocking<T: Send + 'static>(
    pool: &dyn BlockingPool,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    pool.spawn(Box::new(move || {
        let _ignored_if_caller_gone = sender.send(work());
    }));
    receiver
        .await
        .map_err(|_| "the blocking job stopped without an answer".to_owned())
}

/// Wall-clock time as seen by a component.
pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since the unix epoch.
    fn now_unix_nanos(&self) -> u64;

    /// Seconds since the unix epoch.
    fn now_unix_seconds(&self) -> u64 {
        self.now_unix_nanos() / 1_000_000_000
    }
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix_nanos(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_nanos() as u64
    }
}

/// A clock moved by hand, for tests and the simulation.
#[derive(Debug, Default, Clone)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock stopped at `unix_nanos`.
    pub fn new(unix_nanos: u64) -> Self {
        ManualClock {
            nanos: Arc::new(AtomicU64::new(unix_nanos)),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.nanos.fetch_add(by.as_nanos() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix_nanos(&self) -> u64 {
        self.nanos.load(Ordering::SeqCst)
    }
}

/// Source of fresh identifiers (block ids).
pub trait IdSource: Send + Sync + 'static {
    fn next_uuid(&self) -> uuid::Uuid;
}

/// Random v4 UUIDs from the operating system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn next_uuid(&self) -> uuid::Uuid {
        uuid::Uuid::new_v4()
    }
}

/// Deterministic ids from a seed (tests and simulation). Different seeds give independent
/// sequences: the seed keys the hash rather than starting a counter, so nearby seeds (a node's
/// seed and its next generation's) never share ids.
#[derive(Debug, Default)]
pub struct SeededIds {
    seed: u64,
    counter: AtomicU64,
}

impl SeededIds {
    pub fn new(seed: u64) -> Self {
        SeededIds {
            seed,
            counter: AtomicU64::new(0),
        }
    }
}

impl IdSource for SeededIds {
    fn next_uuid(&self) -> uuid::Uuid {
        let counter = self.counter.fetch_add(1, Ordering::SeqCst);
        let mut input = [0u8; 16];
        input[..8].copy_from_slice(&self.seed.to_le_bytes());
        input[8..].copy_from_slice(&counter.to_le_bytes());
        let high = xxhash_rust::xxh3::xxh3_64_with_seed(&input, 1);
        let low = xxhash_rust::xxh3::xxh3_64_with_seed(&input, 2);
        uuid::Builder::from_random_bytes(((u128::from(high) << 64) | u128::from(low)).to_be_bytes())
            .into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Found by the simulation: with the seed as a counter start, a restarted node (seed ^ its
    /// generation) replayed its previous generation's block ids and overwrote its blocks.
    #[test]
    fn nearby_seeds_share_no_ids() {
        let mut seen = HashSet::new();
        for seed in 0..8u64 {
            let ids = SeededIds::new(seed);
            for _ in 0..100 {
                assert!(seen.insert(ids.next_uuid()), "seed {seed} repeated an id");
            }
        }
        assert_eq!(SeededIds::new(3).next_uuid(), SeededIds::new(3).next_uuid());
    }
}
