//! The narrow block-store seam over `object_store` (local disk, memory; S3, GCS and Azure later),
//! and decorators that count what a request read.

use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The object does not exist.
    #[error("object not found: {0}")]
    NotFound(String),
    /// The object store failed (I/O, network, permissions).
    #[error("object store error on {path}: {message}")]
    Backend { path: String, message: String },
    /// Bytes read do not match the checksum written with them.
    #[error("checksum mismatch in {path}: {detail}")]
    Checksum { path: String, detail: String },
    /// Bytes read cannot be decoded (or a block cannot be encoded).
    #[error("corrupt data in {path}: {detail}")]
    Corrupt { path: String, detail: String },
    /// A path with `.` or `..` parts, or otherwise not a valid object path.
    #[error("invalid path {0:?}")]
    InvalidPath(String),
}

impl StorageError {
    fn from_object_store(path: &str, error: object_store::Error) -> Self {
        match error {
            object_store::Error::NotFound { .. } => StorageError::NotFound(path.to_owned()),
            other => StorageError::Backend {
                path: path.to_owned(),
                message: other.to_string(),
            },
        }
    }
}

/// Object storage as blocks see it. Paths are `/`-separated and relative to the store's root.
#[async_trait]
pub trait BlockStore: Send + Sync + 'static {
    /// Writes a whole object, replacing any previous one.
    async fn put(&self, path: &str, data: Bytes) -> Result<(), StorageError>;
    /// Reads a whole object.
    async fn get(&self, path: &str) -> Result<Bytes, StorageError>;
    /// Reads bytes `range` of an object.
    async fn get_range(&self, path: &str, range: Range<u64>) -> Result<Bytes, StorageError>;
    /// Names of the immediate child "folders" of `prefix` (empty prefix: the root).
    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>, StorageError>;
    /// Deletes an object.
    async fn delete(&self, path: &str) -> Result<(), StorageError>;
}

fn object_path(path: &str) -> Result<Path, StorageError> {
    if path.split('/').any(|part| part == ".." || part == ".") {
        return Err(StorageError::InvalidPath(path.to_owned()));
    }
    Path::parse(path).map_err(|_| StorageError::InvalidPath(path.to_owned()))
}

/// A [`BlockStore`] over any `object_store` backend.
pub struct ObjectStoreBackend {
    store: Arc<dyn ObjectStore>,
}

impl ObjectStoreBackend {
    /// Any `object_store` backend (S3, GCS, Azure, ...).
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        ObjectStoreBackend { store }
    }

    /// The local file system under `root` (created if missing).
    pub fn local(root: &FsPath) -> Result<Self, StorageError> {
        let describe = |error: std::io::Error| StorageError::Backend {
            path: root.display().to_string(),
            message: error.to_string(),
        };
        std::fs::create_dir_all(root).map_err(describe)?;
        let store =
            object_store::local::LocalFileSystem::new_with_prefix(root).map_err(|error| {
                StorageError::Backend {
                    path: root.display().to_string(),
                    message: error.to_string(),
                }
            })?;
        Ok(ObjectStoreBackend::new(Arc::new(store)))
    }

    /// Memory (tests and the simulation).
    pub fn in_memory() -> Self {
        ObjectStoreBackend::new(Arc::new(object_store::memory::InMemory::new()))
    }
}

#[async_trait]
impl BlockStore for ObjectStoreBackend {
    async fn put(&self, path: &str, data: Bytes) -> Result<(), StorageError> {
        let location = object_path(path)?;
        self.store
            .put(&location, PutPayload::from_bytes(data))
            .await
            .map(|_| ())
            .map_err(|error| StorageError::from_object_store(path, error))
    }

    async fn get(&self, path: &str) -> Result<Bytes, StorageError> {
        let location = object_path(path)?;
        let result = self
            .store
            .get(&location)
            .await
            .map_err(|error| StorageError::from_object_store(path, error))?;
        result
            .bytes()
            .await
            .map_err(|error| StorageError::from_object_store(path, error))
    }

    async fn get_range(&self, path: &str, range: Range<u64>) -> Result<Bytes, StorageError> {
        let location = object_path(path)?;
        self.store
            .get_range(&location, range)
            .await
            .map_err(|error| StorageError::from_object_store(path, error))
    }

    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let location = if prefix.is_empty() {
            None
        } else {
            Some(object_path(prefix)?)
        };
        let listing = self
            .store
            .list_with_delimiter(location.as_ref())
            .await
            .map_err(|error| StorageError::from_object_store(prefix, error))?;
        let mut names: Vec<String> = listing
            .common_prefixes
            .iter()
            .filter_map(|path| path.filename().map(str::to_owned))
            .collect();
        names.sort();
        Ok(names)
    }

    async fn delete(&self, path: &str) -> Result<(), StorageError> {
        let location = object_path(path)?;
        self.store
            .delete(&location)
            .await
            .map_err(|error| StorageError::from_object_store(path, error))
    }
}

/// Counts the reads and bytes that pass through it (per request: `backendReads`, `backendBytes`).
pub struct CountingStore {
    inner: Arc<dyn BlockStore>,
    reads: AtomicU64,
    bytes_read: AtomicU64,
}

impl CountingStore {
    /// Counts what goes through to `inner`, from zero.
    pub fn new(inner: Arc<dyn BlockStore>) -> Self {
        CountingStore {
            inner,
            reads: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
        }
    }

    /// Successful `get` and `get_range` calls.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Bytes returned by those calls.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    fn count(&self, data: &Bytes) {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.bytes_read
            .fetch_add(data.len() as u64, Ordering::Relaxed);
    }
}

#[async_trait]
impl BlockStore for CountingStore {
    async fn put(&self, path: &str, data: Bytes) -> Result<(), StorageError> {
        self.inner.put(path, data).await
    }

    async fn get(&self, path: &str) -> Result<Bytes, StorageError> {
        let data = self.inner.get(path).await?;
        self.count(&data);
        Ok(data)
    }

    async fn get_range(&self, path: &str, range: Range<u64>) -> Result<Bytes, StorageError> {
        let data = self.inner.get_range(path, range).await?;
        self.count(&data);
        Ok(data)
    }

    async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        self.inner.list_dirs(prefix).await
    }

    async fn delete(&self, path: &str) -> Result<(), StorageError> {
        self.inner.delete(path).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn exercise(store: &dyn BlockStore) {
        store
            .put("t1/b1/meta.json", Bytes::from_static(b"{}"))
            .await
            .expect("put");
        store
            .put("t1/b2/data", Bytes::from_static(b"0123456789"))
            .await
            .expect("put");
        store
            .put("t2/b3/data", Bytes::from_static(b"x"))
            .await
            .expect("put");
        assert_eq!(store.list_dirs("").await.expect("lists"), vec!["t1", "t2"]);
        assert_eq!(
            store.list_dirs("t1").await.expect("lists"),
            vec!["b1", "b2"]
        );
        assert!(store.list_dirs("t9").await.expect("lists").is_empty());
        assert_eq!(
            store
                .get_range("t1/b2/data", 2..5)
                .await
                .expect("range")
                .as_ref(),
            b"234"
        );
        assert!(matches!(
            store.get("t1/b9/data").await,
            Err(StorageError::NotFound(_))
        ));
        assert!(matches!(
            store.get("../etc/passwd").await,
            Err(StorageError::InvalidPath(_))
        ));
        store.delete("t2/b3/data").await.expect("delete");
        assert!(matches!(
            store.get("t2/b3/data").await,
            Err(StorageError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn memory_backend() {
        exercise(&ObjectStoreBackend::in_memory()).await;
    }

    #[tokio::test]
    async fn local_backend() {
        let dir = tempfile::tempdir().expect("tempdir");
        exercise(&ObjectStoreBackend::local(&dir.path().join("blocks")).expect("opens")).await;
    }

    #[tokio::test]
    async fn counting_store_counts_reads() {
        let counting = CountingStore::new(Arc::new(ObjectStoreBackend::in_memory()));
        counting
            .put("a/b", Bytes::from_static(b"12345"))
            .await
            .expect("put");
        counting.get("a/b").await.expect("get");
        counting.get_range("a/b", 0..2).await.expect("range");
        assert_eq!(counting.reads(), 2);
        assert_eq!(counting.bytes_read(), 7);
    }
}
