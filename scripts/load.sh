#!/usr/bin/env bash
# Load test of Basic auth over argon2id (OWASP parameters) through the verified-credential
# cache, with a real load generator (wrk), on loopback:
#   1. /public and /basic (correct credentials), 64 connections each, alternating in the same
#      run (ROUNDS rounds of public, basic): prints the /basic ÷ /public throughput ratio over
#      all rounds (target ≥ 0.90);
#   2. /public p99 latency idle, then while /basic is flooded with wrong passwords, each one
#      different (so every request is a real argon2id verification on the bounded pool, none
#      coalesced): target within 2× of idle.
# Bounded: PHASE seconds per phase (default 6), 2·ROUNDS + 2 phases; stops the server on exit.
# wrk runs on the same machine as the server (loopback) and takes CPU from it.
# Usage: scripts/load.sh      (env: PHASE=6 ROUNDS=3 CONNS=64 LAT_CONNS=8 THREADS=1)
set -euo pipefail
cd "$(dirname "$0")/.."

PHASE=${PHASE:-6}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
LAT_CONNS=${LAT_CONNS:-8}
THREADS=${THREADS:-1}

if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk >/dev/null
fi

echo "building the demo (release)"
cargo build --release --example demo --quiet

OUT=$(mktemp)
PORT=0 target/release/examples/demo >"$OUT" 2>/dev/null &
DEMO=$!
trap 'kill $DEMO 2>/dev/null || true; wait $DEMO 2>/dev/null || true; rm -f "$OUT" "${FLOOD_LUA:-}"' EXIT
for _ in $(seq 100); do
  grep -q '^listening on ' "$OUT" && break
  sleep 0.1
done
BASE=$(sed -n 's/^listening on //p' "$OUT" | head -1)
[ -n "$BASE" ] || { echo "the demo did not start"; exit 1; }
echo "demo at $BASE ($(nproc) cores)"

GOOD="Authorization: Basic $(printf 'john:hello' | base64)"
# The flood: john with a different wrong password on every request.
FLOOD_LUA=$(mktemp --suffix=.lua)
cat >"$FLOOD_LUA" <<'LUA'
local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64(s)
  return ((s:gsub(".", function(c)
    local bits, b = "", c:byte()
    for i = 8, 1, -1 do bits = bits .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return bits
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return chars:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#s % 3 + 1])
end
local n = 0
math.randomseed(os.time())
request = function()
  n = n + 1
  local creds = "john:wrong-" .. math.random(1, 1000000000) .. "-" .. n
  return wrk.format("GET", nil, { Authorization = "Basic " .. b64(creds) })
end
LUA
# Warm up (the first /basic request pays one argon2id verification, then hits the cache).
curl -sf -H "$GOOD" "$BASE/basic" >/dev/null
curl -sf "$BASE/public" >/dev/null

rps() { awk '/^Requests\/sec:/ {print $2}'; }
# p99 from `wrk --latency`, in ms.
p99() {
  awk '$1 == "99%" {
    v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
    if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
    printf "%.3f\n", v }'
}
run() { wrk -t"$THREADS" -c"$1" -d"${PHASE}s" --latency "${@:2}"; }

echo
echo "== throughput, $CONNS connections, $ROUNDS rounds of ${PHASE}s per route"
PUBLIC_SUM=0; BASIC_SUM=0
for round in $(seq "$ROUNDS"); do
  PUBLIC_OUT=$(run "$CONNS" "$BASE/public")
  BASIC_OUT=$(run "$CONNS" -H "$GOOD" "$BASE/basic")
  # /basic must really have been authorized: wrk reports non-2xx responses.
  if grep -q 'Non-2xx' <<<"$BASIC_OUT"; then
    echo "/basic returned errors:"; echo "$BASIC_OUT"; exit 1
  fi
  P=$(rps <<<"$PUBLIC_OUT"); B=$(rps <<<"$BASIC_OUT")
  echo "round $round: /public $P req/s (p99 $(p99 <<<"$PUBLIC_OUT") ms)   /basic $B req/s (p99 $(p99 <<<"$BASIC_OUT") ms)   ratio $(awk -v b="$B" -v p="$P" 'BEGIN { printf "%.3f", b / p }')"
  PUBLIC_SUM=$(awk -v s="$PUBLIC_SUM" -v x="$P" 'BEGIN { print s + x }')
  BASIC_SUM=$(awk -v s="$BASIC_SUM" -v x="$B" 'BEGIN { print s + x }')
done
RATIO=$(awk -v b="$BASIC_SUM" -v p="$PUBLIC_SUM" 'BEGIN { printf "%.3f", b / p }')
echo "/basic (argon2id m=19456 t=2 p=1, cached) ÷ /public over all rounds = $RATIO   (target ≥ 0.90)"

echo
echo "== /public latency, $LAT_CONNS connections, idle vs /basic flooded with wrong passwords ($CONNS connections)"
IDLE_OUT=$(run "$LAT_CONNS" "$BASE/public")
wrk -t1 -c"$CONNS" -d"$((PHASE + 2))s" -s "$FLOOD_LUA" "$BASE/basic" >/tmp/httpauth-flood.$$ 2>&1 &
FLOOD=$!
sleep 1
FLOODED_OUT=$(run "$LAT_CONNS" "$BASE/public")
wait $FLOOD || true
FLOOD_RPS=$(rps </tmp/httpauth-flood.$$); rm -f /tmp/httpauth-flood.$$
IDLE_P99=$(p99 <<<"$IDLE_OUT")
FLOODED_P99=$(p99 <<<"$FLOODED_OUT")
echo "/public idle     $(rps <<<"$IDLE_OUT") req/s   p99 $IDLE_P99 ms"
echo "/public flooded  $(rps <<<"$FLOODED_OUT") req/s   p99 $FLOODED_P99 ms"
echo "flood: $FLOOD_RPS wrong-password req/s answered 401 (each a distinct password: a real argon2id verification)"
echo "p99 flooded ÷ idle = $(awk -v f="$FLOODED_P99" -v i="$IDLE_P99" 'BEGIN { printf "%.2f", f / i }')   (target ≤ 2)"
