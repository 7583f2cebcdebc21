//! `distributor.receivers`: which trace receivers are enabled, and where they listen.
//!
//! Semantics: without a receivers section, OTLP gRPC and HTTP are both enabled on their default
//! endpoints. With one, only the listed protocols are enabled; a protocol with a null or empty
//! value (`grpc:`) listens on its default endpoint. Receivers Tempo has and Vivace does not yet
//! (jaeger, zipkin, opencensus, kafka) are accepted with one warning each.

use serde_yaml::Value;

use super::defaults::{DEFAULT_OTLP_GRPC_ENDPOINT, DEFAULT_OTLP_HTTP_ENDPOINT};
use super::sections::DistributorConfig;

/// Receivers Tempo accepts that Vivace does not implement yet.
const UNSUPPORTED_RECEIVERS: &[&str] = &["jaeger", "zipkin", "opencensus", "kafka"];

/// OTLP protocols.
const OTLP_PROTOCOLS: &[&str] = &["grpc", "http"];

impl DistributorConfig {
    /// The OTLP gRPC receiver's endpoint (`host:port`), or `None` if it is not enabled.
    pub fn otlp_grpc_endpoint(&self) -> Option<String> {
        self.otlp_endpoint("grpc", DEFAULT_OTLP_GRPC_ENDPOINT)
    }

    /// The OTLP HTTP receiver's endpoint (`host:port`), or `None` if it is not enabled.
    pub fn otlp_http_endpoint(&self) -> Option<String> {
        self.otlp_endpoint("http", DEFAULT_OTLP_HTTP_ENDPOINT)
    }

    /// Endpoint of one OTLP protocol, applying the defaults described in the module docs.
    fn otlp_endpoint(&self, protocol: &str, default: &str) -> Option<String> {
        let Some(receivers) = &self.receivers else {
            return Some(default.to_string());
        };
        let settings = receivers
            .get("otlp")?
            .get("protocols")?
            .as_mapping()?
            .get(protocol)?;
        let endpoint = settings
            .get("endpoint")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if endpoint.is_empty() {
            return Some(default.to_string());
        }
        Some(endpoint.to_string())
    }

    /// Checks the receivers block; returns one warning per unsupported receiver, or an error
    /// message naming the offending key.
    pub(crate) fn check_receivers(&self) -> Result<Vec<String>, String> {
        let Some(receivers) = &self.receivers else {
            return Ok(Vec::new());
        };
        let Value::Mapping(receivers) = receivers else {
            return Err("distributor.receivers must be a mapping of receiver names".to_string());
        };
        let mut warnings = Vec::new();
        for (key, settings) in receivers {
            let Some(name) = key.as_str() else {
                return Err(format!(
                    "distributor.receivers: receiver name {key:?} is not a string"
                ));
            };
            if name == "otlp" {
                check_otlp(settings)?;
                continue;
            }
            if UNSUPPORTED_RECEIVERS.contains(&name) {
                warnings.push(format!(
                    "receiver {name} is not supported by vivace yet; ignored"
                ));
                continue;
            }
            return Err(format!(
                "distributor.receivers.{name}: unknown receiver (Tempo knows otlp, jaeger, zipkin, opencensus, kafka)"
            ));
        }
        Ok(warnings)
    }
}

/// Checks `distributor.receivers.otlp`.
fn check_otlp(settings: &Value) -> Result<(), String> {
    let protocols = match settings.get("protocols") {
        Some(Value::Mapping(protocols)) if !protocols.is_empty() => protocols,
        _ => {
            return Err(
                "distributor.receivers.otlp: must list at least one protocol under protocols (grpc, http)"
                    .to_string(),
            );
        }
    };
    for (key, protocol) in protocols {
        let name = key.as_str().unwrap_or_default();
        if !OTLP_PROTOCOLS.contains(&name) {
            return Err(format!(
                "distributor.receivers.otlp.protocols: unknown protocol {key:?} (expected grpc or http)"
            ));
        }
        match protocol {
            Value::Null => continue,
            Value::Mapping(_) => {}
            _ => {
                return Err(format!(
                    "distributor.receivers.otlp.protocols.{name}: expected a mapping (e.g. endpoint: 0.0.0.0:4317)"
                ));
            }
        }
        match protocol.get("endpoint") {
            None | Some(Value::Null | Value::String(_)) => {}
            Some(_) => {
                return Err(format!(
                    "distributor.receivers.otlp.protocols.{name}.endpoint: expected a host:port string"
                ));
            }
        }
    }
    Ok(())
}
