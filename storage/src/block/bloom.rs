//! Sharded bloom filters over trace ids: `bloom-<i>` files, each with a header and a checksum so
//! that a damaged shard is detected (and then treated as "maybe present", never as absent).

use bytes::{BufMut, Bytes, BytesMut};
use xxhash_rust::xxh3::xxh3_64_with_seed;

const MAGIC: &[u8; 4] = b"VBLM";
const HEADER_BYTES: usize = 4 + 4 + 8;
const CRC_BYTES: usize = 4;

/// How many shards, bits per shard and hash functions a filter for `items` needs.
pub fn parameters(items: usize, false_positive: f64, shard_size_bytes: usize) -> (usize, u64, u32) {
    let items = items.max(1) as f64;
    let rate = false_positive.clamp(1e-9, 0.5);
    let total_bits =
        (-items * rate.ln() / (std::f64::consts::LN_2 * std::f64::consts::LN_2)).ceil();
    let hashes = ((total_bits / items) * std::f64::consts::LN_2)
        .round()
        .clamp(1.0, 30.0) as u32;
    let shard_bits = (shard_size_bytes.max(64) * 8) as f64;
    let shards = (total_bits / shard_bits).ceil().clamp(1.0, 1000.0) as usize;
    let bits_per_shard = (total_bits / shards as f64).ceil().max(64.0) as u64;
    (shards, bits_per_shard.div_ceil(64) * 64, hashes)
}

/// Which shard holds a trace id.
pub fn shard_for(trace_id: &[u8], shards: usize) -> usize {
    (xxh3_64_with_seed(trace_id, 0x5_4a7d) % shards.max(1) as u64) as usize
}

/// The bits an item sets in a shard of `bits` bits: double hashing over two xxh3 seeds.
fn bit_positions(item: &[u8], hashes: u32, bits: u64) -> impl Iterator<Item = u64> + use<> {
    let bits = bits.max(64);
    let first = xxh3_64_with_seed(item, 1);
    let second = xxh3_64_with_seed(item, 2) | 1;
    (0..u64::from(hashes)).map(move |index| first.wrapping_add(index.wrapping_mul(second)) % bits)
}

/// One shard in memory.
#[derive(Debug, Clone)]
pub struct BloomShard {
    hashes: u32,
    words: Vec<u64>,
}

impl BloomShard {
    pub fn new(bits: u64, hashes: u32) -> Self {
        BloomShard {
            hashes,
            words: vec![0; bits.div_ceil(64) as usize],
        }
    }

    fn bit_positions(&self, item: &[u8]) -> impl Iterator<Item = u64> + use<> {
        bit_positions(item, self.hashes, self.words.len() as u64 * 64)
    }

    pub fn insert(&mut self, item: &[u8]) {
        let positions: Vec<u64> = self.bit_positions(item).collect();
        for position in positions {
            self.words[(position / 64) as usize] |= 1 << (position % 64);
        }
    }

    #[cfg(test)]
    pub fn may_contain(&self, item: &[u8]) -> bool {
        self.bit_positions(item)
            .all(|position| self.words[(position / 64) as usize] & (1 << (position % 64)) != 0)
    }

    /// `VBLM`, hash count, bit count, the bits, then a crc32 of everything before.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(HEADER_BYTES + self.words.len() * 8 + CRC_BYTES);
        out.put_slice(MAGIC);
        out.put_u32_le(self.hashes);
        out.put_u64_le(self.words.len() as u64 * 64);
        for word in &self.words {
            out.put_u64_le(*word);
        }
        let crc = crc32fast::hash(&out);
        out.put_u32_le(crc);
        out.freeze()
    }

    /// Tests an item against an encoded shard without decoding it; `None` when damaged.
    pub fn check_encoded(bytes: &[u8], item: &[u8]) -> Option<bool> {
        let (hashes, bits) = Self::verified_header(bytes)?;
        let words = &bytes[HEADER_BYTES..bytes.len() - CRC_BYTES];
        let word_at = |position: u64| -> Option<u64> {
            let start = (position / 64) as usize * 8;
            let word = words.get(start..start + 8)?;
            Some(u64::from_le_bytes(word.try_into().ok()?))
        };
        for position in bit_positions(item, hashes, bits) {
            if word_at(position)? & (1 << (position % 64)) == 0 {
                return Some(false);
            }
        }
        Some(true)
    }

    /// Hash count and bit count of an encoded shard whose magic, checksum and length are right.
    fn verified_header(bytes: &[u8]) -> Option<(u32, u64)> {
        if bytes.len() < HEADER_BYTES + CRC_BYTES || &bytes[..4] != MAGIC {
            return None;
        }
        let body = &bytes[..bytes.len() - CRC_BYTES];
        let stored_crc = u32::from_le_bytes(bytes[bytes.len() - CRC_BYTES..].try_into().ok()?);
        if crc32fast::hash(body) != stored_crc {
            return None;
        }
        let hashes = u32::from_le_bytes(body[4..8].try_into().ok()?);
        let bits = u64::from_le_bytes(body[8..16].try_into().ok()?);
        let words_length = (body.len() - HEADER_BYTES) as u64;
        if hashes == 0 || bits == 0 || bits % 64 != 0 || words_length != bits / 8 {
            return None;
        }
        Some((hashes, bits))
    }

    /// Decodes a shard; `None` when damaged.
    #[cfg(test)]
    pub fn decode(bytes: &[u8]) -> Option<BloomShard> {
        let (hashes, _) = Self::verified_header(bytes)?;
        let words_bytes = &bytes[HEADER_BYTES..bytes.len() - CRC_BYTES];
        let words = words_bytes
            .chunks_exact(8)
            .map(|chunk| u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])))
            .collect();
        Some(BloomShard { hashes, words })
    }
}

/// Builds every shard of a block's filter.
pub fn build_shards(
    trace_ids: &[[u8; 16]],
    false_positive: f64,
    shard_size_bytes: usize,
) -> Vec<BloomShard> {
    let (shards, bits, hashes) = parameters(trace_ids.len(), false_positive, shard_size_bytes);
    let mut filters = vec![BloomShard::new(bits, hashes); shards];
    for trace_id in trace_ids {
        filters[shard_for(trace_id, shards)].insert(trace_id);
    }
    filters
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn false_positive_rate_is_near_the_target() {
        let ids: Vec<[u8; 16]> = (0..20_000u64)
            .map(|index| {
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&index.to_le_bytes());
                id
            })
            .collect();
        let shards = build_shards(&ids, 0.01, 4096);
        assert!(shards.len() > 1);
        for id in &ids {
            assert!(shards[shard_for(id, shards.len())].may_contain(id));
        }
        let false_positives = (1_000_000..1_020_000u64)
            .filter(|index| {
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&index.to_le_bytes());
                shards[shard_for(&id, shards.len())].may_contain(&id)
            })
            .count();
        assert!(
            false_positives < 400,
            "false positives: {false_positives} of 20000"
        );
    }

    #[test]
    fn damaged_shards_are_detected() {
        let shard = build_shards(&[[1; 16]], 0.01, 1024).remove(0);
        let mut encoded = shard.encode().to_vec();
        assert!(BloomShard::decode(&encoded).is_some());
        assert_eq!(BloomShard::check_encoded(&encoded, &[1; 16]), Some(true));
        encoded[20] ^= 1;
        assert!(BloomShard::decode(&encoded).is_none());
        assert_eq!(BloomShard::check_encoded(&encoded, &[1; 16]), None);
        assert!(BloomShard::decode(b"short").is_none());
    }

    proptest! {
        #[test]
        fn no_false_negatives(ids in proptest::collection::vec(any::<[u8; 16]>(), 1..300)) {
            let shards = build_shards(&ids, 0.01, 256);
            let decoded: Vec<BloomShard> = shards.iter().map(|shard| BloomShard::decode(&shard.encode()).expect("decodes")).collect();
            for id in &ids {
                let shard = shard_for(id, decoded.len());
                prop_assert!(decoded[shard].may_contain(id));
                prop_assert_eq!(BloomShard::check_encoded(&shards[shard].encode(), id), Some(true));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = BloomShard::decode(&bytes);
        }
    }
}
