use std::sync::Arc;

use bytes::Bytes;

use super::super::record::SEGMENT_HEADER;
use super::super::{FsWalDisk, MemWalDisk, Wal, WalConfig, WalDisk, WalError, replay};
use super::{numbered_payloads, open_mem, payloads, segment_image};

fn as_bytes(records: &[Vec<u8>]) -> Vec<Bytes> {
    records
        .iter()
        .map(|record| Bytes::from(record.clone()))
        .collect()
}

#[tokio::test]
async fn records_replay_in_order_after_a_clean_close() {
    let disk = MemWalDisk::new();
    let (wal, report) = open_mem(&disk);
    assert!(report.records.is_empty());
    assert_eq!(wal.current_segment(), 1);
    let records = numbered_payloads(10);
    for record in &records {
        wal.append(Bytes::from(record.clone()))
            .await
            .expect("append");
    }
    drop(wal);
    let (reopened, report) = open_mem(&disk);
    assert_eq!(payloads(&report), as_bytes(&records));
    assert!(report.records.iter().all(|record| record.segment == 1));
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(report.segments, 1);
    assert_eq!(reopened.current_segment(), 2, "appends go to a new segment");
}

#[tokio::test]
async fn a_torn_tail_is_cut_at_every_offset_and_appends_continue() {
    let records = numbered_payloads(3);
    let (image, record_ends) = segment_image(&records);
    let last_start = record_ends[1];
    for cut in last_start..image.len() {
        let disk = MemWalDisk::new();
        disk.put_segment(1, image[..cut].to_vec());
        let (wal, report) = open_mem(&disk);
        assert_eq!(payloads(&report), as_bytes(&records[..2]), "cut at {cut}");
        assert_eq!(
            report.truncated_bytes,
            (cut - last_start) as u64,
            "cut at {cut}"
        );
        assert_eq!(
            disk.total_len(1),
            Some(last_start),
            "segment truncated to the last good record"
        );
        wal.append(Bytes::from_static(b"after"))
            .await
            .expect("append after reopen");
        drop(wal);
        let (_, report) = open_mem(&disk);
        let mut expected = as_bytes(&records[..2]);
        expected.push(Bytes::from_static(b"after"));
        assert_eq!(payloads(&report), expected, "cut at {cut}");
        assert_eq!(report.truncated_bytes, 0, "nothing left to cut at {cut}");
    }
}

#[test]
fn a_corrupt_byte_in_an_older_segment_keeps_later_segments() {
    let disk = MemWalDisk::new();
    let older = vec![
        b"older-1".to_vec(),
        b"older-2".to_vec(),
        b"older-3".to_vec(),
    ];
    let newer = vec![b"newer-1".to_vec(), b"newer-2".to_vec()];
    let (older_image, older_ends) = segment_image(&older);
    disk.put_segment(1, older_image.clone());
    disk.put_segment(2, segment_image(&newer).0);
    // A payload byte of the second record.
    disk.corrupt(1, older_ends[0] + 8 + 2);
    let report = replay(&disk).expect("replays");
    let mut expected = as_bytes(&older[..1]);
    expected.extend(as_bytes(&newer));
    assert_eq!(payloads(&report), expected);
    assert_eq!(
        report.truncated_bytes,
        (older_image.len() - older_ends[0]) as u64
    );
    assert_eq!(disk.total_len(1), Some(older_ends[0]));
    assert_eq!(report.segments, 2);
}

#[test]
fn a_corrupt_length_in_the_last_segment_cuts_it_there() {
    let disk = MemWalDisk::new();
    let records = numbered_payloads(4);
    let (image, record_ends) = segment_image(&records);
    disk.put_segment(7, image);
    disk.corrupt(7, record_ends[1]);
    let report = replay(&disk).expect("replays");
    assert_eq!(payloads(&report), as_bytes(&records[..2]));
    assert_eq!(disk.total_len(7), Some(record_ends[1]));
}

#[test]
fn a_partial_segment_header_is_emptied() {
    for cut in 0..SEGMENT_HEADER.len() {
        let disk = MemWalDisk::new();
        disk.put_segment(1, segment_image(&[b"kept".to_vec()]).0);
        disk.put_segment(2, SEGMENT_HEADER[..cut].to_vec());
        let report = replay(&disk).expect("replays");
        assert_eq!(payloads(&report), vec![Bytes::from_static(b"kept")]);
        assert_eq!(report.truncated_bytes, cut as u64);
        assert_eq!(disk.total_len(2), Some(0));
    }
}

#[test]
fn a_foreign_segment_fails_the_open_and_is_left_alone() {
    let disk = MemWalDisk::new();
    disk.put_segment(3, b"not a wal segment at all".to_vec());
    let opened = Wal::open(Arc::new(disk.clone()), WalConfig::default());
    assert!(matches!(
        opened,
        Err(WalError::ForeignSegment { segment: 3 })
    ));
    assert_eq!(disk.total_len(3), Some(24));
    assert_eq!(
        disk.list_segments().expect("lists"),
        vec![3],
        "no new segment started"
    );
}

#[test]
fn a_segment_of_another_version_fails_the_open() {
    let disk = MemWalDisk::new();
    disk.put_segment(1, b"VWAL\x09future".to_vec());
    let opened = Wal::open(Arc::new(disk.clone()), WalConfig::default());
    assert!(matches!(
        opened,
        Err(WalError::UnsupportedVersion {
            segment: 1,
            version: 9
        })
    ));
}

#[tokio::test]
async fn files_on_disk_round_trip_and_a_torn_file_is_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal_dir = dir.path().join("wal");
    let disk = FsWalDisk::new(&wal_dir).expect("disk");
    let (wal, _) = Wal::open(Arc::new(disk.clone()), WalConfig::default()).expect("opens");
    wal.append(Bytes::from_static(b"one"))
        .await
        .expect("append");
    wal.append(Bytes::from_static(b"two"))
        .await
        .expect("append");
    drop(wal);
    let segment_path = wal_dir.join("00000000000000000001.wal");
    assert!(segment_path.is_file(), "segment files are named %020d.wal");
    let intact_len = std::fs::metadata(&segment_path).expect("metadata").len();
    // A record torn by a crash: framing promises more bytes than were written.
    let mut torn = std::fs::read(&segment_path).expect("read");
    torn.extend_from_slice(&100u32.to_le_bytes());
    torn.extend_from_slice(b"\0\0\0\0partial");
    std::fs::write(&segment_path, torn).expect("write");
    std::fs::write(wal_dir.join("notes.txt"), b"ignored").expect("write");

    let (wal, report) = Wal::open(Arc::new(disk.clone()), WalConfig::default()).expect("reopens");
    assert_eq!(
        payloads(&report),
        vec![Bytes::from_static(b"one"), Bytes::from_static(b"two")]
    );
    assert_eq!(report.truncated_bytes, 15);
    assert_eq!(
        std::fs::metadata(&segment_path).expect("metadata").len(),
        intact_len
    );
    assert_eq!(disk.list_segments().expect("lists"), vec![1, 2]);
    let position = wal
        .append(Bytes::from_static(b"three"))
        .await
        .expect("append");
    assert_eq!(position.segment, 2);
    assert!(
        disk.create_segment(2).is_err(),
        "an existing segment is never recreated"
    );
    drop(wal);
    let (_, report) = Wal::open(Arc::new(disk), WalConfig::default()).expect("reopens");
    assert_eq!(report.records.len(), 3);
}
