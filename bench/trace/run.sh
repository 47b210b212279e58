#!/usr/bin/env bash
# The execution trace's cost: the same bench binary run without and with `-trace`,
# alternately (ROUNDS rounds, each side once per round, at GOMAXPROCS=1 and 2), compared with
# `gort benchstat` (off = old, traced = new). Defaults: PingPong and ParkPingPong of
# benches/runtime.rs, the two benchmarks issue 18 holds to 5%.
# Usage: bench/trace/run.sh [ROUNDS]   (progress on stderr)
# Environment: PATTERN='^Benchmark(PingPong|ParkPingPong)$', BENCHTIME=300ms, LOAD=1 (two
#   `nice -n 19` busy loops through the measurement, started and killed by PID), BIN=... (a
#   bench binary already built).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
pattern=${PATTERN:-'^Benchmark(PingPong|ParkPingPong)$'}
benchtime=${BENCHTIME:-300ms}
work=$(mktemp -d)
loaders=()
cleanup() {
  for p in "${loaders[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
if [ -n "${BIN:-}" ]; then
  bin=$BIN
else
  echo "building benches/runtime.rs (release)..." >&2
  bin=$(cargo bench -p gort --bench runtime --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | grep "/runtime-" | tail -1)
fi
cargo build --release -p gort-cli --quiet
if [ "${LOAD:-0}" = 1 ]; then
  for _ in $(seq 1 "$(nproc)"); do nice -n 19 sh -c 'while :; do :; done' & loaders+=($!); done
  echo "load: nice -n 19 busy loops, PIDs ${loaders[*]}" >&2
fi
for procs in 1 2; do
  : >"$work/off-$procs.txt"; : >"$work/traced-$procs.txt"
  for r in $(seq 1 "$rounds"); do
    echo "GOMAXPROCS=$procs round $r/$rounds" >&2
    (cd crates/gort && GOMAXPROCS=$procs "$bin" -bench "$pattern" -benchtime "$benchtime" --bench >>"$work/off-$procs.txt")
    (cd crates/gort && GOMAXPROCS=$procs "$bin" -bench "$pattern" -benchtime "$benchtime" -trace "$work/t.json" --bench >>"$work/traced-$procs.txt")
    rm -f "$work/t.json"
  done
  echo "== GOMAXPROCS=$procs: trace off vs on${LOAD:+ (LOAD=$LOAD)}"
  ./target/release/gort benchstat "$work/off-$procs.txt" "$work/traced-$procs.txt"
done
