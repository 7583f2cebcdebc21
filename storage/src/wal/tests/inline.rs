//! The inline execution (no writer thread): each command runs in the caller, in submission order.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::payloads;
use crate::wal::{MemWalDisk, Wal, WalConfig, WalExecution};

fn open_inline(disk: &MemWalDisk, ack_delay: Duration) -> Wal {
    let (wal, _) = Wal::open_with(
        Arc::new(disk.clone()),
        WalConfig::default(),
        WalExecution::Inline { ack_delay },
    )
    .expect("wal opens");
    wal
}

#[tokio::test]
async fn an_inline_append_is_synced_when_submitted() {
    let disk = MemWalDisk::new();
    let wal = open_inline(&disk, Duration::ZERO);
    let first = wal.submit_append(Bytes::from_static(b"first"));
    let rotated = wal.submit_rotate();
    let second = wal.submit_append(Bytes::from_static(b"second"));
    // Crash before anyone awaits: both records were written and synced at submission.
    drop(wal);
    disk.crash();
    let (_, report) = Wal::open(Arc::new(disk.clone()), WalConfig::default()).expect("reopens");
    assert_eq!(
        payloads(&report),
        vec![Bytes::from_static(b"first"), Bytes::from_static(b"second")]
    );
    assert_eq!(report.segments, 2, "the rotation ran between the appends");
    drop((first, rotated, second));
}

#[tokio::test(start_paused = true)]
async fn a_slow_sync_delays_only_the_answer() {
    let disk = MemWalDisk::new();
    let wal = open_inline(&disk, Duration::from_millis(250));
    let started = tokio::time::Instant::now();
    let position = wal
        .append(Bytes::from_static(b"slow"))
        .await
        .expect("append succeeds");
    assert_eq!(position.segment, 1);
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn an_inline_wal_fails_stop_after_a_failed_sync() {
    let disk = MemWalDisk::new();
    let wal = open_inline(&disk, Duration::ZERO);
    disk.fail_syncs(true);
    assert!(wal.append(Bytes::from_static(b"lost")).await.is_err());
    disk.fail_syncs(false);
    assert!(wal.has_failed());
    assert!(wal.append(Bytes::from_static(b"refused")).await.is_err());
}
