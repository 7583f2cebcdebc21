//! The distributor: admits a push (rate limit), validates and regroups it by trace, and writes the
//! fragments to the ingesters that own them.

pub mod actor;
mod rate_limit;
mod replication;
mod split;

use std::sync::Arc;

use async_trait::async_trait;
use vivace_proto::otlp::trace::ResourceSpans;

use crate::error::{PushError, TracePushOutcome};
use crate::metrics::{ComponentMetrics, DiscardReason};
use crate::seams::Clock;
pub use rate_limit::{RateLimit, RateLimiter, RateStrategy};
pub use replication::ReplicatedPush;
pub use split::{SplitError, SplitPush, TraceFragment, split_by_trace};

/// Distributor settings (from `overrides.defaults.ingestion`).
#[derive(Debug, Clone, Copy)]
pub struct DistributorSettings {
    pub rate_limit: RateLimit,
    pub max_attribute_bytes: usize,
}

/// Where fragments go: the local ingester, or the replicas chosen by the ring in a cluster.
#[async_trait]
pub trait PushTarget: Send + Sync + 'static {
    async fn push(
        &self,
        tenant: String,
        fragments: Vec<TraceFragment>,
    ) -> Result<Vec<TracePushOutcome>, PushError>;
}

/// The distributor's logic.
pub struct Distributor {
    settings: DistributorSettings,
    limiter: RateLimiter,
    clock: Arc<dyn Clock>,
    metrics: ComponentMetrics,
}

impl Distributor {
    pub fn new(
        settings: DistributorSettings,
        clock: Arc<dyn Clock>,
        metrics: ComponentMetrics,
    ) -> Self {
        Distributor {
            settings,
            limiter: RateLimiter::new(settings.rate_limit),
            clock,
            metrics,
        }
    }

    /// Follows the number of healthy distributors (for the `global` rate strategy).
    pub fn set_healthy_distributors(
        &mut self,
        count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) {
        self.limiter.set_healthy_distributors(count);
    }

    pub fn settings(&self) -> DistributorSettings {
        self.settings
    }

    /// Counts the push and checks the tenant's rate limit.
    pub fn admit(
        &mut self,
        tenant: &str,
        span_count: u64,
        request_bytes: u64,
    ) -> Result<(), PushError> {
        self.metrics
            .record_received(tenant, span_count, request_bytes);
        let now = self.clock.now_unix_nanos();
        if self.limiter.allow(tenant, request_bytes, now) {
            return Ok(());
        }
        self.metrics
            .record_discarded(tenant, DiscardReason::RateLimited, span_count);
        let limit = self.limiter.limit();
        Err(PushError::ResourceExhausted(format!(
            "RATE_LIMITED: ingestion rate limit ({}: {} bytes, burst size: {} bytes) exceeded while adding {} bytes for user {}",
            limit.strategy.as_str(),
            limit.bytes_per_second as u64,
            limit.burst_bytes as u64,
            request_bytes,
            tenant
        )))
    }
}

/// Validates and regroups a push (CPU work: run it off the actor thread).
pub fn prepare(
    batches: Vec<ResourceSpans>,
    max_attribute_bytes: usize,
) -> Result<SplitPush, SplitError> {
    split_by_trace(batches, max_attribute_bytes)
}

/// Turns per-trace outcomes into the push's answer (the ingester counted the refused spans).
pub fn summarize_outcomes(
    tenant: &str,
    fragments_span_counts: &[u32],
    outcomes: &[TracePushOutcome],
) -> Result<(), PushError> {
    let mut too_large = 0u64;
    let mut live_exceeded = 0u64;
    for (span_count, outcome) in fragments_span_counts.iter().zip(outcomes) {
        match outcome {
            TracePushOutcome::Accepted => {}
            TracePushOutcome::TraceTooLarge => too_large += u64::from(*span_count),
            TracePushOutcome::MaxLiveTraces => live_exceeded += u64::from(*span_count),
        }
    }
    if too_large > 0 {
        return Err(PushError::ResourceExhausted(format!(
            "TRACE_TOO_LARGE: max size of trace exceeded for tenant {tenant}: {too_large} spans refused"
        )));
    }
    if live_exceeded > 0 {
        return Err(PushError::ResourceExhausted(format!(
            "LIVE_TRACES_EXCEEDED: max live traces exceeded for tenant {tenant}: {live_exceeded} spans refused"
        )));
    }
    Ok(())
}
