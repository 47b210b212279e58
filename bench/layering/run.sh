#!/usr/bin/env bash
# Before/after for a refactor of the scheduler's hot path: PingPong, ParkPingPong, Spawn and
# Yield from benches/runtime.rs, built from two commits, run alternately (ROUNDS rounds, each
# side once per round, at GOMAXPROCS=1 and 2), compared with `gort benchstat`.
# Usage: bench/layering/run.sh BASE_REV [ROUNDS]   (progress on stderr)
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${1:?usage: run.sh BASE_REV [ROUNDS]}
rounds=${2:-5}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
bin_of() { # dir -> path of the runtime bench binary
  (cd "$1" && cargo bench -p gort --bench runtime --no-run --message-format=json 2>/dev/null) |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | grep '/runtime-' | tail -1
}
echo "building $base and HEAD (release)..." >&2
git worktree add --detach "$work/base" "$base" >/dev/null 2>&1
old=$(CARGO_TARGET_DIR="${BASE_TARGET:-$work/target}" bin_of "$work/base")
new=$(bin_of .)
cargo build --release -p gort-cli --quiet
for procs in 1 2; do
  : >"$work/old-$procs.txt"; : >"$work/new-$procs.txt"
  for r in $(seq 1 "$rounds"); do
    echo "GOMAXPROCS=$procs round $r/$rounds" >&2
    GOMAXPROCS=$procs "$old" -bench '^Benchmark(PingPong|ParkPingPong|Spawn|Yield)$' -benchtime 200ms >>"$work/old-$procs.txt"
    GOMAXPROCS=$procs "$new" -bench '^Benchmark(PingPong|ParkPingPong|Spawn|Yield)$' -benchtime 200ms >>"$work/new-$procs.txt"
  done
  echo "== GOMAXPROCS=$procs: $base vs HEAD"
  ./target/release/gort benchstat "$work/old-$procs.txt" "$work/new-$procs.txt"
done
