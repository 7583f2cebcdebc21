#!/usr/bin/env bash
# Builds and starts Vivace in monolithic mode with embedded defaults (data under ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required: install Rust from https://rustup.rs" >&2
  exit 1
fi
cargo build --release -p vivace
exec "${CARGO_TARGET_DIR:-target}/release/vivace" "$@"
