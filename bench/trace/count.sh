#!/usr/bin/env bash
# Instructions per op of the execution trace, off and on, counted by callgrind (noise-free,
# unlike timings on a shared VM): each benchmark run at N and 2N iterations, the difference
# divided by N, without what `gort::trace::stop` executes (collecting and writing the trace,
# which runs once, after the timed loop). GORT_TRACE_DENSE_NS is raised so that the buffers
# take the sampled-timestamp path that native runs take (`rt/exectrace/clock.rs`).
# Usage: bench/trace/count.sh [N]   Environment: BIN=... (a bench binary already built),
#   PATTERN='PingPong ParkPingPong' (benchmark names), PROCS='1' (GOMAXPROCS values).
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-20000}
bin=${BIN:-}
if [ -z "$bin" ]; then
  bin=$(cargo bench -p gort --bench runtime --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | grep "/runtime-" | tail -1)
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Ir of a callgrind profile without the inclusive cost of gort::trace::stop and of the
# clock's calibration (a 2 ms busy wait: its count depends on how fast valgrind ran).
ir() {
  callgrind_annotate --inclusive=yes --auto=no "$1" 2>/dev/null | awk '
    /PROGRAM TOTALS/ { gsub(",", "", $1); tot = $1 }
    /gort::trace::stop \[/ && !s { gsub(",", "", $1); s = $1 }
    /clock::calibrate_tsc \[/ && !c { gsub(",", "", $1); c = $1 }
    END { print tot - s - c }'
}
for procs in ${PROCS:-1}; do
  for b in ${PATTERN:-PingPong ParkPingPong}; do
    line="GOMAXPROCS=$procs $b"
    for side in off on; do
      args=()
      [ "$side" = on ] && args=(-trace "$out/t.json")
      for k in 1 2; do
        (cd crates/gort && GOMAXPROCS=$procs GORT_TRACE_DENSE_NS=100000 valgrind --tool=callgrind \
          --callgrind-out-file="$out/$side-$k.cg" "$bin" -bench "^Benchmark$b\$" \
          -benchtime "$((n * k))x" "${args[@]}" --bench >/dev/null 2>&1)
      done
      a=$(ir "$out/$side-1.cg") c=$(ir "$out/$side-2.cg")
      line="$line  $side: $(((c - a) / n)) instr/op"
    done
    echo "$line"
  done
done
