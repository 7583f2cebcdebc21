//! Tempo-style command-line flags. `-name=value`, `--name=value` and `-name value` all work; a
//! boolean flag alone means `true`. A flag's name is its YAML path with `_` written as `-` inside
//! each segment (`-server.http-listen-port` → `server.http_listen_port`), so every configuration
//! key is a flag; Tempo's names that differ from their YAML path are aliases (see [`ALIASES`]).

use serde_yaml::Value;

use super::error::ConfigError;
use super::tree::{self, Slot, UNSUPPORTED_SECTIONS};

/// Tempo flag names whose YAML path is not their dotted name.
const ALIASES: &[(&str, &str)] = &[
    ("multitenancy.enabled", "multitenancy_enabled"),
    ("auth.enabled", "auth_enabled"),
    ("log.level", "server.log_level"),
    ("log.format", "server.log_format"),
    (
        "server.grpc-max-recv-msg-size-bytes",
        "server.grpc_server_max_recv_msg_size",
    ),
    (
        "server.grpc-max-send-msg-size-bytes",
        "server.grpc_server_max_send_msg_size",
    ),
    (
        "server.http-read-timeout",
        "server.http_server_read_timeout",
    ),
    (
        "server.http-write-timeout",
        "server.http_server_write_timeout",
    ),
    (
        "server.http-idle-timeout",
        "server.http_server_idle_timeout",
    ),
    (
        "distributor.rate-limit-strategy",
        "overrides.defaults.ingestion.rate_strategy",
    ),
    (
        "distributor.ingestion-rate-limit-bytes",
        "overrides.defaults.ingestion.rate_limit_bytes",
    ),
    (
        "distributor.ingestion-burst-size-bytes",
        "overrides.defaults.ingestion.burst_size_bytes",
    ),
    (
        "ingester.max-traces-per-user",
        "overrides.defaults.ingestion.max_traces_per_user",
    ),
    (
        "ingester.max-global-traces-per-user",
        "overrides.defaults.ingestion.max_global_traces_per_user",
    ),
    (
        "ingester.max-bytes-per-trace",
        "overrides.defaults.global.max_bytes_per_trace",
    ),
    (
        "ingester.availability-zone",
        "ingester.lifecycler.availability_zone",
    ),
    (
        "config.per-user-override-config",
        "overrides.per_tenant_override_config",
    ),
    (
        "config.per-user-override-period",
        "overrides.per_tenant_override_period",
    ),
    (
        "config.enable-legacy-overrides",
        "overrides.enable_legacy_overrides",
    ),
    ("memberlist.host-port", "memberlist.join_members"),
    ("memberlist.join", "memberlist.join_members"),
    ("memberlist.bind-port", "memberlist.bind_port"),
    ("reporting.enabled", "usage_report.reporting_enabled"),
];

/// Paths holding lists: each occurrence of the flag appends one item.
const LIST_PATHS: &[&str] = &["memberlist.join_members"];

/// Go profiling flags of Tempo's main: accepted with a warning and ignored.
const IGNORED_VALUE_FLAGS: &[&str] = &["mutex-profile-fraction", "block-profile-threshold"];

/// One configuration setting given on the command line.
#[derive(Debug, Clone)]
pub struct FlagSetting {
    /// The flag as written, without its value (e.g. `--server.http-listen-port`).
    pub flag: String,
    /// The value as written.
    pub raw: String,
    /// YAML path it sets.
    pub path: Vec<String>,
    /// The value, typed after the setting's default.
    pub value: Value,
    /// Append to a list instead of replacing.
    pub append: bool,
}

/// Everything the command line asked for.
#[derive(Debug, Default)]
pub struct ParsedArgs {
    /// `-config.file`.
    pub config_file: Option<String>,
    /// `-config.expand-env`.
    pub expand_env: bool,
    /// `-config.verify`.
    pub verify: bool,
    /// `-help` / `-h`.
    pub print_help: bool,
    /// `-version`.
    pub print_version: bool,
    /// Settings, in command-line order (later ones win).
    pub settings: Vec<FlagSetting>,
    /// Warnings about ignored flags.
    pub warnings: Vec<String>,
}

/// The arguments and a cursor over them.
struct Cursor<'a> {
    args: &'a [String],
    next: usize,
}

impl Cursor<'_> {
    /// The value of a flag that requires one: inline (`=v`) or the next argument.
    fn required(&mut self, flag: &str, inline: Option<&str>) -> Result<String, ConfigError> {
        if let Some(value) = inline {
            return Ok(value.to_string());
        }
        let Some(value) = self.args.get(self.next) else {
            return Err(ConfigError::MissingFlagValue {
                flag: flag.to_string(),
            });
        };
        self.next += 1;
        Ok(value.clone())
    }

    /// The value of a flag of unknown type: inline, else the next argument unless it is a flag,
    /// else `true`.
    fn optional(&mut self, inline: Option<&str>) -> String {
        if let Some(value) = inline {
            return value.to_string();
        }
        match self.args.get(self.next) {
            Some(value) if !value.starts_with('-') => {
                self.next += 1;
                value.clone()
            }
            _ => "true".to_string(),
        }
    }
}

/// Parses the arguments (without the program name) against the schema of known keys.
pub fn parse_args(args: &[String], schema: &Value) -> Result<ParsedArgs, ConfigError> {
    let mut parsed = ParsedArgs::default();
    let mut cursor = Cursor { args, next: 0 };
    while let Some(argument) = args.get(cursor.next) {
        cursor.next += 1;
        if argument == "--" {
            if let Some(extra) = args.get(cursor.next) {
                return Err(ConfigError::UnexpectedArgument { arg: extra.clone() });
            }
            break;
        }
        let Some(body) = argument
            .strip_prefix("--")
            .or_else(|| argument.strip_prefix('-'))
        else {
            return Err(ConfigError::UnexpectedArgument {
                arg: argument.clone(),
            });
        };
        let (name, inline) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let flag = argument
            .split_once('=')
            .map_or(argument.as_str(), |(flag, _)| flag);
        if name.is_empty() || name.starts_with('-') {
            return Err(ConfigError::UnknownFlag {
                flag: flag.to_string(),
            });
        }
        match name {
            "h" | "help" => parsed.print_help = bool_value(flag, inline)?,
            "version" => parsed.print_version = bool_value(flag, inline)?,
            "config.expand-env" => parsed.expand_env = bool_value(flag, inline)?,
            "config.verify" => parsed.verify = bool_value(flag, inline)?,
            "config.file" => parsed.config_file = Some(cursor.required(flag, inline)?),
            _ if IGNORED_VALUE_FLAGS.contains(&name) => {
                cursor.required(flag, inline)?;
                parsed
                    .warnings
                    .push(format!("flag {flag} is not supported by vivace; ignored"));
            }
            _ => parse_setting(&mut parsed, &mut cursor, schema, flag, name, inline)?,
        }
    }
    Ok(parsed)
}

/// Parses one configuration flag into a [`FlagSetting`] (or a warning for foreign sections).
fn parse_setting(
    parsed: &mut ParsedArgs,
    cursor: &mut Cursor<'_>,
    schema: &Value,
    flag: &str,
    name: &str,
    inline: Option<&str>,
) -> Result<(), ConfigError> {
    let unknown = || ConfigError::UnknownFlag {
        flag: flag.to_string(),
    };
    let path = flag_path(name).ok_or_else(unknown)?;
    let section = path.first().map(String::as_str).unwrap_or_default();
    if UNSUPPORTED_SECTIONS.contains(&section) {
        cursor.optional(inline);
        parsed.warnings.push(tree::section_warning(section));
        return Ok(());
    }
    let slot = tree::resolve(schema, &path).ok_or_else(unknown)?;
    let (raw, value) = match slot {
        Slot::Typed(Value::Bool(_)) => {
            let enabled = bool_value(flag, inline)?;
            (inline.unwrap_or("true").to_string(), Value::Bool(enabled))
        }
        Slot::Typed(Value::Mapping(_)) => {
            return Err(ConfigError::InvalidFlagValue {
                flag: flag.to_string(),
                value: inline.unwrap_or_default().to_string(),
                message: "this names a section, not a setting; set one of its keys".to_string(),
            });
        }
        Slot::Typed(default) => {
            let raw = cursor.required(flag, inline)?;
            let value = typed_value(flag, default, &raw)?;
            (raw, value)
        }
        Slot::Open => {
            let raw = cursor.optional(inline);
            let value = yaml_scalar(&raw);
            (raw, value)
        }
    };
    let append = LIST_PATHS.contains(&path.join(".").as_str());
    parsed.settings.push(FlagSetting {
        flag: flag.to_string(),
        raw,
        path,
        value,
        append,
    });
    Ok(())
}

/// The YAML path of a flag name; `None` if a segment is empty.
fn flag_path(name: &str) -> Option<Vec<String>> {
    let dotted = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map_or(name, |(_, path)| path);
    let path: Vec<String> = dotted
        .split('.')
        .map(|segment| segment.replace('-', "_"))
        .collect();
    if path.iter().any(String::is_empty) {
        return None;
    }
    Some(path)
}

/// A boolean flag's value: absent means `true`; otherwise Go's `strconv.ParseBool` spellings.
fn bool_value(flag: &str, inline: Option<&str>) -> Result<bool, ConfigError> {
    let Some(text) = inline else {
        return Ok(true);
    };
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(ConfigError::InvalidFlagValue {
            flag: flag.to_string(),
            value: text.to_string(),
            message: "expected true or false".to_string(),
        }),
    }
}

/// Converts a flag's text to the type of the setting's default value.
fn typed_value(flag: &str, default: &Value, raw: &str) -> Result<Value, ConfigError> {
    let invalid = |message: &str| ConfigError::InvalidFlagValue {
        flag: flag.to_string(),
        value: raw.to_string(),
        message: message.to_string(),
    };
    let text = raw.trim();
    match default {
        Value::Number(number) if number.is_f64() => text
            .parse::<f64>()
            .map(Value::from)
            .map_err(|_| invalid("expected a number")),
        Value::Number(_) => text
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| invalid("expected a non-negative whole number")),
        Value::String(_) => Ok(Value::String(raw.to_string())),
        _ => Ok(yaml_scalar(raw)),
    }
}

/// A flag value for a raw setting: YAML-typed (`3` → number, `true` → bool), else a string.
fn yaml_scalar(raw: &str) -> Value {
    if raw.is_empty() {
        return Value::String(String::new());
    }
    match serde_yaml::from_str::<Value>(raw) {
        Ok(Value::Null) if !matches!(raw, "~" | "null" | "Null" | "NULL") => {
            Value::String(raw.to_string())
        }
        Ok(value) => value,
        Err(_) => Value::String(raw.to_string()),
    }
}

/// Short usage text for `-help`.
pub fn usage() -> String {
    [
        "Usage: vivace [flags]        run a node (Tempo-compatible configuration and flags)",
        "       vivace bench ...      load generator (vivace bench --help)",
        "",
        "Every YAML key is also a flag: its path with '_' written as '-', e.g.",
        "-ingester.trace-idle-period=10s. Flags override the file; -name=value, --name=value",
        "and -name value all work.",
        "",
        "Main flags:",
        "  -config.file=PATH                   Tempo configuration file (YAML)",
        "  -config.expand-env                  expand ${VAR} and ${VAR:-default} in the file",
        "  -config.verify                      check the configuration and exit",
        "  -target=all                         components to run",
        "  -server.http-listen-address=ADDR    HTTP interface (default: all)",
        "  -server.http-listen-port=3200       HTTP API port",
        "  -server.grpc-listen-address=ADDR    gRPC interface (default: all)",
        "  -server.grpc-listen-port=9095       gRPC port",
        "  -storage.trace.backend=local        block storage backend (only local for now)",
        "  -storage.trace.local.path=PATH      block folder (./data/blocks)",
        "  -storage.trace.wal.path=PATH        write-ahead log folder (./data/wal)",
        "  -multitenancy.enabled               require the X-Scope-OrgID header",
        "  -stream-over-http-enabled           serve gRPC streaming on the HTTP port",
        "  -log.level=info                     debug, info, warn or error",
        "  -version                            print the version and exit",
        "  -help                               print this help and exit",
    ]
    .join("\n")
}
