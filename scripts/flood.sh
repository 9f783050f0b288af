#!/usr/bin/env bash
# A guessing flood against the demo, with and without the throttle, on loopback:
#   - 128 connections from 127.0.0.1 guess passwords, a new username on every request (so the
#     per-username limit does not help; the per-address limit does);
#   - meanwhile a legitimate client from another address (127.0.0.2, `curl --interface`) logs
#     in once as each of USERS users of an htpasswd file (bcrypt cost 10): every login is a
#     first, uncached one, so each needs the hashing pool;
#   - printed: the flood's answers by status (401 vs 429), the legitimate logins' median and
#     worst time (target ≤ 250 ms median with the throttle), the server's RSS.
# Bounded: two runs of DURATION seconds (default 10); stops the servers on exit.
# Usage: scripts/flood.sh   (env: DURATION=10 CONNS=128 USERS=20)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/demo.sh

DURATION=${DURATION:-10}
CONNS=${CONNS:-128}
USERS=${USERS:-20}
for tool in wrk htpasswd curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "flood.sh needs $tool (apt-get install wrk apache2-utils curl)"; exit 1; }
done

echo "building the demo (release)"
cargo build --release --example demo --quiet

WORK=$(mktemp -d)
DEMO=""
trap '[ -n "$DEMO" ] && kill "$DEMO" 2>/dev/null; rm -rf "$WORK"' EXIT

# The users: bcrypt cost 10 (~50-100 ms a check on this machine).
for i in $(seq "$USERS"); do
  htpasswd -B -C 10 -b $([ "$i" = 1 ] && echo -c) "$WORK/htpasswd" "user$i" "pw$i" 2>/dev/null
done

{
  cat scripts/lib/base64.lua scripts/lib/statuses.lua
  cat <<'LUA'
local n = 0
math.randomseed(os.time())
request = function()
  n = n + 1
  local creds = "guess" .. math.random(1, 1000000000) .. "-" .. n .. ":nope"
  return wrk.format("GET", nil, { Authorization = "Basic " .. b64(creds) })
end
done = function(summary, latency, requests)
  local t = statuses()
  io.write(string.format("flood: %d requests: %d x 401 (a password checked), %d x 429 (throttled, nothing hashed), %d x 503, %d other\n",
    summary.requests, t.n401, t.n429, t.n503, t.nother))
end
LUA
} >"$WORK/flood.lua"

run() {
  local label=$1; shift
  local out="$WORK/demo.out"
  target/release/examples/demo --port 0 --htpasswd "$WORK/htpasswd" "$@" >"$out" 2>/dev/null &
  DEMO=$!
  local base; base=$(demo_url "$out")
  [ -n "$base" ] || { echo "the demo did not start"; exit 1; }
  local rss0; rss0=$(awk '/^VmRSS/ {print $2}' "/proc/$DEMO/status")
  echo
  echo "== $label: $CONNS connections guessing from 127.0.0.1 for ${DURATION}s; first logins from 127.0.0.2"
  wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$WORK/flood.lua" "$base/basic" >"$WORK/wrk.out" 2>&1 &
  local flood=$!
  sleep 1
  : >"$WORK/times"
  for i in $(seq "$USERS"); do
    local t code
    read -r code t < <(curl -s -o /dev/null --interface 127.0.0.2 -u "user$i:pw$i" \
      -w '%{http_code} %{time_total}\n' --max-time 30 "$base/basic")
    echo "$code $t" >>"$WORK/times"
    sleep 0.2
  done
  wait "$flood" || true
  grep '^flood:' "$WORK/wrk.out" || cat "$WORK/wrk.out"
  local ok; ok=$(awk '$1 == 200' "$WORK/times" | wc -l)
  awk '{ print $2 * 1000 }' "$WORK/times" | sort -n | awk -v ok="$ok" -v n="$USERS" '
    { v[NR] = $1 } END {
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
      printf "first logins from 127.0.0.2: %d/%d answered 200, median %.0f ms, worst %.0f ms   (target median <= 250 ms)\n", ok, n, m, v[NR] }'
  local rss1; rss1=$(awk '/^VmRSS/ {print $2}' "/proc/$DEMO/status")
  echo "server RSS: $((rss0 / 1024)) MB at start, $((rss1 / 1024)) MB after the flood"
  kill "$DEMO"; wait "$DEMO" 2>/dev/null || true; DEMO=""
}

run "without the throttle (--no-throttle)" --no-throttle
run "with the default throttle (100 failures per address, 10 per username, per 15 min)"
