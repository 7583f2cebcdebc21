//! Configuration: Tempo's YAML file (`-config.file`, `-config.expand-env`) and Tempo-style flags,
//! merged as defaults < file < flags. Sections for Tempo components Vivace does not have are
//! accepted with one warning each; keys Tempo itself does not know are errors.

mod env;
mod flags;
mod types;

use serde_yaml::{Mapping, Value};

use flags::{parse_flags, set_path};
pub use types::*;

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Flag(String),
    #[error("failed to read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("failed to parse config file {path}: {source}")]
    Yaml {
        path: String,
        source: serde_yaml::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("unknown configuration key {key:?}{place}")]
    UnknownKey { key: String, place: String },
}

/// The loaded configuration, and what main must do.
#[derive(Debug)]
pub struct LoadedConfig {
    pub config: Config,
    pub warnings: Vec<String>,
    pub print_version: bool,
    pub print_help: bool,
}

/// Top-level sections Vivace reads or accepts.
const ACCEPTED_SECTIONS: &[&str] = &[
    "target",
    "multitenancy_enabled",
    "auth_enabled",
    "stream_over_http_enabled",
    "http_api_prefix",
    "server",
    "internal_server",
    "distributor",
    "ingester",
    "ingester_client",
    "querier",
    "query_frontend",
    "compactor",
    "metrics_generator",
    "metrics_generator_client",
    "storage",
    "overrides",
    "memberlist",
    "cache",
    "usage_report",
    "enable_go_runtime_metrics",
    "use_otel_tracer",
    "autocomplete_filtering_enabled",
    "shutdown_delay",
];

/// Top-level sections of Tempo components Vivace does not have: accepted with a warning.
const FOREIGN_SECTIONS: &[&str] = &[
    "block_builder",
    "live_store",
    "live_store_client",
    "ingest",
    "backend_scheduler",
    "backend_scheduler_client",
    "backend_worker",
    "partition_ring",
    "generator_ring",
];

const UNSUPPORTED_RECEIVERS: &[&str] = &["jaeger", "zipkin", "kafka", "opencensus"];

/// Legacy flat overrides keys and where they live now.
const LEGACY_OVERRIDES: &[(&str, &[&str])] = &[
    ("ingestion_rate_strategy", &["ingestion", "rate_strategy"]),
    (
        "ingestion_rate_limit_bytes",
        &["ingestion", "rate_limit_bytes"],
    ),
    (
        "ingestion_burst_size_bytes",
        &["ingestion", "burst_size_bytes"],
    ),
    ("max_traces_per_user", &["ingestion", "max_traces_per_user"]),
    (
        "max_global_traces_per_user",
        &["ingestion", "max_global_traces_per_user"],
    ),
    ("max_bytes_per_trace", &["global", "max_bytes_per_trace"]),
];

fn read_file(path: &str, expand: bool) -> Result<Value, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let expanded = if expand {
        env::expand_env(&text, |name| std::env::var(name).ok())
    } else {
        text
    };
    let tree: Value = serde_yaml::from_str(&expanded).map_err(|source| ConfigError::Yaml {
        path: path.to_owned(),
        source,
    })?;
    match tree {
        Value::Null => Ok(Value::Mapping(Mapping::new())),
        Value::Mapping(_) => Ok(tree),
        _ => Err(ConfigError::Invalid(format!(
            "config file {path} must hold a mapping at the top level"
        ))),
    }
}

fn check_sections(
    tree: &Value,
    place: &str,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let Value::Mapping(mapping) = tree else {
        return Ok(());
    };
    for key in mapping.keys() {
        let name = key.as_str().unwrap_or_default();
        if ACCEPTED_SECTIONS.contains(&name) {
            continue;
        }
        if FOREIGN_SECTIONS.contains(&name) {
            warnings.push(format!(
                "config section {name} is for a Tempo component vivace does not have; ignored"
            ));
            continue;
        }
        return Err(ConfigError::UnknownKey {
            key: name.to_owned(),
            place: place.to_owned(),
        });
    }
    Ok(())
}

/// Moves legacy flat override keys and the deprecated `auth_enabled` to their current places.
fn normalize(tree: &mut Value) -> Result<(), ConfigError> {
    if let Some(auth) = tree.get("auth_enabled").cloned()
        && tree.get("multitenancy_enabled").is_none()
    {
        set_path(tree, &["multitenancy_enabled".to_owned()], auth)?;
    }
    let Some(Value::Mapping(overrides)) = tree.get("overrides").cloned() else {
        return Ok(());
    };
    for (legacy, path) in LEGACY_OVERRIDES {
        let Some(value) = overrides.get(*legacy) else {
            continue;
        };
        let mut full: Vec<String> = vec!["overrides".to_owned(), "defaults".to_owned()];
        full.extend(path.iter().map(|segment| (*segment).to_owned()));
        set_path(tree, &full, value.clone())?;
        if let Some(Value::Mapping(current)) = tree.get_mut("overrides") {
            current.remove(*legacy);
        }
    }
    Ok(())
}

fn receiver_warnings(receivers: Option<&Value>, warnings: &mut Vec<String>) {
    let Some(Value::Mapping(mapping)) = receivers else {
        return;
    };
    for key in mapping.keys() {
        let name = key.as_str().unwrap_or_default();
        if UNSUPPORTED_RECEIVERS.contains(&name) {
            warnings.push(format!(
                "receiver {name} is not supported by vivace yet; ignored"
            ));
        }
    }
}

impl DistributorConfig {
    fn otlp_endpoint(&self, protocol: &str, default: &str) -> Option<String> {
        let Some(receivers) = &self.receivers else {
            return Some(default.to_owned());
        };
        let protocols = receivers.get("otlp")?.get("protocols")?;
        let Value::Mapping(protocols) = protocols else {
            return None;
        };
        let settings = protocols.get(protocol)?;
        let endpoint = settings
            .get("endpoint")
            .and_then(Value::as_str)
            .unwrap_or(default);
        Some(endpoint.to_owned())
    }

    /// The OTLP gRPC endpoint, if that receiver is enabled.
    pub fn otlp_grpc_endpoint(&self) -> Option<String> {
        self.otlp_endpoint("grpc", "0.0.0.0:4317")
    }

    /// The OTLP HTTP endpoint, if that receiver is enabled.
    pub fn otlp_http_endpoint(&self) -> Option<String> {
        self.otlp_endpoint("http", "0.0.0.0:4318")
    }
}

impl Config {
    /// The configuration as YAML (`/status/config`).
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self)
            .unwrap_or_else(|error| format!("# failed to render the configuration: {error}\n"))
    }
}

/// Loads the configuration from the command line (without the program name).
pub fn load(args: &[String]) -> Result<LoadedConfig, ConfigError> {
    let parsed = parse_flags(args)?;
    let mut warnings = Vec::new();
    let mut tree = match &parsed.config_file {
        Some(path) => read_file(path, parsed.expand_env)?,
        None => Value::Mapping(Mapping::new()),
    };
    let place = parsed
        .config_file
        .as_ref()
        .map(|path| format!(" in {path}"))
        .unwrap_or_default();
    check_sections(&tree, &place, &mut warnings)?;
    for (path, value) in &parsed.settings {
        let top = path.first().map(String::as_str).unwrap_or_default();
        if !ACCEPTED_SECTIONS.contains(&top) && !FOREIGN_SECTIONS.contains(&top) {
            return Err(ConfigError::Flag(format!(
                "flag provided but not defined: -{}",
                path.join(".").replace('_', "-")
            )));
        }
        set_path(&mut tree, path, value.clone())?;
    }
    normalize(&mut tree)?;
    receiver_warnings(
        tree.get("distributor")
            .and_then(|distributor| distributor.get("receivers")),
        &mut warnings,
    );
    if tree
        .get("storage")
        .and_then(|storage| storage.get("trace"))
        .and_then(|trace| trace.get("cache"))
        .is_some()
    {
        warnings.push("storage.trace.cache is ignored: vivace uses its built-in hybrid cache (storage.trace.vivace_cache)".to_owned());
    }
    let config: Config = serde_yaml::from_value(tree)
        .map_err(|error| ConfigError::Invalid(format!("{error}{place}")))?;
    validate(&config)?;
    Ok(LoadedConfig {
        config,
        warnings,
        print_version: parsed.print_version,
        print_help: parsed.print_help,
    })
}

fn validate(config: &Config) -> Result<(), ConfigError> {
    let backend = config.storage.trace.backend.as_str();
    if backend != "local" {
        return Err(ConfigError::Invalid(format!(
            "storage backend {backend} is not supported yet (supported: local)"
        )));
    }
    if config.ingester.flush_check_period.is_zero() {
        return Err(ConfigError::Invalid(
            "ingester.flush_check_period must be greater than zero".to_owned(),
        ));
    }
    Ok(())
}

/// Short help text for `-help`.
pub fn usage() -> String {
    [
        "Usage: vivace [flags]        run a node (Tempo-compatible flags and configuration)",
        "       vivace bench ...      load generator (vivace bench --help)",
        "",
        "Main flags (every YAML key is also a flag: its path with '_' written as '-'):",
        "  -config.file=PATH                   Tempo configuration file",
        "  -config.expand-env                  expand ${VAR} and ${VAR:-default} in the file",
        "  -target=all                         components to run",
        "  -server.http-listen-port=3200       HTTP API port",
        "  -server.grpc-listen-port=9095       gRPC port",
        "  -storage.trace.local.path=PATH      block storage folder (./data/blocks)",
        "  -storage.trace.wal.path=PATH        write-ahead log folder (./data/wal)",
        "  -multitenancy.enabled               require X-Scope-OrgID",
        "  -log.level=info                     log level",
        "  -version                            print the version",
    ]
    .join("\n")
}

#[cfg(test)]
mod tests;
