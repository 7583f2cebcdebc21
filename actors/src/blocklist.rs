//! The list of blocks in object storage per tenant, as the querier knows it: filled by polling the
//! backend and, in the same process, by the ingester as soon as it flushes a block.

use std::collections::HashMap;
use std::sync::RwLock;

use vivace_storage::backend::{BlockStore, StorageError};
use vivace_storage::block::{BlockMeta, list_blocks, list_tenants};

/// Known blocks per tenant.
#[derive(Debug, Default)]
pub struct BlockList {
    tenants: RwLock<HashMap<String, Vec<BlockMeta>>>,
}

impl BlockList {
    pub fn new() -> Self {
        BlockList::default()
    }

    /// Adds a block just flushed (no-op if already known).
    pub fn add(&self, meta: BlockMeta) {
        let Ok(mut tenants) = self.tenants.write() else {
            return;
        };
        let blocks = tenants.entry(meta.tenant_id.clone()).or_default();
        if blocks.iter().any(|known| known.block_id == meta.block_id) {
            return;
        }
        blocks.push(meta);
    }

    /// The blocks of a tenant overlapping `[start, end]` unix seconds (all when not given).
    pub fn blocks(
        &self,
        tenant: &str,
        start_seconds: Option<i64>,
        end_seconds: Option<i64>,
    ) -> Vec<BlockMeta> {
        let Ok(tenants) = self.tenants.read() else {
            return Vec::new();
        };
        let Some(blocks) = tenants.get(tenant) else {
            return Vec::new();
        };
        blocks
            .iter()
            .filter(|meta| start_seconds.is_none_or(|start| meta.end_time.timestamp() >= start))
            .filter(|meta| end_seconds.is_none_or(|end| meta.start_time.timestamp() <= end))
            .cloned()
            .collect()
    }

    /// Number of blocks across tenants.
    pub fn len(&self) -> usize {
        self.tenants
            .read()
            .map(|tenants| tenants.values().map(Vec::len).sum())
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Re-reads every tenant's blocks from the backend and replaces the list.
    pub async fn poll(&self, store: &dyn BlockStore) -> Result<usize, StorageError> {
        let mut polled: HashMap<String, Vec<BlockMeta>> = HashMap::new();
        for tenant in list_tenants(store).await? {
            let blocks = list_blocks(store, &tenant).await?;
            polled.insert(tenant, blocks);
        }
        let count = polled.values().map(Vec::len).sum();
        if let Ok(mut tenants) = self.tenants.write() {
            *tenants = polled;
        }
        Ok(count)
    }
}
