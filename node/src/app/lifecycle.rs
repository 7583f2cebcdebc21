//! A node's lifecycle: JOINING → ACTIVE once the WAL is replayed and the servers are up; on
//! SIGTERM, SIGINT or `POST /shutdown` an ingester turns LEAVING, stops taking writes, flushes
//! everything to object storage, and the node leaves the cluster.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix::Addr;
use anyhow::Context as _;
use tokio::sync::watch;
use vivace_actors::ingester::actor::{IngesterActor, Leave};
use vivace_ring::IngesterState;
use vivace_ring::cluster::Cluster;
use vivace_storage::wal::Wal;

use super::servers::Running;

/// How often the WAL's health is checked.
const WAL_CHECK_PERIOD: Duration = Duration::from_secs(1);

/// The longest a leaving ingester waits for its last flush.
const LEAVE_FLUSH_TIMEOUT: Duration = Duration::from_secs(5 * 60);

fn set_reason(reason: &Mutex<String>, text: &str) {
    *reason
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = text.to_owned();
}

/// Publishes ACTIVE (ingesters) and READY, and turns `/ready` on.
pub async fn become_ready(
    cluster: Option<&Cluster>,
    runs_ingester: bool,
    ready: &AtomicBool,
    reason: &Mutex<String>,
) {
    if let Some(cluster) = cluster {
        if runs_ingester {
            cluster.set_ingester_state(IngesterState::Active).await;
        }
        cluster.set_ready(true).await;
    }
    set_reason(reason, "");
    ready.store(true, Ordering::Release);
}

/// Resolves once the WAL stopped after an I/O error (it is fail-stop: no append can succeed
/// again in this process); never resolves on nodes without a WAL.
pub async fn watch_wal(wal: Option<Wal>) {
    let Some(wal) = wal else {
        return std::future::pending().await;
    };
    let mut ticker = tokio::time::interval(WAL_CHECK_PERIOD);
    loop {
        ticker.tick().await;
        if wal.has_failed() {
            return;
        }
    }
}

/// Waits for a signal, `POST /shutdown`, a failed WAL, or a server that stopped on its own.
pub async fn wait_for_stop(
    running: &mut Running,
    mut shutdown: watch::Receiver<bool>,
    wal_failure: impl std::future::Future<Output = ()>,
) -> anyhow::Result<&'static str> {
    tokio::select! {
        _ = wal_failure => {
            tracing::error!("the wal stopped after an i/o error; exiting so that a restart replays it");
            Err(anyhow::anyhow!("the wal failed: exiting so that a restart replays it"))
        }
        signal = wait_for_stop_signal() => Ok(signal),
        _ = shutdown.wait_for(|requested| *requested) => Ok("shutdown requested"),
        Some(finished) = running.join_next() => {
            let outcome = finished.context("server task panicked")?;
            outcome?;
            Ok("a server stopped")
        }
    }
}

/// Leaves: LEAVING and a full flush for an ingester (when `flush` is set), then stops gossip.
pub async fn leave(
    cluster: Option<&Cluster>,
    ingester: Option<&Addr<IngesterActor>>,
    flush: bool,
    reason: &Mutex<String>,
) {
    set_reason(reason, "Ingester is shutting down");
    if let Some(cluster) = cluster {
        cluster.set_ready(false).await;
        if ingester.is_some() {
            cluster.set_ingester_state(IngesterState::Leaving).await;
        }
    }
    if let (Some(ingester), true) = (ingester, flush) {
        tracing::info!("flushing everything before leaving");
        match tokio::time::timeout(LEAVE_FLUSH_TIMEOUT, ingester.send(Leave)).await {
            Ok(Ok(())) => tracing::info!("ingester flushed; leaving"),
            Ok(Err(error)) => tracing::error!(%error, "ingester stopped before flushing"),
            Err(_) => tracing::error!("flush before leaving timed out; the wal keeps the rest"),
        }
    }
    if let Some(cluster) = cluster {
        cluster.leave().await;
    }
}

async fn wait_for_stop_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return "interrupt";
    };
    tokio::select! {
        _ = terminate.recv() => "terminate",
        _ = tokio::signal::ctrl_c() => "interrupt",
    }
}
