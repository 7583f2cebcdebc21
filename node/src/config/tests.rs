use std::io::Write;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|text| (*text).to_owned()).collect()
}

fn with_file(contents: &str, extra: &[&str]) -> Result<LoadedConfig, ConfigError> {
    let mut file = tempfile::NamedTempFile::new().expect("tempfile");
    file.write_all(contents.as_bytes()).expect("write");
    let path = file.path().display().to_string();
    let mut all = vec![format!("-config.file={path}")];
    all.extend(extra.iter().map(|text| (*text).to_owned()));
    load(&all)
}

#[test]
fn defaults_are_tempo_s() {
    let loaded = load(&[]).expect("loads");
    let config = loaded.config;
    assert_eq!(config.target, "all");
    assert_eq!(config.server.http_listen_port, 3200);
    assert_eq!(config.server.grpc_listen_port, 9095);
    assert_eq!(config.ingester.trace_idle_period, Duration::from_secs(5));
    assert_eq!(
        config.ingester.max_block_duration,
        Duration::from_secs(1800)
    );
    assert_eq!(
        config.overrides.defaults.ingestion.rate_limit_bytes,
        30_000_000
    );
    assert_eq!(
        config.overrides.defaults.global.max_bytes_per_trace,
        5_000_000
    );
    assert_eq!(
        config.distributor.otlp_grpc_endpoint().as_deref(),
        Some("0.0.0.0:4317")
    );
    assert_eq!(
        config.distributor.otlp_http_endpoint().as_deref(),
        Some("0.0.0.0:4318")
    );
    assert!(loaded.warnings.is_empty());
}

const TEMPO_EXAMPLE: &str = r#"
stream_over_http_enabled: true
server:
  http_listen_port: 3201
  log_level: info
  grpc_server_max_recv_msg_size: 1000000
query_frontend:
  search:
    duration_slo: 5s
  mcp_server:
    enabled: true
distributor:
  receivers:
    otlp:
      protocols:
        grpc:
          endpoint: "tempo:4317"
    jaeger:
      protocols:
        thrift_http:
ingester:
  max_block_duration: 5m
  trace_idle_period: 1s
metrics_generator:
  registry:
    external_labels:
      source: tempo
  storage:
    path: /var/tempo/generator/wal
storage:
  trace:
    backend: local
    wal:
      path: /var/tempo/wal
    local:
      path: /var/tempo/blocks
overrides:
  defaults:
    metrics_generator:
      processors: [service-graphs, span-metrics]
usage_report:
  reporting_enabled: false
block_builder:
  consume_cycle_duration: 1m
live_store:
  max_block_duration: 30s
"#;

#[test]
fn a_tempo_file_loads_with_one_warning_per_foreign_section() {
    let loaded = with_file(TEMPO_EXAMPLE, &[]).expect("loads");
    let config = &loaded.config;
    assert!(config.stream_over_http_enabled);
    assert_eq!(config.server.http_listen_port, 3201);
    assert_eq!(config.ingester.max_block_duration, Duration::from_secs(300));
    assert_eq!(config.storage.trace.wal.path, "/var/tempo/wal");
    assert_eq!(
        config.distributor.otlp_grpc_endpoint().as_deref(),
        Some("tempo:4317")
    );
    assert_eq!(
        config.distributor.otlp_http_endpoint(),
        None,
        "only listed protocols are enabled"
    );
    let block_builder = loaded
        .warnings
        .iter()
        .filter(|warning| warning.contains("block_builder"))
        .count();
    let live_store = loaded
        .warnings
        .iter()
        .filter(|warning| warning.contains("live_store"))
        .count();
    let jaeger = loaded
        .warnings
        .iter()
        .filter(|warning| warning.contains("jaeger"))
        .count();
    assert_eq!(
        (block_builder, live_store, jaeger),
        (1, 1, 1),
        "{:?}",
        loaded.warnings
    );
    assert!(config.to_yaml().contains("http_listen_port: 3201"));
}

#[test]
fn unknown_keys_and_bad_yaml_are_errors() {
    let error = with_file("no_such_section: 1\n", &[]).expect_err("unknown");
    assert!(error.to_string().contains("no_such_section"), "{error}");
    let error = with_file("server:\n  http_listen_port: [\n", &[]).expect_err("bad yaml");
    assert!(error.to_string().contains("line"), "{error}");
    let error = with_file("server:\n  http_listen_port: lots\n", &[]).expect_err("bad type");
    assert!(
        error.to_string().contains("http_listen_port") || error.to_string().contains("invalid"),
        "{error}"
    );
    assert!(load(&args(&["-no.such-flag=1"])).is_err());
    assert!(load(&args(&["-storage.trace.backend=s3"])).is_err());
}

#[test]
fn flags_override_the_file() {
    let loaded = with_file(
        "server:\n  http_listen_port: 3201\n",
        &[
            "--server.http-listen-port=3300",
            "-ingester.trace-idle-period",
            "250ms",
        ],
    )
    .expect("loads");
    assert_eq!(loaded.config.server.http_listen_port, 3300);
    assert_eq!(
        loaded.config.ingester.trace_idle_period,
        Duration::from_millis(250)
    );
}

#[test]
fn env_expansion_only_when_asked() {
    // SAFETY: tests in this module do not read this variable concurrently.
    unsafe { std::env::set_var("VIVACE_TEST_PORT", "3555") };
    let expanded = with_file("server:\n  http_listen_port: ${VIVACE_TEST_PORT}\n  grpc_listen_port: ${VIVACE_UNSET_PORT:-9999}\n", &["-config.expand-env"]).expect("loads");
    assert_eq!(expanded.config.server.http_listen_port, 3555);
    assert_eq!(expanded.config.server.grpc_listen_port, 9999);
    assert!(with_file("server:\n  http_listen_port: ${VIVACE_TEST_PORT}\n", &[]).is_err());
}

#[test]
fn legacy_overrides_and_auth_enabled() {
    let loaded = with_file("auth_enabled: true\noverrides:\n  ingestion_rate_limit_bytes: 123\n  max_bytes_per_trace: 456\n", &[]).expect("loads");
    assert!(loaded.config.multitenancy_enabled);
    assert_eq!(
        loaded.config.overrides.defaults.ingestion.rate_limit_bytes,
        123
    );
    assert_eq!(
        loaded.config.overrides.defaults.global.max_bytes_per_trace,
        456
    );
}

#[test]
fn receivers_with_empty_protocols_use_defaults() {
    let loaded = with_file(
        "distributor:\n  receivers:\n    otlp:\n      protocols:\n        grpc:\n        http:\n",
        &[],
    )
    .expect("loads");
    assert_eq!(
        loaded.config.distributor.otlp_grpc_endpoint().as_deref(),
        Some("0.0.0.0:4317")
    );
    assert_eq!(
        loaded.config.distributor.otlp_http_endpoint().as_deref(),
        Some("0.0.0.0:4318")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_flags_never_panic(flags in proptest::collection::vec("-{0,2}[a-z._-]{0,12}(=[a-z0-9]{0,5})?", 0..4)) {
        let _ = load(&flags);
    }

    #[test]
    fn arbitrary_yaml_never_panics(text in "[a-z_:{}\\[\\] \n-]{0,80}") {
        let _ = with_file(&text, &[]);
    }
}
