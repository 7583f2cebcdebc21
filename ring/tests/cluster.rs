//! Several cluster members in one process over chitchat's in-memory transport: they find each
//! other, agree on the ring, see state changes, and mark a stopped node dead.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use chitchat::transport::ChannelTransport;
use vivace_ring::cluster::{Cluster, ClusterConfig, NodeInfo, build_ring, ring_members};
use vivace_ring::role::Role;
use vivace_ring::{IngesterState, token_for};

fn address(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn config(name: &str, port: u16, generation: u64) -> ClusterConfig {
    ClusterConfig {
        node_id: name.to_owned(),
        generation,
        cluster_id: "test".to_owned(),
        listen_address: address(port),
        advertise_address: address(port),
        seeds: vec![address(20_001).to_string()],
        gossip_interval: Duration::from_millis(30),
        phi_threshold: 3.0,
        dead_node_grace_period: Duration::from_secs(60),
    }
}

fn ingester_info(port: u16) -> NodeInfo {
    NodeInfo {
        roles: BTreeSet::from([Role::Ingester]),
        grpc_address: format!("127.0.0.1:{port}"),
        http_address: String::new(),
        zone: String::new(),
    }
}

async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting until {what}");
}

async fn active_ids(cluster: &Cluster) -> Vec<String> {
    let members = cluster.all_members().await;
    ring_members(&members)
        .into_iter()
        .filter(|view| view.state == IngesterState::Active)
        .map(|view| view.id)
        .collect()
}

#[tokio::test]
async fn members_converge_agree_on_replicas_and_detect_a_dead_node() {
    let transport = ChannelTransport::with_mtu(65_507);
    let mut nodes = Vec::new();
    for (index, port) in [20_001u16, 20_002, 20_003].into_iter().enumerate() {
        let name = format!("ingester-{index}");
        let cluster = Cluster::join(&config(&name, port, 1), &ingester_info(port), &transport)
            .await
            .expect("join");
        nodes.push(cluster);
    }
    wait_until("every node sees three members", async || {
        nodes.iter().all(|node| node.live_members().len() == 3)
    })
    .await;
    for node in &nodes {
        node.set_ingester_state(IngesterState::Active).await;
        node.set_ready(true).await;
    }
    for node in &nodes {
        wait_until("every node sees three ACTIVE ingesters", async || {
            active_ids(node).await.len() == 3
                && build_ring(&node.live_members(), 2)
                    .count_by_state()
                    .get("ACTIVE")
                    == Some(&3)
        })
        .await;
    }

    let rings: Vec<_> = nodes
        .iter()
        .map(|node| build_ring(&node.live_members(), 2))
        .collect();
    for trace in 0u32..200 {
        let token = token_for("tenant", &trace.to_be_bytes());
        let expected: Vec<String> = rings[0]
            .replica_set(token)
            .expect("replicas")
            .iter()
            .map(|member| member.id.clone())
            .collect();
        for ring in &rings[1..] {
            let seen: Vec<String> = ring
                .replica_set(token)
                .expect("replicas")
                .iter()
                .map(|member| member.id.clone())
                .collect();
            assert_eq!(seen, expected, "replica sets differ between nodes");
        }
    }

    let stopped = nodes.pop().expect("third node");
    stopped.leave().await;
    for node in &nodes {
        wait_until("the stopped node is marked unhealthy", async || {
            let views = ring_members(&node.all_members().await);
            views
                .iter()
                .any(|view| view.id == "ingester-2" && view.state == IngesterState::Unhealthy)
        })
        .await;
        assert_eq!(build_ring(&node.live_members(), 2).members().count(), 2);
    }

    let restarted = Cluster::join(
        &config("ingester-2", 20_003, 2),
        &ingester_info(20_003),
        &transport,
    )
    .await
    .expect("rejoin");
    restarted.set_ingester_state(IngesterState::Active).await;
    for node in &nodes {
        wait_until("the restarted node is ACTIVE again", async || {
            let views = ring_members(&node.all_members().await);
            views.iter().any(|view| {
                view.id == "ingester-2"
                    && view.generation == 2
                    && view.state == IngesterState::Active
            })
        })
        .await;
    }
}
