//! The typed configuration, with Tempo's keys and defaults. Sections Vivace reads are typed; the
//! others are kept as raw YAML so that Tempo files load unchanged.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

/// Go-style durations (`5s`, `1h30m`, `500ms`) in YAML; integers are nanoseconds.
pub mod go_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn parse(text: &str) -> Result<Duration, String> {
        let trimmed = text.trim();
        if trimmed == "0" {
            return Ok(Duration::ZERO);
        }
        humantime::parse_duration(trimmed)
            .map_err(|error| format!("invalid duration {trimmed:?}: {error}"))
    }

    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(
            &humantime::format_duration(*duration)
                .to_string()
                .replace(' ', ""),
        )
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let value = serde_yaml::Value::deserialize(deserializer)?;
        match value {
            serde_yaml::Value::String(text) => parse(&text).map_err(D::Error::custom),
            serde_yaml::Value::Number(number) => number
                .as_u64()
                .map(Duration::from_nanos)
                .ok_or_else(|| D::Error::custom("a duration must not be negative")),
            other => Err(D::Error::custom(format!(
                "expected a duration, found {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServerConfig {
    pub http_listen_address: String,
    pub http_listen_port: u16,
    pub grpc_listen_address: String,
    pub grpc_listen_port: u16,
    pub log_level: String,
    pub grpc_server_max_recv_msg_size: usize,
    pub grpc_server_max_send_msg_size: usize,
    #[serde(flatten)]
    pub other: serde_yaml::Mapping,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            http_listen_address: String::new(),
            http_listen_port: 3200,
            grpc_listen_address: String::new(),
            grpc_listen_port: 9095,
            log_level: "info".to_owned(),
            grpc_server_max_recv_msg_size: 16 * 1024 * 1024,
            grpc_server_max_send_msg_size: 16 * 1024 * 1024,
            other: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct DistributorConfig {
    /// Raw receiver settings (`None`: the defaults, OTLP gRPC and HTTP).
    pub receivers: Option<Value>,
    #[serde(flatten)]
    pub other: serde_yaml::Mapping,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct IngesterConfig {
    #[serde(with = "go_duration")]
    pub trace_idle_period: Duration,
    #[serde(with = "go_duration")]
    pub flush_check_period: Duration,
    #[serde(with = "go_duration")]
    pub max_block_duration: Duration,
    pub max_block_bytes: u64,
    #[serde(with = "go_duration")]
    pub complete_block_timeout: Duration,
    pub concurrent_flushes: usize,
    pub flush_all_on_shutdown: bool,
    pub lifecycler: Value,
    #[serde(flatten)]
    pub other: serde_yaml::Mapping,
}

impl Default for IngesterConfig {
    fn default() -> Self {
        IngesterConfig {
            trace_idle_period: Duration::from_secs(5),
            flush_check_period: Duration::from_secs(10),
            max_block_duration: Duration::from_secs(30 * 60),
            max_block_bytes: 500 * 1024 * 1024,
            complete_block_timeout: Duration::from_secs(15 * 60),
            concurrent_flushes: 4,
            flush_all_on_shutdown: false,
            lifecycler: Value::Null,
            other: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct PathConfig {
    pub path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BlockSettings {
    pub bloom_filter_false_positive: f64,
    pub bloom_filter_shard_size_bytes: usize,
    pub parquet_row_group_size_bytes: usize,
    #[serde(flatten)]
    pub other: serde_yaml::Mapping,
}

impl Default for BlockSettings {
    fn default() -> Self {
        BlockSettings {
            bloom_filter_false_positive: 0.01,
            bloom_filter_shard_size_bytes: 100 * 1024,
            parquet_row_group_size_bytes: 8 * 1024 * 1024,
            other: Default::default(),
        }
    }
}

/// Vivace's built-in hybrid cache (`storage.trace.vivace_cache`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct VivaceCacheConfig {
    pub path: String,
    pub memory_bytes: usize,
    pub disk_bytes: usize,
}

impl Default for VivaceCacheConfig {
    fn default() -> Self {
        VivaceCacheConfig {
            path: "./data/cache".to_owned(),
            memory_bytes: 256 * 1024 * 1024,
            disk_bytes: 1024 * 1024 * 1024,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct TraceStorageConfig {
    pub backend: String,
    pub local: PathConfig,
    pub wal: PathConfig,
    pub block: BlockSettings,
    #[serde(with = "go_duration")]
    pub blocklist_poll: Duration,
    pub vivace_cache: VivaceCacheConfig,
    #[serde(flatten)]
    pub other: serde_yaml::Mapping,
}

impl Default for TraceStorageConfig {
    fn default() -> Self {
        TraceStorageConfig {
            backend: "local".to_owned(),
            local: PathConfig {
                path: "./data/blocks".to_owned(),
            },
            wal: PathConfig {
                path: "./data/wal".to_owned(),
            },
            block: BlockSettings::default(),
            blocklist_poll: Duration::from_secs(5 * 60),
            vivace_cache: VivaceCacheConfig::default(),
            other: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct StorageConfig {
    pub trace: TraceStorageConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct IngestionLimits {
    pub rate_strategy: String,
    pub rate_limit_bytes: u64,
    pub burst_size_bytes: u64,
    pub max_traces_per_user: usize,
    pub max_global_traces_per_user: usize,
    pub max_attribute_bytes: usize,
    #[serde(flatten)]
    pub other: serde_yaml::Mapping,
}

impl Default for IngestionLimits {
    fn default() -> Self {
        IngestionLimits {
            rate_strategy: "local".to_owned(),
            rate_limit_bytes: 30_000_000,
            burst_size_bytes: 30_000_000,
            max_traces_per_user: 10_000,
            max_global_traces_per_user: 0,
            max_attribute_bytes: 2048,
            other: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct GlobalLimits {
    pub max_bytes_per_trace: u64,
}

impl Default for GlobalLimits {
    fn default() -> Self {
        GlobalLimits {
            max_bytes_per_trace: 5_000_000,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LimitsConfig {
    pub ingestion: IngestionLimits,
    pub global: GlobalLimits,
    #[serde(flatten)]
    pub other: serde_yaml::Mapping,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct OverridesConfig {
    pub defaults: LimitsConfig,
    #[serde(flatten)]
    pub other: serde_yaml::Mapping,
}

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Config {
    pub target: String,
    pub multitenancy_enabled: bool,
    pub stream_over_http_enabled: bool,
    pub http_api_prefix: String,
    pub server: ServerConfig,
    pub distributor: DistributorConfig,
    pub ingester: IngesterConfig,
    pub storage: StorageConfig,
    pub overrides: OverridesConfig,
    /// Sections Vivace accepts but does not read yet.
    #[serde(flatten)]
    pub other: serde_yaml::Mapping,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            target: "all".to_owned(),
            multitenancy_enabled: false,
            stream_over_http_enabled: false,
            http_api_prefix: String::new(),
            server: ServerConfig::default(),
            distributor: DistributorConfig::default(),
            ingester: IngesterConfig::default(),
            storage: StorageConfig::default(),
            overrides: OverridesConfig::default(),
            other: Default::default(),
        }
    }
}
