//! The options of the wire scenario, drawn from their own stream of the seed (so adding this
//! scenario left every option of the step scenarios unchanged).

use std::fmt;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::options::SimOptions;

#[derive(Debug, Clone, PartialEq)]
pub struct WireOptions {
    pub seed: u64,
    pub ingesters: usize,
    pub distributors: usize,
    pub queriers: usize,
    pub replication_factor: usize,
    pub traces: usize,
    pub max_batches_per_trace: usize,
    pub max_spans_per_trace: usize,
    /// One-way network latency range of every message.
    pub min_latency: Duration,
    pub max_latency: Duration,
    /// Chances per fault round (one simulated second).
    pub ingester_crash_probability: f64,
    pub distributor_crash_probability: f64,
    pub querier_crash_probability: f64,
    pub restart_probability: f64,
    pub partition_probability: f64,
    pub oneway_partition_probability: f64,
    /// Rounds between a crash and the ring dropping the member (the failure detector's delay).
    pub detection_rounds: u64,
    pub store_error_rate: f64,
    pub store_latency: Duration,
    /// How long an ingester's WAL sync holds back the acknowledgement.
    pub slow_fsync: Duration,
    /// Chance per round that an ingester's disk fails its syncs for the round.
    pub fsync_failure_probability: f64,
    /// Ingesters down (crashed or cut off) at once: RF − quorum, or one more in some seeds, so
    /// that writes must be refused and reads must report what they could not read.
    pub max_down: usize,
}

impl WireOptions {
    pub fn from_seed(seed: u64) -> WireOptions {
        let mut rng = StdRng::seed_from_u64(seed.rotate_left(41) ^ 0x0077_1e5e);
        let min_latency_ms = rng.random_range(0..=5);
        let mut options = WireOptions {
            seed,
            ingesters: rng.random_range(3..=5),
            distributors: rng.random_range(1..=2),
            queriers: rng.random_range(1..=2),
            replication_factor: if rng.random_bool(0.85) { 3 } else { 1 },
            traces: rng.random_range(15..=60),
            max_batches_per_trace: rng.random_range(1..=3),
            max_spans_per_trace: rng.random_range(1..=5),
            min_latency: Duration::from_millis(min_latency_ms),
            max_latency: Duration::from_millis(min_latency_ms + rng.random_range(1..=40)),
            ingester_crash_probability: rng.random_range(0.0..0.2),
            distributor_crash_probability: rng.random_range(0.0..0.1),
            querier_crash_probability: rng.random_range(0.0..0.1),
            restart_probability: rng.random_range(0.2..0.7),
            partition_probability: rng.random_range(0.0..0.15),
            oneway_partition_probability: rng.random_range(0.0..0.15),
            detection_rounds: rng.random_range(1..=4),
            store_error_rate: rng.random_range(0.0..0.05),
            store_latency: Duration::from_millis(rng.random_range(0..=200)),
            slow_fsync: Duration::from_millis(rng.random_range(0..=50)),
            fsync_failure_probability: rng.random_range(0.0..0.03),
            max_down: 0,
        };
        let budget = options.replication_factor - vivace_ring::quorum(options.replication_factor);
        options.max_down = budget + usize::from(rng.random_bool(0.3));
        options
    }

    /// The workload's shape in the form the generator takes.
    pub fn workload(&self) -> SimOptions {
        SimOptions {
            traces: self.traces,
            max_batches_per_trace: self.max_batches_per_trace,
            max_spans_per_trace: self.max_spans_per_trace,
            ..SimOptions::from_seed(self.seed)
        }
    }
}

impl fmt::Display for WireOptions {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "wire: ingesters={} distributors={} queriers={} rf={} traces={} batches<={} spans<={} latency={}..{}ms crash[ingester={:.3} distributor={:.3} querier={:.3}] restart={:.3} partition={:.3} oneway={:.3} detection_rounds={} store_errors={:.3} store_latency<={}ms slow_fsync={}ms fsync_fail={:.3} max_down={}",
            self.ingesters,
            self.distributors,
            self.queriers,
            self.replication_factor,
            self.traces,
            self.max_batches_per_trace,
            self.max_spans_per_trace,
            self.min_latency.as_millis(),
            self.max_latency.as_millis(),
            self.ingester_crash_probability,
            self.distributor_crash_probability,
            self.querier_crash_probability,
            self.restart_probability,
            self.partition_probability,
            self.oneway_partition_probability,
            self.detection_rounds,
            self.store_error_rate,
            self.store_latency.as_millis(),
            self.slow_fsync.as_millis(),
            self.fsync_failure_probability,
            self.max_down
        )
    }
}
