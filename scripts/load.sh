#!/usr/bin/env bash
# Load test of Basic auth over argon2id (OWASP parameters) through the verified-credential
# cache, with a real load generator (wrk), on loopback:
#   1. /public and /basic (correct credentials), 64 connections each, alternating in the same
#      run (ROUNDS short rounds of public then basic, so a burst of noise from other processes
#      hits both sides of a round): prints each round's /basic ÷ /public throughput ratio and
#      their median (target ≥ 0.90), with the server pinned to CPU 0 and wrk to CPU 1; then
#      the same rounds with server and wrk sharing all CPUs, for the server's CPU time per
#      request on /basic ÷ on /public (user + system time of the demo process from /proc,
#      target ≤ 1.11);
#   2. /public p99 latency idle, then while /basic is flooded with wrong passwords, each one
#      different (so every request is a real argon2id verification on the bounded pool, none
#      coalesced): target within 2× of idle.
# PIN=0 (or one core): one phase, server and wrk sharing all CPUs, for both figures.
# Bounded: 4·ROUNDS phases of TPUT_PHASE seconds (default 2 × 8 × 2 × 3 s), then 4 phases of PHASE
# seconds (default 6); stops the server on exit.
# wrk runs on the same machine as the server (loopback) and takes CPU from it.
# Usage: scripts/load.sh  (env: ROUNDS=8 TPUT_PHASE=3 PHASE=6 CONNS=64 LAT_CONNS=8 THREADS=1 PACE_MS=5)
# The demo runs with --no-throttle: these phases measure the hashing pool under a wrong-password
# flood (scripts/flood.sh shows the throttle).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/demo.sh

PHASE=${PHASE:-6}
TPUT_PHASE=${TPUT_PHASE:-3}
ROUNDS=${ROUNDS:-8}
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
PORT=0 target/release/examples/demo --no-throttle >"$OUT" 2>/dev/null &
DEMO=$!
trap 'kill $DEMO 2>/dev/null || true; wait $DEMO 2>/dev/null || true; rm -f "$OUT" "${FLOOD_LUA:-}" "${PACE_LUA:-}"' EXIT
BASE=$(demo_url "$OUT")
[ -n "$BASE" ] || { echo "the demo did not start"; exit 1; }
echo "demo at $BASE ($(nproc) cores)"

GOOD="Authorization: Basic $(printf 'john:hello' | base64)"
# The flood: john with a different wrong password on every request.
FLOOD_LUA=$(mktemp --suffix=.lua)
{
  cat scripts/lib/base64.lua scripts/lib/statuses.lua
  cat <<'LUA'
local n = 0
math.randomseed(os.time())
request = function()
  n = n + 1
  local creds = "john:wrong-" .. math.random(1, 1000000000) .. "-" .. n
  return wrk.format("GET", nil, { Authorization = "Basic " .. b64(creds) })
end
done = function(summary, latency, requests)
  local t = statuses()
  local secs = summary.duration / 1e6
  io.write(string.format("flood answers: %.0f/s 401 (a real argon2id verification each), %.0f/s 503 (the hashing queue full: refused without hashing), %.0f/s other\n",
    t.n401 / secs, t.n503 / secs, (t.n429 + t.nother) / secs))
end
LUA
} >"$FLOOD_LUA"
# Warm up (the first /basic request pays one argon2id verification, then hits the cache).
curl -sf -H "$GOOD" "$BASE/basic" >/dev/null
curl -sf "$BASE/public" >/dev/null

rps() { awk '/^Requests\/sec:/ {print $2}'; }
# Requests answered in a wrk run, and the server's CPU time so far (user + system, all its
# threads, in clock ticks).
reqs() { awk '/ requests in / {print $1}'; }
cpu() { awk '{ print $14 + $15 }' "/proc/$DEMO/stat"; }
# A percentile from `wrk --latency`, in ms.
pct() {
  awk -v p="$1" '$1 == p {
    v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
    if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
    printf "%.3f\n", v }'
}
p99() { pct 99%; }
p50() { pct 50%; }
run() { wrk -t"$THREADS" -c"$1" -d"${PHASE}s" --latency "${@:2}"; }

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ROUNDS alternating rounds of /public then /basic, wrk prefixed by GEN: each round's
# throughput ratio into RATIOS, the server's CPU per request /basic ÷ /public into CPU_RATIOS,
# the rates summed into PUBLIC_SUM and BASIC_SUM.
rounds() {
  RATIOS=(); CPU_RATIOS=(); PUBLIC_SUM=0; BASIC_SUM=0
  for round in $(seq "$ROUNDS"); do
    C0=$(cpu)
    PUBLIC_OUT=$("${GEN[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${TPUT_PHASE}s" --latency "$BASE/public")
    C1=$(cpu)
    BASIC_OUT=$("${GEN[@]}" wrk -t"$THREADS" -c"$CONNS" -d"${TPUT_PHASE}s" --latency -H "$GOOD" "$BASE/basic")
    C2=$(cpu)
    # /basic must really have been authorized: wrk reports non-2xx responses.
    if grep -q 'Non-2xx' <<<"$BASIC_OUT"; then
      echo "/basic returned errors:"; echo "$BASIC_OUT"; exit 1
    fi
    P=$(rps <<<"$PUBLIC_OUT"); B=$(rps <<<"$BASIC_OUT")
    R=$(awk -v b="$B" -v p="$P" 'BEGIN { printf "%.3f", b / p }')
    RATIOS+=("$R")
    CR=$(awk -v pc="$((C1 - C0))" -v bc="$((C2 - C1))" -v pn="$(reqs <<<"$PUBLIC_OUT")" -v bn="$(reqs <<<"$BASIC_OUT")" \
      'BEGIN { printf "%.3f", (bc / bn) / (pc / pn) }')
    CPU_RATIOS+=("$CR")
    printf 'round %2d: /public %9.0f req/s (p99 %s ms)   /basic %9.0f req/s (p99 %s ms)   ratio %s   CPU per request %s×\n' \
      "$round" "$P" "$(p99 <<<"$PUBLIC_OUT")" "$B" "$(p99 <<<"$BASIC_OUT")" "$R" "$CR"
    PUBLIC_SUM=$(awk -v s="$PUBLIC_SUM" -v x="$P" 'BEGIN { print s + x }')
    BASIC_SUM=$(awk -v s="$BASIC_SUM" -v x="$B" 'BEGIN { print s + x }')
  done
}
throughput_line() {
  echo "/basic (argon2id m=19456 t=2 p=1, cached) ÷ /public: median of rounds $(printf '%s\n' "${RATIOS[@]}" | median), all requests $(awk -v b="$BASIC_SUM" -v p="$PUBLIC_SUM" 'BEGIN { printf "%.3f", b / p }')   (target ≥ 0.90)"
}

# Throughput: with wrk on the same cores, the generator's own CPU use and scheduling noise
# swing single rounds by ±10 %; so (unless PIN=0, or on one core) the server runs on CPU 0
# and wrk on CPU 1 for this phase. Pinned and saturated, the server is busy all the time:
# its CPU per request is the inverse of its throughput, wrk's wake-ups included (each is a
# cross-CPU interrupt the server's writes pay). So the server's CPU per request as a figure
# of its own is measured next, with the server and wrk sharing all CPUs.
GEN=()
if [ "${PIN:-1}" != 0 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
  taskset -a -p -c 0 "$DEMO" >/dev/null
  GEN=(taskset -c 1)
  echo
  echo "== throughput, $CONNS connections, $ROUNDS rounds of ${TPUT_PHASE}s per route (server pinned to CPU 0, wrk to CPU 1)"
  rounds
  throughput_line
  echo "the server's CPU per request, /basic ÷ /public, pinned and saturated (the inverse of the throughput ratio, wrk's wake-ups included): median of rounds $(printf '%s\n' "${CPU_RATIOS[@]}" | median)"
  taskset -a -p -c "0-$(($(nproc) - 1))" "$DEMO" >/dev/null
  GEN=()
  PINNED=1
fi

echo
echo "== the server's CPU per request, $CONNS connections, $ROUNDS rounds of ${TPUT_PHASE}s per route (server and wrk share all CPUs)"
rounds
[ -z "${PINNED:-}" ] && throughput_line
echo "the server's CPU per request, /basic ÷ /public (user + system time from /proc): median of rounds $(printf '%s\n' "${CPU_RATIOS[@]}" | median)   (target ≤ 1.11)"

# Paced /public load for the latency comparison: each connection waits PACE_MS between
# requests (wrk's Lua `delay`), so p99 shows how long a request waits for a CPU, not how the
# saturated queue grows when the flood takes its share of the cores.
PACE_LUA=$(mktemp --suffix=.lua)
printf 'delay = function() return %s end\n' "${PACE_MS:-5}" >"$PACE_LUA"

flood() {
  wrk -t1 -c"$CONNS" -d"$((PHASE + 2))s" -s "$FLOOD_LUA" "$BASE/basic" >"$1" 2>&1 &
  FLOOD=$!
  sleep 1
}

echo
echo "== /public latency, $LAT_CONNS connections, idle vs /basic flooded with distinct wrong passwords ($CONNS connections)"
FLOOD_OUT=$(mktemp)
for mode in paced saturated; do
  if [ "$mode" = paced ]; then
    ARGS=(-s "$PACE_LUA"); WHAT="paced (${PACE_MS:-5} ms between requests per connection)"
  else
    ARGS=(); WHAT="saturated (closed loop)"
  fi
  IDLE_OUT=$(run "$LAT_CONNS" "${ARGS[@]}" "$BASE/public")
  flood "$FLOOD_OUT"
  FLOODED_OUT=$(run "$LAT_CONNS" "${ARGS[@]}" "$BASE/public")
  wait $FLOOD || true
  IDLE_P99=$(p99 <<<"$IDLE_OUT"); FLOODED_P99=$(p99 <<<"$FLOODED_OUT")
  echo "$WHAT:"
  echo "  /public idle     $(rps <<<"$IDLE_OUT") req/s   p50 $(p50 <<<"$IDLE_OUT") ms   p99 $IDLE_P99 ms"
  echo "  /public flooded  $(rps <<<"$FLOODED_OUT") req/s   p50 $(p50 <<<"$FLOODED_OUT") ms   p99 $FLOODED_P99 ms"
  echo "  flood: $(rps <"$FLOOD_OUT") wrong-password req/s; $(sed -n 's/^flood answers: //p' "$FLOOD_OUT")"
  echo "  p99 flooded ÷ idle = $(awk -v f="$FLOODED_P99" -v i="$IDLE_P99" 'BEGIN { printf "%.2f", f / i }')   (target ≤ 2)"
done
rm -f "$FLOOD_OUT"
