//! Typed sections Vivace reads: `server`, `distributor`, `ingester` and `storage`.
//!
//! Keys Tempo has in these sections but Vivace does not read are accepted and dropped (the loader
//! only refuses keys in fully typed sections, see `tree::OPEN_PREFIXES`). Defaults are in
//! `defaults.rs`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use super::values::{go_duration, lenient_string, null_as_default};

/// `server`: the HTTP and gRPC listeners (dskit's server block). Unknown dskit keys are accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Interface for the HTTP API; empty means every interface.
    #[serde(deserialize_with = "lenient_string")]
    pub http_listen_address: String,
    /// HTTP API port (`-server.http-listen-port`).
    pub http_listen_port: u16,
    /// Interface for gRPC; empty means every interface.
    #[serde(deserialize_with = "lenient_string")]
    pub grpc_listen_address: String,
    /// gRPC port (`-server.grpc-listen-port`).
    pub grpc_listen_port: u16,
    /// `debug`, `info`, `warn` or `error` (`-log.level`).
    #[serde(deserialize_with = "lenient_string")]
    pub log_level: String,
    /// `logfmt` or `json` (`-log.format`).
    #[serde(deserialize_with = "lenient_string")]
    pub log_format: String,
    /// Largest gRPC message the server accepts, in bytes.
    pub grpc_server_max_recv_msg_size: usize,
    /// Largest gRPC message the server sends, in bytes.
    pub grpc_server_max_send_msg_size: usize,
    /// Timeout for reading a whole HTTP request.
    #[serde(with = "go_duration")]
    pub http_server_read_timeout: Duration,
    /// Timeout for writing an HTTP response.
    #[serde(with = "go_duration")]
    pub http_server_write_timeout: Duration,
    /// Keep-alive idle timeout for HTTP connections.
    #[serde(with = "go_duration")]
    pub http_server_idle_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    #[serde(with = "go_duration")]
    pub graceful_shutdown_timeout: Duration,
    /// Also accepted here: Tempo's top-level `stream_over_http_enabled` (gRPC streaming on the
    /// HTTP port). Either switch turns it on; see [`super::QuerySettings`]. Shown only when set.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream_over_http_enabled: bool,
}

/// `distributor`: only `receivers` is read; see `receivers.rs` for its semantics.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DistributorConfig {
    /// The raw `receivers` block as written (OpenTelemetry-collector shape). `None` when the
    /// configuration has no receivers section: OTLP gRPC and HTTP are then both enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receivers: Option<Value>,
}

/// `ingester`: Tempo 2.x ingester settings (head block cutting and flushing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IngesterConfig {
    /// A trace is cut to the head block after this long without new spans.
    #[serde(with = "go_duration")]
    pub trace_idle_period: Duration,
    /// A trace is cut even if still active after this long.
    #[serde(with = "go_duration")]
    pub trace_live_period: Duration,
    /// The head block is cut when it is older than this.
    #[serde(with = "go_duration")]
    pub max_block_duration: Duration,
    /// The head block is cut when it is larger than this many bytes.
    pub max_block_bytes: u64,
    /// Flushed blocks stay on the local disk for this long.
    #[serde(with = "go_duration")]
    pub complete_block_timeout: Duration,
    /// How often idle traces and full blocks are looked for.
    #[serde(with = "go_duration")]
    pub flush_check_period: Duration,
    /// Timeout of one flush operation.
    #[serde(with = "go_duration")]
    pub flush_op_timeout: Duration,
    /// Number of blocks flushed in parallel.
    pub concurrent_flushes: usize,
    /// Flush everything to the backend on shutdown.
    pub flush_all_on_shutdown: bool,
    /// Write completed blocks to the backend (Tempo 2.x `flush_object_storage`).
    pub flush_object_storage: bool,
    /// Ring key override (accepted, unused).
    #[serde(deserialize_with = "lenient_string")]
    pub override_ring_key: String,
    /// The dskit lifecycler block, kept as written (any keys accepted). Read it with
    /// [`IngesterConfig::lifecycler_id`] and [`IngesterConfig::replication_factor`].
    pub lifecycler: Value,
    /// Tempo's experimental ingester partition ring (accepted, unused).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub partition_ring: Value,
}

#[allow(
    dead_code,
    reason = "public configuration API for the ring and lifecycler modules"
)]
impl IngesterConfig {
    /// `ingester.lifecycler.id`, if given and not empty.
    pub fn lifecycler_id(&self) -> Option<String> {
        let id = self.lifecycler.get("id")?;
        let text = match id {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            _ => return None,
        };
        Some(text).filter(|text| !text.is_empty())
    }

    /// `ingester.lifecycler.ring.replication_factor`, when set.
    pub fn replication_factor(&self) -> Option<u32> {
        self.lifecycler
            .get("ring")
            .and_then(|ring| ring.get("replication_factor"))
            .and_then(Value::as_u64)
            .and_then(|factor| u32::try_from(factor).ok())
    }

    /// The replication factor: as set, else 1 for a single process and 3 in a cluster.
    pub fn effective_replication_factor(&self, clustered: bool) -> u32 {
        let default = if clustered {
            super::defaults::DEFAULT_CLUSTER_REPLICATION_FACTOR
        } else {
            super::defaults::DEFAULT_REPLICATION_FACTOR
        };
        self.replication_factor().unwrap_or(default)
    }
}

/// `storage`: only `trace` exists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StorageConfig {
    /// Trace storage (`storage.trace`).
    #[serde(deserialize_with = "null_as_default")]
    pub trace: TraceStorageConfig,
}

/// `storage.trace`: the backend, the WAL, block encoding and Vivace's built-in cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TraceStorageConfig {
    /// Backend kind; only `local` is supported for now.
    #[serde(deserialize_with = "lenient_string")]
    pub backend: String,
    /// The local backend (`storage.trace.local`).
    #[serde(deserialize_with = "null_as_default")]
    pub local: LocalConfig,
    /// The write-ahead log (`storage.trace.wal`).
    #[serde(deserialize_with = "null_as_default")]
    pub wal: WalConfig,
    /// Block encoding (`storage.trace.block`).
    #[serde(deserialize_with = "null_as_default")]
    pub block: BlockSettings,
    /// How often the block list is re-read from the backend.
    #[serde(with = "go_duration")]
    pub blocklist_poll: Duration,
    /// Vivace's built-in memory + disk cache (Vivace-only key).
    #[serde(deserialize_with = "null_as_default")]
    pub vivace_cache: VivaceCacheConfig,
}

/// `storage.trace.local`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LocalConfig {
    /// Folder holding the blocks.
    #[serde(deserialize_with = "lenient_string")]
    pub path: String,
}

/// `storage.trace.wal`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WalConfig {
    /// Folder holding the write-ahead log.
    #[serde(deserialize_with = "lenient_string")]
    pub path: String,
}

/// `storage.trace.block`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlockSettings {
    /// Target false-positive rate of the bloom filters, in (0, 1).
    pub bloom_filter_false_positive: f64,
    /// Size of one bloom filter shard in bytes.
    pub bloom_filter_shard_size_bytes: usize,
    /// A row group is closed at this many bytes.
    pub parquet_row_group_size_bytes: usize,
    /// Tempo's block version (`vParquet4`, ...): accepted, Vivace writes its own format.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::values::lenient_opt_string"
    )]
    pub version: Option<String>,
}

/// `storage.trace.vivace_cache`: Vivace's built-in hybrid cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VivaceCacheConfig {
    /// Memory tier size in bytes.
    pub memory_bytes: usize,
    /// Disk tier size in bytes.
    pub disk_bytes: usize,
    /// Folder of the disk tier.
    #[serde(deserialize_with = "lenient_string")]
    pub path: String,
}
