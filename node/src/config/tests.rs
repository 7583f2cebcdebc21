//! Tests of loading: defaults, Tempo files, sections, receivers, overrides, errors.

use std::collections::HashMap;
use std::time::Duration;

use super::load::{Sources, load_with};
use super::*;

/// Path of the in-memory config file used by [`load_text`].
pub(super) const FILE: &str = "/etc/tempo/tempo.yaml";

/// Loads with `text` as the config file (added as `-config.file`), `vars` as the environment.
pub(super) fn load_env(
    text: &str,
    args: &[&str],
    vars: &[(&str, &str)],
) -> Result<LoadedConfig, ConfigError> {
    let env_map: HashMap<String, String> = vars
        .iter()
        .map(|(name, value)| ((*name).to_string(), (*value).to_string()))
        .collect();
    let env = move |name: &str| env_map.get(name).cloned();
    let read = |path: &str| {
        if path == FILE {
            return Ok(text.to_string());
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ))
    };
    let mut all = vec![format!("-config.file={FILE}")];
    all.extend(args.iter().map(|arg| (*arg).to_string()));
    load_with(
        &all,
        &Sources {
            env: &env,
            read: &read,
        },
    )
}

/// Loads with `text` as the config file and no environment.
pub(super) fn load_text(text: &str, args: &[&str]) -> Result<LoadedConfig, ConfigError> {
    load_env(text, args, &[])
}

/// Loads `text`, panicking with the error if it fails.
pub(super) fn must_load(text: &str, args: &[&str]) -> LoadedConfig {
    match load_text(text, args) {
        Ok(loaded) => loaded,
        Err(error) => panic!("config should load: {error}"),
    }
}

/// Tempo's `example/docker-compose/single-binary/tempo.yaml`, plus an ingester section.
const SINGLE_BINARY: &str = r#"
stream_over_http_enabled: true
server:
  http_listen_port: 3200
  log_level: info
distributor:
  receivers:
    otlp:
      protocols:
        grpc:
          endpoint: "tempo:4317"
        http:
          endpoint: "tempo:4318"
  #log_received_spans:
  #    enabled: true
ingester:
  max_block_duration: 5m
metrics_generator:
  registry:
    external_labels:
      source: tempo
      cluster: docker-compose
  storage:
    path: /var/tempo/generator/wal
    remote_write:
      - url: http://prometheus:9090/api/v1/write
        send_exemplars: true
query_frontend:
  mcp_server:
    enabled: true
  search:
    duration_slo: 5s
    throughput_bytes_slo: 1.073741824e+09
compactor:
  compaction:
    block_retention: 720h
storage:
  trace:
    backend: local
    wal:
      path: /var/tempo/wal # where to store the wal locally
    local:
      path: /var/tempo/blocks
overrides:
  defaults:
    metrics_generator:
      processors: ["span-metrics", "service-graphs"]
      generate_native_histograms: both
usage_report:
  reporting_enabled: false
"#;

#[test]
fn defaults_match_tempo_and_the_brief() {
    let loaded = load_with(
        &[],
        &Sources {
            env: &|_| None,
            read: &|_| Ok(String::new()),
        },
    )
    .expect("defaults load");
    assert!(loaded.warnings.is_empty());
    let config = loaded.config;
    assert_eq!(config, Config::default());
    assert_eq!(config.target, "all");
    assert!(!config.multitenancy_enabled && !config.stream_over_http_enabled);
    assert_eq!(config.http_api_prefix, "");
    assert_eq!(config.server.http_listen_address, "");
    assert_eq!(config.server.http_listen_port, 3200);
    assert_eq!(config.server.grpc_listen_port, 9095);
    assert_eq!(config.server.log_level, "info");
    assert_eq!(config.server.grpc_server_max_recv_msg_size, 16_777_216);
    assert_eq!(config.server.grpc_server_max_send_msg_size, 16_777_216);
    assert_eq!(
        config.server.http_server_write_timeout,
        Duration::from_secs(30)
    );
    assert_eq!(
        config.distributor.otlp_grpc_endpoint().as_deref(),
        Some("0.0.0.0:4317")
    );
    assert_eq!(
        config.distributor.otlp_http_endpoint().as_deref(),
        Some("0.0.0.0:4318")
    );
    let ingester = &config.ingester;
    assert_eq!(ingester.trace_idle_period, Duration::from_secs(5));
    assert_eq!(ingester.max_block_duration, Duration::from_secs(1800));
    assert_eq!(ingester.max_block_bytes, 524_288_000);
    assert_eq!(ingester.complete_block_timeout, Duration::from_secs(900));
    assert_eq!(ingester.flush_check_period, Duration::from_secs(10));
    assert_eq!(ingester.concurrent_flushes, 4);
    assert!(!ingester.flush_all_on_shutdown);
    assert_eq!(ingester.replication_factor(), None);
    assert_eq!(ingester.effective_replication_factor(false), 1);
    assert_eq!(ingester.effective_replication_factor(true), 3);
    assert_eq!(ingester.lifecycler_id(), None);
    let trace = &config.storage.trace;
    assert_eq!(trace.backend, "local");
    assert_eq!(trace.local.path, "./data/blocks");
    assert_eq!(trace.wal.path, "./data/wal");
    assert_eq!(trace.block.bloom_filter_false_positive, 0.01);
    assert_eq!(trace.block.bloom_filter_shard_size_bytes, 102_400);
    assert_eq!(trace.block.parquet_row_group_size_bytes, 16_777_216);
    assert_eq!(trace.blocklist_poll, Duration::from_secs(300));
    assert_eq!(trace.vivace_cache.memory_bytes, 268_435_456);
    assert_eq!(trace.vivace_cache.disk_bytes, 1_073_741_824);
    assert_eq!(trace.vivace_cache.path, "./data/cache");
    let ingestion = &config.overrides.defaults.ingestion;
    assert_eq!(ingestion.rate_strategy, "local");
    assert_eq!(ingestion.rate_limit_bytes, 30_000_000);
    assert_eq!(ingestion.burst_size_bytes, 30_000_000);
    assert_eq!(ingestion.max_traces_per_user, 10_000);
    assert_eq!(ingestion.max_global_traces_per_user, 0);
    assert_eq!(ingestion.max_attribute_bytes, 2048);
    assert_eq!(
        config.overrides.defaults.global.max_bytes_per_trace,
        5_000_000
    );
}

#[test]
fn to_yaml_round_trips() {
    let loaded = must_load(SINGLE_BINARY, &["-server.http-listen-port=3999"]);
    let yaml = loaded.config.to_yaml();
    let again = must_load(&yaml, &[]);
    assert_eq!(again.config, loaded.config);
    let defaults = must_load(&Config::default().to_yaml(), &[]);
    assert_eq!(defaults.config, Config::default());
    assert!(defaults.warnings.is_empty(), "{:?}", defaults.warnings);
}

#[test]
fn empty_file_and_null_sections_mean_defaults() {
    assert_eq!(must_load("", &[]).config, Config::default());
    assert_eq!(
        must_load("# only a comment\n", &[]).config,
        Config::default()
    );
    let nulls = must_load("server:\ningester:\nstorage:\n  trace:\noverrides:\n", &[]);
    assert_eq!(nulls.config.server, ServerConfig::default());
    assert_eq!(nulls.config.ingester, IngesterConfig::default());
    assert_eq!(nulls.config.storage, StorageConfig::default());
}

#[test]
fn tempo_single_binary_example_loads() {
    let loaded = must_load(SINGLE_BINARY, &[]);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let config = &loaded.config;
    assert!(config.stream_over_http_enabled);
    assert_eq!(config.ingester.max_block_duration, Duration::from_secs(300));
    assert_eq!(config.storage.trace.wal.path, "/var/tempo/wal");
    assert_eq!(config.storage.trace.local.path, "/var/tempo/blocks");
    assert_eq!(
        config.distributor.otlp_grpc_endpoint().as_deref(),
        Some("tempo:4317")
    );
    assert_eq!(
        config.distributor.otlp_http_endpoint().as_deref(),
        Some("tempo:4318")
    );
    assert_eq!(config.usage_report["reporting_enabled"], Value::Bool(false));
    assert_eq!(
        config.query_frontend["mcp_server"]["enabled"],
        Value::Bool(true)
    );
    assert_eq!(
        config.metrics_generator["storage"]["path"],
        Value::from("/var/tempo/generator/wal")
    );
    assert_eq!(
        config.overrides.defaults.metrics_generator["generate_native_histograms"],
        Value::from("both")
    );
    assert_eq!(
        config.compactor["compaction"]["block_retention"],
        Value::from("720h")
    );
}

#[test]
fn foreign_sections_warn_once_each() {
    let text = "block_builder:\n  consume_cycle_duration: 30s\n  assigned_partitions:\n    block-builder-0: [0]\nlive_store:\n  readiness_target_lag: 5s\n  readiness_max_wait: 5m0s\n";
    let loaded = must_load(text, &["-block-builder.consume-cycle-duration=1m"]);
    assert_eq!(
        loaded.warnings,
        vec![
            "config section block_builder is for a Tempo component vivace does not have; ignored"
                .to_string(),
            "config section live_store is for a Tempo component vivace does not have; ignored"
                .to_string(),
        ]
    );
    assert_eq!(loaded.config, Config::default());
    for section in [
        "ingest",
        "backend_scheduler",
        "backend_worker",
        "partition_ring",
    ] {
        let one = must_load(&format!("{section}:\n  a: 1\n"), &[]);
        assert_eq!(one.warnings.len(), 1, "{section}");
        assert!(one.warnings[0].contains(section));
    }
}

#[test]
fn unknown_keys_are_errors() {
    let error = load_text(
        "server:\n  http_listen_port: 3200\nnot_a_tempo_key: 1\n",
        &[],
    )
    .expect_err("unknown key");
    let text = error.to_string();
    assert!(
        matches!(&error, ConfigError::UnknownKey { key, line: Some(3), .. } if key == "not_a_tempo_key"),
        "{text}"
    );
    assert!(
        text.contains(FILE) && text.contains("not_a_tempo_key"),
        "{text}"
    );
    let nested = load_text(
        "ingester:\n  trace_idle_period: 5s\n  trace_idle_periodd: 6s\n",
        &[],
    )
    .expect_err("unknown key");
    assert!(
        matches!(&nested, ConfigError::UnknownKey { key, line: Some(3), .. } if key == "ingester.trace_idle_periodd")
    );
    assert!(load_text("overrides:\n  not_a_limit: 1\n", &[]).is_err());
    assert!(
        load_text(
            "overrides:\n  defaults:\n    ingestion:\n      rate_limit_bytess: 1\n",
            &[]
        )
        .is_err()
    );
    assert!(
        load_text(
            "storage:\n  trace:\n    vivace_cache:\n      memory: 1\n",
            &[]
        )
        .is_err()
    );
}

#[test]
fn unknown_keys_in_open_sections_are_accepted() {
    let text = "server:\n  http_server_idle_timeout: 1m\n  log_source_ips_enabled: true\n  grpc_server_max_concurrent_streams: 1000\ningester:\n  lifecycler:\n    id: ingester-7\n    address: 127.0.0.1\n    ring:\n      replication_factor: 3\n      kvstore:\n        store: inmemory\nstorage:\n  trace:\n    pool:\n      max_workers: 10\n    block:\n      version: vParquet4\n      v2_encoding: zstd\nmemberlist:\n  join_members: [a:7946]\n";
    let loaded = must_load(text, &[]);
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert_eq!(
        loaded.config.ingester.lifecycler_id().as_deref(),
        Some("ingester-7")
    );
    assert_eq!(loaded.config.ingester.replication_factor(), Some(3));
    assert_eq!(
        loaded.config.storage.trace.block.version.as_deref(),
        Some("vParquet4")
    );
    assert_eq!(
        loaded.config.server.http_server_idle_timeout,
        Duration::from_secs(60)
    );
}

#[test]
fn bad_yaml_reports_a_position() {
    let error = load_text("server:\n  http_listen_port: [3200\n", &[]).expect_err("bad yaml");
    assert!(
        matches!(
            &error,
            ConfigError::Yaml {
                line: Some(_),
                column: Some(_),
                ..
            }
        ),
        "{error}"
    );
    let text = error.to_string();
    assert!(text.contains(FILE) && text.contains("line"), "{text}");
    let typed = load_text("server:\n  http_listen_port: 99999\n", &[]).expect_err("port too large");
    assert!(
        matches!(&typed, ConfigError::InvalidValue { line: Some(2), .. }),
        "{typed}"
    );
    assert!(
        typed.to_string().contains("server.http_listen_port"),
        "{typed}"
    );
    let duration =
        load_text("ingester:\n  trace_idle_period: 5x\n", &[]).expect_err("bad duration");
    assert!(
        duration.to_string().contains("ingester.trace_idle_period"),
        "{duration}"
    );
    assert!(matches!(
        load_text("- a\n- b\n", &[]),
        Err(ConfigError::NotAMapping { .. })
    ));
    assert!(matches!(
        load_text("a: 1\n---\nb: 2\n", &[]),
        Err(ConfigError::Yaml { .. })
    ));
}

#[test]
fn missing_file_is_an_error_naming_it() {
    let env = |_: &str| None;
    let read = |_: &str| Err(std::io::Error::new(std::io::ErrorKind::NotFound, "gone"));
    let args = vec!["-config.file=/nowhere.yaml".to_string()];
    let error = load_with(
        &args,
        &Sources {
            env: &env,
            read: &read,
        },
    )
    .expect_err("missing");
    assert!(error.to_string().contains("/nowhere.yaml"));
}
