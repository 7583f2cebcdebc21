use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;

use super::super::record::SEGMENT_HEADER;
use super::super::{MemWalDisk, WalDisk, WalError, WalWriter, replay};
use super::{payloads, segment_image};

fn record_payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..200), 1..20)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the cut and whichever byte is flipped, replay returns exactly the records that
    /// lie wholly before the damage (never a corrupted or invented one) and truncates the segment
    /// to them; damage inside the header refuses the segment instead.
    #[test]
    fn replay_returns_exactly_the_intact_prefix(
        records in record_payloads(),
        cut_at in any::<prop::sample::Index>(),
        corruption in proptest::option::of((any::<prop::sample::Index>(), 1u8..=255)),
    ) {
        let (image, record_ends) = segment_image(&records);
        let cut = cut_at.index(image.len() + 1);
        let mut damaged = image[..cut].to_vec();
        let corrupt_offset = match corruption {
            Some((at, flip)) if cut > 0 => {
                let offset = at.index(cut);
                damaged[offset] ^= flip;
                Some(offset)
            }
            _ => None,
        };
        let disk = MemWalDisk::new();
        disk.put_segment(1, damaged);
        let outcome = replay(&disk);

        let header_damaged = corrupt_offset.is_some_and(|offset| offset < SEGMENT_HEADER.len());
        if header_damaged {
            let refused = matches!(
                outcome,
                Err(WalError::ForeignSegment { .. } | WalError::UnsupportedVersion { .. })
            );
            prop_assert!(refused, "damaged header must be refused: {:?}", outcome);
            return Ok(());
        }
        let report = match outcome {
            Ok(report) => report,
            Err(error) => return Err(TestCaseError::fail(format!("replay failed: {error}"))),
        };
        let intact_until = corrupt_offset.map_or(cut, |offset| offset.min(cut));
        let intact_count = record_ends.iter().take_while(|end| **end <= intact_until).count();
        let expected: Vec<Bytes> = records[..intact_count].iter().cloned().map(Bytes::from).collect();
        prop_assert_eq!(payloads(&report), expected);
        let kept_len = if cut < SEGMENT_HEADER.len() {
            0
        } else {
            intact_count.checked_sub(1).map_or(SEGMENT_HEADER.len(), |last| record_ends[last])
        };
        prop_assert_eq!(disk.total_len(1), Some(kept_len));
        prop_assert_eq!(report.truncated_bytes, (cut - kept_len) as u64);
    }

    /// Any bytes at all, with or without a valid header, replay without panicking.
    #[test]
    fn arbitrary_bytes_as_a_segment_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        with_header in any::<bool>(),
    ) {
        let mut segment = if with_header { SEGMENT_HEADER.to_vec() } else { Vec::new() };
        segment.extend_from_slice(&bytes);
        let disk = MemWalDisk::new();
        disk.put_segment(1, segment.clone());
        if let Ok(report) = replay(&disk) {
            let kept_len = disk.total_len(1).unwrap_or_default();
            prop_assert!(kept_len <= segment.len());
            prop_assert_eq!(report.truncated_bytes, (segment.len() - kept_len) as u64);
        }
    }

    /// Batches written through the writer, with a sync failure injected at a random batch and
    /// small segments that force rotations: after a crash, replay returns exactly the batches
    /// acknowledged before the failure.
    #[test]
    fn acknowledged_batches_survive_a_crash(
        batches in proptest::collection::vec(record_payloads(), 1..8),
        failing_batch in any::<prop::sample::Index>(),
        segment_max_bytes in 16u64..2048,
    ) {
        let disk = MemWalDisk::new();
        let shared_disk: Arc<dyn WalDisk> = Arc::new(disk.clone());
        let mut writer = match WalWriter::create(Arc::clone(&shared_disk), 1, segment_max_bytes) {
            Ok(writer) => writer,
            Err(error) => return Err(TestCaseError::fail(format!("create failed: {error}"))),
        };
        let failing_index = failing_batch.index(batches.len() + 1);
        let mut acknowledged = Vec::new();
        for (index, batch) in batches.iter().enumerate() {
            disk.fail_syncs(index == failing_index);
            let batch_payloads: Vec<Bytes> = batch.iter().cloned().map(Bytes::from).collect();
            if writer.write_batch(&batch_payloads).is_ok() {
                acknowledged.extend(batch_payloads);
            }
        }
        disk.fail_syncs(false);
        disk.crash();
        let report = match replay(shared_disk.as_ref()) {
            Ok(report) => report,
            Err(error) => return Err(TestCaseError::fail(format!("replay failed: {error}"))),
        };
        prop_assert_eq!(payloads(&report), acknowledged);
    }
}
