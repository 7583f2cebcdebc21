//! Running one seed: the replication scenario, then the membership scenario, a panic anywhere
//! reported as `INV-6`; and the summary a run prints.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::harness::Sim;
use crate::invariants::{Invariant, Violation};
use crate::log::EventLog;
use crate::options::SimOptions;

/// What a run did and found.
#[derive(Debug, Default)]
pub struct Summary {
    pub options: Option<SimOptions>,
    pub simulated_seconds: u64,
    pub acked_spans: usize,
    pub checked_spans: u64,
    pub faults: BTreeMap<&'static str, u64>,
    pub checks: BTreeMap<&'static str, u64>,
    pub violations: Vec<Violation>,
    pub digest: u64,
    pub events: u64,
    /// Simulated time the ring views took to agree after healing (membership scenario).
    pub ring_convergence: Option<Duration>,
}

impl Summary {
    pub fn line(&self) -> String {
        let faults: Vec<String> = self
            .faults
            .iter()
            .map(|(kind, count)| format!("{kind}={count}"))
            .collect();
        let checks: u64 = self.checks.values().sum();
        format!(
            "simulated={}s acked_spans={} checked_spans={} faults[{}] invariant_checks={} ring_converged_in={} events={} digest={:016x} violations={}",
            self.simulated_seconds,
            self.acked_spans,
            self.checked_spans,
            faults.join(" "),
            checks,
            self.ring_convergence.map_or_else(
                || "-".to_owned(),
                |took| format!("{:.1}s", took.as_secs_f64())
            ),
            self.events,
            self.digest,
            self.violations.len()
        )
    }
}

/// Runs the wire scenario of one seed (production actors and gRPC on turmoil); a panic is an
/// `INV-6` violation.
pub fn run_wire_seed(seed: u64, print_log: bool) -> (crate::wire::options::WireOptions, Summary) {
    let options = crate::wire::options::WireOptions::from_seed(seed);
    let log = Arc::new(EventLog::new(print_log));
    let wire_log = Arc::clone(&log);
    // A fresh thread with seeded OS entropy (hash-map keys, thread RNGs) runs every host.
    let outcome = std::thread::spawn(move || {
        crate::entropy::seed_thread(seed.rotate_left(31));
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::wire::run(seed, wire_log)
        }))
    })
    .join()
    .unwrap_or_else(Err);
    let mut summary = match outcome {
        Ok((_, summary)) => summary,
        Err(panic) => Summary {
            violations: vec![Violation {
                invariant: Invariant::NoPanic,
                detail: panic_message(panic.as_ref()),
            }],
            ..Summary::default()
        },
    };
    let (digest, events) = log.digest();
    summary.digest = digest;
    summary.events = events;
    (options, summary)
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// Seeds the runtime's own RNG (the branch order of `select!`), which tokio otherwise draws from
/// a process-wide counter, so that a second run in one process differs from the first.
fn seed_runtime(builder: &mut tokio::runtime::Builder, seed: u64) {
    #[cfg(tokio_unstable)]
    builder.rng_seed(tokio::runtime::RngSeed::from_bytes(&seed.to_le_bytes()));
    #[cfg(not(tokio_unstable))]
    let _unseeded = (builder, seed);
}

/// Runs one seed to the end; a panic anywhere is reported as an `INV-6` violation.
pub fn run_seed(seed: u64, print_log: bool) -> Summary {
    let options = SimOptions::from_seed(seed);
    let log = Arc::new(EventLog::new(print_log));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return Summary {
                options: Some(options),
                violations: vec![Violation {
                    invariant: Invariant::NoPanic,
                    detail: format!("no runtime: {error}"),
                }],
                ..Summary::default()
            };
        }
    };
    let sim = Sim::new(options.clone(), Arc::clone(&log));
    let membership_options = options.clone();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut summary = runtime.block_on(sim.run());
        // A fresh thread whose OS entropy is seeded: chitchat's gossip RNG follows the seed.
        let membership_log = Arc::clone(&log);
        let membership = std::thread::spawn(move || {
            crate::entropy::seed_thread(membership_options.seed.rotate_left(23));
            let mut builder = tokio::runtime::Builder::new_current_thread();
            builder.enable_all().start_paused(true);
            seed_runtime(&mut builder, membership_options.seed);
            let paused = builder.build().expect("a paused runtime");
            let mut rng = StdRng::seed_from_u64(membership_options.seed.rotate_left(17));
            paused.block_on(crate::membership::run(
                &membership_options,
                &mut rng,
                &membership_log,
            ))
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        *summary.faults.entry("gossip").or_insert(0) += membership.faults;
        *summary
            .checks
            .entry(Invariant::RingConverges.id())
            .or_insert(0) += membership.checks;
        summary.violations.extend(membership.violations);
        summary.ring_convergence = membership.convergence;
        let (digest, events) = log.digest();
        summary.digest = digest;
        summary.events = events;
        summary
    }));
    let mut summary = outcome.unwrap_or_else(|panic| Summary {
        violations: vec![Violation {
            invariant: Invariant::NoPanic,
            detail: panic_message(panic.as_ref()),
        }],
        ..Summary::default()
    });
    summary.options = Some(options);
    summary
}
