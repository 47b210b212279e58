#!/usr/bin/env bash
# gort benchstat against Go's benchstat on the two inputs of issue 20 item 8, side by side:
# a file with 1,000 configuration keys (each result carries the whole configuration) and a
# file of 20,000 benchmark names x 6 runs (4 MB). Each round runs both tools once on each
# file, alternating which goes first; the table gives medians and gort/Go.
#   bench/benchstat/run.sh [ROUNDS]      (default 5; progress on stderr)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: ROUNDS must be a positive integer" >&2; exit 1; }
GOBIN_DIR="$(go env GOPATH)/bin"
export PATH="$PATH:$GOBIN_DIR"
command -v benchstat >/dev/null || { echo "run.sh: needs Go's benchstat (go install golang.org/x/perf/cmd/benchstat@latest)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "building gort (release)..." >&2
cargo build --release -q -p gort-cli
gort=./target/release/gort
python3 - "$work" <<'PY'
import sys, random
d = sys.argv[1]
random.seed(1)
with open(f"{d}/keys.txt", "w") as f:
    for i in range(1000):
        f.write(f"key{i}: value-{i}\n")
    for r in range(6):
        for b in range(20):
            f.write(f"BenchmarkOp{b}-2 \t 1000000 \t {100 + b + random.random():.2f} ns/op\n")
with open(f"{d}/names.txt", "w") as f:
    f.write("goos: linux\ngoarch: amd64\npkg: example\n")
    for r in range(6):
        for b in range(20000):
            f.write(f"BenchmarkName{b}-2 \t 1000000 \t {100 + b % 97 + random.random():.2f} ns/op\n")
PY
ls -l "$work"/keys.txt "$work"/names.txt >&2
secs() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }
: >"$work/times"
for r in $(seq 1 "$rounds"); do
  for input in keys names; do
    if (( r % 2 )); then
      g=$(secs "$gort" benchstat "$work/$input.txt"); o=$(secs benchstat "$work/$input.txt")
    else
      o=$(secs benchstat "$work/$input.txt"); g=$(secs "$gort" benchstat "$work/$input.txt")
    fi
    echo "round $r/$rounds $input: gort ${g}s go ${o}s" >&2
    echo "$input $g $o" >>"$work/times"
  done
done
python3 - "$work/times" <<'PY'
import sys, statistics
rows = {}
for line in open(sys.argv[1]):
    k, g, o = line.split()
    rows.setdefault(k, ([], []))
    rows[k][0].append(float(g)); rows[k][1].append(float(o))
names = {"keys": "1,000 config keys (37 KB)", "names": "20k names x 6 runs (4 MB)"}
print(f"{'input':30} {'gort s':>8} {'go s':>8} {'gort/go':>8}")
for k in ("keys", "names"):
    g = statistics.median(rows[k][0]); o = statistics.median(rows[k][1])
    print(f"{names[k]:30} {g:8.3f} {o:8.3f} {g/o:8.2f}")
PY
