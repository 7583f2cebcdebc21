//! Exports the simulation's `getrandom` (see `src/entropy.rs`) from its binaries and tests, so
//! that run-time symbol lookups find it before libc's.

fn main() {
    for kind in ["bins", "tests"] {
        println!("cargo:rustc-link-arg-{kind}=-Wl,--export-dynamic-symbol=getrandom");
    }
}
