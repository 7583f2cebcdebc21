//! Self-metrics: the Prometheus registry, per-route request latency and WAL counters.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use vivace_actors::metrics::{ComponentMetrics, ReplicationMetrics};
use vivace_storage::wal::Wal;

type RouteLabels = Vec<(&'static str, String)>;

fn new_latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Everything `/metrics` shows.
pub struct Telemetry {
    registry: Registry,
    pub components: ComponentMetrics,
    pub replication: ReplicationMetrics,
    /// Ingesters on the ring by state (`tempo_ring_members{name="ingester",state=...}`).
    pub ring_members: Family<RouteLabels, Gauge>,
    /// Gossip members the failure detector considers alive / dead.
    pub gossip_live_members: Gauge,
    pub gossip_dead_members: Gauge,
    request_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl Telemetry {
    /// Creates the registry with the component metrics and, when given, the WAL counters.
    pub fn new(wal: Option<Wal>) -> Self {
        let mut registry = Registry::default();
        let components = ComponentMetrics::default();
        components.register(&mut registry);
        let request_duration: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(new_latency_histogram);
        registry.register(
            "tempo_request_duration_seconds",
            "Time (in seconds) spent serving HTTP requests",
            request_duration.clone(),
        );
        if let Some(wal) = wal {
            registry.register_collector(Box::new(WalCollector { wal }));
        }
        let replication = ReplicationMetrics::default();
        replication.register(&mut registry);
        let ring_members: Family<RouteLabels, Gauge> = Family::default();
        registry.register(
            "tempo_ring_members",
            "Number of members in the ring by state",
            ring_members.clone(),
        );
        let gossip_live_members = Gauge::default();
        registry.register(
            "vivace_gossip_live_members",
            "Gossip members considered alive, this node included",
            gossip_live_members.clone(),
        );
        let gossip_dead_members = Gauge::default();
        registry.register(
            "vivace_gossip_dead_members",
            "Gossip members the failure detector marked dead",
            gossip_dead_members.clone(),
        );
        Telemetry {
            registry,
            components,
            replication,
            ring_members,
            gossip_live_members,
            gossip_dead_members,
            request_duration,
        }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let labels = vec![
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status_code", status.to_string()),
            ("ws", "false".to_owned()),
        ];
        self.request_duration
            .get_or_create(&labels)
            .observe(seconds);
    }
}

/// Middleware recording the latency of every request by route template.
pub async fn observe_request(
    State(telemetry): State<Arc<Telemetry>>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| route_label(path.as_str()))
        .unwrap_or_else(|| "other".to_owned());
    let response = next.run(request).await;
    telemetry.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Tempo-style route label: `/api/traces/{trace_id}` → `api_traces_trace_id`.
fn route_label(template: &str) -> String {
    template
        .trim_matches('/')
        .chars()
        .filter(|character| *character != '{' && *character != '}')
        .map(|character| {
            if character.is_ascii_alphanumeric() {
                character
            } else {
                '_'
            }
        })
        .collect()
}

/// Reads the WAL's counters at scrape time.
struct WalCollector {
    wal: Wal,
}

impl std::fmt::Debug for WalCollector {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("WalCollector")
    }
}

impl Collector for WalCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.wal.stats();
        let counters = [
            (
                "tempo_ingester_wal_appends",
                "Records appended to the WAL",
                stats.appends,
            ),
            (
                "tempo_ingester_wal_fsyncs",
                "WAL fsyncs (one per group commit)",
                stats.fsyncs,
            ),
            (
                "tempo_ingester_wal_bytes",
                "Bytes appended to the WAL",
                stats.bytes,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            let metric_encoder =
                encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(metric_encoder)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels() {
        assert_eq!(route_label("/api/traces/{trace_id}"), "api_traces_trace_id");
        assert_eq!(route_label("/ready"), "ready");
    }

    #[test]
    fn metrics_are_encoded() {
        let telemetry = Telemetry::new(None);
        telemetry
            .components
            .record_received("single-tenant", 3, 100);
        telemetry.observe("GET", "ready", 200, 0.01);
        let text = telemetry.encode().expect("encodes");
        assert!(
            text.contains("tempo_distributor_spans_received_total{tenant=\"single-tenant\"} 3")
        );
        assert!(text.contains("tempo_request_duration_seconds_bucket"));
    }
}
