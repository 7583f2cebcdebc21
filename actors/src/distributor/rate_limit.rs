//! Per-tenant ingestion rate limiting on bytes: a token bucket per tenant. With Tempo's `local`
//! strategy each distributor enforces the whole limit; with `global` the rate is divided by the
//! number of healthy distributors (the burst is not).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `overrides.defaults.ingestion.rate_strategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RateStrategy {
    #[default]
    Local,
    Global,
}

impl RateStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            RateStrategy::Local => "local",
            RateStrategy::Global => "global",
        }
    }
}

/// Limits for one tenant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub bytes_per_second: f64,
    pub burst_bytes: f64,
    pub strategy: RateStrategy,
}

#[derive(Debug)]
struct Bucket {
    available: f64,
    last_refill_nanos: u64,
}

/// Token buckets per tenant; time comes from the caller (a `Clock`).
#[derive(Debug)]
pub struct RateLimiter {
    limit: RateLimit,
    /// Healthy distributors in the cluster (the `global` divisor); 1 when alone.
    healthy_distributors: Arc<AtomicUsize>,
    buckets: HashMap<String, Bucket>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter {
            limit,
            healthy_distributors: Arc::new(AtomicUsize::new(1)),
            buckets: HashMap::new(),
        }
    }

    /// Follows the number of healthy distributors (kept current by the cluster membership).
    pub fn set_healthy_distributors(&mut self, count: Arc<AtomicUsize>) {
        self.healthy_distributors = count;
    }

    /// The limit this distributor enforces now.
    pub fn limit(&self) -> RateLimit {
        match self.limit.strategy {
            RateStrategy::Local => self.limit,
            RateStrategy::Global => {
                let distributors = self.healthy_distributors.load(Ordering::Relaxed).max(1);
                RateLimit {
                    bytes_per_second: self.limit.bytes_per_second / distributors as f64,
                    ..self.limit
                }
            }
        }
    }

    /// Takes `bytes` from the tenant's bucket if they are available at `now_nanos`.
    pub fn allow(&mut self, tenant: &str, bytes: u64, now_nanos: u64) -> bool {
        let limit = self.limit();
        let bucket = self.buckets.entry(tenant.to_owned()).or_insert(Bucket {
            available: limit.burst_bytes,
            last_refill_nanos: now_nanos,
        });
        let elapsed_seconds = now_nanos.saturating_sub(bucket.last_refill_nanos) as f64 / 1e9;
        bucket.available =
            (bucket.available + elapsed_seconds * limit.bytes_per_second).min(limit.burst_bytes);
        bucket.last_refill_nanos = now_nanos.max(bucket.last_refill_nanos);
        let wanted = bytes as f64;
        if wanted > bucket.available {
            return false;
        }
        bucket.available -= wanted;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let mut limiter = RateLimiter::new(RateLimit {
            bytes_per_second: 100.0,
            burst_bytes: 200.0,
            strategy: RateStrategy::Local,
        });
        assert!(limiter.allow("t", 150, 0));
        assert!(!limiter.allow("t", 100, 0));
        assert!(limiter.allow("other", 200, 0));
        // Half a second refills 50 bytes.
        assert!(limiter.allow("t", 100, 500_000_000));
        assert!(!limiter.allow("t", 300, 10_000_000_000));
    }

    #[test]
    fn global_divides_the_rate_by_healthy_distributors() {
        let mut limiter = RateLimiter::new(RateLimit {
            bytes_per_second: 100.0,
            burst_bytes: 200.0,
            strategy: RateStrategy::Global,
        });
        let distributors = Arc::new(AtomicUsize::new(4));
        limiter.set_healthy_distributors(Arc::clone(&distributors));
        assert_eq!(limiter.limit().bytes_per_second, 25.0);
        assert_eq!(
            limiter.limit().burst_bytes,
            200.0,
            "the burst is not divided"
        );
        assert!(limiter.allow("t", 200, 0));
        // One second refills 25 bytes at a quarter of the rate.
        assert!(!limiter.allow("t", 30, 1_000_000_000));
        assert!(limiter.allow("t", 25, 1_000_000_000));
        distributors.store(0, Ordering::Relaxed);
        assert_eq!(
            limiter.limit().bytes_per_second,
            100.0,
            "never divides by zero"
        );
    }
}
