#!/usr/bin/env bash
# The scheduling suite (issue 15), gort vs Go: crates/gort/benches/sched.rs and its Go twins
# bench/go/sched_test.go, every benchmark at GOMAXPROCS=1 and 2, quiet and under a competing
# CPU load that this script starts and stops itself, gort and Go alternated (the side that
# goes first swaps every round), then one ratio table of medians. See README.md.
#
#   bench/sched/run.sh [ROUNDS]                # ROUNDS defaults to 5
#   LOAD=normal bench/sched/run.sh 3           # competitors at normal priority
#
# Environment:
#   LOAD       nice (default): one `nice -n 19` busy loop per core; normal: the same loops at
#              normal priority
#   BENCHTIME  -benchtime of every benchmark but SpawnTree (200ms)
#   SPAWN_TREE goroutines in the SpawnTree run (default 1048575, the full binary tree of depth
#              20, when vm.max_map_count >= 262144; otherwise 131071, and the table says so:
#              gort's guarded stacks take two kernel mappings each, and a million-goroutine
#              tree keeps ~70-80k alive at once, more than the ~32,000 that 65530 allows)
#   TIMEOUT    seconds one benchmark process may run before it is killed and counted as a
#              timeout (60)
#   BENCH      an extended regex of the benchmarks to run (default: all of them)
#   KEEP       a directory to keep the raw outputs in (Go's format, for `gort benchstat`)
# CARGO_TARGET_DIR is honoured. Progress goes to stderr, the table to stdout.
set -euo pipefail

ROUNDS=${1:-5}
LOAD=${LOAD:-nice}
BENCHTIME=${BENCHTIME:-200ms}
TIMEOUT=${TIMEOUT:-60}
BENCH=${BENCH:-.}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

die() {
	echo "run.sh: $*" >&2
	exit 1
}
log() { echo "run.sh: $*" >&2; }

[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer (got '$ROUNDS')"
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "TIMEOUT must be a positive integer (got '$TIMEOUT')"
case $LOAD in
nice) NICE=(nice -n 19) ;;
normal) NICE=() ;;
*) die "LOAD must be nice or normal (got '$LOAD')" ;;
esac
command -v cargo >/dev/null || die "cargo not found in PATH"
command -v go >/dev/null || die "go not found in PATH: the Go twins need a Go toolchain (https://go.dev/dl/)"
command -v python3 >/dev/null || die "python3 not found in PATH (it computes the table)"
command -v timeout >/dev/null || die "timeout (coreutils) not found in PATH"

ALL=(SchedPipelineChain SchedFanIn SchedWorkerPool SchedSpawnTree SchedSpawnJoin
	SchedPingPongCrossP SchedManyToMany)
BENCHES=()
for b in "${ALL[@]}"; do [[ $b =~ $BENCH ]] && BENCHES+=("$b"); done
((${#BENCHES[@]})) || die "BENCH='$BENCH' matches none of: ${ALL[*]}"

maps=$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo 0)
if [[ -z ${SPAWN_TREE:-} ]]; then
	if ((maps >= 262144)); then SPAWN_TREE=1048575; else
		SPAWN_TREE=131071
		log "vm.max_map_count is $maps: SpawnTree runs 131071 goroutines, not 1048575 (raise it to 262144, as .ci/run does, for the full tree)"
	fi
fi
[[ $SPAWN_TREE =~ ^[1-9][0-9]*$ ]] || die "SPAWN_TREE must be a positive integer (got '$SPAWN_TREE')"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gort-sched-bench.XXXXXX")
LOAD_PIDS=()
stop_load() {
	local p
	for p in "${LOAD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${LOAD_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	LOAD_PIDS=()
}
cleanup() {
	stop_load
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start_load() {
	local i
	for i in $(seq "$(nproc)"); do
		"${NICE[@]}" sh -c 'while :; do :; done' &
		LOAD_PIDS+=($!)
	done
	sleep 0.2
}

# ---- build ----------------------------------------------------------------------------------
log "building the gort bench binary (release)"
GORT_BIN=$(cd "$ROOT" && cargo bench -p gort --bench sched --no-run --message-format=json 2>/dev/null |
	sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | grep '/sched-' | tail -1) || true
[[ -n $GORT_BIN && -x $GORT_BIN ]] || die "cargo bench -p gort --bench sched --no-run failed (run it to see why)"
log "building the Go test binary"
GO_BIN=$WORK/gosched.test
(cd "$ROOT/bench/go" && go test -c -o "$GO_BIN" .) || die "go test -c in bench/go failed"

# ---- runs -----------------------------------------------------------------------------------
RESULTS=$WORK/results.tsv # side load procs bench round ns/op (or timeout/fail) crossP (or -)
: >"$RESULTS"
[[ -n ${KEEP:-} ]] && mkdir -p "$KEEP"

# run SIDE LOADNAME PROCS BENCH ROUND: one benchmark process, one line of $RESULTS.
run() {
	local side=$1 load=$2 procs=$3 bench=$4 round=$5 bt=$BENCHTIME rc=0 ns cross out
	[[ $bench == SchedSpawnTree ]] && bt=${SPAWN_TREE}x
	out=$WORK/out.txt
	if [[ $side == gort ]]; then
		GOMAXPROCS=$procs timeout "$TIMEOUT" "$GORT_BIN" -bench "^Benchmark$bench\$" -benchtime "$bt" \
			>"$out" 2>"$WORK/err.txt" || rc=$?
	else
		GOMAXPROCS=$procs timeout "$TIMEOUT" "$GO_BIN" -test.run '^$' -test.bench "^Benchmark$bench\$" \
			-test.benchtime "$bt" >"$out" 2>"$WORK/err.txt" || rc=$?
	fi
	ns=$(awk '/^Benchmark/ { for (i = 2; i <= NF; i++) if ($i == "ns/op") v = $(i - 1) } END { print v }' "$out")
	# gort's PingPongCrossP reports crossP: 1 when the echo ran on the other P's thread.
	cross=$(awk '/^Benchmark/ { for (i = 2; i <= NF; i++) if ($i == "crossP") v = $(i - 1) } END { print (v == "" ? "-" : v + 0) }' "$out")
	if ((rc == 124 || rc == 137)); then
		ns=timeout
	elif ((rc != 0)) || [[ -z $ns ]]; then
		ns=fail
		log "$side $bench GOMAXPROCS=$procs failed (exit $rc): $(grep -m1 -E 'panicked|FAIL|error' "$WORK/err.txt" "$out" 2>/dev/null | head -c 300)"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$side" "$load" "$procs" "$bench" "$round" "$ns" "$cross" >>"$RESULTS"
	[[ -n ${KEEP:-} ]] && grep '^Benchmark' "$out" >>"$KEEP/$side-$load-P$procs.txt" || true
	if [[ $cross == - ]]; then printf '%s' "$ns"; else printf '%s (crossP %s)' "$ns" "$cross"; fi
}

loadname=loaded-$LOAD
for r in $(seq "$ROUNDS"); do
	if ((r % 2)); then sides=(gort go); else sides=(go gort); fi
	for load in quiet "$loadname"; do
		[[ $load == quiet ]] || start_load
		for bench in "${BENCHES[@]}"; do
			for procs in 1 2; do
				line="round $r/$ROUNDS $load GOMAXPROCS=$procs ${bench#Sched}:"
				for side in "${sides[@]}"; do
					line+=" $side $(run "$side" "$load" "$procs" "$bench" "$r")"
				done
				log "$line ns/op"
			done
		done
		stop_load
	done
done

# ---- table ----------------------------------------------------------------------------------
echo "# gort scheduling suite: gort vs Go, medians of $ROUNDS round(s) (ns/op, lower is better)"
echo "# $(date -u +%Y-%m-%dT%H:%MZ), gort $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo '+dirty'), $(go version | cut -d' ' -f3), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
echo "# -benchtime $BENCHTIME (SpawnTree: ${SPAWN_TREE}x), timeout ${TIMEOUT}s per run; quiet = no competitor started by this script;"
echo "# $loadname = $(nproc) busy loop(s) $( [[ $LOAD == nice ]] && echo 'at nice 19' || echo 'at normal priority'), one per CPU; vm.max_map_count $maps"
python3 - "$RESULTS" "$ROUNDS" "$loadname" "${BENCHES[@]}" <<'EOF'
import math, statistics, sys

path, rounds, loaded, benches = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
vals, bad, cross = {}, {}, {}
for line in open(path):
    side, load, procs, bench, _round, ns, crossp = line.rstrip("\n").split("\t")
    key = (side, load, int(procs), bench)
    if crossp != "-":
        cross.setdefault(key, []).append(crossp)
    try:
        vals.setdefault(key, []).append(float(ns))
    except ValueError:
        bad.setdefault(key, []).append(ns)

def med(k):
    v = vals.get(k)
    return statistics.median(v) if v else None

def spread(k):
    v = vals.get(k)
    return max(v) / min(v) if v and min(v) > 0 else None

def num(x):
    if x is None:
        return "-"
    return f"{x:.0f}" if x >= 100 else f"{x:.3g}"

def rat(x):
    return "-" if x is None else f"{x:.2f}"

def div(a, b):
    return a / b if a is not None and b else None

def note(k):
    b = bad.get(k)
    return "" if not b else " " + ",".join(f"{b.count(s)} {s}" for s in sorted(set(b)))

hdr = ("benchmark", "P", "load", "gort", "go", "gort/go", "gort max/min", "go max/min",
       "gort 2P/1P", "go 2P/1P", "flags")
rows, ratios = [], {}
for bench in benches:
    for load in ("quiet", loaded):
        for p in (1, 2):
            g, o = ("gort", load, p, bench), ("go", load, p, bench)
            r = div(med(g), med(o))
            if r:
                ratios.setdefault((p, load), []).append(r)
            g21 = div(med(("gort", load, 2, bench)), med(("gort", load, 1, bench))) if p == 2 else None
            o21 = div(med(("go", load, 2, bench)), med(("go", load, 1, bench))) if p == 2 else None
            flags = []
            if p == 2 and r is not None and r > (1.0 if load == "quiet" else 1.2):
                flags.append("R")
            if g21 is not None and g21 > 1.1:
                flags.append("P")
            if (spread(g) or 0) > 1.5:
                flags.append("S")
            if bad.get(g):
                flags.append("F")
            rows.append((bench.removeprefix("Sched"), str(p), load, num(med(g)) + note(g),
                         num(med(o)) + note(o), rat(r), rat(spread(g)), rat(spread(o)),
                         rat(g21), rat(o21), "".join(flags)))
w = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(hdr)]
fmt = lambda row: "  ".join(c.ljust(w[i]) if i < 3 else c.rjust(w[i]) for i, c in enumerate(row)).rstrip()
print(fmt(hdr))
last = None
for row in rows:
    if last is not None and row[0] != last:
        print()
    last = row[0]
    print(fmt(row))
print()
for (p, load), rs in sorted(ratios.items(), key=lambda kv: (kv[0][1] != "quiet", kv[0][0])):
    g = math.exp(sum(map(math.log, rs)) / len(rs))
    print(f"geomean gort/go, GOMAXPROCS={p}, {load}: {g:.2f} ({len(rs)} benchmarks)")
for (side, load, p, bench), cs in sorted(cross.items(), key=lambda kv: (kv[0][1] != "quiet", kv[0][2])):
    print(f"{side} {bench.removeprefix('Sched')} GOMAXPROCS={p} {load}: crossP by round {' '.join(cs)}"
          " (1 = the echo ran on the other P's thread)")
print("flags (issue 15's acceptance): R gort/go > 1.0 quiet or > 1.2 loaded at 2 Ps;"
      " P gort 2P/1P > 1.1; S gort max/min > 1.5; F a gort run failed or timed out")
if rounds < 2:
    print("(one round: max/min spreads are 1.00 by construction)")
EOF
