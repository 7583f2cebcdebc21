//! Cluster settings resolved from Tempo's keys: the target, the node id, gossip (`memberlist.*`),
//! the replication factor, the addresses peers use, and the frontend/querier job settings.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::Context as _;
use serde_yaml::Value;
use vivace_actors::frontend::FrontendSettings;
use vivace_ring::role::Target;

use crate::config::Config;
use crate::config::values::parse_duration;

/// Tempo's memberlist port.
pub const DEFAULT_GOSSIP_PORT: u16 = 7946;
/// How often a node gossips when `memberlist.gossip_interval` is not set.
const DEFAULT_GOSSIP_INTERVAL: Duration = Duration::from_secs(1);
/// Phi-accrual threshold: a peer silent for about 5.8 gossip intervals is dead.
pub const PHI_THRESHOLD: f64 = 2.5;
/// Streams each querier keeps open to each frontend (`querier.frontend_worker.parallelism`).
const DEFAULT_QUERIER_PARALLELISM: u64 = 4;

/// Everything about this node's place in a cluster.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    pub target: Target,
    /// `ingester.lifecycler.id`: stable across restarts (it derives the ring tokens).
    pub node_id: String,
    pub replication_factor: usize,
    pub gossip_listen: SocketAddr,
    pub gossip_advertise: SocketAddr,
    pub join_members: Vec<String>,
    pub gossip_interval: Duration,
    /// The address peers use for this node's gRPC server.
    pub grpc_advertise: String,
    /// The address peers use for this node's HTTP server.
    pub http_advertise: String,
    pub zone: String,
    pub querier_parallelism: usize,
    pub frontend: FrontendSettings,
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A string or a list of strings (also comma-separated text).
fn string_list(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Sequence(items)) => items.iter().filter_map(text_of).collect(),
        Some(other) => text_of(other)
            .map(|text| {
                text.split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        None => Vec::new(),
    }
}

fn number_of(value: Option<&Value>, key: &str) -> anyhow::Result<Option<u64>> {
    let Some(value) = value else {
        return Ok(None);
    };
    if let Some(number) = value.as_u64() {
        return Ok(Some(number));
    }
    let Some(text) = text_of(value) else {
        return Ok(None);
    };
    text.parse()
        .map(Some)
        .with_context(|| format!("{key} must be a whole number, got {text:?}"))
}

fn path<'a>(root: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(root, |node, key| node.get(*key))
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "vivace".to_owned())
}

/// This host's address as peers should see it: the host name's IPv4 address, else loopback.
fn host_address() -> IpAddr {
    (host_name().as_str(), 0)
        .to_socket_addrs()
        .ok()
        .and_then(|mut addresses| addresses.find(|address| address.is_ipv4()))
        .map(|address| address.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// `listen` itself when it names an interface, else `configured`, else this host's address.
fn advertised_ip(configured: Option<&str>, listen: IpAddr) -> anyhow::Result<IpAddr> {
    if let Some(text) = configured {
        return text
            .parse()
            .with_context(|| format!("invalid advertise address {text:?}"));
    }
    if !listen.is_unspecified() {
        return Ok(listen);
    }
    Ok(host_address())
}

impl ClusterSettings {
    pub fn from_config(
        config: &Config,
        http_listen: SocketAddr,
        grpc_listen: SocketAddr,
    ) -> anyhow::Result<ClusterSettings> {
        let target = Target::parse(&config.target)?;
        let memberlist = &config.memberlist;
        let lifecycler = &config.ingester.lifecycler;
        let join_members = string_list(memberlist.get("join_members"));
        let clustered = target.clustered || !join_members.is_empty();
        let target = Target {
            clustered,
            ..target
        };
        let bind_port = number_of(memberlist.get("bind_port"), "memberlist.bind_port")?
            .map(u16::try_from)
            .transpose()
            .context("memberlist.bind_port is not a port")?
            .unwrap_or(DEFAULT_GOSSIP_PORT);
        let bind_ip: IpAddr = match string_list(memberlist.get("bind_addr")).first() {
            Some(text) => text
                .parse()
                .with_context(|| format!("invalid memberlist.bind_addr {text:?}"))?,
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        let advertise_text = memberlist.get("advertise_addr").and_then(text_of);
        let advertise_port = number_of(
            memberlist.get("advertise_port"),
            "memberlist.advertise_port",
        )?
        .map(u16::try_from)
        .transpose()
        .context("memberlist.advertise_port is not a port")?
        .unwrap_or(bind_port);
        let gossip_interval = match memberlist.get("gossip_interval").and_then(text_of) {
            Some(text) => parse_duration(&text)
                .map_err(|error| anyhow::anyhow!("memberlist.gossip_interval: {error}"))?,
            None => DEFAULT_GOSSIP_INTERVAL,
        };
        let gossip_advertise = SocketAddr::new(
            advertised_ip(advertise_text.as_deref(), bind_ip)?,
            advertise_port,
        );
        let lifecycler_address = lifecycler.get("address").and_then(text_of);
        let grpc_ip = advertised_ip(lifecycler_address.as_deref(), grpc_listen.ip())?;
        let http_ip = advertised_ip(lifecycler_address.as_deref(), http_listen.ip())?;
        let node_id = config.ingester.lifecycler_id().unwrap_or_else(|| {
            if clustered {
                format!("{}-{}", host_name(), http_listen.port())
            } else {
                host_name()
            }
        });
        let zone = lifecycler
            .get("availability_zone")
            .and_then(text_of)
            .unwrap_or_default();
        let querier_parallelism = number_of(
            path(&config.querier, &["frontend_worker", "parallelism"]),
            "querier.frontend_worker.parallelism",
        )?
        .unwrap_or(DEFAULT_QUERIER_PARALLELISM);
        let frontend_defaults = FrontendSettings::default();
        let frontend = FrontendSettings {
            max_shards: number_of(
                path(&config.query_frontend, &["trace_by_id", "query_shards"]),
                "query_frontend.trace_by_id.query_shards",
            )?
            .map_or(frontend_defaults.max_shards, |shards| shards as usize),
            max_outstanding_per_tenant: number_of(
                config.query_frontend.get("max_outstanding_per_tenant"),
                "query_frontend.max_outstanding_per_tenant",
            )?
            .map_or(frontend_defaults.max_outstanding_per_tenant, |count| {
                count as usize
            }),
            max_retries: number_of(
                config.query_frontend.get("max_retries"),
                "query_frontend.max_retries",
            )?
            .map_or(frontend_defaults.max_retries, |retries| retries as u32),
            ..frontend_defaults
        };
        Ok(ClusterSettings {
            replication_factor: config.ingester.effective_replication_factor(clustered) as usize,
            target,
            node_id,
            gossip_listen: SocketAddr::new(bind_ip, bind_port),
            gossip_advertise,
            join_members,
            gossip_interval,
            grpc_advertise: SocketAddr::new(grpc_ip, grpc_listen.port()).to_string(),
            http_advertise: SocketAddr::new(http_ip, http_listen.port()).to_string(),
            zone,
            querier_parallelism: querier_parallelism.max(1) as usize,
            frontend,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(yaml: &str) -> ClusterSettings {
        let config: Config = serde_yaml::from_str(yaml).expect("config");
        ClusterSettings::from_config(
            &config,
            "127.0.0.1:3200".parse().expect("http"),
            "127.0.0.1:9095".parse().expect("grpc"),
        )
        .expect("settings")
    }

    #[test]
    fn a_single_process_is_not_clustered() {
        let single = settings("target: all\n");
        assert!(!single.target.clustered);
        assert_eq!(single.replication_factor, 1);
        assert_eq!(single.gossip_listen.port(), DEFAULT_GOSSIP_PORT);
    }

    #[test]
    fn cluster_keys_are_read() {
        let node = settings(
            "target: ingester\nmemberlist:\n  bind_addr: [127.0.0.2]\n  bind_port: 7001\n  join_members: ['127.0.0.1:7000', '127.0.0.1:7002']\n  gossip_interval: 250ms\ningester:\n  lifecycler:\n    id: ingester-1\n",
        );
        assert!(node.target.clustered);
        assert_eq!(node.replication_factor, 3);
        assert_eq!(node.node_id, "ingester-1");
        assert_eq!(
            node.gossip_listen,
            "127.0.0.2:7001".parse().expect("address")
        );
        assert_eq!(node.gossip_advertise, node.gossip_listen);
        assert_eq!(node.join_members.len(), 2);
        assert_eq!(node.gossip_interval, Duration::from_millis(250));
        assert_eq!(node.grpc_advertise, "127.0.0.1:9095");
    }

    #[test]
    fn the_default_node_id_is_unique_per_process() {
        let node = settings("target: scalable-single-binary\n");
        assert!(node.node_id.ends_with("-3200"), "{}", node.node_id);
    }

    #[test]
    fn bad_values_are_refused() {
        let config: Config =
            serde_yaml::from_str("memberlist:\n  bind_port: lots\n").expect("config");
        let error = ClusterSettings::from_config(
            &config,
            "127.0.0.1:3200".parse().expect("http"),
            "127.0.0.1:9095".parse().expect("grpc"),
        )
        .expect_err("refused");
        assert!(error.to_string().contains("memberlist.bind_port"));
        let config: Config = serde_yaml::from_str("target: ingestor\n").expect("config");
        assert!(
            ClusterSettings::from_config(
                &config,
                "127.0.0.1:3200".parse().expect("http"),
                "127.0.0.1:9095".parse().expect("grpc"),
            )
            .is_err()
        );
    }
}
