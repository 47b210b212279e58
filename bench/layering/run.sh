#!/usr/bin/env bash
# Before/after for a change on a hot path: benchmarks built from two commits, run alternately
# (ROUNDS rounds, each side once per round, at GOMAXPROCS=1 and 2), compared with
# `gort benchstat`. Defaults: PingPong, ParkPingPong, Spawn and Yield of benches/runtime.rs.
# Usage: bench/layering/run.sh BASE_REV [ROUNDS]   (progress on stderr)
# Environment: BENCH=chan (another bench target), PATTERN='^Benchmark(ChanPingPong|Select2)$',
#   BENCHTIME=200ms, LOAD=1 (two `nice -n 19` busy loops run through the measurement, started
#   and killed by PID: the loaded half of "measure as users run"), OLD_BIN=... NEW_BIN=...
#   (bench binaries already built: nothing is built, BASE_REV only labels the table),
#   NEW_ARGS='-trace /tmp/t.json' (extra flags for the new side only; with OLD_BIN=NEW_BIN it
#   measures a flag's cost: bench/trace/run.sh), NEW_LABEL (the new side's name, HEAD).
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${1:?usage: run.sh BASE_REV [ROUNDS]}
rounds=${2:-5}
bench=${BENCH:-runtime}
pattern=${PATTERN:-'^Benchmark(PingPong|ParkPingPong|Spawn|Yield)$'}
benchtime=${BENCHTIME:-200ms}
work=$(mktemp -d)
loaders=()
cleanup() {
  for p in "${loaders[@]}"; do kill "$p" 2>/dev/null || true; done
  git worktree remove --force "$work/base" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
bin_of() { # dir -> path of the bench binary
  (cd "$1" && cargo bench -p gort --bench "$bench" --no-run --message-format=json 2>/dev/null) |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | grep "/$bench-" | tail -1
}
if [ -n "${OLD_BIN:-}" ] && [ -n "${NEW_BIN:-}" ]; then
  old=$OLD_BIN new=$NEW_BIN
else
  echo "building $base and HEAD (release, bench $bench)..." >&2
  git worktree add --detach "$work/base" "$base" >/dev/null 2>&1
  old=$(CARGO_TARGET_DIR="${BASE_TARGET:-$work/target}" bin_of "$work/base")
  new=$(bin_of .)
fi
cargo build --release -p gort-cli --quiet
if [ "${LOAD:-0}" = 1 ]; then
  for _ in 1 2; do nice -n 19 sh -c 'while :; do :; done' & loaders+=($!); done
  echo "load: nice -n 19 busy loops, PIDs ${loaders[*]}" >&2
fi
for procs in 1 2; do
  : >"$work/old-$procs.txt"; : >"$work/new-$procs.txt"
  for r in $(seq 1 "$rounds"); do
    echo "GOMAXPROCS=$procs round $r/$rounds" >&2
    (cd crates/gort && GOMAXPROCS=$procs "$old" -bench "$pattern" -benchtime "$benchtime" --bench >>"$work/old-$procs.txt")
    # shellcheck disable=SC2086 # NEW_ARGS is a list of flags
    (cd crates/gort && GOMAXPROCS=$procs "$new" -bench "$pattern" -benchtime "$benchtime" ${NEW_ARGS:-} --bench >>"$work/new-$procs.txt")
  done
  echo "== GOMAXPROCS=$procs: $base vs ${NEW_LABEL:-HEAD}${LOAD:+ (LOAD=$LOAD)}"
  # Binaries of two builds carry different package names: one name, so rows pair up.
  sed -i 's/^pkg: .*/pkg: '"$bench"'/' "$work/old-$procs.txt" "$work/new-$procs.txt"
  ./target/release/gort benchstat "$work/old-$procs.txt" "$work/new-$procs.txt"
done
