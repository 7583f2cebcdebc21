//! The event log: one line per event, printed as it happens when `SIM_LOG=1`, and digested so
//! that two runs of a seed can be compared.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use xxhash_rust::xxh3::Xxh3;

/// Lines of one run.
pub struct EventLog {
    /// Simulated milliseconds.
    millis: AtomicU64,
    print: bool,
    state: Mutex<(Xxh3, u64)>,
}

impl EventLog {
    pub fn new(print: bool) -> Self {
        EventLog {
            millis: AtomicU64::new(0),
            print,
            state: Mutex::new((Xxh3::new(), 0)),
        }
    }

    /// Simulated time: one step is one second.
    pub fn set_step(&self, step: u64) {
        self.millis.store(step * 1_000, Ordering::SeqCst);
    }

    /// Simulated time, to the millisecond.
    pub fn set_time(&self, elapsed: std::time::Duration) {
        self.millis
            .store(elapsed.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn event(&self, node: &str, what: &str) {
        let millis = self.millis.load(Ordering::SeqCst);
        let line = format!(
            "t={}.{:03}s node={node} {what}",
            millis / 1_000,
            millis % 1_000
        );
        if self.print {
            println!("{line}");
        }
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.0.update(line.as_bytes());
        state.0.update(b"\n");
        state.1 += 1;
    }

    /// (digest of every line so far, line count).
    pub fn digest(&self) -> (u64, u64) {
        let state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        (state.0.digest(), state.1)
    }
}
