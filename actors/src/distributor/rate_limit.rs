//! Per-tenant ingestion rate limiting on bytes (a token bucket, as Tempo's `local` strategy).

use std::collections::HashMap;

/// Limits for one tenant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub bytes_per_second: f64,
    pub burst_bytes: f64,
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
    buckets: HashMap<String, Bucket>,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter {
            limit,
            buckets: HashMap::new(),
        }
    }

    /// The configured limit.
    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Takes `bytes` from the tenant's bucket if they are available at `now_nanos`.
    pub fn allow(&mut self, tenant: &str, bytes: u64, now_nanos: u64) -> bool {
        let limit = self.limit;
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
        });
        assert!(limiter.allow("t", 150, 0));
        assert!(!limiter.allow("t", 100, 0));
        assert!(limiter.allow("other", 200, 0));
        // Half a second refills 50 bytes.
        assert!(limiter.allow("t", 100, 500_000_000));
        assert!(!limiter.allow("t", 300, 10_000_000_000));
    }
}
