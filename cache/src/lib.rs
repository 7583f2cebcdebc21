//! Vivace's cache: one trait, a foyer hybrid (memory + local disk) implementation used in
//! production for bloom shards and Parquet footers, a memory-only one for tests and the simulation,
//! and a cache that never hits.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use async_trait::async_trait;
use bytes::Bytes;
use foyer::{
    BlockEngineConfig, DeviceBuilder, FsDeviceBuilder, HybridCacheBuilder, PsyncIoEngineConfig,
};

/// A byte cache keyed by strings (`bloom/<tenant>/<block>/<shard>`, `footer/<tenant>/<block>`).
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// The value under `key`, if cached (a failing disk tier counts as a miss).
    async fn get(&self, key: &str) -> Option<Bytes>;
    /// Caches a value; may evict others. Never blocks on disk I/O.
    fn insert(&self, key: String, value: Bytes);
}

/// Hit and miss counters.
#[derive(Debug, Default)]
pub struct CacheStats {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CacheStats {
    fn record(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Lookups that found a value.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that found nothing.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

/// Memory-only cache weighted by value size.
pub struct MemoryCache {
    inner: foyer::Cache<String, Bytes>,
    stats: CacheStats,
}

impl MemoryCache {
    /// A cache holding up to `capacity_bytes` of keys and values.
    pub fn new(capacity_bytes: usize) -> Self {
        let inner = foyer::CacheBuilder::new(capacity_bytes.max(1))
            .with_weighter(|key: &String, value: &Bytes| key.len() + value.len())
            .build();
        MemoryCache {
            inner,
            stats: CacheStats::default(),
        }
    }

    /// Hit and miss counts since creation.
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Option<Bytes> {
        let found = self.inner.get(key).map(|entry| entry.value().clone());
        self.stats.record(found.is_some());
        found
    }

    fn insert(&self, key: String, value: Bytes) {
        self.inner.insert(key, value);
    }
}

/// Memory plus a local disk tier (foyer `HybridCache`).
pub struct HybridCache {
    inner: foyer::HybridCache<String, Bytes>,
    stats: CacheStats,
}

impl HybridCache {
    /// Opens (or creates) the disk tier in `dir`.
    pub async fn open(dir: &Path, memory_bytes: usize, disk_bytes: usize) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create cache folder {}", dir.display()))?;
        let device = FsDeviceBuilder::new(dir)
            .with_capacity(disk_bytes.max(16 * 1024 * 1024))
            .build()
            .with_context(|| format!("failed to open cache device in {}", dir.display()))?;
        let inner = HybridCacheBuilder::new()
            .with_name("vivace")
            .memory(memory_bytes.max(1))
            .with_weighter(|key: &String, value: &Bytes| key.len() + value.len())
            .storage()
            .with_io_engine_config(PsyncIoEngineConfig::new())
            .with_engine_config(BlockEngineConfig::new(device).with_block_size(4 * 1024 * 1024))
            .build()
            .await
            .context("failed to build the hybrid cache")?;
        Ok(HybridCache {
            inner,
            stats: CacheStats::default(),
        })
    }

    /// Flushes and closes the disk tier.
    pub async fn close(&self) -> anyhow::Result<()> {
        self.inner
            .close()
            .await
            .context("failed to close the hybrid cache")
    }

    /// Hit and miss counts since creation.
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }
}

#[async_trait]
impl Cache for HybridCache {
    async fn get(&self, key: &str) -> Option<Bytes> {
        let found = match self.inner.get(&key.to_owned()).await {
            Ok(entry) => entry.map(|entry| entry.value().clone()),
            Err(error) => {
                tracing::warn!(%error, key, "cache read failed");
                None
            }
        };
        self.stats.record(found.is_some());
        found
    }

    fn insert(&self, key: String, value: Bytes) {
        self.inner.insert(key, value);
    }
}

/// A cache that never holds anything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoCache;

#[async_trait]
impl Cache for NoCache {
    async fn get(&self, _key: &str) -> Option<Bytes> {
        None
    }

    fn insert(&self, _key: String, _value: Bytes) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_cache_round_trips_and_evicts() {
        let cache = MemoryCache::new(1024);
        cache.insert("a".into(), Bytes::from_static(b"alpha"));
        assert_eq!(cache.get("a").await, Some(Bytes::from_static(b"alpha")));
        assert_eq!(cache.get("b").await, None);
        for index in 0..100 {
            cache.insert(format!("k{index}"), Bytes::from(vec![0u8; 100]));
        }
        assert_eq!(cache.stats().hits(), 1);
        assert_eq!(cache.stats().misses(), 1);
    }

    #[tokio::test]
    async fn hybrid_cache_round_trips() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = HybridCache::open(dir.path(), 1024 * 1024, 32 * 1024 * 1024)
            .await
            .expect("opens");
        cache.insert("footer/t/b".into(), Bytes::from(vec![7u8; 4096]));
        assert_eq!(
            cache.get("footer/t/b").await.map(|value| value.len()),
            Some(4096)
        );
        assert_eq!(cache.get("missing").await, None);
        cache.close().await.expect("closes");
    }

    #[tokio::test]
    async fn hybrid_cache_spills_to_disk_without_panicking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = HybridCache::open(dir.path(), 64 * 1024, 16 * 1024 * 1024)
            .await
            .expect("opens");
        for index in 0..200u32 {
            cache.insert(
                format!("bloom/t/b/{index}"),
                Bytes::from(vec![index as u8; 4096]),
            );
        }
        let mut found = 0;
        for index in 0..200u32 {
            if let Some(value) = cache.get(&format!("bloom/t/b/{index}")).await {
                assert_eq!(value.as_ref(), vec![index as u8; 4096].as_slice());
                found += 1;
            }
        }
        assert!(found > 0);
        assert_eq!(cache.stats().hits() + cache.stats().misses(), 200);
        cache.close().await.expect("closes");
    }

    #[tokio::test]
    async fn no_cache_never_hits() {
        NoCache.insert("a".into(), Bytes::from_static(b"x"));
        assert_eq!(NoCache.get("a").await, None);
    }
}
