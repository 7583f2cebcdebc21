//! The membership scenario: the real gossip membership ([`vivace_ring::cluster::Cluster`], chitchat
//! on its in-memory transport) on paused tokio time. Nodes are partitioned, crash and restart with
//! a new generation; after healing, every node's ring view (members, states, generations) must be
//! identical and map every trace to the same replicas, within a bounded simulated time.
//!
//! chitchat picks gossip peers with an RNG it seeds from the OS; the run happens on a thread whose
//! OS entropy is seeded ([`crate::entropy`]), so convergence times are a function of the seed too
//! and enter the event log.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use chitchat::transport::ChannelTransport;
use rand::Rng;
use rand::rngs::StdRng;
use vivace_ring::cluster::{Cluster, ClusterConfig, NodeInfo, build_ring, ring_members};
use vivace_ring::role::Role;
use vivace_ring::{IngesterState, token_for};

use crate::invariants::{Invariant, Violation};
use crate::log::EventLog;
use crate::options::SimOptions;

const GOSSIP_INTERVAL: Duration = Duration::from_millis(200);
/// Simulated time allowed for the views to agree after healing.
const CONVERGENCE_BOUND: Duration = Duration::from_secs(60);
const FAULT_ROUNDS: usize = 8;

fn address(index: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 21_000 + index as u16))
}

fn config(index: usize, generation: u64) -> ClusterConfig {
    ClusterConfig {
        node_id: format!("ingester-{index}"),
        generation,
        cluster_id: "sim".to_owned(),
        listen_address: address(index),
        advertise_address: address(index),
        seeds: vec![address(0).to_string(), address(1).to_string()],
        gossip_interval: GOSSIP_INTERVAL,
        phi_threshold: 2.5,
        dead_node_grace_period: Duration::from_secs(3_600),
    }
}

async fn join(
    transport: &ChannelTransport,
    index: usize,
    generation: u64,
) -> anyhow::Result<Cluster> {
    let info = NodeInfo {
        roles: BTreeSet::from([Role::Ingester]),
        grpc_address: address(index).to_string(),
        http_address: String::new(),
        zone: String::new(),
    };
    let cluster = Cluster::join(&config(index, generation), &info, transport).await?;
    cluster.set_ingester_state(IngesterState::Active).await;
    cluster.set_ready(true).await;
    Ok(cluster)
}

/// One node's view: (id, generation, state) of every ingester, and replica sets of sample traces.
async fn view(
    cluster: &Cluster,
    replication_factor: usize,
) -> (Vec<(String, u64, &'static str)>, Vec<Vec<String>>) {
    let members = cluster.all_members().await;
    let rows = ring_members(&members)
        .into_iter()
        .map(|row| (row.id, row.generation, row.state.as_str()))
        .collect();
    let ring = build_ring(&cluster.live_members(), replication_factor);
    let replicas = (0u32..50)
        .map(|trace| {
            ring.replica_set(token_for("sim", &trace.to_be_bytes()))
                .map(|set| set.iter().map(|member| member.id.clone()).collect())
                .unwrap_or_default()
        })
        .collect();
    (rows, replicas)
}

/// What the scenario found.
#[derive(Debug, Default)]
pub struct MembershipOutcome {
    pub checks: u64,
    pub faults: u64,
    pub violations: Vec<Violation>,
    /// Simulated time from healing to agreement (not part of the digest: see the module docs).
    pub convergence: Option<Duration>,
}

/// Runs the scenario for `options` (must be called on a paused current-thread runtime).
pub async fn run(options: &SimOptions, rng: &mut StdRng, log: &EventLog) -> MembershipOutcome {
    let mut outcome = MembershipOutcome::default();
    let transport = ChannelTransport::with_mtu(65_507);
    let count = options.ingesters;
    let mut generations = vec![1u64; count];
    let mut nodes: Vec<Option<Cluster>> = Vec::new();
    for (index, generation) in generations.iter().enumerate() {
        match join(&transport, index, *generation).await {
            Ok(cluster) => nodes.push(Some(cluster)),
            Err(error) => {
                outcome.violations.push(Violation {
                    invariant: Invariant::RingConverges,
                    detail: format!("ingester-{index} cannot join: {error}"),
                });
                return outcome;
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut partitioned: Vec<(usize, usize)> = Vec::new();
    for _ in 0..FAULT_ROUNDS {
        let index = rng.random_range(0..count);
        match rng.random_range(0..3) {
            0 if nodes[index].is_some() => {
                if let Some(cluster) = nodes[index].take() {
                    cluster.leave().await;
                }
                log.event(&format!("ingester-{index}"), "gossip crash");
                outcome.faults += 1;
            }
            1 => {
                let other = (index + 1 + rng.random_range(0..count - 1)) % count;
                transport.remove_link(address(index), address(other)).await;
                partitioned.push((index, other));
                log.event(
                    &format!("ingester-{index}"),
                    &format!("gossip partition from ingester-{other}"),
                );
                outcome.faults += 1;
            }
            _ if nodes[index].is_none() => {
                generations[index] += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
                match join(&transport, index, generations[index]).await {
                    Ok(cluster) => nodes[index] = Some(cluster),
                    Err(error) => log.event(
                        &format!("ingester-{index}"),
                        &format!("rejoin failed: {error}"),
                    ),
                }
                log.event(
                    &format!("ingester-{index}"),
                    &format!("gossip restart generation={}", generations[index]),
                );
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    log.event("harness", "gossip heal");
    for (from, to) in partitioned.drain(..) {
        transport.add_link(address(from), address(to)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for index in 0..count {
        if nodes[index].is_none() {
            generations[index] += 1;
            match join(&transport, index, generations[index]).await {
                Ok(cluster) => nodes[index] = Some(cluster),
                Err(error) => {
                    outcome.violations.push(Violation {
                        invariant: Invariant::RingConverges,
                        detail: format!("ingester-{index} cannot rejoin after healing: {error}"),
                    });
                    return outcome;
                }
            }
        }
    }
    let live: Vec<Cluster> = nodes.into_iter().flatten().collect();
    let expected: Vec<(String, u64, &'static str)> = (0..count)
        .map(|index| (format!("ingester-{index}"), generations[index], "ACTIVE"))
        .collect();
    let healed_at = tokio::time::Instant::now();
    let mut last_views = Vec::new();
    while healed_at.elapsed() < CONVERGENCE_BOUND {
        last_views.clear();
        for cluster in &live {
            last_views.push(view(cluster, options.replication_factor).await);
        }
        let generation_rows_agree = last_views.iter().all(|(rows, _)| {
            let active: Vec<(String, u64, &'static str)> = rows
                .iter()
                .filter(|row| row.2 == "ACTIVE")
                .cloned()
                .collect();
            active.len() == count && active == expected
        });
        let replicas_agree = last_views.windows(2).all(|pair| pair[0].1 == pair[1].1);
        if generation_rows_agree && replicas_agree {
            outcome.convergence = Some(healed_at.elapsed());
            outcome.checks += 1;
            log.event(
                "harness",
                &format!(
                    "ring views agree: {count} ACTIVE ingesters on every node after {:?}",
                    healed_at.elapsed()
                ),
            );
            for cluster in &live {
                cluster.leave().await;
            }
            return outcome;
        }
        tokio::time::sleep(GOSSIP_INTERVAL).await;
    }
    outcome.checks += 1;
    outcome.violations.push(Violation {
        invariant: Invariant::RingConverges,
        detail: format!(
            "ring views still differ {CONVERGENCE_BOUND:?} after healing: {:?}",
            last_views
                .iter()
                .map(|(rows, _)| rows.clone())
                .collect::<Vec<_>>()
        ),
    });
    for cluster in &live {
        cluster.leave().await;
    }
    outcome
}
