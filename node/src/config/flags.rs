//! Tempo-style flags (`-server.http-listen-port=3201`, `--server.http-listen-port 3201`), mapped onto
//! the YAML tree so that every configuration key is also a flag.

use serde_yaml::{Mapping, Value};

use super::ConfigError;

/// What the command line asked for.
#[derive(Debug, Default)]
pub struct ParsedFlags {
    pub config_file: Option<String>,
    pub expand_env: bool,
    pub print_version: bool,
    pub print_help: bool,
    /// (YAML path, value) pairs, in order.
    pub settings: Vec<(Vec<String>, Value)>,
}

/// Flags whose YAML path is not their dotted name.
fn alias(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "multitenancy.enabled" | "auth.enabled" => Some(&["multitenancy_enabled"]),
        "log.level" => Some(&["server", "log_level"]),
        "stream-over-http-enabled" => Some(&["stream_over_http_enabled"]),
        _ => None,
    }
}

fn flag_path(name: &str) -> Vec<String> {
    if let Some(path) = alias(name) {
        return path.iter().map(|segment| (*segment).to_owned()).collect();
    }
    name.split('.')
        .map(|segment| segment.replace('-', "_"))
        .collect()
}

fn is_boolean_flag(name: &str) -> bool {
    matches!(
        name,
        "config.expand-env" | "version" | "help" | "h" | "multitenancy.enabled" | "auth.enabled"
    )
}

/// A flag value as YAML (numbers and booleans typed, anything else a string).
fn flag_value(text: &str) -> Value {
    match serde_yaml::from_str::<Value>(text) {
        Ok(value @ (Value::Bool(_) | Value::Number(_))) => value,
        _ => Value::String(text.to_owned()),
    }
}

/// Parses the arguments (without the program name).
pub fn parse_flags(args: &[String]) -> Result<ParsedFlags, ConfigError> {
    let mut parsed = ParsedFlags::default();
    let mut index = 0;
    while index < args.len() {
        let argument = &args[index];
        index += 1;
        let Some(stripped) = argument
            .strip_prefix("--")
            .or_else(|| argument.strip_prefix('-'))
        else {
            return Err(ConfigError::Flag(format!(
                "unexpected argument {argument:?}: flags look like -name=value"
            )));
        };
        let (name, inline_value) = match stripped.split_once('=') {
            Some((name, value)) => (name, Some(value.to_owned())),
            None => (stripped, None),
        };
        if name.is_empty() {
            return Err(ConfigError::Flag(format!(
                "unexpected argument {argument:?}"
            )));
        }
        let value = match inline_value {
            Some(value) => value,
            None if is_boolean_flag(name) => "true".to_owned(),
            None => {
                let Some(next) = args.get(index) else {
                    return Err(ConfigError::Flag(format!(
                        "flag needs an argument: -{name}"
                    )));
                };
                index += 1;
                next.clone()
            }
        };
        let truthy = || matches!(value.as_str(), "true" | "1" | "yes");
        match name {
            "config.file" => parsed.config_file = Some(value),
            "config.expand-env" => parsed.expand_env = truthy(),
            "version" => parsed.print_version = truthy(),
            "help" | "h" => parsed.print_help = truthy(),
            _ => parsed.settings.push((flag_path(name), flag_value(&value))),
        }
    }
    Ok(parsed)
}

/// Sets `value` at `path` in `tree`, creating mappings on the way.
pub fn set_path(tree: &mut Value, path: &[String], value: Value) -> Result<(), ConfigError> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut node = tree;
    for segment in parents {
        if !node.is_mapping() {
            *node = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(mapping) = node else {
            return Err(ConfigError::Flag(format!("cannot set {}", path.join("."))));
        };
        node = mapping
            .entry(Value::String(segment.clone()))
            .or_insert_with(|| Value::Mapping(Mapping::new()));
    }
    if !node.is_mapping() {
        *node = Value::Mapping(Mapping::new());
    }
    if let Value::Mapping(mapping) = node {
        mapping.insert(Value::String(last.clone()), value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|text| (*text).to_owned()).collect()
    }

    #[test]
    fn three_spellings_and_specials() {
        let parsed = parse_flags(&args(&[
            "--server.http-listen-port=3201",
            "-server.grpc-listen-port",
            "9096",
            "-config.file=/etc/tempo.yaml",
            "--config.expand-env",
            "-multitenancy.enabled",
            "-target=all",
        ]))
        .expect("parses");
        assert_eq!(parsed.config_file.as_deref(), Some("/etc/tempo.yaml"));
        assert!(parsed.expand_env);
        assert_eq!(parsed.settings[0].0, vec!["server", "http_listen_port"]);
        assert_eq!(parsed.settings[0].1, Value::from(3201));
        assert_eq!(parsed.settings[1].1, Value::from(9096));
        assert_eq!(parsed.settings[2].0, vec!["multitenancy_enabled"]);
        assert_eq!(parsed.settings[2].1, Value::Bool(true));
        assert_eq!(parsed.settings[3].1, Value::from("all"));
    }

    #[test]
    fn bad_flags_are_errors() {
        assert!(parse_flags(&args(&["positional"])).is_err());
        assert!(parse_flags(&args(&["-server.http-listen-port"])).is_err());
        assert!(parse_flags(&args(&["--"])).is_err());
    }

    #[test]
    fn paths_are_created() {
        let mut tree = Value::Null;
        set_path(&mut tree, &["a".into(), "b".into()], Value::from(1)).expect("sets");
        set_path(&mut tree, &["a".into(), "c".into()], Value::from(2)).expect("sets");
        assert_eq!(tree["a"]["b"], Value::from(1));
        assert_eq!(tree["a"]["c"], Value::from(2));
    }
}
