#!/usr/bin/env bash
# Ingest benchmark of a 3-ingester RF=3 cluster (3 ingesters + 1 distributor, separate processes on
# loopback) against a monolith on the same machine: spans/s, CPU per million spans summed over
# every process, peak RSS, export latency. Blocks are flushed at the end so the CPU covers the
# whole path (receive, replicate, WAL, block build, upload).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p vivace
BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/vivace"
SPANS="${BENCH_SPANS:-2000000}"
DATA="$(mktemp -d)"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; rm -rf "$DATA"; }
trap cleanup EXIT

COMMON=(--overrides.defaults.ingestion.rate-limit-bytes=100000000000
  --overrides.defaults.ingestion.burst-size-bytes=100000000000
  --overrides.defaults.ingestion.max-traces-per-user=0
  --ingester.max-block-duration=30s --ingester.trace-idle-period=2s --log.level=warn
  --server.http-listen-address=127.0.0.1 --server.grpc-listen-address=127.0.0.1
  --storage.trace.local.path="$DATA/blocks")

wait_ready() {
  for _ in $(seq 1 200); do curl -sf "http://127.0.0.1:$1/ready" >/dev/null && return; sleep 0.1; done
  echo "node on port $1 did not become ready" >&2; exit 1
}

# node NAME TARGET HTTP_PORT GRPC_PORT [extra flags...]
node() {
  local name=$1 target=$2 http=$3 grpc=$4
  shift 4
  "$BIN" "${COMMON[@]}" --target="$target" --server.http-listen-port="$http" \
    --server.grpc-listen-port="$grpc" --storage.trace.wal.path="$DATA/$name/wal" \
    --storage.trace.vivace-cache.path="$DATA/$name/cache" "$@" &
  PIDS+=($!)
}

echo "== monolith (target all) =="
node mono all 3200 9095
wait_ready 3200
"$BIN" bench ingest --pid "${PIDS[0]}" --connections 4 --spans-per-batch 1000 \
  --total-spans "$SPANS" --flush-http http://127.0.0.1:3200
cleanup
PIDS=()
DATA="$(mktemp -d)"
COMMON[${#COMMON[@]}-1]="--storage.trace.local.path=$DATA/blocks"

echo "== cluster: 3 ingesters (RF=3) + 1 distributor =="
CLUSTER=(--memberlist.bind-addr=127.0.0.1 --memberlist.join=127.0.0.1:17946
  --ingester.lifecycler.ring.replication-factor=3)
for n in 1 2 3; do
  node "ingester-$n" ingester "1320$n" "1909$n" "${CLUSTER[@]}" \
    --memberlist.bind-port="1795$n" --ingester.lifecycler.id="ingester-$n"
done
node distributor distributor 13200 19090 "${CLUSTER[@]}" --memberlist.bind-port=17946 \
  --ingester.lifecycler.id=distributor
for port in 13200 13201 13202 13203; do wait_ready "$port"; done
for _ in $(seq 1 100); do
  active=$(curl -sf -H 'Accept: application/json' http://127.0.0.1:13200/ingester/ring | grep -o '"ACTIVE"' | wc -l || true)
  [ "$active" -ge 3 ] && break
  sleep 0.2
done
PID_FLAGS=()
for pid in "${PIDS[@]}"; do PID_FLAGS+=(--pid "$pid"); done
"$BIN" bench ingest "${PID_FLAGS[@]}" --connections 4 --spans-per-batch 1000 --total-spans "$SPANS" \
  --flush-http http://127.0.0.1:13201 --flush-http http://127.0.0.1:13202 --flush-http http://127.0.0.1:13203
