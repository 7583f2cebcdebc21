#!/usr/bin/env bash
# Runs every test: formatting, lints, Rust unit/property tests, then the end-to-end suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace
echo "== end-to-end"
cargo build -p vivace
export VIVACE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/vivace"
./scripts/e2e.sh
