//! Object storage with seeded faults: each operation fails with the run's error rate until the
//! liveness phase heals it. Decisions are drawn when an operation starts, in the deterministic
//! order in which the (single-threaded) simulation starts them.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use rand::Rng;
use rand::rngs::StdRng;
use vivace_storage::backend::{BlockStore, StorageError};

pub struct FaultyStore {
    inner: Arc<dyn BlockStore>,
    rng: Mutex<StdRng>,
    error_rate: f64,
    /// Each operation waits up to this long first (drawn per operation; zero: no wait).
    max_latency: std::time::Duration,
    pub healed: AtomicBool,
    pub injected: AtomicU64,
}

impl FaultyStore {
    pub fn new(inner: Arc<dyn BlockStore>, rng: StdRng, error_rate: f64) -> Self {
        FaultyStore {
            inner,
            rng: Mutex::new(rng),
            error_rate,
            max_latency: std::time::Duration::ZERO,
            healed: AtomicBool::new(false),
            injected: AtomicU64::new(0),
        }
    }

    /// Operations take a seeded latency of up to `max_latency` (simulated time).
    pub fn with_latency(mut self, max_latency: std::time::Duration) -> Self {
        self.max_latency = max_latency;
        self
    }

    async fn delay(&self) {
        if self.max_latency.is_zero() {
            return;
        }
        let wait = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .random_range(std::time::Duration::ZERO..=self.max_latency);
        tokio::time::sleep(wait).await;
    }

    fn fault(&self, operation: &str, path: &str) -> Result<(), StorageError> {
        if self.healed.load(Ordering::SeqCst) || self.error_rate <= 0.0 {
            return Ok(());
        }
        let failing = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .random_bool(self.error_rate);
        if !failing {
            return Ok(());
        }
        self.injected.fetch_add(1, Ordering::SeqCst);
        Err(StorageError::Backend {
            path: path.to_owned(),
            message: format!("injected {operation} failure"),
        })
    }
}

#[async_trait]
impl BlockStore for FaultyStore {
    async fn put(&self, path: &str, data: Bytes) -> Result<(), StorageError> {
        self.delay().await;
        self.fault("put", path)?;
        self.inner.put(path, data).await
    }

    async fn get(&self, path: &str) -> Result<Bytes, StorageError> {
        self.delay().await;
        self.fault("get", path)?;
        self.inner.get(path).await
    }

    async fn get_range(&self, path: &str, range: Range<u64>) -> Result<Bytes, StorageError> {
        self.delay().await;
        self.fault("get_range", path)?;
        self.inner.get_range(path, range).await
    }

    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.delay().await;
        self.fault("list", prefix)?;
        self.inner.list_dirs(prefix).await
    }

    async fn delete(&self, path: &str) -> Result<(), StorageError> {
        self.delay().await;
        self.fault("delete", path)?;
        self.inner.delete(path).await
    }
}
