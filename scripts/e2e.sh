#!/usr/bin/env bash
# Runs the black-box end-to-end suite (tests/e2e, pytest) against the vivace binary.
# Creates .venv with the OpenTelemetry SDK from PyPI on first use (installing python3-venv with
# apt-get if the machine lacks it), builds the binary unless VIVACE_BIN names one, and exits with
# pytest's exit code. Extra arguments go to pytest (e.g. `-k crash`, `-x`).
set -euo pipefail
cd "$(dirname "$0")/.."

make_venv() {
  rm -rf .venv
  python3 -m venv .venv >/dev/null 2>&1 && [ -x .venv/bin/pip ]
}

if [ ! -x .venv/bin/python ] || [ ! -x .venv/bin/pip ]; then
  if ! make_venv; then
    echo "python3 -m venv failed; installing python3-venv with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip >/dev/null
    make_venv
  fi
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -r tests/e2e/requirements.txt

if [ -z "${VIVACE_BIN:-}" ]; then
  cargo build -p vivace
  VIVACE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/vivace"
fi
case "$VIVACE_BIN" in /*) ;; *) VIVACE_BIN="$PWD/$VIVACE_BIN" ;; esac
export VIVACE_BIN

set +e
.venv/bin/python -m pytest tests/e2e -q -p no:cacheprovider "$@"
exit $?
