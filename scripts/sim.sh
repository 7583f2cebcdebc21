#!/usr/bin/env bash
# Runs N random simulation seeds (default 200), one process per seed, as many at once as there are
# cores, and prints every failing seed with the options it derived. Replay one with
# `SIM_SEED=<seed> SIM_LOG=1 cargo run -p simulation --bin sim`.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT="${1:-200}"
cargo build --release -p simulation --bin sim
BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/sim"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
started=$(date +%s.%N)
for _ in $(seq 1 "$COUNT"); do echo $(( (RANDOM << 30) | (RANDOM << 15) | RANDOM )); done |
  xargs -P "$(nproc)" -I{} sh -c "'$BIN' --seed {} > '$OUT/{}.txt' 2>&1 || touch '$OUT/{}.failed'"
elapsed=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
failed=$(find "$OUT" -name '*.failed' | wc -l)
for marker in "$OUT"/*.failed; do
  [ -e "$marker" ] || continue
  grep -E '^(options|FAILED)' "${marker%.failed}.txt"
done
simulated=$(cat "$OUT"/*.txt | grep -o 'simulated=[0-9]*' | cut -d= -f2 | awk '{s += $1} END {print s + 0}')
rate=$(awk -v n="$COUNT" -v t="$elapsed" 'BEGIN {printf "%.0f", n * 60 / t}')
echo "$COUNT seeds in ${elapsed}s ($rate seeds/min), ${simulated} simulated seconds, $failed failed"
[ "$failed" -eq 0 ]
