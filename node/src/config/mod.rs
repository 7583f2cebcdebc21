//! Configuration: Tempo's YAML file (`-config.file`, `-config.expand-env`) and Tempo-style flags,
//! merged as defaults < file < flags.
//!
//! How it works: flags are parsed into (YAML path, value) pairs, the file is parsed into a YAML
//! tree, the pairs are set over the tree, and the result is deserialized once into [`Config`], so
//! every key is automatically a flag. The set of known keys is the default configuration's own
//! tree plus a few open sections (`tree.rs`). Sections of Tempo components Vivace does not have
//! are accepted with one warning each; top-level keys Tempo itself does not know are errors.
//!
//! Files: `sections.rs`/`overrides.rs` (types), `defaults.rs`, `receivers.rs`, `values.rs`
//! (durations), `env.rs`, `flags.rs`, `tree.rs`, `load.rs`, `error.rs`.

mod defaults;
mod env;
mod error;
mod flags;
mod load;
mod overrides;
mod receivers;
mod sections;
mod tree;
pub(crate) mod values;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_yaml::Value;

#[allow(
    unused_imports,
    reason = "public configuration API; not every item is used yet"
)]
pub use defaults::{DEFAULT_OTLP_GRPC_ENDPOINT, DEFAULT_OTLP_HTTP_ENDPOINT};
pub use error::ConfigError;
pub use flags::usage;
#[allow(
    unused_imports,
    reason = "public configuration API; not every item is used yet"
)]
pub use overrides::{GlobalLimits, IngestionLimits, LimitsConfig, OverridesConfig};
#[allow(
    unused_imports,
    reason = "public configuration API; not every item is used yet"
)]
pub use sections::{
    BlockSettings, DistributorConfig, IngesterConfig, LocalConfig, ServerConfig, StorageConfig,
    TraceStorageConfig, VivaceCacheConfig, WalConfig,
};
#[allow(
    unused_imports,
    reason = "public configuration API; not every item is used yet"
)]
pub use values::{format_duration, parse_duration};

use defaults::empty_section;
use values::{go_duration, lenient_string, null_as_default};

/// The whole configuration, in Tempo's shape. Sections Vivace reads are typed; the others are
/// kept as raw YAML so that they show up in `/status/config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Components to run (`all`, or later a comma-separated list).
    #[serde(deserialize_with = "lenient_string")]
    pub target: String,
    /// Deprecated spelling of `multitenancy_enabled`; the loader folds it in.
    pub auth_enabled: bool,
    /// Require `X-Scope-OrgID`; otherwise every request is tenant `single-tenant`.
    pub multitenancy_enabled: bool,
    /// Delay between SIGTERM and shutdown (reporting not-ready meanwhile).
    #[serde(with = "go_duration")]
    pub shutdown_delay: Duration,
    /// Serve gRPC (streaming search) on the HTTP port via h2c.
    pub stream_over_http_enabled: bool,
    /// Prefix joined in front of every `/api/...` route.
    #[serde(deserialize_with = "lenient_string")]
    pub http_api_prefix: String,
    /// Tempo's Go runtime metrics switch (accepted).
    pub enable_go_runtime_metrics: bool,
    /// Tempo's span profiling switch (accepted).
    pub span_profiling: bool,
    /// Tempo's memory limit settings (raw).
    pub memory: Value,
    /// HTTP and gRPC listeners.
    #[serde(deserialize_with = "null_as_default")]
    pub server: ServerConfig,
    /// Tempo's internal server (raw).
    pub internal_server: Value,
    /// Receivers.
    #[serde(deserialize_with = "null_as_default")]
    pub distributor: DistributorConfig,
    /// Tempo 2.x ingester client (raw).
    pub ingester_client: Value,
    /// Tempo's metrics-generator client (raw).
    pub metrics_generator_client: Value,
    /// Querier (raw).
    pub querier: Value,
    /// Query-frontend (raw).
    pub query_frontend: Value,
    /// Compactor (raw).
    pub compactor: Value,
    /// Ingester: head block cutting and flushing.
    #[serde(deserialize_with = "null_as_default")]
    pub ingester: IngesterConfig,
    /// Metrics-generator (raw).
    pub metrics_generator: Value,
    /// Trace storage.
    #[serde(deserialize_with = "null_as_default")]
    pub storage: StorageConfig,
    /// Per-tenant limits.
    #[serde(deserialize_with = "null_as_default")]
    pub overrides: OverridesConfig,
    /// Memberlist gossip (raw).
    pub memberlist: Value,
    /// Usage reporting (raw).
    pub usage_report: Value,
    /// Tempo's external caches (raw; Vivace uses `storage.trace.vivace_cache`).
    pub cache: Value,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            target: defaults::DEFAULT_TARGET.to_string(),
            auth_enabled: false,
            multitenancy_enabled: false,
            shutdown_delay: Duration::ZERO,
            stream_over_http_enabled: false,
            http_api_prefix: String::new(),
            enable_go_runtime_metrics: false,
            span_profiling: false,
            memory: empty_section(),
            server: ServerConfig::default(),
            internal_server: empty_section(),
            distributor: DistributorConfig::default(),
            ingester_client: empty_section(),
            metrics_generator_client: empty_section(),
            querier: empty_section(),
            query_frontend: empty_section(),
            compactor: empty_section(),
            ingester: IngesterConfig::default(),
            metrics_generator: empty_section(),
            storage: StorageConfig::default(),
            overrides: OverridesConfig::default(),
            memberlist: empty_section(),
            usage_report: empty_section(),
            cache: empty_section(),
        }
    }
}

impl Config {
    /// The configuration as YAML, for `/status/config`. Loading this text back gives the same
    /// configuration.
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self)
            .unwrap_or_else(|error| format!("# cannot render the configuration: {error}\n"))
    }

    /// The components in `target`, split on commas and trimmed.
    #[allow(dead_code, reason = "public configuration API for role selection")]
    pub fn targets(&self) -> Vec<String> {
        self.target
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// Default of `query_frontend.search.target_bytes_per_job` (Tempo's 100 MiB).
pub const DEFAULT_TARGET_BYTES_PER_JOB: u64 = 104_857_600;

/// Settings of the query path that `NodeSettings` does not carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuerySettings {
    /// Serve the gRPC `StreamingQuerier` on the HTTP port too (h2c): Tempo's top-level
    /// `stream_over_http_enabled`, also accepted as `server.stream_over_http_enabled`.
    pub stream_over_http_enabled: bool,
    /// `query_frontend.search.target_bytes_per_job`: bytes of a block one search job reads.
    pub search_target_bytes_per_job: u64,
}

/// Where the search job size is configured.
pub const TARGET_BYTES_PER_JOB_KEY: &str = "query_frontend.search.target_bytes_per_job";

/// `query_frontend.search.target_bytes_per_job`, or why it is not acceptable.
pub(crate) fn target_bytes_per_job(config: &Config) -> Result<u64, String> {
    let target = config
        .query_frontend
        .get("search")
        .and_then(|search| search.get("target_bytes_per_job"));
    match target {
        None | Some(Value::Null) => Ok(DEFAULT_TARGET_BYTES_PER_JOB),
        Some(value) => positive_bytes(value)
            .ok_or_else(|| format!("expected a positive number of bytes, got {value:?}")),
    }
}

impl QuerySettings {
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let search_target_bytes_per_job = target_bytes_per_job(config)
            .map_err(|message| format!("{TARGET_BYTES_PER_JOB_KEY}: {message}"))?;
        Ok(QuerySettings {
            stream_over_http_enabled: config.stream_over_http_enabled
                || config.server.stream_over_http_enabled,
            search_target_bytes_per_job,
        })
    }

    /// Reads them back from the configuration as rendered for `/status/config`
    /// (`NodeSettings::config_yaml`).
    pub fn from_rendered_yaml(yaml: &str) -> Result<Self, String> {
        let config: Config = serde_yaml::from_str(yaml)
            .map_err(|error| format!("cannot read the configuration back: {error}"))?;
        Self::from_config(&config)
    }
}

/// A byte count written as an integer, a whole float (`1.048576e+08`) or such a string.
fn positive_bytes(value: &Value) -> Option<u64> {
    let number = match value {
        Value::Number(number) => number.as_u64().or_else(|| {
            number
                .as_f64()
                .filter(|float| float.fract() == 0.0 && *float >= 0.0)
                .map(|float| float as u64)
        }),
        Value::String(text) => text.trim().parse::<u64>().ok().or_else(|| {
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|float| float.fract() == 0.0 && *float >= 0.0)
                .map(|float| float as u64)
        }),
        _ => None,
    }?;
    (number > 0).then_some(number)
}

/// The loaded configuration and what `main` must do besides running.
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "verify_config and config_file are for main, which may not read them yet"
)]
pub struct LoadedConfig {
    /// The configuration.
    pub config: Config,
    /// One line per accepted-but-ignored setting; `main` should log each at warn level.
    pub warnings: Vec<String>,
    /// `-version` was given: print the version and exit (the configuration is the default one).
    pub print_version: bool,
    /// `-help` was given: print [`usage`] and exit (the configuration is the default one).
    pub print_help: bool,
    /// `-config.verify` was given: the configuration is valid; exit without running.
    pub verify_config: bool,
    /// The `-config.file` path, if any.
    pub config_file: Option<String>,
}

/// Loads the configuration from the command line (without the program name), reading the file
/// named by `-config.file` and, with `-config.expand-env`, the process environment.
pub fn load(args: &[String]) -> Result<LoadedConfig, ConfigError> {
    let env = |name: &str| std::env::var(name).ok();
    let read = |path: &str| std::fs::read_to_string(path);
    load::load_with(
        args,
        &load::Sources {
            env: &env,
            read: &read,
        },
    )
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_flags;
#[cfg(test)]
mod tests_sections;
