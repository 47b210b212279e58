#!/usr/bin/env bash
# Side-by-side network benchmarks, gort vs Go, on loopback only:
#   1. TCP echo: CONNS connections, MSGS round trips each, SIZE-byte messages (us per message)
#   2. HTTP/1.1 keep-alive hello under `wrk -c WRK_CONNS` for WRK_SECS seconds (req/s)
# Each side runs ROUNDS times (the echo ECHO_ROUNDS times: a round takes ~1.5 s and single
# rounds vary by 20% on a shared machine), alternating gort and Go so that background load
# hits both alike; the table shows medians, and for the echo also the median of the ratios
# of adjacent rounds.
# Usage: bench/net/run.sh
#   (env: GOMAXPROCS=2 CONNS=50 MSGS=4000 SIZE=64 WRK_CONNS=100 WRK_SECS=10 ROUNDS=3
#    ECHO_ROUNDS=9)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
export GOMAXPROCS=${GOMAXPROCS:-2}
CONNS=${CONNS:-50} MSGS=${MSGS:-4000} SIZE=${SIZE:-64}
WRK_CONNS=${WRK_CONNS:-100} WRK_SECS=${WRK_SECS:-10} ROUNDS=${ROUNDS:-3}
ECHO_ROUNDS=${ECHO_ROUNDS:-9}
GORT_PORT=${GORT_PORT:-18080} GO_PORT=${GO_PORT:-18081}
target=${CARGO_TARGET_DIR:-$root/target}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

command -v go >/dev/null || { echo "run.sh: needs go (https://go.dev/dl)" >&2; exit 1; }
(cd "$root" && cargo build --release -q -p gort --example echo --example http_hello)
(cd "$root/bench/go" && go build -o "$tmp/gohello" ./cmd/hello && go test -c -o "$tmp/gonet.test" .)

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print v[int((NR + 1) / 2)] }'; }
us() { sed -n 's/.* \([0-9.]*\) us\/msg.*/\1/p'; }
p99() { sed -n 's/.*p99 \([0-9]*\) us.*/\1/p'; }
for i in $(seq "$ECHO_ROUNDS"); do
	echo "echo round $i/$ECHO_ROUNDS" >&2
	line=$("$target/release/examples/echo" "$CONNS" "$MSGS" "$SIZE")
	echo "$line" >&2
	echo "$line" | us >>"$tmp/gort_echo"
	echo "$line" | p99 >>"$tmp/gort_p99"
	line=$(ECHO_LOAD=1 CONNS=$CONNS MSGS=$MSGS SIZE=$SIZE "$tmp/gonet.test" -test.run TestEchoLoad -test.v | grep 'go echo')
	echo "$line" >&2
	echo "$line" | us >>"$tmp/go_echo"
	echo "$line" | p99 >>"$tmp/go_p99"
	paste "$tmp/gort_echo" "$tmp/go_echo" | tail -1 | awk '{ printf "%.2f\n", $1 / $2 }' >>"$tmp/echo_ratio"
done
gort_echo=$(median <"$tmp/gort_echo")
go_echo=$(median <"$tmp/go_echo")
gort_p99=$(median <"$tmp/gort_p99")
go_p99=$(median <"$tmp/go_p99")
echo_ratio=$(median <"$tmp/echo_ratio")

wait_port() {
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "run.sh: nothing listening on port $1" >&2
	return 1
}

rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p'; }
gort_rps=- go_rps=-
if command -v wrk >/dev/null; then
	"$target/release/examples/http_hello" "127.0.0.1:$GORT_PORT" 2>/dev/null & pids+=($!)
	"$tmp/gohello" "127.0.0.1:$GO_PORT" & pids+=($!)
	wait_port "$GORT_PORT"; wait_port "$GO_PORT"
	for i in $(seq "$ROUNDS"); do
		echo "http round $i/$ROUNDS (2 x ${WRK_SECS}s)" >&2
		wrk -t2 -c"$WRK_CONNS" -d"${WRK_SECS}s" "http://127.0.0.1:$GORT_PORT/" | rps | tee -a "$tmp/gort_rps" | sed 's/^/gort http req\/s: /' >&2
		wrk -t2 -c"$WRK_CONNS" -d"${WRK_SECS}s" "http://127.0.0.1:$GO_PORT/" | rps | tee -a "$tmp/go_rps" | sed 's/^/go http req\/s: /' >&2
	done
	gort_rps=$(median <"$tmp/gort_rps")
	go_rps=$(median <"$tmp/go_rps")
else
	echo "run.sh: wrk not found, skipping HTTP (install: apt-get install -y wrk)" >&2
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2fx", a / b }'; }
echo
printf '%-44s %12s %12s %10s\n' "benchmark (GOMAXPROCS=$GOMAXPROCS, medians)" gort go gort/go
printf '%-44s %12s %12s %10s\n' "TCP echo ${CONNS} conns ${SIZE} B (us/msg, lower better)" "$gort_echo" "$go_echo" "$(ratio "$gort_echo" "$go_echo")"
printf '%-44s %12s %12s %10s\n' "  median of ${ECHO_ROUNDS} adjacent-round ratios" "" "" "${echo_ratio}x"
printf '%-44s %12s %12s %10s\n' "TCP echo round-trip p99 (us, lower better)" "$gort_p99" "$go_p99" "$(ratio "$gort_p99" "$go_p99")"
printf '%-44s %12s %12s %10s\n' "HTTP hello wrk -c${WRK_CONNS} (req/s, higher better)" "$gort_rps" "$go_rps" "$(ratio "$gort_rps" "$go_rps")"
