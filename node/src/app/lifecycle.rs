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

use super::servers::Running;

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

/// Waits for a signal, `POST /shutdown`, or a server that stopped on its own (an error).
pub async fn wait_for_stop(
    running: &mut Running,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<&'static str> {
    tokio::select! {
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
