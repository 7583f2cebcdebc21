//! Loading: defaults < config file < flags, merged as one YAML tree and deserialized once.

use serde_yaml::{Mapping, Value};

use super::env::expand_env;
use super::error::ConfigError;
use super::flags::{self, FlagSetting};
use super::tree;
use super::{Config, LoadedConfig};

/// Log levels dskit accepts.
const LOG_LEVELS: &[&str] = &["debug", "info", "warn", "error"];

/// Backends Tempo has and Vivace does not yet.
const FUTURE_BACKENDS: &[&str] = &["s3", "gcs", "azure"];

/// Where the loader gets outside data from (the process environment and the file system in
/// production, fakes in tests).
pub struct Sources<'a> {
    /// Looks up an environment variable.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Reads a file to text.
    pub read: &'a dyn Fn(&str) -> std::io::Result<String>,
}

/// The config file after reading, expansion and YAML parsing.
struct FileInput {
    /// Path as given.
    path: String,
    /// Text after `-config.expand-env`.
    text: String,
    /// Parsed tree (a mapping).
    tree: Value,
}

/// Loads the configuration from the arguments (without the program name) and `sources`.
pub fn load_with(args: &[String], sources: &Sources<'_>) -> Result<LoadedConfig, ConfigError> {
    let schema = tree::schema();
    let parsed = flags::parse_args(args, &schema)?;
    let mut warnings = parsed.warnings;
    if parsed.print_help || parsed.print_version {
        return Ok(LoadedConfig {
            config: Config::default(),
            warnings,
            print_version: parsed.print_version,
            print_help: parsed.print_help,
            verify_config: parsed.verify,
            config_file: parsed.config_file,
        });
    }
    let file = match &parsed.config_file {
        Some(path) => Some(read_config_file(path, parsed.expand_env, sources)?),
        None => None,
    };
    let mut merged = match &file {
        Some(file) => prepare_file_tree(file, &schema, &mut warnings)?,
        None => Value::Mapping(Mapping::new()),
    };
    for setting in &parsed.settings {
        tree::set_path(
            &mut merged,
            &setting.path,
            setting.value.clone(),
            setting.append,
        );
    }
    warnings.extend(tree::cache_warnings(&merged));
    let mut config = deserialize(merged, &schema, &parsed.settings, file.as_ref())?;
    let receiver_warnings = config
        .distributor
        .check_receivers()
        .map_err(|message| invalid("distributor.receivers", message))?;
    warnings.extend(receiver_warnings);
    validate(&config)?;
    if config.auth_enabled {
        config.multitenancy_enabled = true;
        warnings.push("auth_enabled is deprecated; use multitenancy_enabled".to_string());
    }
    Ok(LoadedConfig {
        config,
        warnings: dedupe(warnings),
        print_version: false,
        print_help: false,
        verify_config: parsed.verify,
        config_file: parsed.config_file,
    })
}

/// Reads, expands and parses the config file.
fn read_config_file(
    path: &str,
    expand: bool,
    sources: &Sources<'_>,
) -> Result<FileInput, ConfigError> {
    let raw = (sources.read)(path).map_err(|source| ConfigError::ReadFile {
        path: path.to_string(),
        source,
    })?;
    let text = if expand {
        expand_env(&raw, sources.env).map_err(|message| ConfigError::ExpandEnv {
            path: path.to_string(),
            message,
        })?
    } else {
        raw
    };
    let parsed: Value = serde_yaml::from_str(&text).map_err(|error| ConfigError::Yaml {
        path: path.to_string(),
        line: error.location().map(|location| location.line()),
        column: error.location().map(|location| location.column()),
        message: error.to_string(),
    })?;
    let tree = match parsed {
        Value::Null => Value::Mapping(Mapping::new()),
        Value::Mapping(_) => parsed,
        _ => {
            return Err(ConfigError::NotAMapping {
                path: path.to_string(),
            });
        }
    };
    Ok(FileInput {
        path: path.to_string(),
        text,
        tree,
    })
}

/// The file's tree with foreign sections removed, legacy overrides moved, and keys checked.
fn prepare_file_tree(
    file: &FileInput,
    schema: &Value,
    warnings: &mut Vec<String>,
) -> Result<Value, ConfigError> {
    let mut prepared = file.tree.clone();
    tree::strip_foreign_sections(&mut prepared, warnings);
    let legacy = tree::move_legacy_overrides(&mut prepared);
    if !legacy.is_empty() {
        warnings.push(format!(
            "legacy flat overrides ({}) mapped onto overrides.defaults; prefer the scoped format",
            legacy.join(", ")
        ));
    }
    let Some(key) = tree::find_unknown_key(&prepared, schema) else {
        return Ok(prepared);
    };
    let line = tree::find_key_line(&file.text, &key);
    Err(ConfigError::UnknownKey {
        path: file.path.clone(),
        key,
        line,
    })
}

/// Deserializes the merged tree; on failure, finds whether a flag or the file is to blame.
fn deserialize(
    merged: Value,
    schema: &Value,
    settings: &[FlagSetting],
    file: Option<&FileInput>,
) -> Result<Config, ConfigError> {
    let error = match serde_yaml::from_value::<Config>(merged) {
        Ok(config) => return Ok(config),
        Err(error) => error,
    };
    for setting in settings {
        let mut probe = schema.clone();
        tree::set_path(
            &mut probe,
            &setting.path,
            setting.value.clone(),
            setting.append,
        );
        if let Err(flag_error) = serde_yaml::from_value::<Config>(probe) {
            return Err(ConfigError::InvalidFlagValue {
                flag: setting.flag.clone(),
                value: setting.raw.clone(),
                message: flag_error.to_string(),
            });
        }
    }
    let Some(file) = file else {
        return Err(invalid("flags", error.to_string()));
    };
    let (line, column, message) = match serde_yaml::from_str::<Config>(&file.text) {
        Err(located) => (
            located.location().map(|location| location.line()),
            located.location().map(|location| location.column()),
            located.to_string(),
        ),
        Ok(_) => (None, None, error.to_string()),
    };
    Err(ConfigError::InvalidValue {
        path: file.path.clone(),
        line,
        column,
        message,
    })
}

/// An [`ConfigError::Invalid`] for `key`.
fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.into(),
    }
}

/// Checks values that deserialize but are not acceptable.
fn validate(config: &Config) -> Result<(), ConfigError> {
    if config.target.trim().is_empty() {
        return Err(invalid("target", "must not be empty (use all)"));
    }
    let backend = config.storage.trace.backend.as_str();
    if FUTURE_BACKENDS.contains(&backend) {
        return Err(ConfigError::UnsupportedBackend {
            backend: backend.to_string(),
        });
    }
    if backend != "local" {
        return Err(invalid(
            "storage.trace.backend",
            format!("unknown backend {backend:?} (Tempo knows local, s3, gcs, azure)"),
        ));
    }
    let level = config.server.log_level.as_str();
    if !LOG_LEVELS.contains(&level) {
        return Err(invalid(
            "server.log_level",
            format!("unknown log level {level:?} (expected debug, info, warn or error)"),
        ));
    }
    let format = config.server.log_format.as_str();
    if !matches!(format, "logfmt" | "json") {
        return Err(invalid(
            "server.log_format",
            format!("unknown log format {format:?} (expected logfmt or json)"),
        ));
    }
    let strategy = config.overrides.defaults.ingestion.rate_strategy.as_str();
    if !matches!(strategy, "local" | "global") {
        return Err(invalid(
            "overrides.defaults.ingestion.rate_strategy",
            format!("unknown strategy {strategy:?} (expected local or global)"),
        ));
    }
    let false_positive = config.storage.trace.block.bloom_filter_false_positive;
    if !(false_positive > 0.0 && false_positive < 1.0) {
        return Err(invalid(
            "storage.trace.block.bloom_filter_false_positive",
            format!("{false_positive} is not between 0 and 1"),
        ));
    }
    if let Err(message) = super::target_bytes_per_job(config) {
        return Err(invalid(super::TARGET_BYTES_PER_JOB_KEY, message));
    }
    validate_ingester(config)
}

/// Checks the ingester section.
fn validate_ingester(config: &Config) -> Result<(), ConfigError> {
    let ingester = &config.ingester;
    if ingester.concurrent_flushes == 0 {
        return Err(invalid("ingester.concurrent_flushes", "must be at least 1"));
    }
    if ingester.flush_check_period.is_zero() {
        return Err(invalid(
            "ingester.flush_check_period",
            "must be greater than zero",
        ));
    }
    if !ingester.lifecycler.is_null() && !ingester.lifecycler.is_mapping() {
        return Err(invalid("ingester.lifecycler", "must be a mapping"));
    }
    let factor = ingester
        .lifecycler
        .get("ring")
        .and_then(|ring| ring.get("replication_factor"));
    let valid_factor = match factor {
        None | Some(Value::Null) => true,
        Some(value) => value
            .as_u64()
            .is_some_and(|factor| (1..=u64::from(u32::MAX)).contains(&factor)),
    };
    if !valid_factor {
        return Err(invalid(
            "ingester.lifecycler.ring.replication_factor",
            "must be a whole number of at least 1",
        ));
    }
    Ok(())
}

/// Removes repeated warnings, keeping the first occurrence's position.
fn dedupe(warnings: Vec<String>) -> Vec<String> {
    let mut unique: Vec<String> = Vec::with_capacity(warnings.len());
    for warning in warnings {
        if !unique.contains(&warning) {
            unique.push(warning);
        }
    }
    unique
}
