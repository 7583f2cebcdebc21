//! Default values (Tempo's, except where Vivace's own layout differs, e.g. `./data/...` paths).

use std::time::Duration;

use serde_yaml::{Mapping, Value};

use super::overrides::{GlobalLimits, IngestionLimits, LimitsConfig, OverridesConfig};
use super::sections::{
    BlockSettings, IngesterConfig, LocalConfig, ServerConfig, TraceStorageConfig,
    VivaceCacheConfig, WalConfig,
};

/// Default `target`.
pub const DEFAULT_TARGET: &str = "all";
/// Default `server.http_listen_port`.
pub const DEFAULT_HTTP_LISTEN_PORT: u16 = 3200;
/// Default `server.grpc_listen_port`.
pub const DEFAULT_GRPC_LISTEN_PORT: u16 = 9095;
/// Default gRPC message size limits (16 MiB).
pub const DEFAULT_GRPC_MAX_MSG_SIZE: usize = 16 * 1024 * 1024;
/// Default OTLP gRPC receiver endpoint.
pub const DEFAULT_OTLP_GRPC_ENDPOINT: &str = "0.0.0.0:4317";
/// Default OTLP HTTP receiver endpoint.
pub const DEFAULT_OTLP_HTTP_ENDPOINT: &str = "0.0.0.0:4318";
/// Default `ingester.lifecycler.ring.replication_factor` of a single process (`target: all`).
pub const DEFAULT_REPLICATION_FACTOR: u32 = 1;
/// Default `ingester.lifecycler.ring.replication_factor` in a cluster.
pub const DEFAULT_CLUSTER_REPLICATION_FACTOR: u32 = 3;
/// Default `storage.trace.backend`.
pub const DEFAULT_BACKEND: &str = "local";
/// Default `storage.trace.local.path`.
pub const DEFAULT_BLOCKS_PATH: &str = "./data/blocks";
/// Default `storage.trace.wal.path`.
pub const DEFAULT_WAL_PATH: &str = "./data/wal";
/// Default `storage.trace.vivace_cache.path`.
pub const DEFAULT_CACHE_PATH: &str = "./data/cache";

const MIB: usize = 1024 * 1024;

/// A raw section's default: an empty mapping (prints as `{}`).
pub fn empty_section() -> Value {
    Value::Mapping(Mapping::new())
}

/// The default `ingester.lifecycler` block: empty. The replication factor depends on the target
/// when it is not set (1 for `all`, 3 in a cluster).
fn default_lifecycler() -> Value {
    Value::Mapping(Mapping::new())
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            http_listen_address: String::new(),
            http_listen_port: DEFAULT_HTTP_LISTEN_PORT,
            grpc_listen_address: String::new(),
            grpc_listen_port: DEFAULT_GRPC_LISTEN_PORT,
            log_level: "info".to_string(),
            log_format: "logfmt".to_string(),
            grpc_server_max_recv_msg_size: DEFAULT_GRPC_MAX_MSG_SIZE,
            grpc_server_max_send_msg_size: DEFAULT_GRPC_MAX_MSG_SIZE,
            http_server_read_timeout: Duration::from_secs(30),
            http_server_write_timeout: Duration::from_secs(30),
            http_server_idle_timeout: Duration::from_secs(120),
            graceful_shutdown_timeout: Duration::from_secs(30),
            stream_over_http_enabled: false,
        }
    }
}

impl Default for IngesterConfig {
    fn default() -> Self {
        IngesterConfig {
            trace_idle_period: Duration::from_secs(5),
            trace_live_period: Duration::from_secs(30),
            max_block_duration: Duration::from_secs(30 * 60),
            max_block_bytes: 500 * 1024 * 1024,
            complete_block_timeout: Duration::from_secs(15 * 60),
            flush_check_period: Duration::from_secs(10),
            flush_op_timeout: Duration::from_secs(5 * 60),
            concurrent_flushes: 4,
            flush_all_on_shutdown: false,
            flush_object_storage: true,
            override_ring_key: String::new(),
            lifecycler: default_lifecycler(),
            partition_ring: Value::Null,
        }
    }
}

impl Default for TraceStorageConfig {
    fn default() -> Self {
        TraceStorageConfig {
            backend: DEFAULT_BACKEND.to_string(),
            local: LocalConfig::default(),
            wal: WalConfig::default(),
            block: BlockSettings::default(),
            blocklist_poll: Duration::from_secs(5 * 60),
            vivace_cache: VivaceCacheConfig::default(),
        }
    }
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig {
            path: DEFAULT_BLOCKS_PATH.to_string(),
        }
    }
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            path: DEFAULT_WAL_PATH.to_string(),
        }
    }
}

impl Default for BlockSettings {
    fn default() -> Self {
        BlockSettings {
            bloom_filter_false_positive: 0.01,
            bloom_filter_shard_size_bytes: 100 * 1024,
            parquet_row_group_size_bytes: 16 * MIB,
            version: None,
        }
    }
}

impl Default for VivaceCacheConfig {
    fn default() -> Self {
        VivaceCacheConfig {
            memory_bytes: 256 * MIB,
            disk_bytes: 1024 * MIB,
            path: DEFAULT_CACHE_PATH.to_string(),
        }
    }
}

impl Default for OverridesConfig {
    fn default() -> Self {
        OverridesConfig {
            defaults: LimitsConfig::default(),
            per_tenant_override_config: String::new(),
            per_tenant_override_period: Duration::from_secs(10),
            user_configurable_overrides: empty_section(),
            enable_legacy_overrides: false,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            ingestion: IngestionLimits::default(),
            global: GlobalLimits::default(),
            read: empty_section(),
            compaction: empty_section(),
            metrics_generator: empty_section(),
            forwarders: Value::Sequence(Vec::new()),
            storage: empty_section(),
            cost_attribution: empty_section(),
        }
    }
}

impl Default for IngestionLimits {
    fn default() -> Self {
        IngestionLimits {
            rate_strategy: "local".to_string(),
            rate_limit_bytes: 30_000_000,
            burst_size_bytes: 30_000_000,
            max_traces_per_user: 10_000,
            max_global_traces_per_user: 0,
            max_attribute_bytes: 2048,
            tenant_shard_size: 0,
            retry_info_enabled: true,
            artificial_delay: None,
        }
    }
}

impl Default for GlobalLimits {
    fn default() -> Self {
        GlobalLimits {
            max_bytes_per_trace: 5_000_000,
        }
    }
}
