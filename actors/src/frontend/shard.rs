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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn one_shard_covers_everything() {
        assert_eq!(block_boundaries(1), vec![BlockRange::full()]);
        assert_eq!(
            block_boundaries(0),
            vec![BlockRange::full()],
            "clamped to one"
        );
        assert_eq!(
            block_boundaries(1_000_000).len(),
            100_000,
            "clamped to 100000"
        );
    }

    #[test]
    fn shard_counts() {
        assert_eq!(shard_count(0, 30, 50), 1);
        assert_eq!(shard_count(30, 30, 50), 1);
        assert_eq!(shard_count(31, 30, 50), 2);
        assert_eq!(shard_count(10_000, 30, 50), 50);
        assert_eq!(shard_count(5, 0, 50), 5, "blocks_per_shard 0 counts as 1");
    }

    proptest! {
        #[test]
        fn ranges_are_contiguous_and_cover_each_id_once(shards in 1usize..2_000, id in any::<u128>()) {
            let ranges = block_boundaries(shards);
            prop_assert_eq!(ranges.len(), shards);
            prop_assert_eq!(ranges[0].start.as_u128(), 0);
            prop_assert_eq!(ranges[ranges.len() - 1].end.as_u128(), u128::MAX);
            for pair in ranges.windows(2) {
                prop_assert_eq!(pair[1].start.as_u128(), pair[0].end.as_u128() + 1);
            }
            let uuid = Uuid::from_u128(id);
            prop_assert_eq!(ranges.iter().filter(|range| range.contains(&uuid)).count(), 1);
        }
    }
}
