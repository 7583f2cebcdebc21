//! The ingester token ring: which ingesters own a trace, and how many must acknowledge a write.
//!
//! Tokens are derived, never stored: `tokens(node) = xxh3(node id, i)` for `i in 0..TOKENS_PER_NODE`,
//! so only membership and state need to travel (by gossip, in the cluster). A trace's token is
//! `xxh3(tenant, trace id)`; its replica set is the first `replication_factor` distinct ACTIVE
//! ingesters clockwise from that token. This crate holds the pure logic; membership sources
//! (a single local member in monolithic mode, chitchat in a cluster) feed it.

pub mod cluster;
pub mod role;

use std::collections::BTreeMap;

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Tokens each ingester owns on the ring.
pub const TOKENS_PER_NODE: u64 = 128;

/// Lifecycle state of an ingester, as Tempo's ring shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IngesterState {
    Joining,
    Active,
    Leaving,
    Unhealthy,
}

impl IngesterState {
    /// The name Tempo's ring page prints.
    pub fn as_str(self) -> &'static str {
        match self {
            IngesterState::Joining => "JOINING",
            IngesterState::Active => "ACTIVE",
            IngesterState::Leaving => "LEAVING",
            IngesterState::Unhealthy => "Unhealthy",
        }
    }
}

/// One ingester as the ring knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub grpc_address: String,
    pub state: IngesterState,
    pub zone: String,
}

/// Why no replica set could be formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    #[error("empty ring: no ACTIVE ingester")]
    Empty,
    #[error("at least {needed} live replicas required, could only find {found} ACTIVE ingesters")]
    TooFewReplicas { needed: usize, found: usize },
}

/// The token of a trace: a hash of the tenant and the trace id.
pub fn token_for(tenant: &str, trace_id: &[u8]) -> u64 {
    let mut input = Vec::with_capacity(tenant.len() + 1 + trace_id.len());
    input.extend_from_slice(tenant.as_bytes());
    input.push(0);
    input.extend_from_slice(trace_id);
    xxh3_64(&input)
}

/// The tokens an ingester owns, derived from its id.
pub fn tokens_for_node(node_id: &str) -> impl Iterator<Item = u64> + '_ {
    (0..TOKENS_PER_NODE).map(move |index| xxh3_64_with_seed(node_id.as_bytes(), index))
}

/// How many acknowledgements a write to `replication_factor` replicas needs.
pub fn quorum(replication_factor: usize) -> usize {
    replication_factor / 2 + 1
}

/// The ring: members and their derived tokens.
#[derive(Clone, Debug, Default)]
pub struct Ring {
    replication_factor: usize,
    members: BTreeMap<String, Member>,
    /// (token, member id) sorted by token, then id, so every node builds the same order.
    tokens: Vec<(u64, String)>,
}

impl Ring {
    /// An empty ring writing to `replication_factor` replicas.
    pub fn new(replication_factor: usize) -> Self {
        debug_assert!(
            replication_factor >= 1,
            "replication factor must be at least 1"
        );
        Ring {
            replication_factor: replication_factor.max(1),
            members: BTreeMap::new(),
            tokens: Vec::new(),
        }
    }

    /// Configured replication factor.
    pub fn replication_factor(&self) -> usize {
        self.replication_factor
    }

    /// Adds or updates a member.
    pub fn upsert(&mut self, member: Member) {
        let is_new = !self.members.contains_key(&member.id);
        if is_new {
            self.tokens
                .extend(tokens_for_node(&member.id).map(|token| (token, member.id.clone())));
            self.tokens.sort_unstable();
        }
        self.members.insert(member.id.clone(), member);
    }

    /// Removes a member and its tokens.
    pub fn remove(&mut self, member_id: &str) {
        if self.members.remove(member_id).is_none() {
            return;
        }
        self.tokens.retain(|(_, owner)| owner != member_id);
    }

    /// Members in id order.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    /// Members a read can ask: ACTIVE and LEAVING ingesters still hold their recent data.
    pub fn readable_members(&self) -> impl Iterator<Item = &Member> {
        self.members
            .values()
            .filter(|member| matches!(member.state, IngesterState::Active | IngesterState::Leaving))
    }

    /// Members by state name, for metrics.
    pub fn count_by_state(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for member in self.members.values() {
            *counts.entry(member.state.as_str()).or_insert(0) += 1;
        }
        counts
    }

    /// A member by id.
    pub fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.get(member_id)
    }

    /// The replica set of a token: up to RF distinct ACTIVE members clockwise from it.
    /// Fails when fewer than a quorum of ACTIVE members exist.
    pub fn replica_set(&self, token: u64) -> Result<Vec<&Member>, RingError> {
        let active_count = self
            .members
            .values()
            .filter(|member| member.state == IngesterState::Active)
            .count();
        if active_count == 0 {
            return Err(RingError::Empty);
        }
        let wanted = self.replication_factor.min(active_count);
        let needed = quorum(self.replication_factor);
        if wanted < needed {
            return Err(RingError::TooFewReplicas {
                needed,
                found: active_count,
            });
        }
        let start = self
            .tokens
            .partition_point(|(owner_token, _)| *owner_token < token);
        let mut chosen: Vec<&Member> = Vec::with_capacity(wanted);
        for offset in 0..self.tokens.len() {
            let (_, owner) = &self.tokens[(start + offset) % self.tokens.len()];
            let Some(member) = self.members.get(owner) else {
                continue;
            };
            if member.state != IngesterState::Active || chosen.iter().any(|c| c.id == member.id) {
                continue;
            }
            chosen.push(member);
            if chosen.len() == wanted {
                break;
            }
        }
        debug_assert_eq!(
            chosen.len(),
            wanted,
            "ring walk found fewer replicas than ACTIVE members"
        );
        Ok(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn member(id: &str, state: IngesterState) -> Member {
        Member {
            id: id.to_owned(),
            grpc_address: format!("{id}:9095"),
            state,
            zone: String::new(),
        }
    }

    fn ring_of(ids: &[String], replication_factor: usize) -> Ring {
        let mut ring = Ring::new(replication_factor);
        for id in ids {
            ring.upsert(member(id, IngesterState::Active));
        }
        ring
    }

    fn replica_ids(ring: &Ring, token: u64) -> Vec<String> {
        ring.replica_set(token)
            .expect("replicas")
            .iter()
            .map(|member| member.id.clone())
            .collect()
    }

    #[test]
    fn single_member_owns_everything() {
        let ring = ring_of(&["solo".to_owned()], 1);
        assert_eq!(replica_ids(&ring, 0), vec!["solo"]);
        assert_eq!(replica_ids(&ring, u64::MAX), vec!["solo"]);
    }

    #[test]
    fn empty_and_inactive_rings_fail() {
        let mut ring = Ring::new(3);
        assert_eq!(ring.replica_set(1).unwrap_err(), RingError::Empty);
        ring.upsert(member("a", IngesterState::Joining));
        assert_eq!(ring.replica_set(1).unwrap_err(), RingError::Empty);
        ring.upsert(member("b", IngesterState::Active));
        assert!(matches!(
            ring.replica_set(1),
            Err(RingError::TooFewReplicas {
                needed: 2,
                found: 1
            })
        ));
    }

    #[test]
    fn quorum_is_majority() {
        assert_eq!(quorum(1), 1);
        assert_eq!(quorum(2), 2);
        assert_eq!(quorum(3), 2);
        assert_eq!(quorum(5), 3);
    }

    fn node_ids() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::btree_set("[a-z]{1,6}-[0-9]{1,3}", 3..8)
            .prop_map(|set| set.into_iter().collect())
    }

    proptest! {
        #[test]
        fn replica_sets_are_distinct_and_sized(ids in node_ids(), token in any::<u64>()) {
            let ring = ring_of(&ids, 3);
            let replicas = replica_ids(&ring, token);
            prop_assert_eq!(replicas.len(), 3);
            let mut unique = replicas.clone();
            unique.sort();
            unique.dedup();
            prop_assert_eq!(unique.len(), 3);
        }

        #[test]
        fn insertion_order_does_not_matter(ids in node_ids(), token in any::<u64>()) {
            let forward = ring_of(&ids, 3);
            let reversed: Vec<String> = ids.iter().rev().cloned().collect();
            let backward = ring_of(&reversed, 3);
            prop_assert_eq!(replica_ids(&forward, token), replica_ids(&backward, token));
        }

        #[test]
        fn a_join_replaces_at_most_one_replica(ids in node_ids(), token in any::<u64>()) {
            let before = ring_of(&ids, 3);
            let mut grown_ids = ids.clone();
            grown_ids.push("newcomer-0".to_owned());
            let after = ring_of(&grown_ids, 3);
            let old_set = replica_ids(&before, token);
            let new_set = replica_ids(&after, token);
            let moved: Vec<&String> = new_set.iter().filter(|id| !old_set.contains(id)).collect();
            prop_assert!(moved.is_empty() || moved == vec![&"newcomer-0".to_owned()]);
        }

        #[test]
        fn a_leave_keeps_the_other_replicas(ids in node_ids(), token in any::<u64>(), pick in any::<prop::sample::Index>()) {
            let before = ring_of(&ids, 3);
            let leaving = ids[pick.index(ids.len())].clone();
            let mut after = before.clone();
            after.remove(&leaving);
            let old_set = replica_ids(&before, token);
            let new_set = replica_ids(&after, token);
            for id in old_set.iter().filter(|id| **id != leaving) {
                prop_assert!(new_set.contains(id), "{} lost its range when {} left", id, leaving);
            }
        }

        #[test]
        fn a_state_change_elsewhere_does_not_move_a_set(ids in node_ids(), token in any::<u64>()) {
            let before = ring_of(&ids, 3);
            let old_set = replica_ids(&before, token);
            let Some(outsider) = ids.iter().find(|id| !old_set.contains(id)).cloned() else {
                return Ok(());
            };
            let mut after = before.clone();
            after.upsert(member(&outsider, IngesterState::Leaving));
            prop_assert_eq!(replica_ids(&after, token), old_set);
        }

        #[test]
        fn a_join_moves_only_to_the_new_node(ids in node_ids(), token in any::<u64>()) {
            let before = ring_of(&ids, 1);
            let mut grown_ids = ids.clone();
            grown_ids.push("newcomer-0".to_owned());
            let after = ring_of(&grown_ids, 1);
            let old_owner = replica_ids(&before, token);
            let new_owner = replica_ids(&after, token);
            prop_assert!(new_owner == old_owner || new_owner == vec!["newcomer-0".to_owned()]);
        }
    }
}
