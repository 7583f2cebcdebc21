#!/usr/bin/env bash
# Runs the black-box end-to-end suite (tests/e2e) against the vivace binary.
# Creates .venv with the OpenTelemetry SDK from PyPI on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  if ! python3 -m venv .venv 2>/dev/null; then
    echo "python3-venv is missing; installing it with apt-get" >&2
    apt-get update -qq && apt-get install -y -qq python3-venv
    python3 -m venv .venv
  fi
fi
.venv/bin/pip install -q --disable-pip-version-check -r tests/e2e/requirements.txt
if [ -z "${VIVACE_BIN:-}" ]; then
  cargo build -p vivace
  VIVACE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/vivace"
fi
export VIVACE_BIN
exec .venv/bin/python -m pytest tests/e2e -q -p no:cacheprovider "$@"
