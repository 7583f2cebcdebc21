//! Joining the gossip cluster and the tasks that follow it: the ring, the ring and gossip
//! metrics, and the querier's workers for every frontend.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chitchat::transport::UdpTransport;
use vivace_actors::frontend::JobExecutor;
use vivace_actors::frontend::worker::RemoteWorkers;
use vivace_actors::remote::ChannelFactory;
use vivace_actors::seams::Clock;
use vivace_ring::Ring;
use vivace_ring::cluster::{Cluster, ClusterConfig, NodeInfo, build_ring};
use vivace_ring::role::Role;

use crate::cluster_settings::PHI_THRESHOLD;
use crate::settings::NodeSettings;
use crate::telemetry::Telemetry;

/// How long a dead node stays listed before gossip forgets it.
const DEAD_NODE_GRACE_PERIOD: Duration = Duration::from_secs(5 * 60);

/// Starts gossip on UDP and publishes this node (not ready; JOINING when it is an ingester).
pub async fn join(settings: &NodeSettings, clock: &dyn Clock) -> anyhow::Result<Cluster> {
    let cluster_settings = &settings.cluster;
    let config = ClusterConfig {
        node_id: cluster_settings.node_id.clone(),
        generation: clock.now_unix_nanos(),
        cluster_id: "vivace".to_owned(),
        listen_address: cluster_settings.gossip_listen,
        advertise_address: cluster_settings.gossip_advertise,
        seeds: cluster_settings.join_members.clone(),
        gossip_interval: cluster_settings.gossip_interval,
        phi_threshold: PHI_THRESHOLD,
        dead_node_grace_period: DEAD_NODE_GRACE_PERIOD,
    };
    let info = NodeInfo {
        roles: cluster_settings.target.roles.clone(),
        grpc_address: cluster_settings.grpc_advertise.clone(),
        http_address: cluster_settings.http_advertise.clone(),
        zone: cluster_settings.zone.clone(),
    };
    Cluster::join(&config, &info, &UdpTransport).await
}

/// Rebuilds the ring whenever the live members change, and keeps the ring metrics current.
pub fn spawn_ring_updater(
    cluster: Cluster,
    ring: Arc<RwLock<Ring>>,
    replication_factor: usize,
    telemetry: Arc<Telemetry>,
    healthy_distributors: Arc<AtomicUsize>,
) {
    let mut members = cluster.watch_live_members();
    tokio::spawn(async move {
        loop {
            let snapshot = Arc::clone(&members.borrow_and_update());
            let rebuilt = build_ring(&snapshot, replication_factor);
            let distributors = snapshot
                .iter()
                .filter(|member| member.has_role(Role::Distributor))
                .count();
            healthy_distributors.store(distributors.max(1), Ordering::Relaxed);
            for state in ["JOINING", "ACTIVE", "LEAVING"] {
                let count = rebuilt.count_by_state().get(state).copied().unwrap_or(0);
                telemetry
                    .ring_members
                    .get_or_create(&vec![
                        ("name", "ingester".to_owned()),
                        ("state", state.to_owned()),
                    ])
                    .set(count as i64);
            }
            match ring.write() {
                Ok(mut current) => *current = rebuilt,
                Err(_) => {
                    tracing::error!("ring lock poisoned; ring updates stop");
                    return;
                }
            }
            if members.changed().await.is_err() {
                return;
            }
        }
    });
}

/// Refreshes the gossip member gauges and the dead-ingester count every few seconds.
pub fn spawn_gossip_metrics(cluster: Cluster, telemetry: Arc<Telemetry>, period: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(period);
        loop {
            ticker.tick().await;
            let members = cluster.all_members().await;
            let live = members.iter().filter(|member| member.alive).count();
            telemetry.gossip_live_members.set(live as i64);
            telemetry
                .gossip_dead_members
                .set((members.len() - live) as i64);
            let unhealthy = vivace_ring::cluster::ring_members(&members)
                .iter()
                .filter(|view| !view.alive)
                .count();
            telemetry
                .ring_members
                .get_or_create(&vec![
                    ("name", "ingester".to_owned()),
                    ("state", "Unhealthy".to_owned()),
                ])
                .set(unhealthy as i64);
        }
    });
}

/// Keeps this querier pulling jobs from every ready frontend of the cluster (its own frontend,
/// if any, is served in process instead).
pub fn spawn_querier_workers(
    cluster: Cluster,
    channels: Arc<dyn ChannelFactory>,
    executor: Arc<dyn JobExecutor>,
    parallelism: usize,
    serve_own_frontend_locally: bool,
) {
    let querier_id = format!("{}-{}", cluster.node_id(), cluster.generation());
    let mut workers = RemoteWorkers::new(channels, querier_id, executor, parallelism);
    let mut members = cluster.watch_live_members();
    tokio::spawn(async move {
        loop {
            let frontends: Vec<String> = members
                .borrow_and_update()
                .iter()
                .filter(|member| member.has_role(Role::QueryFrontend))
                .filter(|member| !(member.is_self && serve_own_frontend_locally))
                .map(|member| member.grpc_address.clone())
                .collect();
            workers.update(frontends);
            if members.changed().await.is_err() {
                return;
            }
        }
    });
}
