use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;

use super::record::{SEGMENT_HEADER, encode_record};
use super::*;

fn open(disk: &MemWalDisk) -> (Wal, ReplayReport) {
    Wal::open(Arc::new(disk.clone()), WalConfig::default()).expect("opens")
}

fn payloads(report: &ReplayReport) -> Vec<Bytes> {
    report.records.iter().map(|record| record.payload.clone()).collect()
}

#[tokio::test]
async fn appended_records_replay_in_order() {
    let disk = MemWalDisk::new();
    let (wal, report) = open(&disk);
    assert!(report.records.is_empty());
    for index in 0..10u8 {
        wal.append(Bytes::from(vec![index; index as usize + 1])).await.expect("append");
    }
    drop(wal);
    let (_, report) = open(&disk);
    let expected: Vec<Bytes> = (0..10u8).map(|index| Bytes::from(vec![index; index as usize + 1])).collect();
    assert_eq!(payloads(&report), expected);
}

#[tokio::test]
async fn only_synced_appends_survive_a_crash() {
    let disk = MemWalDisk::new();
    let (wal, _) = open(&disk);
    wal.append(Bytes::from_static(b"acknowledged")).await.expect("append");
    // A write that reached the page cache but was never synced.
    let mut raw = disk.create_segment(wal.current_segment()).expect("segment");
    let mut unsynced = Vec::new();
    encode_record(b"lost", &mut unsynced);
    raw.append(&unsynced).expect("append");
    disk.crash();
    drop(wal);
    let (_, report) = open(&disk);
    assert_eq!(payloads(&report), vec![Bytes::from_static(b"acknowledged")]);
}

#[tokio::test]
async fn concurrent_appends_share_fsyncs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = FsWalDisk::new(dir.path()).expect("disk");
    let (wal, _) = Wal::open(Arc::new(disk.clone()), WalConfig::default()).expect("opens");
    let appends: Vec<_> = (0..200u32)
        .map(|index| wal.submit_append(Bytes::from(index.to_le_bytes().to_vec())))
        .collect();
    for append in appends {
        append.await.expect("append");
    }
    let stats = wal.stats();
    assert_eq!(stats.appends, 200);
    assert!(stats.fsyncs < 200, "group commit shares fsyncs: {stats:?}");
    drop(wal);
    let (_, report) = Wal::open(Arc::new(disk), WalConfig::default()).expect("reopens");
    assert_eq!(report.records.len(), 200);
}

#[tokio::test]
async fn rotation_orders_segments_and_removal_keeps_newer() {
    let disk = MemWalDisk::new();
    let (wal, _) = open(&disk);
    let first = wal.append(Bytes::from_static(b"old")).await.expect("append");
    let new_segment = wal.rotate().await.expect("rotate");
    assert!(first.segment < new_segment);
    let second = wal.append(Bytes::from_static(b"new")).await.expect("append");
    assert_eq!(second.segment, new_segment);
    wal.remove_segments_below(new_segment).await.expect("remove");
    drop(wal);
    let (_, report) = open(&disk);
    assert_eq!(payloads(&report), vec![Bytes::from_static(b"new")]);
}

#[tokio::test]
async fn oversized_records_are_refused() {
    let disk = MemWalDisk::new();
    let (wal, _) = open(&disk);
    let error = wal.append(Bytes::from(vec![0u8; MAX_RECORD_BYTES + 1])).await.expect_err("too large");
    assert!(matches!(error, WalError::TooLarge { .. }));
}

#[test]
fn a_torn_tail_is_cut_at_every_offset() {
    let records: Vec<&[u8]> = vec![b"alpha", b"beta", b"gamma-gamma"];
    let mut segment = SEGMENT_HEADER.to_vec();
    let mut boundaries = Vec::new();
    for record in &records {
        encode_record(record, &mut segment);
        boundaries.push(segment.len());
    }
    let last_start = boundaries[1];
    for cut in last_start..segment.len() {
        let disk = MemWalDisk::new();
        let mut writer = disk.create_segment(1).expect("segment");
        writer.append(&segment[..cut]).expect("append");
        writer.sync().expect("sync");
        let report = replay(&disk).expect("replays");
        assert_eq!(report.records.len(), 2, "cut at {cut}");
        assert_eq!(disk.synced_len(1), Some(last_start), "file truncated to the last good record");
    }
}

#[test]
fn corruption_in_an_older_segment_keeps_later_segments() {
    let disk = MemWalDisk::new();
    for id in [1u64, 2] {
        let mut segment = SEGMENT_HEADER.to_vec();
        encode_record(format!("first-{id}").as_bytes(), &mut segment);
        encode_record(format!("second-{id}").as_bytes(), &mut segment);
        let mut writer = disk.create_segment(id).expect("segment");
        writer.append(&segment).expect("append");
        writer.sync().expect("sync");
    }
    disk.corrupt(1, SEGMENT_HEADER.len() + 8 + 2);
    let report = replay(&disk).expect("replays");
    let texts: Vec<String> = report
        .records
        .iter()
        .map(|record| String::from_utf8_lossy(&record.payload).into_owned())
        .collect();
    assert_eq!(texts, vec!["first-2", "second-2"]);
    assert!(report.truncated_bytes > 0);
}

#[test]
fn files_on_disk_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = FsWalDisk::new(dir.path().join("wal")).expect("disk");
    let mut writer = WalWriter::create(Arc::new(disk.clone()), 5, u64::MAX).expect("writer");
    writer.write_batch(&[Bytes::from_static(b"one"), Bytes::from_static(b"two")]).expect("write");
    assert_eq!(disk.list_segments().expect("lists"), vec![5]);
    let report = replay(&disk).expect("replays");
    assert_eq!(report.records.len(), 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn replay_returns_a_prefix_under_truncation_and_corruption(
        records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..20),
        cut_fraction in 0.0f64..=1.0,
        corrupt_at in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut segment = SEGMENT_HEADER.to_vec();
        for record in &records {
            encode_record(record, &mut segment);
        }
        let cut = ((segment.len() as f64) * cut_fraction) as usize;
        segment.truncate(cut.max(SEGMENT_HEADER.len()));
        if let Some(index) = corrupt_at {
            let position = index.index(segment.len());
            segment[position] ^= 0x5a;
        }
        let disk = MemWalDisk::new();
        let mut writer = disk.create_segment(1).expect("segment");
        writer.append(&segment).expect("append");
        writer.sync().expect("sync");
        let report = replay(&disk).expect("replays");
        prop_assert!(report.records.len() <= records.len());
        for (replayed, original) in report.records.iter().zip(&records) {
            prop_assert_eq!(replayed.payload.as_ref(), original.as_slice());
        }
    }

    #[test]
    fn arbitrary_segments_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let disk = MemWalDisk::new();
        let mut writer = disk.create_segment(1).expect("segment");
        writer.append(&bytes).expect("append");
        writer.sync().expect("sync");
        let _ = replay(&disk);
        let mut with_header = SEGMENT_HEADER.to_vec();
        with_header.extend_from_slice(&bytes);
        let _ = super::record::decode_segment(&with_header);
    }
}
