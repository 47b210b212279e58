#!/usr/bin/env bash
# GC benchmarks side by side: gort's examples, their Go twins (bench/go/cmd/*), and
# binary-trees on rust-gc, dumpster and plain Box (bench/rivals). Builds everything in
# release, runs each program RUNS times under /usr/bin/time, prints one table of medians.
#
#   bench/gc/run.sh                       # RUNS=3
#   RUNS=5 DEPTH=18 LAT_MIB=256 LAT_SECS=5 bench/gc/run.sh
#   nice -n 10 bench/gc/run.sh            # on a shared machine (children inherit it)
#
# Environment: RUNS (3), DEPTH (binary-trees depth, 18), LAT_MIB / LAT_SECS (gc_latency's
# live heap and duration, 256 and 5), GOGC/GOMEMLIMIT/GODEBUG pass through to both runtimes,
# CARGO_TARGET_DIR is honoured. Progress goes to stderr, the table to stdout. See README.md.
set -euo pipefail

RUNS=${RUNS:-3}
DEPTH=${DEPTH:-18}
LAT_MIB=${LAT_MIB:-256}
LAT_SECS=${LAT_SECS:-5}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

die() {
	echo "run.sh: $*" >&2
	exit 1
}
log() { echo "run.sh: $*" >&2; }

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer (got '$RUNS')"
command -v cargo >/dev/null || die "cargo not found in PATH"
command -v go >/dev/null ||
	die "go not found in PATH: the Go twins need a Go toolchain (1.21 or later, https://go.dev/dl/)"

TIME=/usr/bin/time
if [[ ! -x $TIME ]]; then
	if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
		log "installing GNU time (/usr/bin/time) with apt-get"
		apt-get install -y -qq time >&2 || { apt-get update -qq >&2 && apt-get install -y -qq time >&2; } ||
			die "could not install GNU time"
	else
		die "/usr/bin/time (GNU time) is missing: install it (Debian/Ubuntu: apt-get install time)"
	fi
fi

GORT_TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
RIVALS_TARGET=${CARGO_TARGET_DIR:-$ROOT/bench/rivals/target}
GO_BIN=$GORT_TARGET/gc-bench-go
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gort-gc-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# ---- build ----------------------------------------------------------------------------------
log "building gort examples (release)"
(cd "$ROOT" && cargo build --release -q -p gort \
	--example binary_trees --example gcbench --example gc_latency) || die "gort build failed"
log "building Go twins"
mkdir -p "$GO_BIN"
for p in binarytrees gcbench gclatency; do
	(cd "$ROOT/bench/go" && go build -o "$GO_BIN/$p" "./cmd/$p") || die "go build ./cmd/$p failed"
done
log "building bench/rivals (rust-gc, dumpster, Box; release)"
(cd "$ROOT/bench/rivals" && CARGO_TARGET_DIR=$RIVALS_TARGET cargo build --release -q --locked) ||
	die "bench/rivals build failed"

EX=$GORT_TARGET/release/examples
RV=$RIVALS_TARGET/release

# ---- run ------------------------------------------------------------------------------------
# measure KEY CMD...: runs CMD RUNS times; keeps each run's stdout in $WORK/KEY.out.N and its
# "wall_s peak_rss_kb" in $WORK/KEY.time.N.
measure() {
	local key=$1 r
	shift
	for ((r = 1; r <= RUNS; r++)); do
		log "[$key] run $r/$RUNS: $*"
		if ! "$TIME" -f '%e %M' -o "$WORK/$key.time.$r" "$@" >"$WORK/$key.out.$r" 2>"$WORK/$key.err.$r"; then
			tail -n 20 "$WORK/$key.out.$r" "$WORK/$key.err.$r" >&2 || true
			die "$key failed (run $r): $*"
		fi
	done
}

# median COLUMN KEY: the median of column COLUMN (1: wall s, 2: RSS KB) over KEY's runs.
median() {
	local col=$1 key=$2
	tail -q -n 1 "$WORK/$key".time.* | awk -v c="$col" '{print $c}' | sort -g |
		awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

measure bt-gort "$EX/binary_trees" "$DEPTH"
measure bt-go "$GO_BIN/binarytrees" "$DEPTH"
measure bt-rustgc "$RV/binary_trees_rustgc" "$DEPTH"
measure bt-dumpster "$RV/binary_trees_dumpster" "$DEPTH"
measure bt-box "$RV/binary_trees_box" "$DEPTH"
measure gcbench-gort "$EX/gcbench"
measure gcbench-go "$GO_BIN/gcbench"
measure lat-gort "$EX/gc_latency" "$LAT_MIB" "$LAT_SECS"
measure lat-go "$GO_BIN/gclatency" "$LAT_MIB" "$LAT_SECS"

# Same program, same answer: every binary-trees must print exactly what Go's does.
for k in bt-gort bt-rustgc bt-dumpster bt-box; do
	cmp -s "$WORK/bt-go.out.1" "$WORK/$k.out.1" ||
		die "$k's output differs from Go's: $(diff "$WORK/bt-go.out.1" "$WORK/$k.out.1" | head -n 5)"
done
for k in gcbench-gort gcbench-go; do
	grep -q '^Completed in' "$WORK/$k.out.1" || die "$k did not complete: $(tail -n 3 "$WORK/$k.out.1")"
done

# ---- report ---------------------------------------------------------------------------------
echo
echo "GC benchmarks: median of $RUNS run(s) each; peak RSS from /usr/bin/time (max resident set)"
printf '%-22s %-9s %9s %12s %8s %8s\n' benchmark program "wall s" "peak RSS MB" "time/Go" "RSS/Go"
row() { # row BENCH PROGRAM KEY GOKEY
	local w m gw gm
	w=$(median 1 "$3")
	m=$(median 2 "$3")
	gw=$(median 1 "$4")
	gm=$(median 2 "$4")
	awk -v b="$1" -v p="$2" -v w="$w" -v m="$m" -v gw="$gw" -v gm="$gm" 'BEGIN {
		printf "%-22s %-9s %9.2f %12.1f %8s %8s\n", b, p, w, m / 1024,
			(gw > 0 ? sprintf("%.2f", w / gw) : "-"), (gm > 0 ? sprintf("%.2f", m / gm) : "-")
	}'
}
row "binary-trees $DEPTH" gort bt-gort bt-go
row "binary-trees $DEPTH" go bt-go bt-go
row "binary-trees $DEPTH" rust-gc bt-rustgc bt-go
row "binary-trees $DEPTH" dumpster bt-dumpster bt-go
row "binary-trees $DEPTH" box bt-box bt-go
row gcbench gort gcbench-gort gcbench-go
row gcbench go gcbench-go gcbench-go
row "gc_latency ${LAT_MIB}MiB ${LAT_SECS}s" gort lat-gort lat-go
row "gc_latency ${LAT_MIB}MiB ${LAT_SECS}s" go lat-go lat-go

echo
echo "gcbench, each run (total time; cycles and worst stop-the-world pause):"
for k in gcbench-gort gcbench-go; do
	for ((r = 1; r <= RUNS; r++)); do
		printf '  %-5s run %d: %s; %s\n' "${k#gcbench-}" "$r" \
			"$(grep '^Completed in' "$WORK/$k.out.$r" | sed 's/\.$//')" "$(tail -n 1 "$WORK/$k.out.$r")"
	done
done
echo
echo "gc_latency pauses, each run (its own summary line):"
for k in lat-gort lat-go; do
	for ((r = 1; r <= RUNS; r++)); do
		echo "  $(tail -n 1 "$WORK/$k.out.$r")"
	done
done
