//! From gossip members to the token ring: which ingesters exist, in which state.

use std::collections::BTreeMap;

use super::member::ClusterMember;
use crate::role::Role;
use crate::{IngesterState, Member, Ring};

/// One ingester as the ring page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingMemberView {
    pub id: String,
    pub generation: u64,
    pub state: IngesterState,
    pub address: String,
    pub zone: String,
    pub alive: bool,
}

/// The ingesters among `members`, one per node id: the newest generation wins, and a live
/// generation wins over a dead one. Dead ingesters show as `Unhealthy`.
pub fn ring_members(members: &[ClusterMember]) -> Vec<RingMemberView> {
    let mut chosen: BTreeMap<&str, &ClusterMember> = BTreeMap::new();
    for member in members {
        if !member.has_role(Role::Ingester) || member.ingester_state.is_none() {
            continue;
        }
        let replace = match chosen.get(member.node_id.as_str()) {
            None => true,
            Some(current) => {
                (member.alive, member.generation) > (current.alive, current.generation)
            }
        };
        if replace {
            chosen.insert(member.node_id.as_str(), member);
        }
    }
    chosen
        .into_values()
        .filter_map(|member| {
            Some(RingMemberView {
                id: member.node_id.clone(),
                generation: member.generation,
                state: member.ring_state()?,
                address: member.grpc_address.clone(),
                zone: member.zone.clone(),
                alive: member.alive,
            })
        })
        .collect()
}

/// The token ring of the live ingesters among `members`.
pub fn build_ring(members: &[ClusterMember], replication_factor: usize) -> Ring {
    let mut ring = Ring::new(replication_factor);
    for view in ring_members(members) {
        if !view.alive {
            continue;
        }
        ring.upsert(Member {
            id: view.id,
            grpc_address: view.address,
            state: view.state,
            zone: view.zone,
        });
    }
    ring
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn ingester(id: &str, generation: u64, state: IngesterState, alive: bool) -> ClusterMember {
        ClusterMember {
            node_id: id.to_owned(),
            generation,
            gossip_address: "127.0.0.1:7946".parse().expect("address"),
            roles: BTreeSet::from([Role::Ingester]),
            grpc_address: format!("{id}:9095"),
            http_address: format!("{id}:3200"),
            ready: state == IngesterState::Active,
            ingester_state: Some(state),
            zone: String::new(),
            heartbeat: 1,
            alive,
            is_self: false,
        }
    }

    #[test]
    fn newest_live_generation_wins() {
        let members = vec![
            ingester("a", 1, IngesterState::Active, false),
            ingester("a", 2, IngesterState::Joining, true),
            ingester("b", 5, IngesterState::Active, true),
        ];
        let views = ring_members(&members);
        assert_eq!(views.len(), 2);
        assert_eq!(views[0].generation, 2);
        assert_eq!(views[0].state, IngesterState::Joining);
        let ring = build_ring(&members, 1);
        assert_eq!(
            ring.replica_set(7).expect("replica")[0].id,
            "b",
            "only b is ACTIVE"
        );
    }

    #[test]
    fn dead_ingesters_are_unhealthy_and_out_of_the_ring() {
        let members = vec![
            ingester("a", 1, IngesterState::Active, false),
            ingester("b", 1, IngesterState::Active, true),
        ];
        let views = ring_members(&members);
        assert_eq!(views[0].state, IngesterState::Unhealthy);
        assert_eq!(build_ring(&members, 1).members().count(), 1);
    }

    #[test]
    fn non_ingesters_are_ignored() {
        let mut distributor = ingester("d", 1, IngesterState::Active, true);
        distributor.roles = BTreeSet::from([Role::Distributor]);
        distributor.ingester_state = None;
        assert!(ring_members(&[distributor]).is_empty());
    }
}
