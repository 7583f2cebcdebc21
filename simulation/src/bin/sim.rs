//! `sim [--seed N | --count N [--first N]]`: runs seeds and prints each summary; exits 1 if any
//! seed broke an invariant. `SIM_SEED` replays one seed, `SIM_LOG=1` prints its event log.

use std::process::ExitCode;

fn arg(args: &[String], name: &str) -> Option<u64> {
    let position = args.iter().position(|arg| arg == name)?;
    args.get(position + 1)?.parse().ok()
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
    let mut failed = false;
    for seed in seeds {
        let summary = simulation::run_seed(seed, print_log);
        let options = summary
            .options
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        println!("options {options}");
        println!("summary seed={seed} {}", summary.line());
        for violation in &summary.violations {
            failed = true;
            println!("FAILED seed={seed} {violation}");
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
