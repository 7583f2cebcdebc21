//! Tests of section semantics: receivers, legacy overrides, storage, validation.

use super::tests::{load_text, must_load};
use super::*;

#[test]
fn receivers_section_enables_only_listed_protocols() {
    let grpc_only = must_load(
        "distributor:\n  receivers:\n    otlp:\n      protocols:\n        grpc:\n",
        &[],
    );
    assert_eq!(
        grpc_only.config.distributor.otlp_grpc_endpoint().as_deref(),
        Some("0.0.0.0:4317")
    );
    assert_eq!(grpc_only.config.distributor.otlp_http_endpoint(), None);
    let http_empty = must_load(
        "distributor:\n  receivers:\n    otlp:\n      protocols:\n        http: {}\n",
        &[],
    );
    assert_eq!(http_empty.config.distributor.otlp_grpc_endpoint(), None);
    assert_eq!(
        http_empty
            .config
            .distributor
            .otlp_http_endpoint()
            .as_deref(),
        Some("0.0.0.0:4318")
    );
    let custom = must_load(
        "distributor:\n  receivers:\n    otlp:\n      protocols:\n        http:\n          endpoint: 127.0.0.1:9999\n",
        &[],
    );
    assert_eq!(
        custom.config.distributor.otlp_http_endpoint().as_deref(),
        Some("127.0.0.1:9999")
    );
    let none_listed = must_load("distributor:\n  receivers: {}\n", &[]);
    assert_eq!(none_listed.config.distributor.otlp_grpc_endpoint(), None);
    assert_eq!(none_listed.config.distributor.otlp_http_endpoint(), None);
    let no_section = must_load(
        "distributor:\n  log_received_spans:\n    enabled: false\n",
        &[],
    );
    assert!(no_section.config.distributor.otlp_grpc_endpoint().is_some());
    assert!(no_section.config.distributor.otlp_http_endpoint().is_some());
}

#[test]
fn unsupported_receivers_warn_once_each() {
    let text = "distributor:\n  receivers:\n    jaeger:\n      protocols:\n        thrift_http:\n        grpc:\n    zipkin:\n    opencensus:\n    kafka:\n      brokers: [k:9092]\n    otlp:\n      protocols:\n        grpc:\n";
    let loaded = must_load(text, &[]);
    assert_eq!(loaded.warnings.len(), 4, "{:?}", loaded.warnings);
    assert_eq!(
        loaded.warnings[0],
        "receiver jaeger is not supported by vivace yet; ignored"
    );
    assert!(loaded.config.distributor.otlp_grpc_endpoint().is_some());
    assert!(loaded.config.distributor.otlp_http_endpoint().is_none());
    assert!(load_text("distributor:\n  receivers:\n    carrier_pigeon:\n", &[]).is_err());
    assert!(
        load_text(
            "distributor:\n  receivers:\n    otlp:\n      protocols:\n        udp:\n",
            &[]
        )
        .is_err()
    );
    assert!(load_text("distributor:\n  receivers:\n    otlp:\n", &[]).is_err());
    assert!(load_text("distributor:\n  receivers:\n    otlp:\n      protocols:\n        grpc:\n          endpoint: [1]\n", &[]).is_err());
}

#[test]
fn legacy_flat_overrides_map_onto_defaults() {
    let text = "overrides:\n  ingestion_rate_limit_bytes: 1000\n  ingestion_burst_size_bytes: 2000\n  max_traces_per_user: 30\n  max_bytes_per_trace: 4000\n  ingestion_rate_strategy: global\n  metrics_generator_processors: [span-metrics]\n  block_retention: 48h\n";
    let loaded = must_load(text, &[]);
    let defaults = &loaded.config.overrides.defaults;
    assert_eq!(defaults.ingestion.rate_limit_bytes, 1000);
    assert_eq!(defaults.ingestion.burst_size_bytes, 2000);
    assert_eq!(defaults.ingestion.max_traces_per_user, 30);
    assert_eq!(defaults.ingestion.rate_strategy, "global");
    assert_eq!(defaults.global.max_bytes_per_trace, 4000);
    assert_eq!(
        defaults.metrics_generator["processors"][0],
        Value::from("span-metrics")
    );
    assert_eq!(defaults.compaction["block_retention"], Value::from("48h"));
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].contains("legacy"));
    let flag_wins = must_load(text, &["-overrides.defaults.ingestion.rate-limit-bytes=5"]);
    assert_eq!(
        flag_wins
            .config
            .overrides
            .defaults
            .ingestion
            .rate_limit_bytes,
        5
    );
    let scoped_wins = must_load(
        "overrides:\n  max_traces_per_user: 1\n  defaults:\n    ingestion:\n      max_traces_per_user: 2\n",
        &[],
    );
    assert_eq!(
        scoped_wins
            .config
            .overrides
            .defaults
            .ingestion
            .max_traces_per_user,
        2
    );
}

#[test]
fn storage_backends_and_caches() {
    for backend in ["s3", "gcs", "azure"] {
        let error = load_text(
            &format!("storage:\n  trace:\n    backend: {backend}\n"),
            &[],
        )
        .expect_err("unsupported");
        assert_eq!(
            error.to_string(),
            format!(
                "storage backend {backend} is not supported yet (storage.trace.backend; vivace supports: local)"
            )
        );
    }
    assert!(load_text("storage:\n  trace:\n    backend: floppy\n", &[]).is_err());
    let cached = must_load(
        "storage:\n  trace:\n    cache: memcached\n    memcached:\n      host: m\n    vivace_cache:\n      memory_bytes: 1024\n",
        &[],
    );
    assert_eq!(cached.warnings.len(), 1, "{:?}", cached.warnings);
    assert!(cached.warnings[0].contains("cache, memcached"));
    assert_eq!(cached.config.storage.trace.vivace_cache.memory_bytes, 1024);
}

#[test]
fn invalid_values_are_refused() {
    assert!(load_text("server:\n  log_level: loud\n", &[]).is_err());
    assert!(
        load_text(
            "overrides:\n  defaults:\n    ingestion:\n      rate_strategy: both\n",
            &[]
        )
        .is_err()
    );
    assert!(
        load_text(
            "storage:\n  trace:\n    block:\n      bloom_filter_false_positive: 1.5\n",
            &[]
        )
        .is_err()
    );
    assert!(load_text("ingester:\n  concurrent_flushes: 0\n", &[]).is_err());
    assert!(
        load_text(
            "ingester:\n  lifecycler:\n    ring:\n      replication_factor: 0\n",
            &[]
        )
        .is_err()
    );
    assert!(load_text("target: ''\n", &[]).is_err());
    assert!(load_text("ingester:\n  max_block_bytes: -1\n", &[]).is_err());
}

#[test]
fn auth_enabled_is_folded_into_multitenancy() {
    let loaded = must_load("auth_enabled: true\n", &[]);
    assert!(loaded.config.multitenancy_enabled);
    assert_eq!(loaded.warnings.len(), 1);
    assert!(
        must_load("multitenancy_enabled: true\n", &[])
            .config
            .multitenancy_enabled
    );
}

#[test]
fn targets_split_on_commas() {
    let loaded = must_load("target: distributor, ingester ,querier\n", &[]);
    assert_eq!(
        loaded.config.targets(),
        vec!["distributor", "ingester", "querier"]
    );
}

#[test]
fn query_settings_default_and_round_trip_through_the_rendered_yaml() {
    let defaults = QuerySettings::from_config(&Config::default()).expect("defaults");
    assert_eq!(
        defaults,
        QuerySettings {
            stream_over_http_enabled: false,
            search_target_bytes_per_job: 104_857_600,
        }
    );
    let rendered = Config::default().to_yaml();
    assert!(!rendered.contains("server:\n  stream_over_http_enabled"));
    assert_eq!(
        QuerySettings::from_rendered_yaml(&rendered).expect("round trip"),
        defaults
    );
    for text in [
        "stream_over_http_enabled: true\n",
        "server:\n  stream_over_http_enabled: true\n",
    ] {
        let loaded = must_load(text, &[]);
        assert!(loaded.warnings.is_empty(), "{text}: {:?}", loaded.warnings);
        let settings =
            QuerySettings::from_rendered_yaml(&loaded.config.to_yaml()).expect("round trip");
        assert!(settings.stream_over_http_enabled, "{text}");
    }
}

#[test]
fn search_target_bytes_per_job_is_read() {
    let read = |text: &str| QuerySettings::from_config(&must_load(text, &[]).config);
    let set =
        read("query_frontend:\n  search:\n    target_bytes_per_job: 1048576\n").expect("valid");
    assert_eq!(set.search_target_bytes_per_job, 1_048_576);
    let float = read("query_frontend:\n  search:\n    target_bytes_per_job: 1.048576e+06\n")
        .expect("valid");
    assert_eq!(float.search_target_bytes_per_job, 1_048_576);
    for bad in ["lots", "0", "-5"] {
        let text = format!("query_frontend:\n  search:\n    target_bytes_per_job: {bad}\n");
        let error = load_text(&text, &[]).expect_err("refused at load");
        assert!(
            error
                .to_string()
                .starts_with("invalid configuration: query_frontend.search.target_bytes_per_job: "),
            "{error}"
        );
    }
}
