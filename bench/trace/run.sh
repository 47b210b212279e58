#!/usr/bin/env bash
# The execution trace's cost: one bench binary run without and with `-trace`, alternately
# (ROUNDS rounds, each side once per round, at GOMAXPROCS=1 and 2), compared with
# `gort benchstat` (off = old, traced = new), by bench/layering/run.sh's prebuilt-binary mode.
# Defaults: PingPong and ParkPingPong of benches/runtime.rs, the two benchmarks issue 18 holds
# to 5%.
# Usage: bench/trace/run.sh [ROUNDS]   (progress on stderr)
# Environment: PATTERN='^Benchmark(PingPong|ParkPingPong)$', BENCHTIME=300ms, LOAD=1 (two
#   `nice -n 19` busy loops through the measurement, started and killed by PID), BIN=... (a
#   bench binary already built).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${BIN:-}
if [ -z "$bin" ]; then
  echo "building benches/runtime.rs (release)..." >&2
  bin=$(cargo bench -p gort --bench runtime --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | grep "/runtime-" | tail -1)
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
OLD_BIN=$bin NEW_BIN=$bin NEW_ARGS="-trace $out/t.json" NEW_LABEL="trace on" \
  PATTERN=${PATTERN:-'^Benchmark(PingPong|ParkPingPong)$'} BENCHTIME=${BENCHTIME:-300ms} \
  bash bench/layering/run.sh "trace off" "${1:-5}"
