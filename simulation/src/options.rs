//! Everything a run does is derived from its seed (swarm testing: each seed picks its own cluster
//! shape and fault rates, so different seeds stress different corners).

use std::fmt;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The options of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    pub seed: u64,
    pub ingesters: usize,
    pub replication_factor: usize,
    /// Traces the workload sends.
    pub traces: usize,
    /// Batches the spans of one trace are split into (at most).
    pub max_batches_per_trace: usize,
    /// Spans per trace (at most).
    pub max_spans_per_trace: usize,
    /// Chance per step that an ingester crashes (when the budget of down replicas allows).
    pub crash_probability: f64,
    /// Chance per step that a crashed ingester restarts.
    pub restart_probability: f64,
    /// Steps between a crash and the ring dropping the member (the failure detector's delay).
    pub detection_steps: u64,
    /// Chance that one distributor → ingester message is lost.
    pub drop_rate: f64,
    /// Chance per step that one ingester is partitioned from the distributor for a while.
    pub partition_probability: f64,
    /// Chance per step that an ingester's WAL fsyncs fail for the step.
    pub fsync_failure_probability: f64,
    /// Chance per step that the clock jumps past the idle period (traces cut into head blocks).
    pub cut_probability: f64,
    /// Chance per step that an ingester flushes everything it holds to object storage.
    pub flush_probability: f64,
    /// Chance that one object-store operation fails (until the liveness phase).
    pub store_error_rate: f64,
}

impl SimOptions {
    pub fn from_seed(seed: u64) -> SimOptions {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_f00d);
        let ingesters = rng.random_range(3..=5);
        SimOptions {
            seed,
            ingesters,
            replication_factor: if rng.random_bool(0.8) { 3 } else { 1 },
            traces: rng.random_range(20..=150),
            max_batches_per_trace: rng.random_range(1..=3),
            max_spans_per_trace: rng.random_range(1..=6),
            crash_probability: rng.random_range(0.0..0.15),
            restart_probability: rng.random_range(0.1..0.6),
            detection_steps: rng.random_range(0..=4),
            drop_rate: rng.random_range(0.0..0.1),
            partition_probability: rng.random_range(0.0..0.1),
            fsync_failure_probability: rng.random_range(0.0..0.05),
            cut_probability: rng.random_range(0.0..0.3),
            flush_probability: rng.random_range(0.0..0.1),
            store_error_rate: rng.random_range(0.0..0.05),
        }
    }
}

impl fmt::Display for SimOptions {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "seed={} ingesters={} rf={} traces={} batches<={} spans<={} crash={:.3} restart={:.3} detection_steps={} drop={:.3} partition={:.3} fsync_fail={:.3} cut={:.3} flush={:.3} store_errors={:.3}",
            self.seed,
            self.ingesters,
            self.replication_factor,
            self.traces,
            self.max_batches_per_trace,
            self.max_spans_per_trace,
            self.crash_probability,
            self.restart_probability,
            self.detection_steps,
            self.drop_rate,
            self.partition_probability,
            self.fsync_failure_probability,
            self.cut_probability,
            self.flush_probability,
            self.store_error_rate
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_a_function_of_the_seed() {
        assert_eq!(SimOptions::from_seed(7), SimOptions::from_seed(7));
        assert_ne!(SimOptions::from_seed(7), SimOptions::from_seed(8));
        let options = SimOptions::from_seed(7);
        assert!((3..=5).contains(&options.ingesters));
    }
}
