#!/usr/bin/env bash
# Instructions per request of the whole demo server (hyper, axum, httpauth, the demo's server
# loop), /public and /basic (correct credentials, argon2id behind the verified-credential
# cache), counted by valgrind's callgrind on the release build: what scripts/load.sh measures
# in time, without the noise of a shared machine (and without the kernel's part: the socket
# reads and writes, the same for both routes).
#
#   scripts/callgrind-demo.sh            # N=5000 requests per route
#
# One keep-alive connection from a Python client (standard library only), N requests per
# route after a warm-up; callgrind's counters are zeroed before and dumped after each route,
# so start-up and warm-up are not counted. Prints each route's instructions per request and
# the ten costliest functions only /basic runs (callgrind_annotate).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/demo.sh

if ! command -v valgrind >/dev/null 2>&1; then
  echo "callgrind-demo.sh: valgrind is not installed (apt-get install valgrind)." >&2
  exit 0
fi
N=${N:-5000}

echo "building the demo (release)" >&2
cargo build --release --example demo --quiet

tmp=$(mktemp -d)
VG=""
trap '[ -n "$VG" ] && kill "$VG" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

PORT=0 valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" \
  target/release/examples/demo --no-throttle >"$tmp/out" 2>"$tmp/valgrind" &
VG=$!
url=$(demo_url "$tmp/out" 600)
port=${url##*:}
[ -n "$port" ] || { echo "the demo did not start under valgrind"; cat "$tmp/valgrind"; exit 1; }

# N requests on one connection; every answer must be 200.
requests() {
  timeout 600 python3 - "$port" "$1" "$2" <<'PY'
import base64, http.client, sys
port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
headers = {}
if path == "/basic":
    headers["Authorization"] = "Basic " + base64.b64encode(b"john:hello").decode()
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
for _ in range(n):
    conn.request("GET", path, headers=headers)
    res = conn.getresponse()
    res.read()
    if res.status != 200:
        sys.exit(f"{path}: {res.status}")
PY
}

# Warm-up: the first /basic request pays one argon2id verification, then hits the cache.
requests /basic 100
requests /public 100
callgrind_control -z "$VG" >/dev/null 2>&1
for route in /public /basic; do
  requests "$route" "$N"
  callgrind_control -d "${route#/}" "$VG" >/dev/null 2>&1
done
kill -INT "$VG"
wait "$VG" || true
VG=""

total() { sed -n 's/^summary: //p' "$(grep -l "^desc: Trigger: .*dump $1\$" "$tmp"/cg.*.*)"; }
public=$(total public)
basic=$(total basic)
echo
echo "Instructions per request of the demo server under callgrind (N=$N), valgrind $(valgrind --version | sed 's/valgrind-//')"
awk -v p="$public" -v b="$basic" -v n="$N" 'BEGIN {
  printf "/public %8.0f\n/basic  %8.0f   (+%.0f, %.2fx)\n", p / n, b / n, (b - p) / n, b / p }'

# The functions only /basic runs, by inclusive cost per request.
per_function() {
  callgrind_annotate --inclusive=yes --threshold=100 "$(grep -l "^desc: Trigger: .*dump $1\$" "$tmp"/cg.*.*)" 2>/dev/null |
    sed -n 's/^ *\([0-9,]*\) ([^)]*) *[^:]*:\(.*\) \[.*$/\1\t\2/p' | tr -d ,
}
per_function public >"$tmp/public.tsv"
per_function basic >"$tmp/basic.tsv"
echo
echo "Functions only /basic runs, instructions per request (inclusive, the ten costliest):"
awk -F'\t' -v n="$N" 'NR == FNR { p[$2] += $1; next } { b[$2] += $1 }
  END { for (f in b) if (!(f in p) && b[f] / n >= 100) printf "%8.0f  %s\n", b[f] / n, substr(f, 1, 110) }' \
  "$tmp/public.tsv" "$tmp/basic.tsv" | sort -rn | head -10
