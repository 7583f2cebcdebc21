//! Tests of flags, environment expansion, durations, and a no-panic property test.

use std::time::Duration;

use proptest::prelude::*;

use super::env::expand_env;
use super::load::{Sources, load_with};
use super::tests::{load_env, load_text, must_load};
use super::*;

/// Loads flags only (no file; reading any file fails).
fn load_flags(args: &[&str]) -> Result<LoadedConfig, ConfigError> {
    let owned: Vec<String> = args.iter().map(|arg| (*arg).to_string()).collect();
    let env = |_: &str| None;
    let read = |_: &str| {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no files in this test",
        ))
    };
    load_with(
        &owned,
        &Sources {
            env: &env,
            read: &read,
        },
    )
}

/// Loads flags only, panicking with the error if it fails.
fn must_flags(args: &[&str]) -> Config {
    match load_flags(args) {
        Ok(loaded) => loaded.config,
        Err(error) => panic!("flags should load: {error}"),
    }
}

#[test]
fn three_flag_spellings() {
    for args in [
        &["--server.http-listen-port=3201"][..],
        &["-server.http-listen-port=3201"][..],
        &["-server.http-listen-port", "3201"][..],
        &["--server.http-listen-port", "3201"][..],
    ] {
        assert_eq!(must_flags(args).server.http_listen_port, 3201, "{args:?}");
    }
}

#[test]
fn flags_override_the_file() {
    let text = "server:\n  http_listen_port: 3300\n  grpc_listen_port: 9300\ningester:\n  trace_idle_period: 20s\n";
    let loaded = must_load(
        text,
        &[
            "-server.http-listen-port=3201",
            "--ingester.trace-idle-period",
            "1m30s",
        ],
    );
    assert_eq!(loaded.config.server.http_listen_port, 3201);
    assert_eq!(loaded.config.server.grpc_listen_port, 9300);
    assert_eq!(
        loaded.config.ingester.trace_idle_period,
        Duration::from_secs(90)
    );
    let last_wins = must_flags(&["-target=querier", "-target=all"]);
    assert_eq!(last_wins.target, "all");
}

#[test]
fn tempo_flag_names() {
    let config = must_flags(&[
        "-target=all",
        "-multitenancy.enabled",
        "-storage.trace.backend=local",
        "-storage.trace.local.path=/tmp/blocks",
        "-storage.trace.wal.path=/tmp/wal",
        "-storage.trace.blocklist_poll=1m",
        "-server.http-listen-address=127.0.0.1",
        "-server.grpc-listen-address",
        "127.0.0.2",
        "-server.grpc-listen-port=9999",
        "-log.level=debug",
        "-server.grpc-max-recv-msg-size-bytes=1024",
        "-distributor.ingestion-rate-limit-bytes=77",
        "-ingester.max-bytes-per-trace=88",
        "-http-api-prefix=/tempo",
        "-stream-over-http-enabled=true",
        "-ingester.lifecycler.id=node-1",
        "-memberlist.host-port=a:7946",
        "-memberlist.host-port=b:7946",
        "-reporting.enabled=false",
    ]);
    assert!(config.multitenancy_enabled && config.stream_over_http_enabled);
    assert_eq!(config.storage.trace.local.path, "/tmp/blocks");
    assert_eq!(config.storage.trace.wal.path, "/tmp/wal");
    assert_eq!(config.storage.trace.blocklist_poll, Duration::from_secs(60));
    assert_eq!(config.server.http_listen_address, "127.0.0.1");
    assert_eq!(config.server.grpc_listen_address, "127.0.0.2");
    assert_eq!(config.server.grpc_listen_port, 9999);
    assert_eq!(config.server.log_level, "debug");
    assert_eq!(config.server.grpc_server_max_recv_msg_size, 1024);
    assert_eq!(config.overrides.defaults.ingestion.rate_limit_bytes, 77);
    assert_eq!(config.overrides.defaults.global.max_bytes_per_trace, 88);
    assert_eq!(config.http_api_prefix, "/tempo");
    assert_eq!(config.ingester.lifecycler_id().as_deref(), Some("node-1"));
    let members = Value::Sequence(vec![Value::from("a:7946"), Value::from("b:7946")]);
    assert_eq!(config.memberlist["join_members"], members);
    assert_eq!(config.usage_report["reporting_enabled"], Value::Bool(false));
    assert!(must_flags(&["-auth.enabled=true"]).multitenancy_enabled);
    assert!(!must_flags(&["-multitenancy.enabled=false"]).multitenancy_enabled);
}

#[test]
fn every_typed_key_is_a_flag() {
    let config = must_flags(&[
        "-ingester.max-block-bytes=1000",
        "-ingester.concurrent-flushes=2",
        "-ingester.flush-all-on-shutdown",
        "-storage.trace.block.bloom-filter-false-positive=0.05",
        "-storage.trace.vivace-cache.memory-bytes=4096",
        "-overrides.defaults.ingestion.rate-strategy=global",
        "-querier.frontend-worker.frontend-address=qf:9095",
        "-server.http-server-write-timeout=45s",
    ]);
    assert_eq!(config.ingester.max_block_bytes, 1000);
    assert_eq!(config.ingester.concurrent_flushes, 2);
    assert!(config.ingester.flush_all_on_shutdown);
    assert_eq!(config.storage.trace.block.bloom_filter_false_positive, 0.05);
    assert_eq!(config.storage.trace.vivace_cache.memory_bytes, 4096);
    assert_eq!(config.overrides.defaults.ingestion.rate_strategy, "global");
    assert_eq!(
        config.querier["frontend_worker"]["frontend_address"],
        Value::from("qf:9095")
    );
    assert_eq!(
        config.server.http_server_write_timeout,
        Duration::from_secs(45)
    );
}

#[test]
fn flag_receivers_enable_only_that_protocol() {
    let config = must_flags(&["-distributor.receivers.otlp.protocols.grpc.endpoint=0.0.0.0:5317"]);
    assert_eq!(
        config.distributor.otlp_grpc_endpoint().as_deref(),
        Some("0.0.0.0:5317")
    );
    assert_eq!(config.distributor.otlp_http_endpoint(), None);
}

#[test]
fn bad_flags_are_errors_naming_the_flag() {
    let unknown = load_flags(&["-not.a-flag=1"]).expect_err("unknown");
    assert!(matches!(&unknown, ConfigError::UnknownFlag { flag } if flag == "-not.a-flag"));
    assert!(unknown.to_string().contains("-not.a-flag"));
    assert!(matches!(
        load_flags(&["--ingester.no-such-key=1"]),
        Err(ConfigError::UnknownFlag { .. })
    ));
    assert!(matches!(
        load_flags(&["-server.http-listen-port"]),
        Err(ConfigError::MissingFlagValue { .. })
    ));
    assert!(matches!(
        load_flags(&["positional"]),
        Err(ConfigError::UnexpectedArgument { .. })
    ));
    assert!(matches!(
        load_flags(&["--", "x"]),
        Err(ConfigError::UnexpectedArgument { .. })
    ));
    let port = load_flags(&["-server.http-listen-port=http"]).expect_err("not a number");
    assert!(
        port.to_string().contains("-server.http-listen-port"),
        "{port}"
    );
    let range = load_flags(&["-server.http-listen-port=70000"]).expect_err("out of range");
    assert!(
        matches!(&range, ConfigError::InvalidFlagValue { flag, .. } if flag == "-server.http-listen-port"),
        "{range}"
    );
    let duration = load_flags(&["-ingester.trace-idle-period=5"]).expect_err("no unit");
    assert!(
        matches!(&duration, ConfigError::InvalidFlagValue { flag, .. } if flag == "-ingester.trace-idle-period"),
        "{duration}"
    );
    assert!(load_flags(&["-multitenancy.enabled=maybe"]).is_err());
    assert!(load_flags(&["-server"]).is_err());
    assert!(load_flags(&["-"]).is_err());
    assert!(load_flags(&["---x"]).is_err());
    assert!(load_flags(&["-a..b=1"]).is_err());
}

#[test]
fn help_version_and_verify() {
    let help = load_flags(&["--help"]).expect("help");
    assert!(help.print_help && !help.print_version);
    assert!(load_flags(&["-h"]).expect("h").print_help);
    let version = load_flags(&["-version"]).expect("version");
    assert!(version.print_version);
    assert!(
        load_flags(&["--version=true"])
            .expect("version")
            .print_version
    );
    let verify = must_load("", &["-config.verify"]);
    assert!(verify.verify_config);
    assert!(usage().contains("-server.http-listen-port"));
    assert!(usage().contains("-config.file"));
}

#[test]
fn expand_env_in_the_file() {
    let text = "server:\n  http_listen_port: ${PORT}\n  log_level: ${LEVEL:-warn}\nstorage:\n  trace:\n    wal:\n      path: ${ROOT}/wal\n    local:\n      path: \"${UNSET}x\"\n";
    let vars = [("PORT", "4000"), ("ROOT", "/srv")];
    let loaded = load_env(text, &["-config.expand-env"], &vars).expect("expands");
    assert_eq!(loaded.config.server.http_listen_port, 4000);
    assert_eq!(loaded.config.server.log_level, "warn");
    assert_eq!(loaded.config.storage.trace.wal.path, "/srv/wal");
    assert_eq!(loaded.config.storage.trace.local.path, "x");
    let set_default = load_env(
        text,
        &["--config.expand-env=true"],
        &[("PORT", "1"), ("LEVEL", "error")],
    )
    .expect("expands");
    assert_eq!(set_default.config.server.log_level, "error");
    let not_expanded =
        load_env("http_api_prefix: ${PREFIX}\n", &[], &[("PREFIX", "/x")]).expect("literal");
    assert_eq!(not_expanded.config.http_api_prefix, "${PREFIX}");
    let unterminated =
        load_env("a: ${B\n", &["-config.expand-env"], &[]).expect_err("unterminated");
    assert!(matches!(unterminated, ConfigError::ExpandEnv { .. }));
}

#[test]
fn expand_env_forms() {
    let lookup = |name: &str| match name {
        "A" => Some("alpha".to_string()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    let cases = [
        ("$A and ${A}", "alpha and alpha"),
        ("${MISSING}|$MISSING", "|"),
        ("${MISSING:-def}", "def"),
        ("${EMPTY:-def}|${EMPTY-def}|${MISSING-def}", "def||def"),
        ("${MISSING:-${A}}", "alpha"),
        ("cost $$5, regex ^a$ and $ 1", "cost $5, regex ^a$ and $ 1"),
        ("${A:=x}", "alpha"),
    ];
    for (input, expected) in cases {
        assert_eq!(
            expand_env(input, &lookup).as_deref(),
            Ok(expected),
            "{input}"
        );
    }
    assert!(expand_env("line1\n${1bad}", &lookup).is_err_and(|message| message.contains("line 2")));
}

#[test]
fn go_durations() {
    let cases = [
        ("5s", 5_000),
        ("30m", 1_800_000),
        ("1h30m", 5_400_000),
        ("500ms", 500),
        ("1.5h", 5_400_000),
        ("0", 0),
        ("2h45m30.5s", 9_930_500),
        ("1d", 86_400_000),
        ("+10s", 10_000),
    ];
    for (text, millis) in cases {
        assert_eq!(
            parse_duration(text),
            Ok(Duration::from_millis(millis)),
            "{text}"
        );
    }
    assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
    assert_eq!(parse_duration("250µs"), Ok(Duration::from_micros(250)));
    assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
    for bad in [
        "",
        "5",
        "5x",
        "s",
        "-5s",
        "1.2.3s",
        "h1",
        "99999999999999999999999999999999999h",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad}");
    }
    let formats = [
        (0, "0s"),
        (500, "500ms"),
        (5_000, "5s"),
        (1_800_000, "30m0s"),
        (5_400_000, "1h30m0s"),
        (1_500, "1.5s"),
    ];
    for (millis, text) in formats {
        assert_eq!(format_duration(Duration::from_millis(millis)), text);
    }
    assert_eq!(format_duration(Duration::from_micros(1_500)), "1.5ms");
    let in_yaml = must_load(
        "ingester:\n  trace_idle_period: 0\n  max_block_duration: 1h30m\n",
        &[],
    );
    assert_eq!(in_yaml.config.ingester.trace_idle_period, Duration::ZERO);
    assert_eq!(
        in_yaml.config.ingester.max_block_duration,
        Duration::from_secs(5400)
    );
    assert!(load_text("ingester:\n  trace_idle_period: 5\n", &[]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_flags_never_panic(args in proptest::collection::vec(
        prop_oneof![
            "[-]{0,3}[a-z._=-]{0,30}[=]?[ -~]{0,12}",
            "-(server|ingester|storage|overrides|distributor|querier)\\.[a-z.-]{0,25}(=[ -~]{0,10})?",
            any::<String>(),
        ],
        0..6,
    )) {
        let strs: Vec<&str> = args.iter().map(String::as_str).collect();
        let _ = load_flags(&strs);
    }

    #[test]
    fn arbitrary_yaml_never_panics(text in prop_oneof![
        any::<String>(),
        "([a-z_]{1,12}:( [ -~]{0,10})?\n(  [a-z_]{1,12}: [ -~]{0,10}\n){0,3}){0,5}",
        "(server|ingester|storage|overrides|distributor|target|block_builder):\n  [a-z_.]{1,20}: [\\[\\]{}:,0-9a-z$ -]{0,12}\n",
    ]) {
        let _ = load_text(&text, &[]);
        let _ = load_env(&text, &["-config.expand-env"], &[("A", "1")]);
    }
}
