//! The keys every node publishes by gossip, and the parsed view of a peer's state.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::str::FromStr;

use chitchat::{ChitchatId, NodeState};

use crate::IngesterState;
use crate::role::{Role, roles_from_string, roles_to_string};

/// Comma list of the node's roles.
pub const ROLES_KEY: &str = "roles";
/// Address of the node's gRPC server (`host:port`).
pub const GRPC_ADDRESS_KEY: &str = "grpc_address";
/// Address of the node's HTTP server (`host:port`).
pub const HTTP_ADDRESS_KEY: &str = "http_address";
/// `READY` or `NOT_READY`.
pub const READINESS_KEY: &str = "readiness";
/// An ingester's lifecycle state: `JOINING`, `ACTIVE` or `LEAVING`.
pub const INGESTER_STATE_KEY: &str = "ingester_state";
/// The availability zone (may be empty).
pub const ZONE_KEY: &str = "zone";

pub const READY: &str = "READY";
pub const NOT_READY: &str = "NOT_READY";

impl FromStr for IngesterState {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "JOINING" => Ok(IngesterState::Joining),
            "ACTIVE" => Ok(IngesterState::Active),
            "LEAVING" => Ok(IngesterState::Leaving),
            "Unhealthy" => Ok(IngesterState::Unhealthy),
            other => Err(format!("unknown ingester state {other:?}")),
        }
    }
}

/// What a node says about itself when it joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub roles: BTreeSet<Role>,
    pub grpc_address: String,
    pub http_address: String,
    pub zone: String,
}

impl NodeInfo {
    /// The initial key-values: not ready, and JOINING when the node is an ingester.
    pub fn initial_key_values(&self) -> Vec<(String, String)> {
        let mut pairs = vec![
            (ROLES_KEY.to_owned(), roles_to_string(&self.roles)),
            (GRPC_ADDRESS_KEY.to_owned(), self.grpc_address.clone()),
            (HTTP_ADDRESS_KEY.to_owned(), self.http_address.clone()),
            (READINESS_KEY.to_owned(), NOT_READY.to_owned()),
            (ZONE_KEY.to_owned(), self.zone.clone()),
        ];
        if self.roles.contains(&Role::Ingester) {
            pairs.push((
                INGESTER_STATE_KEY.to_owned(),
                IngesterState::Joining.as_str().to_owned(),
            ));
        }
        pairs
    }
}

/// A peer as the cluster sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMember {
    pub node_id: String,
    /// Start time of the process (nanoseconds): a restarted node is a new generation.
    pub generation: u64,
    pub gossip_address: SocketAddr,
    pub roles: BTreeSet<Role>,
    pub grpc_address: String,
    pub http_address: String,
    pub ready: bool,
    /// Present on ingesters.
    pub ingester_state: Option<IngesterState>,
    pub zone: String,
    /// Gossip heartbeat counter.
    pub heartbeat: u64,
    /// False when the failure detector considers the node dead.
    pub alive: bool,
    pub is_self: bool,
}

impl ClusterMember {
    /// Parses a node's published keys.
    pub fn from_state(id: &ChitchatId, state: &NodeState, alive: bool, is_self: bool) -> Self {
        ClusterMember {
            node_id: id.node_id.to_string(),
            generation: id.generation_id,
            gossip_address: id.gossip_advertise_addr,
            roles: state
                .get(ROLES_KEY)
                .map(roles_from_string)
                .unwrap_or_default(),
            grpc_address: state.get(GRPC_ADDRESS_KEY).unwrap_or_default().to_owned(),
            http_address: state.get(HTTP_ADDRESS_KEY).unwrap_or_default().to_owned(),
            ready: state.get(READINESS_KEY) == Some(READY),
            ingester_state: state
                .get(INGESTER_STATE_KEY)
                .and_then(|text| text.parse().ok()),
            zone: state.get(ZONE_KEY).unwrap_or_default().to_owned(),
            heartbeat: u64::from(state.heartbeat()),
            alive,
            is_self,
        }
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The state the ring shows: the published state while alive, `Unhealthy` once dead.
    pub fn ring_state(&self) -> Option<IngesterState> {
        let published = self.ingester_state?;
        if self.alive {
            return Some(published);
        }
        Some(IngesterState::Unhealthy)
    }
}

/// A peer is usable once it published its roles and gRPC address.
pub fn has_required_keys(state: &NodeState) -> bool {
    state.get(ROLES_KEY).is_some() && state.get(GRPC_ADDRESS_KEY).is_some()
}
