#!/usr/bin/env bash
# What the interposed libc calls (crates/gort/src/rt/interpose/) cost: the same programs built
# with the `interpose` feature (default) and without it (target/nointerpose), run
# alternately ROUNDS times, medians compared:
#   1. gort's own echo (examples/echo, the program of bench/net/run.sh): its sockets' std
#      reads and writes now pass through the interposed recv/send;
#   2. a std::net echo on plain threads (examples/std_echo threads): calls outside goroutines;
#   3. std::net clients in goroutines against a gort server (examples/std_echo goroutines):
#      only with the feature (without it they would block their Ps), next to (1) for scale.
# Usage: bench/interpose/run.sh   (env: ROUNDS=7 GOMAXPROCS=2 LOAD=1 for two nice -n 19
#   busy loops during the runs, started and killed by PID)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export GOMAXPROCS=${GOMAXPROCS:-2}
ROUNDS=${ROUNDS:-7}
tmp=$(mktemp -d)
loaders=()
cleanup() {
  for p in "${loaders[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
echo "building with and without the interpose feature (release)..." >&2
cargo build --release -q -p gort --example echo --example std_echo
cp target/release/examples/echo "$tmp/echo-on"; cp target/release/examples/std_echo "$tmp/std-on"
CARGO_TARGET_DIR=target/nointerpose cargo build --release -q -p gort --no-default-features --example echo --example std_echo
cp target/nointerpose/release/examples/echo "$tmp/echo-off"; cp target/nointerpose/release/examples/std_echo "$tmp/std-off"
if [ "${LOAD:-0}" = 1 ]; then
  for _ in 1 2; do nice -n 19 sh -c 'while :; do :; done' & loaders+=($!); done
  echo "load: nice -n 19 busy loops, PIDs ${loaders[*]}" >&2
fi
us() { sed -n 's/.* \([0-9.]*\) us\/msg.*/\1/p'; }
for r in $(seq "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  for side in on off; do
    "$tmp/echo-$side" 50 4000 64 | us >>"$tmp/echo-$side.txt"
    "$tmp/std-$side" threads | us >>"$tmp/threads-$side.txt"
  done
  "$tmp/std-on" goroutines | us >>"$tmp/goroutines-on.txt"
done
median() { sort -g "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '%-34s %12s %12s %8s\n' "us/msg, median of $ROUNDS (GOMAXPROCS=$GOMAXPROCS${LOAD:+, LOAD=$LOAD})" "interpose" "no feature" "ratio"
for k in echo threads; do
  on=$(median "$tmp/$k-on.txt"); off=$(median "$tmp/$k-off.txt")
  name=$([ $k = echo ] && echo "gort echo (examples/echo)" || echo "std echo, plain threads")
  printf '%-34s %12s %12s %8s\n' "$name" "$on" "$off" "$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')"
done
printf '%-34s %12s %12s %8s\n' "std clients in goroutines" "$(median "$tmp/goroutines-on.txt")" "(hangs)" "-"
