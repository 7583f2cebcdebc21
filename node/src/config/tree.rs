//! The YAML tree before deserialization: which keys exist (a schema derived from the defaults),
//! Tempo's top-level sections Vivace ignores, legacy overrides, and setting values by path.

use serde_yaml::{Mapping, Value};

use super::Config;
use super::overrides::{SCOPED_OVERRIDES_KEYS, legacy_override_path};

/// Top-level sections of Tempo components Vivace does not have: accepted with one warning each.
pub const UNSUPPORTED_SECTIONS: &[&str] = &[
    "block_builder",
    "live_store",
    "live_store_client",
    "ingest",
    "backend_scheduler",
    "backend_scheduler_client",
    "backend_worker",
    "partition_ring",
];

/// Top-level keys of older Tempo versions that no longer do anything: accepted with a warning.
pub const OBSOLETE_KEYS: &[&str] = &[
    "search_enabled",
    "metrics_generator_enabled",
    "use_otel_tracer",
    "autocomplete_filtering_enabled",
];

/// Paths whose unknown children are accepted silently: sections where Tempo has many keys Vivace
/// does not read. Known children of these paths are still checked.
const OPEN_PREFIXES: &[&str] = &[
    "server",
    "distributor",
    "ingester.lifecycler",
    "storage.trace",
    "storage.trace.local",
    "storage.trace.wal",
    "storage.trace.block",
    "overrides.defaults",
];

/// Paths below which every key is accepted (typed keys inside are still type-checked).
const OPEN_SUBTREES: &[&str] = &["ingester.lifecycler"];

/// Whether unknown children of `parent` (a dotted path) are accepted.
fn is_open(parent: &str) -> bool {
    OPEN_PREFIXES.contains(&parent)
        || OPEN_SUBTREES.iter().any(|subtree| {
            parent
                .strip_prefix(subtree)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
        })
}

/// `storage.trace` keys configuring Tempo's external caches.
const STORAGE_CACHE_KEYS: &[&str] = &[
    "cache",
    "cache_min_compaction_level",
    "cache_max_block_age",
    "background_cache",
    "memcached",
    "redis",
];

/// What a dotted path names in the schema.
#[derive(Debug)]
pub enum Slot<'a> {
    /// A typed setting or section; the node is its default value.
    Typed(&'a Value),
    /// Somewhere any key is accepted (a raw section or an open prefix).
    Open,
}

/// The schema: the default configuration as a YAML tree.
pub fn schema() -> Value {
    serde_yaml::to_value(Config::default()).unwrap_or(Value::Null)
}

/// A node holding raw YAML in the defaults (`{}`, `[]` or null): anything goes below it.
fn is_raw(node: &Value) -> bool {
    match node {
        Value::Mapping(mapping) => mapping.is_empty(),
        Value::Sequence(_) | Value::Null => true,
        _ => false,
    }
}

/// Resolves `path` in `schema`; `None` if no such key exists.
pub fn resolve<'a>(schema: &'a Value, path: &[String]) -> Option<Slot<'a>> {
    let mut node = schema;
    for (depth, segment) in path.iter().enumerate() {
        if is_raw(node) {
            return Some(Slot::Open);
        }
        let Value::Mapping(mapping) = node else {
            return None;
        };
        if let Some(child) = mapping.get(segment.as_str()) {
            node = child;
            continue;
        }
        let parent = path[..depth].join(".");
        if is_open(&parent) {
            return Some(Slot::Open);
        }
        return None;
    }
    if is_raw(node) {
        return Some(Slot::Open);
    }
    Some(Slot::Typed(node))
}

/// The text of a mapping key (numbers and booleans rendered; others as YAML).
fn key_text(key: &Value) -> String {
    match key {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    }
}

/// The dotted path of the first key in `file` that the schema does not know, if any.
pub fn find_unknown_key(file: &Value, schema: &Value) -> Option<String> {
    let mut path = Vec::new();
    walk_unknown(file, schema, &mut path)
}

/// Recursive part of [`find_unknown_key`].
fn walk_unknown(node: &Value, schema: &Value, path: &mut Vec<String>) -> Option<String> {
    let Value::Mapping(mapping) = node else {
        return None;
    };
    for (key, child) in mapping {
        path.push(key_text(key));
        match resolve(schema, path) {
            None => return Some(path.join(".")),
            Some(Slot::Typed(typed)) if typed.is_mapping() => {
                if let Some(found) = walk_unknown(child, schema, path) {
                    return Some(found);
                }
            }
            Some(_) => {}
        }
        path.pop();
    }
    None
}

/// Best-effort 1-based line of a dotted key in the YAML text (block style), for error messages.
pub fn find_key_line(text: &str, dotted: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut start = 0;
    let mut found = None;
    for (depth, segment) in dotted.split('.').enumerate() {
        let wanted = format!("{segment}:");
        let offset = lines[start..].iter().position(|line| {
            let trimmed = line.trim_start();
            let top_level = trimmed.len() == line.len();
            trimmed.starts_with(&wanted) && (depth > 0 || top_level)
        })?;
        found = Some(start + offset);
        start += offset + 1;
    }
    found.map(|index| index + 1)
}

/// Removes sections of components Vivace lacks and obsolete keys, with one warning each.
pub fn strip_foreign_sections(tree: &mut Value, warnings: &mut Vec<String>) {
    let Value::Mapping(mapping) = tree else {
        return;
    };
    let keys: Vec<Value> = mapping.keys().cloned().collect();
    for key in keys {
        let Some(name) = key.as_str() else {
            continue;
        };
        if UNSUPPORTED_SECTIONS.contains(&name) {
            mapping.remove(&key);
            warnings.push(section_warning(name));
            continue;
        }
        if OBSOLETE_KEYS.contains(&name) {
            mapping.remove(&key);
            warnings.push(obsolete_warning(name));
        }
    }
}

/// The warning for a section of a Tempo component Vivace does not have.
pub fn section_warning(name: &str) -> String {
    format!("config section {name} is for a Tempo component vivace does not have; ignored")
}

/// The warning for an obsolete top-level key.
pub fn obsolete_warning(name: &str) -> String {
    format!("config key {name} is obsolete (older Tempo versions); ignored")
}

/// Moves legacy flat `overrides.<key>` settings under `overrides.defaults` (scoped keys already
/// present win). Returns the legacy keys found, in file order.
pub fn move_legacy_overrides(tree: &mut Value) -> Vec<String> {
    let Some(overrides) = tree.get_mut("overrides") else {
        return Vec::new();
    };
    let Some(mapping) = overrides.as_mapping() else {
        return Vec::new();
    };
    let legacy: Vec<(String, Vec<String>)> = mapping
        .keys()
        .filter_map(|key| {
            let name = key.as_str()?;
            if SCOPED_OVERRIDES_KEYS.contains(&name) {
                return None;
            }
            let path = legacy_override_path(name)?;
            Some((name.to_string(), path))
        })
        .collect();
    let mut moved = Vec::new();
    for (name, relative) in legacy {
        let Some(value) = overrides
            .as_mapping_mut()
            .and_then(|mapping| mapping.remove(name.as_str()))
        else {
            continue;
        };
        let mut path = vec!["defaults".to_string()];
        path.extend(relative);
        if get_path(overrides, &path).is_none() {
            set_path(overrides, &path, value, false);
        }
        moved.push(name);
    }
    moved
}

/// The value at `path`, if present.
pub fn get_path<'a>(tree: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter()
        .try_fold(tree, |node, segment| node.get(segment.as_str()))
}

/// Sets `value` at `path`, creating (or replacing non-mapping) parents. With `append`, the value
/// is pushed onto a list at `path` instead.
pub fn set_path(tree: &mut Value, path: &[String], value: Value, append: bool) {
    let mut node = tree;
    for segment in path {
        if !node.is_mapping() {
            *node = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(mapping) = node else {
            return;
        };
        node = mapping
            .entry(Value::String(segment.clone()))
            .or_insert(Value::Null);
    }
    if !append {
        *node = value;
        return;
    }
    match node {
        Value::Sequence(items) => items.push(value),
        _ => *node = Value::Sequence(vec![value]),
    }
}

/// Warnings about Tempo cache settings, which Vivace replaces with its built-in cache.
pub fn cache_warnings(tree: &Value) -> Vec<String> {
    let mut warnings = Vec::new();
    let trace = tree.get("storage").and_then(|storage| storage.get("trace"));
    if let Some(Value::Mapping(trace)) = trace {
        let present: Vec<&str> = STORAGE_CACHE_KEYS
            .iter()
            .copied()
            .filter(|key| trace.contains_key(*key))
            .collect();
        if !present.is_empty() {
            warnings.push(format!(
                "storage.trace cache settings ({}) are ignored: vivace uses its built-in cache (storage.trace.vivace_cache)",
                present.join(", ")
            ));
        }
    }
    let cache_configured = match tree.get("cache") {
        Some(Value::Mapping(mapping)) => !mapping.is_empty(),
        Some(Value::Sequence(items)) => !items.is_empty(),
        Some(Value::Null) | None => false,
        Some(_) => true,
    };
    if cache_configured {
        warnings.push(
            "config section cache is ignored: vivace uses its built-in cache (storage.trace.vivace_cache)"
                .to_string(),
        );
    }
    warnings
}
