//! Trace-by-ID sharding over the block-id space.

use uuid::Uuid;

/// An inclusive range of block ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRange {
    pub start: Uuid,
    pub end: Uuid,
}

impl BlockRange {
    pub fn contains(&self, id: &Uuid) -> bool {
        *id >= self.start && *id <= self.end
    }

    pub fn full() -> Self {
        BlockRange {
            start: Uuid::nil(),
            end: Uuid::max(),
        }
    }
}

/// `shards` contiguous ranges covering every id.
pub fn block_boundaries(shards: usize) -> Vec<BlockRange> {
    let count = shards.clamp(1, 100_000) as u128;
    let width = u128::MAX / count;
    (0..count)
        .map(|index| {
            let start = index * width;
            let end = if index + 1 == count {
                u128::MAX
            } else {
                (index + 1) * width - 1
            };
            BlockRange {
                start: Uuid::from_u128(start),
                end: Uuid::from_u128(end),
            }
        })
        .collect()
}

/// Block shards of a query.
pub fn shard_count(blocks: usize, blocks_per_shard: usize, max_shards: usize) -> usize {
    blocks
        .div_ceil(blocks_per_shard.max(1))
        .clamp(1, max_shards.max(1))
}
