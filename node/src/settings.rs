//! What the composition root needs, resolved from the configuration: addresses, folders, limits.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use vivace_actors::distributor::{DistributorSettings, RateLimit, RateStrategy};
use vivace_actors::ingester::{CutSettings, TenantLimits};
use vivace_storage::block::BlockConfig;

use crate::cluster_settings::ClusterSettings;
use crate::config::Config;

/// The built-in cache.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    pub path: PathBuf,
    pub memory_bytes: usize,
    pub disk_bytes: usize,
}

/// Resolved node settings.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    pub http_listen: SocketAddr,
    pub grpc_listen: SocketAddr,
    pub otlp_grpc_listen: Option<SocketAddr>,
    pub otlp_http_listen: Option<SocketAddr>,
    pub multitenancy_enabled: bool,
    pub http_api_prefix: String,
    pub max_message_bytes: usize,
    pub wal_path: PathBuf,
    pub blocks_path: PathBuf,
    pub cache: CacheSettings,
    pub cut: CutSettings,
    pub limits: TenantLimits,
    pub distributor: DistributorSettings,
    pub block: BlockConfig,
    pub blocklist_poll: Duration,
    pub max_bytes_per_trace: u64,
    pub config_yaml: String,
    /// This node's id on the ring (`ingester.lifecycler.id`, default the host name).
    pub instance_id: String,
    /// `ingester.flush_all_on_shutdown` (a clustered ingester always flushes when it leaves).
    pub flush_all_on_shutdown: bool,
    /// Target, gossip, replication and job settings.
    pub cluster: ClusterSettings,
}

/// `host:port`; an empty host means every interface.
fn resolve(host: &str, port: u16, what: &str) -> anyhow::Result<SocketAddr> {
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    resolve_endpoint(&format!("{host}:{port}"), what)
}

fn resolve_endpoint(endpoint: &str, what: &str) -> anyhow::Result<SocketAddr> {
    let with_host = if endpoint.starts_with(':') {
        format!("0.0.0.0{endpoint}")
    } else {
        endpoint.to_owned()
    };
    with_host
        .to_socket_addrs()
        .with_context(|| format!("invalid {what} address {endpoint:?}"))?
        .next()
        .with_context(|| format!("{what} address {endpoint:?} resolves to nothing"))
}

impl NodeSettings {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let server = &config.server;
        let http_listen = resolve(&server.http_listen_address, server.http_listen_port, "HTTP")?;
        let grpc_listen = resolve(&server.grpc_listen_address, server.grpc_listen_port, "gRPC")?;
        let cluster = ClusterSettings::from_config(config, http_listen, grpc_listen)?;
        let trace = &config.storage.trace;
        let ingestion = &config.overrides.defaults.ingestion;
        let otlp_grpc_listen = config
            .distributor
            .otlp_grpc_endpoint()
            .map(|endpoint| resolve_endpoint(&endpoint, "OTLP gRPC"))
            .transpose()?;
        let otlp_http_listen = config
            .distributor
            .otlp_http_endpoint()
            .map(|endpoint| resolve_endpoint(&endpoint, "OTLP HTTP"))
            .transpose()?;
        let max_bytes_per_trace = config.overrides.defaults.global.max_bytes_per_trace;
        Ok(NodeSettings {
            http_listen,
            grpc_listen,
            otlp_grpc_listen,
            otlp_http_listen,
            multitenancy_enabled: config.multitenancy_enabled,
            http_api_prefix: config.http_api_prefix.clone(),
            max_message_bytes: server.grpc_server_max_recv_msg_size,
            wal_path: PathBuf::from(&trace.wal.path),
            blocks_path: PathBuf::from(&trace.local.path),
            cache: CacheSettings {
                path: PathBuf::from(&trace.vivace_cache.path),
                memory_bytes: trace.vivace_cache.memory_bytes,
                disk_bytes: trace.vivace_cache.disk_bytes,
            },
            cut: CutSettings {
                trace_idle_period: config.ingester.trace_idle_period,
                max_block_duration: config.ingester.max_block_duration,
                max_block_bytes: config.ingester.max_block_bytes,
                flush_check_period: config.ingester.flush_check_period,
                flushed_block_retention: if cluster.target.clustered {
                    config
                        .ingester
                        .complete_block_timeout
                        .min(trace.blocklist_poll * 2 + config.ingester.flush_check_period)
                } else {
                    Duration::ZERO
                },
            },
            limits: TenantLimits {
                max_traces_per_user: ingestion.max_traces_per_user,
                max_bytes_per_trace,
            },
            distributor: DistributorSettings {
                rate_limit: RateLimit {
                    bytes_per_second: ingestion.rate_limit_bytes as f64,
                    burst_bytes: ingestion.burst_size_bytes as f64,
                    strategy: if ingestion.rate_strategy == "global" {
                        RateStrategy::Global
                    } else {
                        RateStrategy::Local
                    },
                },
                max_attribute_bytes: ingestion.max_attribute_bytes,
            },
            block: BlockConfig {
                row_group_size_bytes: trace.block.parquet_row_group_size_bytes,
                bloom_false_positive: trace.block.bloom_filter_false_positive,
                bloom_shard_size_bytes: trace.block.bloom_filter_shard_size_bytes,
            },
            blocklist_poll: trace.blocklist_poll.max(Duration::from_secs(1)),
            max_bytes_per_trace,
            config_yaml: config.to_yaml(),
            instance_id: cluster.node_id.clone(),
            flush_all_on_shutdown: config.ingester.flush_all_on_shutdown,
            cluster,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve() {
        let settings = NodeSettings::from_config(&Config::default()).expect("resolves");
        assert_eq!(settings.http_listen.port(), 3200);
        assert_eq!(
            settings.otlp_grpc_listen.map(|address| address.port()),
            Some(4317)
        );
        assert_eq!(
            settings.otlp_http_listen.map(|address| address.port()),
            Some(4318)
        );
    }
}

#[cfg(test)]
mod deploy_tests {
    use super::*;

    /// Every configuration shipped in `deploy/` loads, without warnings, into node settings.
    #[test]
    fn shipped_configurations_load() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
        let mut files = vec![root.join("tempo.yaml")];
        for entry in std::fs::read_dir(root.join("cluster")).expect("deploy/cluster") {
            let path = entry.expect("entry").path();
            if path
                .extension()
                .is_some_and(|extension| extension == "yaml")
            {
                files.push(path);
            }
        }
        assert!(files.len() >= 5, "{files:?}");
        for file in files {
            let args = vec![format!("-config.file={}", file.display())];
            let loaded = crate::config::load(&args)
                .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
            assert!(
                loaded.warnings.is_empty(),
                "{}: {:?}",
                file.display(),
                loaded.warnings
            );
            let settings = NodeSettings::from_config(&loaded.config)
                .unwrap_or_else(|error| panic!("{}: {error}", file.display()));
            let is_cluster = file
                .parent()
                .is_some_and(|parent| parent.ends_with("cluster"));
            assert_eq!(
                settings.cluster.target.clustered,
                is_cluster,
                "{}",
                file.display()
            );
            if is_cluster {
                assert_eq!(settings.cluster.replication_factor, 3);
            }
        }
    }
}
