#!/usr/bin/env bash
# Starts a release vivace on loopback with a scratch data folder and runs both benchmarks:
# ingest throughput (spans/s, server CPU per million spans, peak RSS) and trace-by-ID latency.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p vivace
BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/vivace"
DATA="$(mktemp -d)"
trap 'kill -9 $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
start() {
  "$BIN" --storage.trace.local.path="$DATA/blocks" --storage.trace.wal.path="$DATA/wal" \
    --storage.trace.vivace-cache.path="$DATA/cache" --server.http-listen-address=127.0.0.1 \
    --overrides.defaults.ingestion.rate-limit-bytes=100000000000 \
    --overrides.defaults.ingestion.burst-size-bytes=100000000000 \
    --overrides.defaults.ingestion.max-traces-per-user=0 \
    --ingester.max-block-duration=30s --ingester.trace-idle-period=2s --log.level=warn "$@" &
  PID=$!
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:3200/ready >/dev/null && return; sleep 0.1; done
  echo "vivace did not become ready" >&2; exit 1
}
start
"$BIN" bench ingest --pid "$PID" --connections 4 --spans-per-batch 1000 \
  --total-spans "${BENCH_SPANS:-2000000}" --flush-http http://127.0.0.1:3200
BLOCK_BYTES=$(find "$DATA/blocks" -name data.parquet -exec stat -c %s {} + | awk '{s+=$1} END {print s+0}')
echo "  blocks on disk     $(find "$DATA/blocks" -name meta.json | wc -l) ($BLOCK_BYTES bytes of data.parquet)"
echo "  stored per span    $(awk -v b="$BLOCK_BYTES" -v n="${BENCH_SPANS:-2000000}" 'BEGIN {printf "%.1f bytes", b / n}')"
kill -9 $PID; wait $PID 2>/dev/null || true
rm -rf "$DATA"/*
start
"$BIN" bench lookup --traces "${BENCH_TRACES:-100000}" --blocks 10 --queries 2000
