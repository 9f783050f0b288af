#!/usr/bin/env bash
# Memory under an unknown-user flood: the release demo (built-in users, argon2id m=19 MiB,
# t=2, p=1, so every unknown user costs one 19 MiB dummy check) is flooded for DURATION seconds
# over CONNS connections, every request a different unknown username and password (nothing
# coalesces, nothing is cached). Prints the server's RSS before, at the end of and 2 s after
# the flood, and the status codes (401, or 503 once the hashing queue is full).
# Target: RSS ≤ 150 MB after the flood.
# Then fairness: john is flooded with wrong passwords over FAIR_CONNS connections, and after
# 2 s susan logs in for the first time (uncached, one sample per run): her latency and samples
# of the flood's status codes (401, or 503 beyond the queue) are printed.
# Usage: scripts/flood-memory.sh  (env: DURATION=5 CONNS=16)
# The demo runs with --no-throttle: the memory target assumes every guess comes from another
# address, so the throttle would not help (here they all come from 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/demo.sh

DURATION=${DURATION:-5}
FAIR_CONNS=${FAIR_CONNS:-128}
CONNS=${CONNS:-16}
command -v wrk >/dev/null || { echo "needs wrk"; exit 1; }

echo "building the demo (release)"
cargo build --release --example demo --quiet

OUT=$(mktemp)
LUA=$(mktemp --suffix=.lua)
PORT=0 target/release/examples/demo --no-throttle >"$OUT" 2>/dev/null &
DEMO=$!
trap 'kill $DEMO 2>/dev/null || true; wait $DEMO 2>/dev/null || true; rm -f "$OUT" "$LUA"' EXIT
BASE=$(demo_url "$OUT")
[ -n "$BASE" ] || { echo "the demo did not start"; exit 1; }
rss() { awk '/^VmRSS:/ { printf "%.1f MB", $2 / 1024 }' "/proc/$DEMO/status"; }
hwm() { awk '/^VmHWM:/ { printf "%.1f MB", $2 / 1024 }' "/proc/$DEMO/status"; }

{
  cat scripts/lib/base64.lua
  cat <<'LUA'
local n = 0
math.randomseed(os.time())
request = function()
  n = n + 1
  local creds = "nobody" .. math.random(1, 1000000000) .. "-" .. n .. ":guess-" .. n
  return wrk.format("GET", nil, { Authorization = "Basic " .. b64(creds) })
end
local codes = {}
response = function(status) codes[status] = (codes[status] or 0) + 1 end
done = function() end
LUA
} >"$LUA"

curl -s -o /dev/null "$BASE/public"
echo "demo at $BASE ($(nproc) cores); RSS before the flood: $(rss)"
wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$LUA" "$BASE/basic" | sed -n '/Requests\/sec\|Non-2xx\|requests in/p'
echo "RSS right after ${DURATION}s over $CONNS connections: $(rss) (peak $(hwm))"
sleep 2
echo "RSS 2 s later: $(rss)"
STATUS=$(for _ in 1 2 3; do curl -s -o /dev/null -w '%{http_code} ' -u nobody:x "$BASE/basic"; done)
echo "unknown-user requests after the flood: $STATUS"

JOHN_LUA=$(mktemp --suffix=.lua)
trap 'kill $DEMO 2>/dev/null || true; wait $DEMO 2>/dev/null || true; rm -f "$OUT" "$LUA" "$JOHN_LUA"' EXIT
sed 's/"nobody" .. math.random(1, 1000000000) .. "-" .. n .. ":guess-" .. n/"john:wrong-" .. math.random(1, 1000000000) .. "-" .. n/' "$LUA" >"$JOHN_LUA"
echo
echo "== fairness: $FAIR_CONNS connections flood john with wrong passwords for 5 s"
wrk -t1 -c"$FAIR_CONNS" -d5s -s "$JOHN_LUA" "$BASE/basic" >"$OUT.flood" &
WRK=$!
sleep 2
FIRST=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -u susan:bye "$BASE/basic")
echo "susan's first (uncached) login during the flood: status ${FIRST% *}, $(awk -v t="${FIRST#* }" 'BEGIN { printf "%.1f ms", t * 1000 }')"
AGAIN=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -u susan:bye "$BASE/basic")
echo "susan again (cached): status ${AGAIN% *}, $(awk -v t="${AGAIN#* }" 'BEGIN { printf "%.1f ms", t * 1000 }')"
SAMPLE=$(for i in 1 2 3 4 5; do curl -s -o /dev/null -w '%{http_code} ' -u "john:sample$i" "$BASE/basic"; done)
echo "john wrong-password samples during the flood: $SAMPLE(503: queue full, refused unhashed)"
wait $WRK
sed -n '/requests in/p' "$OUT.flood"
rm -f "$OUT.flood"
echo "RSS after the fairness phase: $(rss)"
