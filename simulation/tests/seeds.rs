//! The fixed seeds CI runs, and the determinism check: a seed run twice gives the same event log.

use simulation::run_seed;

/// Seeds that found problems while the harness was built, kept as regressions.
const REGRESSION_SEEDS: &[u64] = &[
    // A WAL that failed an fsync stopped for good while its ingester stayed in the ring, refusing
    // every write (the node now exits so that a restart replays the WAL). Seed 58 showed it too
    // before object-store faults changed its run.
    0,
    58,
    190,
    // The liveness phase kept losing messages, so it could not converge (a harness bug).
    148,
    // Seeded block ids of a restarted ingester repeated its previous generation's, and its new
    // blocks overwrote the old ones in storage (fixed in `SeededIds`).
    7,
    33,
    // The liveness phase resent to an ingester whose WAL failed in the last faulty step, before
    // its node exited and restarted (a harness bug, found by a random seed).
    7_490_619_125_045,
];

#[test]
fn fixed_seeds_keep_every_invariant() {
    let mut failures = Vec::new();
    let mut acked = 0;
    let seeds: Vec<u64> = (1_000..1_120)
        .chain(REGRESSION_SEEDS.iter().copied())
        .collect();
    for seed in &seeds {
        let summary = run_seed(*seed, false);
        acked += summary.acked_spans;
        for violation in &summary.violations {
            let options = summary
                .options
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            failures.push(format!("seed {seed}: {violation}\n  options {options}"));
        }
    }
    println!("{} seeds, {acked} acknowledged spans checked", seeds.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        acked > 10_000,
        "the workload acknowledged too little to mean anything: {acked}"
    );
}

#[test]
fn a_seed_replays_exactly() {
    for seed in [3, 12, 1_007] {
        let first = run_seed(seed, false);
        let second = run_seed(seed, false);
        assert!(first.events > 10, "seed {seed} logged too little");
        assert_eq!(
            (first.digest, first.events, first.acked_spans),
            (second.digest, second.events, second.acked_spans),
            "seed {seed} is not deterministic"
        );
    }
}

/// The wire scenario (production actors and gRPC on turmoil): fixed seeds, each with its own
/// cluster shape and faults.
#[test]
fn wire_seeds_keep_every_invariant() {
    let mut failures = Vec::new();
    let mut acked = 0;
    let mut faults = 0;
    let seeds: Vec<u64> = (5_000..5_040).collect();
    for seed in &seeds {
        let (options, summary) = simulation::run_wire_seed(*seed, false);
        acked += summary.acked_spans;
        faults += summary.faults.values().sum::<u64>();
        for violation in &summary.violations {
            failures.push(format!("seed {seed}: {violation}\n  options {options}"));
        }
    }
    println!(
        "{} wire seeds, {acked} acknowledged spans checked, {faults} faults",
        seeds.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        acked > 2_000,
        "the workload acknowledged too little: {acked}"
    );
    assert!(faults > 100, "too few faults were injected: {faults}");
}

/// The wire scenario's unit of determinism is a process (as turmoil's and madsim's are): some
/// state of the HTTP/2 and runtime stack outlives a run (not pinned down yet), so a second run in
/// the same process can differ from the first. So the check runs the `sim` binary twice.
#[test]
fn a_wire_seed_replays_exactly_in_a_new_process() {
    for seed in ["5003", "5017"] {
        let run = || {
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_sim"))
                .args(["--wire", "--seed", seed])
                .output()
                .expect("the sim binary runs");
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            text.lines()
                .find(|line| line.starts_with("summary"))
                .map(|line| {
                    line.split_whitespace()
                        .filter(|field| {
                            field.starts_with("digest=") || field.starts_with("events=")
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default()
        };
        let first = run();
        assert!(first.contains("digest="), "seed {seed} printed no summary");
        assert_eq!(first, run(), "wire seed {seed} is not deterministic");
    }
}
