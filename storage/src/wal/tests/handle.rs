use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::super::{MAX_RECORD_BYTES, MemWalDisk, Wal, WalConfig, WalDisk, WalError, WalWriter};
use super::{numbered_payloads, open_mem, payloads};

fn wait_until(condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "condition not reached in time");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Releases held syncs when dropped, so a failing test cannot leave the writer blocked (the drop
/// of the last `Wal` waits for the writer thread).
struct ReleaseSyncsOnDrop(MemWalDisk);

impl Drop for ReleaseSyncsOnDrop {
    fn drop(&mut self) {
        self.0.hold_syncs(false);
    }
}

#[test]
fn wal_handles_are_send_sync_and_clone() {
    fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync_clone::<Wal>();
    assert_send_sync_clone::<MemWalDisk>();
    let _object_safe: Option<Arc<dyn WalDisk>> = None;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_one_sync() {
    let disk = MemWalDisk::new();
    let (wal, _) = open_mem(&disk);
    let syncs_before = wal.stats().fsyncs;
    let _release_on_failure = ReleaseSyncsOnDrop(disk.clone());
    disk.hold_syncs(true);
    let first = wal.submit_append(Bytes::from_static(b"first"));
    wait_until(|| disk.held_syncs() == 1);
    let mut tasks = Vec::new();
    for record in numbered_payloads(49) {
        let wal_clone = wal.clone();
        tasks.push(tokio::spawn(async move {
            wal_clone.append(Bytes::from(record)).await
        }));
    }
    // Let every task queue its append behind the held sync.
    tokio::time::sleep(Duration::from_millis(50)).await;
    disk.hold_syncs(false);
    first.await.expect("first append");
    for task in tasks {
        task.await.expect("task").expect("append");
    }
    let stats = wal.stats();
    assert_eq!(stats.appends, 50);
    assert!(
        stats.fsyncs < stats.appends,
        "group commit shares syncs: {stats:?}"
    );
    assert!(
        stats.fsyncs - syncs_before <= 3,
        "the queued appends share a sync: {stats:?}"
    );
    drop(wal);
    let (_, report) = open_mem(&disk);
    assert_eq!(report.records.len(), 50);
}

#[tokio::test]
async fn only_synced_appends_survive_a_crash() {
    let disk = MemWalDisk::new();
    let (wal, _) = open_mem(&disk);
    wal.append(Bytes::from_static(b"acknowledged"))
        .await
        .expect("append");
    assert!(!wal.has_failed());
    disk.fail_syncs(true);
    let failed = wal.append(Bytes::from_static(b"never synced")).await;
    assert!(wal.has_failed(), "the failure is visible to the node");
    assert!(
        matches!(failed, Err(WalError::Io(_))),
        "a failed sync fails the append: {failed:?}"
    );
    let refused = wal.append(Bytes::from_static(b"after the failure")).await;
    assert!(
        matches!(refused, Err(WalError::Closed)),
        "the writer stops: {refused:?}"
    );
    assert!(matches!(wal.rotate().await, Err(WalError::Closed)));
    drop(wal);
    disk.crash();
    disk.fail_syncs(false);
    let (_, report) = open_mem(&disk);
    assert_eq!(payloads(&report), vec![Bytes::from_static(b"acknowledged")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_append_survives_a_crash() {
    let disk = MemWalDisk::new();
    let (wal, _) = open_mem(&disk);
    let mut tasks = Vec::new();
    for (index, record) in numbered_payloads(200).into_iter().enumerate() {
        if index == 120 {
            disk.fail_syncs(true);
        }
        let wal_clone = wal.clone();
        let payload = Bytes::from(record);
        tasks.push(tokio::spawn(async move {
            let outcome = wal_clone.append(payload.clone()).await;
            (payload, outcome)
        }));
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        let (payload, outcome) = task.await.expect("task");
        if let Ok(position) = outcome {
            acknowledged.push((position, payload));
        }
    }
    drop(wal);
    disk.crash();
    disk.fail_syncs(false);
    let (_, report) = open_mem(&disk);
    acknowledged.sort_by_key(|(position, _)| *position);
    let acknowledged_payloads: Vec<Bytes> = acknowledged
        .into_iter()
        .map(|(_, payload)| payload)
        .collect();
    assert_eq!(
        payloads(&report),
        acknowledged_payloads,
        "exactly the acknowledged records, in order"
    );
}

#[tokio::test]
async fn rotation_puts_earlier_records_in_lower_segments_and_removal_keeps_newer() {
    let disk = MemWalDisk::new();
    let (wal, _) = open_mem(&disk);
    let first = wal
        .append(Bytes::from_static(b"old"))
        .await
        .expect("append");
    let new_segment = wal.rotate().await.expect("rotate");
    assert!(first.segment < new_segment);
    assert_eq!(wal.current_segment(), new_segment);
    let second = wal
        .append(Bytes::from_static(b"new"))
        .await
        .expect("append");
    assert_eq!(second.segment, new_segment);
    wal.remove_segments_below(new_segment)
        .await
        .expect("remove");
    assert_eq!(disk.list_segments().expect("lists"), vec![new_segment]);
    drop(wal);
    let (_, report) = open_mem(&disk);
    assert_eq!(payloads(&report), vec![Bytes::from_static(b"new")]);
}

#[tokio::test]
async fn a_submitted_rotation_is_ordered_after_submitted_appends() {
    let disk = MemWalDisk::new();
    let (wal, _) = open_mem(&disk);
    let before: Vec<_> = (0..20u8)
        .map(|index| wal.submit_append(Bytes::from(vec![index + 1])))
        .collect();
    let rotation = wal.submit_rotate();
    let after = wal.submit_append(Bytes::from_static(b"after"));
    let new_segment = rotation.await.expect("rotate");
    for append in before {
        assert!(append.await.expect("append").segment < new_segment);
    }
    assert_eq!(after.await.expect("append").segment, new_segment);
}

#[tokio::test]
async fn removal_never_deletes_the_current_segment() {
    let disk = MemWalDisk::new();
    let (wal, _) = open_mem(&disk);
    wal.append(Bytes::from_static(b"kept"))
        .await
        .expect("append");
    wal.remove_segments_below(u64::MAX).await.expect("remove");
    assert_eq!(
        disk.list_segments().expect("lists"),
        vec![wal.current_segment()]
    );
    drop(wal);
    let (_, report) = open_mem(&disk);
    assert_eq!(payloads(&report), vec![Bytes::from_static(b"kept")]);
}

#[tokio::test]
async fn a_full_segment_makes_the_next_append_open_a_new_one() {
    let disk = MemWalDisk::new();
    let config = WalConfig {
        segment_max_bytes: 64,
    };
    let (wal, _) = Wal::open(Arc::new(disk.clone()), config.clone()).expect("opens");
    let records = numbered_payloads(12);
    let mut segments = Vec::new();
    for record in &records {
        segments.push(
            wal.append(Bytes::from(record.clone()))
                .await
                .expect("append")
                .segment,
        );
    }
    assert!(
        segments.windows(2).all(|pair| pair[0] <= pair[1]),
        "segments only grow"
    );
    assert!(
        segments.last() > segments.first(),
        "the wal rotated: {segments:?}"
    );
    for id in disk.list_segments().expect("lists") {
        let before_last_record = disk.total_len(id).expect("segment") as u64;
        assert!(
            before_last_record < 64 + 8 + 64,
            "segment {id} stays near the limit"
        );
    }
    drop(wal);
    let (_, report) = Wal::open(Arc::new(disk), config).expect("reopens");
    let expected: Vec<Bytes> = records.into_iter().map(Bytes::from).collect();
    assert_eq!(payloads(&report), expected);
}

#[tokio::test]
async fn oversized_and_empty_records_are_refused_without_closing_the_wal() {
    let disk = MemWalDisk::new();
    let (wal, _) = open_mem(&disk);
    let oversized = wal
        .append(Bytes::from(vec![0u8; MAX_RECORD_BYTES + 1]))
        .await;
    assert!(matches!(oversized, Err(WalError::TooLarge { .. })));
    assert!(matches!(
        wal.append(Bytes::new()).await,
        Err(WalError::EmptyRecord)
    ));
    wal.append(Bytes::from_static(b"fine"))
        .await
        .expect("still accepts appends");
}

#[tokio::test]
async fn dropping_the_last_handle_finishes_queued_appends_first() {
    let disk = MemWalDisk::new();
    let (wal, _) = open_mem(&disk);
    let clone = wal.clone();
    let queued: Vec<_> = (0..30u8)
        .map(|index| clone.submit_append(Bytes::from(vec![index + 1])))
        .collect();
    drop(clone);
    drop(wal);
    // The drop waited for the writer: everything queued is already synced.
    disk.crash();
    for append in queued {
        append.await.expect("queued append completed");
    }
    let (_, report) = open_mem(&disk);
    assert_eq!(report.records.len(), 30);
}

#[test]
fn the_writer_syncs_once_per_batch_and_stops_after_a_failure() {
    let disk = MemWalDisk::new();
    let shared_disk: Arc<dyn WalDisk> = Arc::new(disk.clone());
    let mut writer = WalWriter::create(Arc::clone(&shared_disk), 5, u64::MAX).expect("writer");
    assert_eq!(writer.sync_count(), 1, "the header is synced");
    let batch = vec![
        Bytes::from_static(b"one"),
        Bytes::from_static(b"two"),
        Bytes::from_static(b"three"),
    ];
    let positions = writer.write_batch(&batch).expect("write");
    assert_eq!(writer.sync_count(), 2);
    assert_eq!(positions.len(), 3);
    assert_eq!(positions[0].segment, 5);
    assert_eq!(positions[0].offset, 5);
    assert_eq!(positions[1].offset, 5 + 8 + 3);
    assert!(writer.write_batch(&[]).expect("empty batch").is_empty());
    assert_eq!(writer.sync_count(), 2, "an empty batch does not sync");
    assert!(matches!(
        writer.write_batch(&[Bytes::new()]),
        Err(WalError::EmptyRecord)
    ));
    assert!(
        !writer.has_failed(),
        "an invalid payload does not stop the writer"
    );

    disk.fail_syncs(true);
    assert!(matches!(writer.write_batch(&batch), Err(WalError::Io(_))));
    assert!(writer.has_failed());
    disk.fail_syncs(false);
    assert!(matches!(writer.write_batch(&batch), Err(WalError::Closed)));
    assert!(matches!(writer.rotate(), Err(WalError::Closed)));
    disk.crash();
    let report = super::super::replay(shared_disk.as_ref()).expect("replays");
    assert_eq!(payloads(&report), batch, "only the synced batch survives");
}

#[test]
fn a_failed_rotation_stops_the_writer() {
    let disk = MemWalDisk::new();
    let shared_disk: Arc<dyn WalDisk> = Arc::new(disk.clone());
    let mut writer = WalWriter::create(Arc::clone(&shared_disk), 1, u64::MAX).expect("writer");
    disk.put_segment(2, Vec::new());
    assert!(
        matches!(writer.rotate(), Err(WalError::Io(_))),
        "segment 2 already exists"
    );
    assert!(writer.has_failed());
    assert_eq!(writer.segment_id(), 1);
    assert!(matches!(
        writer.write_batch(&[Bytes::from_static(b"x")]),
        Err(WalError::Closed)
    ));
}
