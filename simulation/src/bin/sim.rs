//! `sim [--wire] [--seed N | --count N [--first N]]`: runs seeds (every scenario, or only the wire
//! scenario with `--wire`) and prints each summary; exits 1 if any seed broke an invariant.
//! `SIM_SEED` replays one seed, `SIM_LOG=1` prints its event log.

use std::process::ExitCode;

fn arg(args: &[String], name: &str) -> Option<u64> {
    let position = args.iter().position(|arg| arg == name)?;
    args.get(position + 1)?.parse().ok()
}

/// Prints a scenario's options and summary; true when it broke an invariant.
fn report(seed: u64, options: &str, summary: &simulation::Summary) -> bool {
    println!("options {options}");
    println!("summary seed={seed} {}", summary.line());
    for violation in &summary.violations {
        println!("FAILED seed={seed} {violation}");
    }
    !summary.violations.is_empty()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let print_log = std::env::var("SIM_LOG").is_ok_and(|value| value == "1");
    let seeds: Vec<u64> = match (
        std::env::var("SIM_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok()),
        arg(&args, "--seed"),
    ) {
        (Some(seed), _) | (None, Some(seed)) => vec![seed],
        (None, None) => {
            let first = arg(&args, "--first").unwrap_or(0);
            let count = arg(&args, "--count").unwrap_or(1);
            (first..first + count).collect()
        }
    };
    let wire_only = args.iter().any(|arg| arg == "--wire");
    let mut failed = false;
    for seed in seeds {
        if !wire_only {
            let summary = simulation::run_seed(seed, print_log);
            let options = summary
                .options
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            failed |= report(seed, &options, &summary);
        }
        let (options, summary) = simulation::run_wire_seed(seed, print_log);
        failed |= report(seed, &options.to_string(), &summary);
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
