//! Self-metrics of the components, with Tempo's metric names so that existing dashboards work.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label set `{tenant}`.
pub type TenantLabels = Vec<(&'static str, String)>;

fn tenant_labels(tenant: &str) -> TenantLabels {
    vec![("tenant", tenant.to_owned())]
}

/// Discard reasons, as Tempo names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscardReason {
    RateLimited,
    TraceTooLarge,
    LiveTracesExceeded,
    InvalidTraceId,
    InvalidSpanId,
    UnknownError,
}

impl DiscardReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DiscardReason::RateLimited => "rate_limited",
            DiscardReason::TraceTooLarge => "trace_too_large",
            DiscardReason::LiveTracesExceeded => "live_traces_exceeded",
            DiscardReason::InvalidTraceId => "invalid_trace_id",
            DiscardReason::InvalidSpanId => "invalid_span_id",
            DiscardReason::UnknownError => "unknown_error",
        }
    }
}

/// Every counter the distributor, ingester and querier update.
#[derive(Clone)]
pub struct ComponentMetrics {
    pub spans_received: Family<TenantLabels, Counter>,
    pub bytes_received: Family<TenantLabels, Counter>,
    pub discarded_spans: Family<TenantLabels, Counter>,
    pub live_traces: Family<TenantLabels, Gauge>,
    pub traces_created: Family<TenantLabels, Counter>,
    pub blocks_cut: Counter,
    pub blocks_flushed: Counter,
    pub failed_flushes: Counter,
    pub flush_duration_seconds: Histogram,
    pub replay_records: Counter,
    pub replay_errors: Counter,
    pub block_read_errors: Counter,
}

impl Default for ComponentMetrics {
    fn default() -> Self {
        ComponentMetrics {
            spans_received: Family::default(),
            bytes_received: Family::default(),
            discarded_spans: Family::default(),
            live_traces: Family::default(),
            traces_created: Family::default(),
            blocks_cut: Counter::default(),
            blocks_flushed: Counter::default(),
            failed_flushes: Counter::default(),
            flush_duration_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
            replay_records: Counter::default(),
            replay_errors: Counter::default(),
            block_read_errors: Counter::default(),
        }
    }
}

impl ComponentMetrics {
    /// Registers every metric (the registry prefix is empty: names carry `tempo_`).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "tempo_distributor_spans_received",
            "Spans received by the distributor",
            self.spans_received.clone(),
        );
        registry.register(
            "tempo_distributor_bytes_received",
            "Bytes of OTLP received by the distributor",
            self.bytes_received.clone(),
        );
        registry.register(
            "tempo_discarded_spans",
            "Spans discarded, by reason",
            self.discarded_spans.clone(),
        );
        registry.register(
            "tempo_ingester_live_traces",
            "Live traces held by the ingester",
            self.live_traces.clone(),
        );
        registry.register(
            "tempo_ingester_traces_created",
            "Traces created in the ingester",
            self.traces_created.clone(),
        );
        registry.register(
            "tempo_ingester_blocks_cut",
            "Head blocks cut for completion",
            self.blocks_cut.clone(),
        );
        registry.register(
            "tempo_ingester_blocks_flushed",
            "Blocks flushed to object storage",
            self.blocks_flushed.clone(),
        );
        registry.register(
            "tempo_ingester_failed_flushes",
            "Block flushes that failed",
            self.failed_flushes.clone(),
        );
        registry.register(
            "tempo_ingester_flush_duration_seconds",
            "Time to build and upload a block",
            self.flush_duration_seconds.clone(),
        );
        registry.register(
            "tempo_ingester_replay_records",
            "WAL records replayed at start",
            self.replay_records.clone(),
        );
        registry.register(
            "tempo_ingester_replay_errors",
            "WAL records that could not be decoded at replay",
            self.replay_errors.clone(),
        );
        registry.register(
            "tempo_querier_block_read_errors",
            "Block reads that failed (including checksum mismatches)",
            self.block_read_errors.clone(),
        );
    }

    pub fn record_received(&self, tenant: &str, spans: u64, bytes: u64) {
        let labels = tenant_labels(tenant);
        self.spans_received.get_or_create(&labels).inc_by(spans);
        self.bytes_received.get_or_create(&labels).inc_by(bytes);
    }

    pub fn record_discarded(&self, tenant: &str, reason: DiscardReason, spans: u64) {
        let labels = vec![
            ("tenant", tenant.to_owned()),
            ("reason", reason.as_str().to_owned()),
        ];
        self.discarded_spans.get_or_create(&labels).inc_by(spans);
    }

    pub fn set_live_traces(&self, tenant: &str, count: usize) {
        self.live_traces
            .get_or_create(&tenant_labels(tenant))
            .set(count as i64);
    }

    pub fn record_traces_created(&self, tenant: &str, count: u64) {
        self.traces_created
            .get_or_create(&tenant_labels(tenant))
            .inc_by(count);
    }
}

/// Labels naming one ingester replica.
pub type ReplicaLabels = Vec<(&'static str, String)>;

fn replica_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 14))
}

/// Distributor → ingester replication: latency per replica and failed replica writes.
#[derive(Clone)]
pub struct ReplicationMetrics {
    pub push_duration_seconds: Family<ReplicaLabels, Histogram, fn() -> Histogram>,
    pub push_failures: Family<ReplicaLabels, Counter>,
}

impl Default for ReplicationMetrics {
    fn default() -> Self {
        ReplicationMetrics {
            push_duration_seconds: Family::new_with_constructor(replica_histogram),
            push_failures: Family::default(),
        }
    }
}

impl ReplicationMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "vivace_replica_push_duration_seconds",
            "Time to write a batch to one ingester replica",
            self.push_duration_seconds.clone(),
        );
        registry.register(
            "vivace_replica_push_failures",
            "Writes to an ingester replica that failed",
            self.push_failures.clone(),
        );
    }

    /// One replica write finished.
    pub fn record_push(&self, ingester: &str, elapsed: std::time::Duration, succeeded: bool) {
        let labels = vec![("ingester", ingester.to_owned())];
        self.push_duration_seconds
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        if !succeeded {
            self.push_failures.get_or_create(&labels).inc();
        }
    }

    /// A replica could not even be tried.
    pub fn record_failure(&self, ingester: &str) {
        self.push_failures
            .get_or_create(&vec![("ingester", ingester.to_owned())])
            .inc();
    }
}
