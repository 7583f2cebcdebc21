//! Trace-by-ID sharding over the block-id space (Tempo's `blockboundary`): a query over many blocks
//! is split into jobs that each search the blocks whose ids fall in one range. Block ids are UUIDs
//! compared as 16 big-endian bytes, which is the order of [`Uuid::as_u128`].

use uuid::Uuid;

/// The most block shards a query is split into (Tempo's limit on `query_shards`).
pub const MAX_BLOCK_SHARDS: usize = 100_000;

/// An inclusive range of block ids [start, end].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRange {
    pub start: Uuid,
    pub end: Uuid,
}

impl BlockRange {
    /// True when `id` lies in the range, ends included.
    pub fn contains(&self, id: &Uuid) -> bool {
        let position = id.as_u128();
        self.start.as_u128() <= position && position <= self.end.as_u128()
    }

    /// The whole id space, from 00000000-0000-0000-0000-000000000000 to ffffffff-….
    pub fn full() -> Self {
        BlockRange {
            start: Uuid::nil(),
            end: Uuid::max(),
        }
    }
}

/// Splits the 128-bit id space into `shards` contiguous, non-overlapping, inclusive ranges covering
/// everything from 0x00..00 to 0xff..ff; shards clamped to 1..=100_000 ([`MAX_BLOCK_SHARDS`]).
/// Range sizes differ by at most one id; the larger ranges come first.
pub fn block_boundaries(shards: usize) -> Vec<BlockRange> {
    let shard_total = shards.clamp(1, MAX_BLOCK_SHARDS) as u128;
    if shard_total == 1 {
        // 2^128 ids do not fit in a u128 size; the one range is everything.
        return vec![BlockRange::full()];
    }
    // The space holds 2^128 = u128::MAX + 1 ids: `smaller_size` each, plus one more for the
    // first `larger_count` ranges.
    let mut smaller_size = u128::MAX / shard_total;
    let mut larger_count = u128::MAX % shard_total + 1;
    if larger_count == shard_total {
        smaller_size += 1;
        larger_count = 0;
    }
    let start_of = |index: u128| index * smaller_size + index.min(larger_count);
    let ranges: Vec<BlockRange> = (0..shard_total)
        .map(|index| {
            let end = if index + 1 == shard_total {
                u128::MAX
            } else {
                start_of(index + 1) - 1
            };
            BlockRange {
                start: Uuid::from_u128(start_of(index)),
                end: Uuid::from_u128(end),
            }
        })
        .collect();
    debug_assert_eq!(ranges.len() as u128, shard_total);
    debug_assert!(ranges.first().is_some_and(|first| first.start.is_nil()));
    debug_assert!(ranges.last().is_some_and(|last| last.end.is_max()));
    ranges
}

/// How many block shards a trace-by-ID query uses: ceil(blocks / blocks_per_shard), at least 1,
/// at most max_shards (Tempo: blocks_per_shard default 30). A `blocks_per_shard` or `max_shards`
/// of 0 counts as 1, and the result never exceeds [`MAX_BLOCK_SHARDS`].
pub fn shard_count(blocks: usize, blocks_per_shard: usize, max_shards: usize) -> usize {
    let wanted = blocks.div_ceil(blocks_per_shard.max(1));
    let allowed = max_shards.clamp(1, MAX_BLOCK_SHARDS);
    wanted.clamp(1, allowed)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn one_shard_is_the_whole_space() {
        assert_eq!(block_boundaries(1), vec![BlockRange::full()]);
        assert_eq!(
            block_boundaries(0),
            vec![BlockRange::full()],
            "clamped to one"
        );
        assert!(BlockRange::full().contains(&Uuid::nil()));
        assert!(BlockRange::full().contains(&Uuid::max()));
    }

    #[test]
    fn shard_counts_are_clamped() {
        assert_eq!(block_boundaries(1_000_000).len(), MAX_BLOCK_SHARDS);
        assert_eq!(block_boundaries(MAX_BLOCK_SHARDS).len(), MAX_BLOCK_SHARDS);
        assert_eq!(shard_count(1_000_000, 1, 1_000_000), MAX_BLOCK_SHARDS);
    }

    #[test]
    fn two_shards_split_at_the_middle() {
        let ranges = block_boundaries(2);
        assert_eq!(ranges[0].end.as_u128(), u128::MAX / 2);
        assert_eq!(ranges[1].start.as_u128(), 1 << 127);
        let middle = Uuid::parse_str("80000000-0000-0000-0000-000000000000").expect("uuid");
        assert!(ranges[1].contains(&middle) && !ranges[0].contains(&middle));
    }

    #[test]
    fn contains_compares_ids_as_big_endian_bytes() {
        let range = BlockRange {
            start: Uuid::from_bytes([0x10; 16]),
            end: Uuid::from_bytes([0x20; 16]),
        };
        let mut inside = [0x10; 16];
        inside[15] = 0xff;
        let mut outside = [0x20; 16];
        outside[0] = 0x21;
        assert!(range.contains(&Uuid::from_bytes(inside)));
        assert!(range.contains(&range.start) && range.contains(&range.end));
        assert!(!range.contains(&Uuid::from_bytes(outside)));
        assert!(!range.contains(&Uuid::nil()));
    }

    #[test]
    fn shard_count_edge_cases() {
        assert_eq!(shard_count(0, 30, 50), 1, "no blocks still makes one shard");
        assert_eq!(shard_count(1, 30, 50), 1);
        assert_eq!(shard_count(30, 30, 50), 1);
        assert_eq!(shard_count(31, 30, 50), 2);
        assert_eq!(shard_count(10_000, 30, 50), 50, "capped at max_shards");
        assert_eq!(shard_count(5, 0, 50), 5, "blocks_per_shard 0 counts as 1");
        assert_eq!(shard_count(5, 1, 0), 1, "max_shards 0 counts as 1");
    }

    proptest! {
        #[test]
        fn ranges_are_sorted_contiguous_and_even(shards in 1usize..3_000) {
            let ranges = block_boundaries(shards);
            prop_assert_eq!(ranges.len(), shards);
            prop_assert_eq!(ranges[0].start.as_u128(), 0);
            prop_assert_eq!(ranges[shards - 1].end.as_u128(), u128::MAX);
            for pair in ranges.windows(2) {
                prop_assert!(pair[0].start <= pair[0].end);
                prop_assert_eq!(pair[1].start.as_u128(), pair[0].end.as_u128() + 1);
            }
            let spans = ranges.iter().map(|range| range.end.as_u128() - range.start.as_u128());
            let (smallest, largest) = spans.fold((u128::MAX, 0), |(low, high), span| {
                (low.min(span), high.max(span))
            });
            prop_assert!(largest - smallest <= 1, "spans {smallest}..{largest}");
        }

        #[test]
        fn every_id_is_in_exactly_one_range(shards in 0usize..120_000, raw_id in any::<u128>()) {
            let id = Uuid::from_u128(raw_id);
            let ranges = block_boundaries(shards);
            let holders = ranges.iter().filter(|range| range.contains(&id)).count();
            prop_assert_eq!(holders, 1);
        }

        #[test]
        fn shard_count_stays_in_bounds(blocks in 0usize..100_000, per_shard in 0usize..100, max in 0usize..200) {
            let count = shard_count(blocks, per_shard, max);
            prop_assert!(count >= 1 && count <= max.max(1));
            prop_assert!(count * per_shard.max(1) >= blocks || count == max.max(1));
        }
    }
}
