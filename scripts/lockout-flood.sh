#!/usr/bin/env bash
# A lockout that a flood cannot wash out, against the release demo (built-in users, its default
# throttle: 10 failures per username, 100 per address, 900 s window, smart lockout):
#  1. john logs in from his usual address (a loopback source address of its own);
#  2. 14 wrong guesses for john from 14 other source addresses lock him out of unfamiliar
#     addresses: john from a new address -> 429, from his usual one -> 200;
#  3. the flood: FAILURES (default 700,000) wrong guesses for USERS (70,000) unknown usernames
#     from ADDRS (7,000) addresses, each username 10 times and each address 100 times (every
#     key brought to its limit and no further), over CONNS connections;
#  4. john again: from another new address (target: still 429) and from his usual one (target:
#     200); the demo's memory (target: peak RSS <= 150 MB).
# john's checks use real, distinct loopback source addresses (127.1.0.0/16, curl --interface).
# The flood's 7,000 addresses are emulated: wrk connects from 127.0.0.1, which the demo trusts
# as a reverse proxy (--trusted-proxy 127.0.0.1), and each guess names its client in
# X-Forwarded-For (10.0.0.0/8); the throttle counts them as it counts source addresses.
# Unknown users are refused after a timer (no hash), so many connections keep the pool idle.
# Bounded: the flood stops at FAILURES responses or after MAX_SECONDS (default 170), every
# request with a 10 s timeout. Loopback only.
# Usage: scripts/lockout-flood.sh  (env: FAILURES=700000 USERS=70000 ADDRS=7000 CONNS=800)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/demo.sh
FAILURES=${FAILURES:-700000}
USERS=${USERS:-70000}
ADDRS=${ADDRS:-7000}
CONNS=${CONNS:-800}
THREADS=${THREADS:-2}
MAX_SECONDS=${MAX_SECONDS:-170}
command -v wrk >/dev/null || { echo "needs wrk"; exit 1; }
command -v curl >/dev/null || { echo "needs curl"; exit 1; }

echo "building the demo (release)"
cargo build --release --example demo --quiet

DIR=$(mktemp -d)
OUT="$DIR/out"
PORT=0 target/release/examples/demo --port 0 --trusted-proxy 127.0.0.1 >"$OUT" 2>/dev/null &
DEMO=$!
WRK=
cleanup() {
  [ -n "$WRK" ] && kill "$WRK" 2>/dev/null || true
  kill $DEMO 2>/dev/null || true
  wait $DEMO 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
BASE=$(demo_url "$OUT")
[ -n "$BASE" ] || { echo "the demo did not start"; exit 1; }
mem() { awk '/^VmHWM:/ { h = $2 } /^VmRSS:/ { r = $2 } END { printf "peak (VmHWM) %.1f MB, now (VmRSS) %.1f MB", h / 1024, r / 1024 }' "/proc/$DEMO/status"; }
# One GET /basic as john from a loopback source address: the status code.
john() { curl -s -m 10 -o /dev/null -w '%{http_code}' --interface "$1" -u "john:$2" "$BASE/basic"; }
USUAL=127.1.0.1
echo "demo at $BASE ($(nproc) cores); $(mem)"

echo "john from his usual address $USUAL: $(john $USUAL hello)"
GUESSES=""
for i in $(seq 1 14); do GUESSES="$GUESSES$(john 127.1.1.$i guess) "; done
echo "14 wrong guesses for john from 127.1.1.1-14: $GUESSES"
echo "before the flood: john from a new address (127.1.2.1) -> $(john 127.1.2.1 hello), from his usual one -> $(john $USUAL hello)"

{
  cat scripts/lib/base64.lua scripts/lib/statuses.lua
  cat <<LUA
local total, users, addrs, nthreads = $FAILURES, $USERS, $ADDRS, $THREADS
local dir = "$DIR"
LUA
  cat <<'LUA'
-- Thread i (from 0) sends the guesses i, i + nthreads, ... below total; guess n is for
-- username n mod users from address (n + n div users) mod addrs: 10 per username, each from
-- another address, 100 per address. Once its guesses are sent it asks for /public (200) while
-- the last answers come in, then marks itself done. wrk asks for one request more than it
-- sends (its first): that one is /public too, so no guess is lost.
local count = 0
local count_setup = setup
setup = function(thread)
  thread:set("id", count)
  count = count + 1
  count_setup(thread)
end
n, quota, answered, auth, first = 0, 0, 0, {}, true
init = function()
  n = id
  quota = math.floor((total - 1 - id) / nthreads) + 1
end
request = function()
  if first or n >= total then
    first = false
    return wrk.format("GET", "/public")
  end
  local user = n % users
  local a = (n + math.floor(n / users)) % addrs
  n = n + nthreads
  local header = auth[user]
  if header == nil then
    header = "Basic " .. b64("flood" .. user .. ":guess")
    auth[user] = header
  end
  local ip = "10." .. math.floor(a / 65536) % 256 .. "." .. math.floor(a / 256) % 256 .. "." .. a % 256
  return wrk.format("GET", "/basic", { Authorization = header, ["X-Forwarded-For"] = ip })
end
local count_response = response
response = function(status)
  count_response(status)
  if status ~= 200 then
    answered = answered + 1
    if answered == quota then
      io.open(dir .. "/done." .. id, "w"):close()
      wrk.thread:stop()
    end
  end
end
done = function()
  local t = statuses()
  io.write(string.format("FLOOD %d %d %d %d\n", t.n401, t.n429, t.n503, t.nother))
end
LUA
} >"$DIR/flood.lua"

echo "flood: $FAILURES guesses for $USERS usernames from $ADDRS addresses (X-Forwarded-For) over $CONNS connections"
START=$(date +%s.%N)
wrk -t"$THREADS" -c"$CONNS" -d"${MAX_SECONDS}s" --timeout 10s -s "$DIR/flood.lua" "$BASE/basic" >"$DIR/wrk.out" 2>&1 &
WRK=$!
for _ in $(seq $((MAX_SECONDS * 5))); do
  [ "$(find "$DIR" -name 'done.*' | wc -l)" -ge "$THREADS" ] && break
  kill -0 $WRK 2>/dev/null || break
  sleep 0.2
done
kill -INT $WRK 2>/dev/null || true
wait $WRK || true
WRK=
ELAPSED=$(awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", e - s }')
read -r N401 N429 N503 NOTHER < <(sed -n 's/^FLOOD //p' "$DIR/wrk.out")
SENT=$((N401 + N429 + N503))
echo "failures answered: $SENT in ${ELAPSED} s (401: $N401, 429: $N429, 503: $N503; /public while the last answers came in: $NOTHER)"
grep -i 'socket errors' "$DIR/wrk.out" || true
[ "$SENT" -ge "$FAILURES" ] || echo "NOTE: fewer than $FAILURES failures were answered within ${MAX_SECONDS} s"

NEW=$(john 127.1.2.2 hello)
AGAIN=$(john $USUAL hello)
echo "after the flood: john from a new address (127.1.2.2) -> $NEW (target 429), from his usual one -> $AGAIN (target 200)"
echo "demo memory: $(mem) (target: peak <= 150 MB)"
