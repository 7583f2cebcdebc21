//! Cluster membership by gossip (chitchat). Every node publishes a fixed set of keys (see
//! [`member`]); this module turns chitchat's view into [`ClusterMember`]s and a watch of the live
//! ones. No other part of Vivace talks to chitchat.

pub mod member;
mod ring_view;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use chitchat::transport::Transport;
use chitchat::{ChitchatConfig, ChitchatHandle, ChitchatId, FailureDetectorConfig, spawn_chitchat};
use tokio::sync::watch;

pub use member::{ClusterMember, NodeInfo};
pub use ring_view::{RingMemberView, build_ring, ring_members};

use crate::IngesterState;
use member::{INGESTER_STATE_KEY, NOT_READY, READINESS_KEY, READY, has_required_keys};

/// How a node joins the cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The node id (`ingester.lifecycler.id`); stable across restarts.
    pub node_id: String,
    /// Start time of this process in nanoseconds: tells a restarted node apart.
    pub generation: u64,
    pub cluster_id: String,
    /// Where the gossip socket listens.
    pub listen_address: SocketAddr,
    /// What peers use to reach this node.
    pub advertise_address: SocketAddr,
    /// `memberlist.join_members`.
    pub seeds: Vec<String>,
    pub gossip_interval: Duration,
    /// Phi-accrual threshold: lower finds dead nodes sooner.
    pub phi_threshold: f64,
    /// How long a dead node stays listed (as unhealthy) before it is forgotten.
    pub dead_node_grace_period: Duration,
}

impl ClusterConfig {
    fn failure_detector(&self) -> FailureDetectorConfig {
        FailureDetectorConfig {
            phi_threshold: self.phi_threshold,
            sampling_window_size: 1_000,
            max_interval: (self.gossip_interval * 10).max(Duration::from_secs(1)),
            initial_interval: self.gossip_interval * 2,
            dead_node_grace_period: self.dead_node_grace_period,
        }
    }
}

/// When each peer's heartbeat last moved, for the ring page.
#[derive(Default)]
struct HeartbeatLog {
    /// (node id, generation) → (heartbeat, unix nanos when it was first seen at that value).
    seen: HashMap<(String, u64), (u64, u64)>,
}

/// This node's membership: its own keys, and everyone's as gossip reports them.
#[derive(Clone)]
pub struct Cluster {
    handle: Arc<ChitchatHandle>,
    self_id: ChitchatId,
    live: watch::Receiver<Arc<Vec<ClusterMember>>>,
    heartbeats: Arc<StdMutex<HeartbeatLog>>,
}

impl Cluster {
    /// Starts gossip on `transport` and publishes `info` (not ready; JOINING for an ingester).
    pub async fn join(
        config: &ClusterConfig,
        info: &NodeInfo,
        transport: &dyn Transport,
    ) -> anyhow::Result<Cluster> {
        let self_id = ChitchatId::new(
            config.node_id.clone(),
            config.generation,
            config.advertise_address,
        );
        let chitchat_config = ChitchatConfig {
            chitchat_id: self_id.clone(),
            cluster_id: config.cluster_id.clone(),
            gossip_interval: config.gossip_interval,
            listen_addr: config.listen_address,
            seed_nodes: config.seeds.clone(),
            failure_detector_config: config.failure_detector(),
            marked_for_deletion_grace_period: Duration::from_secs(3_600),
            catchup_callback: None,
            extra_liveness_predicate: Some(Box::new(has_required_keys)),
            protocol_version: chitchat::ProtocolVersion::V0,
        };
        let handle = spawn_chitchat(chitchat_config, info.initial_key_values(), transport).await?;
        let chitchat_watch = handle.chitchat().lock().await.live_nodes_watcher();
        let (sender, live) = watch::channel(Arc::new(Vec::new()));
        spawn_live_member_task(chitchat_watch, self_id.clone(), sender);
        tracing::info!(
            node = %config.node_id,
            generation = config.generation,
            gossip = %config.advertise_address,
            seeds = ?config.seeds,
            "joined gossip"
        );
        Ok(Cluster {
            handle: Arc::new(handle),
            self_id,
            live,
            heartbeats: Arc::default(),
        })
    }

    pub fn node_id(&self) -> &str {
        &self.self_id.node_id
    }

    pub fn generation(&self) -> u64 {
        self.self_id.generation_id
    }

    /// Publishes this ingester's lifecycle state.
    pub async fn set_ingester_state(&self, state: IngesterState) {
        self.set_key(INGESTER_STATE_KEY, state.as_str()).await;
        tracing::info!(node = %self.self_id.node_id, state = state.as_str(), "ingester state changed");
    }

    /// Publishes readiness.
    pub async fn set_ready(&self, ready: bool) {
        self.set_key(READINESS_KEY, if ready { READY } else { NOT_READY })
            .await;
    }

    async fn set_key(&self, key: &str, value: &str) {
        let chitchat = self.handle.chitchat();
        let mut guard = chitchat.lock().await;
        guard.self_node_state().set(key, value);
    }

    /// Live members that published their keys (this node included).
    pub fn live_members(&self) -> Arc<Vec<ClusterMember>> {
        Arc::clone(&self.live.borrow())
    }

    /// A watch of the live members: changes when a node joins, leaves, dies or changes a key.
    pub fn watch_live_members(&self) -> watch::Receiver<Arc<Vec<ClusterMember>>> {
        self.live.clone()
    }

    /// Every known member, dead ones included (marked `alive: false`), in (node id, generation)
    /// order.
    pub async fn all_members(&self) -> Vec<ClusterMember> {
        let chitchat = self.handle.chitchat();
        let guard = chitchat.lock().await;
        let live_ids: Vec<ChitchatId> = guard.live_nodes().cloned().collect();
        let mut members: BTreeMap<(String, u64), ClusterMember> = BTreeMap::new();
        for id in guard.live_nodes().chain(guard.dead_nodes()) {
            let Some(state) = guard.node_state(id) else {
                continue;
            };
            if !has_required_keys(state) {
                continue;
            }
            let alive = live_ids.contains(id);
            let member = ClusterMember::from_state(id, state, alive, *id == self.self_id);
            members.insert((member.node_id.clone(), member.generation), member);
        }
        members.into_values().collect()
    }

    /// Records heartbeat movements at `now_unix_nanos`; returns, per (node id, generation), the
    /// time its heartbeat last moved.
    pub fn note_heartbeats(
        &self,
        members: &[ClusterMember],
        now_unix_nanos: u64,
    ) -> HashMap<(String, u64), u64> {
        let mut log = self
            .heartbeats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut last_moved = HashMap::new();
        for member in members {
            let key = (member.node_id.clone(), member.generation);
            let entry = log
                .seen
                .entry(key.clone())
                .or_insert((member.heartbeat, now_unix_nanos));
            if entry.0 != member.heartbeat || member.is_self {
                *entry = (member.heartbeat, now_unix_nanos);
            }
            last_moved.insert(key, entry.1);
        }
        last_moved
    }

    /// Stops gossiping (peers will see this node's heartbeat stop).
    pub async fn leave(&self) {
        if let Err(error) = self.handle.initiate_shutdown() {
            tracing::warn!(%error, "gossip shutdown failed");
        }
    }
}

/// Turns chitchat's live-node watch into a watch of parsed members.
fn spawn_live_member_task(
    mut chitchat_watch: watch::Receiver<BTreeMap<ChitchatId, chitchat::NodeState>>,
    self_id: ChitchatId,
    sender: watch::Sender<Arc<Vec<ClusterMember>>>,
) {
    tokio::spawn(async move {
        loop {
            let members: Vec<ClusterMember> = chitchat_watch
                .borrow_and_update()
                .iter()
                .map(|(id, state)| ClusterMember::from_state(id, state, true, *id == self_id))
                .collect();
            if sender.send(Arc::new(members)).is_err() {
                return;
            }
            if chitchat_watch.changed().await.is_err() {
                return;
            }
        }
    });
}
