//! `overrides`: per-tenant limits. Vivace reads `overrides.defaults.ingestion` and
//! `overrides.defaults.global`; the other scopes are kept as raw YAML. The legacy flat format
//! (`overrides.ingestion_rate_limit_bytes`, ...) is mapped onto the scoped one by
//! [`legacy_override_path`] before deserialization.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use super::values::{go_duration, lenient_string, null_as_default, opt_go_duration};

/// `overrides`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OverridesConfig {
    /// Limits for every tenant without a per-tenant override.
    #[serde(deserialize_with = "null_as_default")]
    pub defaults: LimitsConfig,
    /// Runtime per-tenant overrides file (read by a later module; empty means none).
    #[serde(deserialize_with = "lenient_string")]
    pub per_tenant_override_config: String,
    /// How often the per-tenant file is re-read.
    #[serde(with = "go_duration")]
    pub per_tenant_override_period: Duration,
    /// User-configurable overrides API settings (accepted, unused).
    pub user_configurable_overrides: Value,
    /// Tempo 3.x switch allowing the legacy flat format; Vivace maps that format regardless.
    pub enable_legacy_overrides: bool,
}

/// `overrides.defaults` (and later each tenant's block in the runtime file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitsConfig {
    /// Ingestion limits.
    #[serde(deserialize_with = "null_as_default")]
    pub ingestion: IngestionLimits,
    /// Limits enforced everywhere.
    #[serde(deserialize_with = "null_as_default")]
    pub global: GlobalLimits,
    /// Read-path limits (raw).
    pub read: Value,
    /// Compaction and retention limits (raw).
    pub compaction: Value,
    /// Metrics-generator limits (raw).
    pub metrics_generator: Value,
    /// Forwarder names (raw).
    pub forwarders: Value,
    /// Storage overrides such as dedicated columns (raw).
    pub storage: Value,
    /// Cost attribution (raw).
    pub cost_attribution: Value,
}

/// `overrides.defaults.ingestion`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IngestionLimits {
    /// `local` (each distributor applies the limit) or `global` (shared across distributors).
    #[serde(deserialize_with = "lenient_string")]
    pub rate_strategy: String,
    /// Sustained ingestion rate per tenant, bytes per second.
    pub rate_limit_bytes: u64,
    /// Burst size per tenant, bytes.
    pub burst_size_bytes: u64,
    /// Live traces per tenant per ingester; 0 means unlimited.
    pub max_traces_per_user: usize,
    /// Live traces per tenant across the cluster; 0 means unlimited.
    pub max_global_traces_per_user: usize,
    /// Attribute values longer than this are truncated.
    pub max_attribute_bytes: usize,
    /// Shuffle-sharding size; 0 means all ingesters.
    pub tenant_shard_size: usize,
    /// Send gRPC RetryInfo when rate limited.
    pub retry_info_enabled: bool,
    /// Artificial delay added to pushes (accepted, unused).
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_go_duration")]
    pub artificial_delay: Option<Duration>,
}

/// `overrides.defaults.global`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GlobalLimits {
    /// Largest trace in bytes; 0 means unlimited.
    pub max_bytes_per_trace: u64,
}

/// Keys allowed directly under `overrides` in the scoped (current) format.
pub const SCOPED_OVERRIDES_KEYS: &[&str] = &[
    "defaults",
    "per_tenant_override_config",
    "per_tenant_override_period",
    "user_configurable_overrides",
    "enable_legacy_overrides",
];

/// Legacy keys that keep their name and move under one scope of `overrides.defaults`.
const LEGACY_SAME_NAME: &[(&str, &str)] = &[
    ("max_traces_per_user", "ingestion"),
    ("max_global_traces_per_user", "ingestion"),
    ("max_bytes_per_trace", "global"),
    ("block_retention", "compaction"),
    ("compaction_disabled", "compaction"),
    ("compaction_window", "compaction"),
    ("max_bytes_per_tag_values_query", "read"),
    ("max_blocks_per_tag_values_query", "read"),
    ("max_condition_groups_per_tag_query", "read"),
    ("max_search_duration", "read"),
    ("max_metrics_duration", "read"),
    ("unsafe_query_hints", "read"),
    ("left_pad_trace_ids", "read"),
    ("metrics_spanonly_fetch", "read"),
    ("span_pruning_awareness", "read"),
    ("engine_bytes_tracking", "read"),
    ("span_pruning_enabled", "read"),
];

/// Legacy metrics-generator key prefixes and the scoped path they expand to.
const LEGACY_GENERATOR_PREFIXES: &[(&str, &[&str])] = &[
    (
        "metrics_generator_processor_service_graphs_",
        &["metrics_generator", "processor", "service_graphs"],
    ),
    (
        "metrics_generator_processor_span_metrics_",
        &["metrics_generator", "processor", "span_metrics"],
    ),
    (
        "metrics_generator_processor_host_info_",
        &["metrics_generator", "processor", "host_info"],
    ),
    (
        "metrics_generator_forwarder_",
        &["metrics_generator", "forwarder"],
    ),
    ("metrics_generator_", &["metrics_generator"]),
];

/// Where a legacy flat `overrides.<key>` lives in the scoped format, relative to
/// `overrides.defaults`; `None` if `key` is not a legacy key.
pub fn legacy_override_path(key: &str) -> Option<Vec<String>> {
    let owned = |parts: &[&str]| {
        parts
            .iter()
            .map(|part| (*part).to_string())
            .collect::<Vec<_>>()
    };
    if let Some(rest) = key.strip_prefix("ingestion_") {
        return Some(owned(&["ingestion", rest]));
    }
    if let Some((_, scope)) = LEGACY_SAME_NAME.iter().find(|(name, _)| *name == key) {
        return Some(owned(&[scope, key]));
    }
    if let Some((prefix, scope)) = LEGACY_GENERATOR_PREFIXES
        .iter()
        .find(|(prefix, _)| key.starts_with(prefix))
    {
        let mut path = owned(scope);
        path.push(key[prefix.len()..].to_string());
        return Some(path);
    }
    match key {
        "forwarders" | "cost_attribution" => Some(owned(&[key])),
        "parquet_dedicated_columns" => Some(owned(&["storage", key])),
        _ => None,
    }
}
