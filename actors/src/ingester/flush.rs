//! A flush round: the cut blocks are encoded and uploaded, and WAL segments are deleted only once
//! every block of the round is in object storage.
//!
//! WAL safety: [`FlushRound::start`] computes the checkpoint and submits the WAL rotation and the
//! checkpoint appends synchronously, in the same handler that applies pushes, so every record in
//! a segment older than the rotation is either in the checkpoint (written to the new segment) or
//! in a block of the round. The actor and the simulation both drive this code.

use std::sync::Arc;
use std::time::Instant;

use vivace_storage::backend::BlockStore;
use vivace_storage::block::{BlockConfig, BlockMeta, encode_sorted_block};
use vivace_storage::wal::{Pending, Wal, WalPosition};

use super::{CompletingBlock, Ingester};
use crate::metrics::ComponentMetrics;
use crate::seams::{BlockingPool, run_blocking};

/// A round started and not yet run.
pub struct FlushRound {
    blocks: Vec<Arc<CompletingBlock>>,
    rotation: Pending<u64>,
    checkpoint_appends: Vec<Pending<WalPosition>>,
    wal: Wal,
}

impl FlushRound {
    /// Starts a round over every completing block, or `None` when there is nothing to flush.
    pub fn start(logic: &Ingester, wal: &Wal) -> Option<FlushRound> {
        let blocks: Vec<Arc<CompletingBlock>> = logic.completing_blocks().to_vec();
        if blocks.is_empty() {
            return None;
        }
        let excluded: Vec<uuid::Uuid> = blocks.iter().map(|block| block.block_id).collect();
        let checkpoint = logic.checkpoint(&excluded);
        let rotation = wal.submit_rotate();
        let checkpoint_appends = checkpoint
            .iter()
            .map(|record| wal.submit_append(record.to_payload()))
            .collect();
        Some(FlushRound {
            blocks,
            rotation,
            checkpoint_appends,
            wal: wal.clone(),
        })
    }

    /// The blocks of the round.
    pub fn blocks(&self) -> &[Arc<CompletingBlock>] {
        &self.blocks
    }

    /// Uploads the blocks; returns those now in storage (the caller marks them flushed).
    pub async fn run(
        self,
        store: Arc<dyn BlockStore>,
        block_config: BlockConfig,
        metrics: &ComponentMetrics,
        pool: &dyn BlockingPool,
    ) -> Vec<BlockMeta> {
        let new_segment = match self.rotation.await {
            Ok(segment) => segment,
            Err(error) => {
                tracing::error!(%error, "wal rotation failed; flush postponed");
                return Vec::new();
            }
        };
        for append in self.checkpoint_appends {
            if let Err(error) = append.await {
                tracing::error!(%error, "wal checkpoint append failed; flush postponed");
                return Vec::new();
            }
        }
        let mut flushed = Vec::new();
        for block in &self.blocks {
            match flush_block(
                Arc::clone(block),
                Arc::clone(&store),
                block_config.clone(),
                metrics,
                pool,
            )
            .await
            {
                Ok(meta) => flushed.push(meta),
                Err(error) => {
                    metrics.failed_flushes.inc();
                    tracing::error!(block = %block.block_id, tenant = %block.tenant, %error, "block flush failed; will retry");
                }
            }
        }
        if flushed.len() == self.blocks.len()
            && let Err(error) = self.wal.remove_segments_below(new_segment).await
        {
            tracing::warn!(%error, "could not remove flushed wal segments");
        }
        flushed
    }
}

async fn flush_block(
    block: Arc<CompletingBlock>,
    store: Arc<dyn BlockStore>,
    block_config: BlockConfig,
    metrics: &ComponentMetrics,
    pool: &dyn BlockingPool,
) -> Result<BlockMeta, String> {
    let started = Instant::now();
    let encode_input = Arc::clone(&block);
    let encoded = run_blocking(pool, move || {
        encode_sorted_block(
            &encode_input.tenant,
            encode_input.block_id,
            encode_input.combined_traces(),
            &block_config,
        )
    })
    .await
    .map_err(|error| format!("block encoder: {error}"))?
    .map_err(|error| error.to_string())?;
    encoded
        .upload(store.as_ref())
        .await
        .map_err(|error| error.to_string())?;
    metrics.blocks_flushed.inc();
    metrics
        .flush_duration_seconds
        .observe(started.elapsed().as_secs_f64());
    tracing::info!(block = %block.block_id, tenant = %block.tenant, traces = block.traces.len(), "block flushed");
    Ok(encoded.meta.clone())
}
