#!/usr/bin/env bash
# Digest under load: a client that reuses one nonce with an incrementing nc (as
# browsers and curl do), against /digest with the in-memory nonce store and with the Redis
# store, side by side with /public in the same run, on loopback:
#   - one redis-server (no persistence) on a free port;
#   - demo A: in-memory stores; demo B: --redis (both release, both --secret-file);
#   - ROUNDS rounds of PHASE seconds each: /public on A, /digest on A, /digest on B;
#   - each Digest request carries a precomputed header (MD5, qop=auth) with the next nc of one
#     nonce, so every request is a fresh, correct use (no replay), as a real client's.
# Prints req/s per round and the medians of /digest(memory) ÷ /public (target ≥ 0.90) and
# /digest(Redis) ÷ /digest(memory) (target ≥ 0.60). Bounded; stops everything on exit.
# Usage: scripts/load-digest.sh   (env: ROUNDS=5 PHASE=3 CONNS=32)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/demo.sh

ROUNDS=${ROUNDS:-5}
PHASE=${PHASE:-3}
CONNS=${CONNS:-32}
for tool in wrk redis-server python3 curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "load-digest.sh needs $tool"; exit 1; }
done

echo "building the demo (release, feature redis)"
cargo build --release --features redis --example demo --quiet

WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
head -c 48 /dev/urandom | base64 >"$WORK/secret"
RPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$RPORT") 2>/dev/null && break; sleep 0.05; done

start() {
  local out="$WORK/$1.out"; shift
  target/release/examples/demo --port 0 --secret-file "$WORK/secret" "$@" >"$out" 2>/dev/null &
  PIDS+=($!)
  demo_url "$out"
}
A=$(start memory)
B=$(start redis --redis "redis://127.0.0.1:$RPORT/")
[ -n "$A" ] && [ -n "$B" ] || { echo "a demo did not start"; exit 1; }
echo "A (in-memory) at $A, B (Redis) at $B, redis-server on $RPORT, $(nproc) cores"

# Headers: NONCES nonces per instance (each from its own 401), interleaved, nc 1, 2, ... per
# nonce, MD5, qop=auth. A real client keeps one nonce per connection; wrk's connections share
# one request generator, so with a single nonce a connection held back by the scheduler would
# fall more than 64 counts behind the others (refused as too old: a load-generator artefact).
NONCES=${NONCES:-$CONNS}
headers() {
  local base=$1 file=$2 count=$3
  : >"$WORK/challenges"
  for _ in $(seq "$NONCES"); do
    curl -s -o /dev/null -D - "$base/digest" | tr -d '\r' | sed -n 's/^www-authenticate: //Ip' | head -1 >>"$WORK/challenges"
  done
  python3 - "$WORK/challenges" "$count" >"$file" <<'PY'
import hashlib, re, sys
chs = [dict(re.findall(r'(\w+)="([^"]*)"', line)) for line in open(sys.argv[1]) if line.strip()]
n = int(sys.argv[2])
h = lambda s: hashlib.md5(s.encode()).hexdigest()
ha2 = h("GET:/digest")
for i in range(n):
    p = chs[i % len(chs)]
    nc = i // len(chs) + 1
    ha1 = h(f"john:{p['realm']}:hello")
    ncs = f"{nc:08x}"
    cn = f"c{nc}"
    r = h(f"{ha1}:{p['nonce']}:{ncs}:{cn}:auth:{ha2}")
    print(f'Digest username="john", realm="{p["realm"]}", nonce="{p["nonce"]}", uri="/digest", '
          f'algorithm=MD5, qop=auth, nc={ncs}, cnonce="{cn}", response="{r}", opaque="{p["opaque"]}"')
PY
}
N=$((ROUNDS * PHASE * 120000))
# The Redis store records when its data starts, a second ahead: a nonce issued before then is
# refused once as forgotten (stale=true). Start its data, then take the nonce a second later.
NONCES=1 headers "$B" "$WORK/warm.headers" 1
curl -s -o /dev/null -H "Authorization: $(cat "$WORK/warm.headers")" "$B/digest"
sleep 1.2
headers "$A" "$WORK/a.headers" "$N"
headers "$B" "$WORK/b.headers" "$N"

cat >"$WORK/digest.lua" <<'LUA'
local lines = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do lines[#lines + 1] = line end
  -- Resume where the previous phase stopped (the nc must keep growing).
  local f = io.open(args[2], "r")
  if f then i = tonumber(f:read("*l") or "0") or 0; f:close() end
end
request = function()
  i = i + 1
  if i > #lines then i = #lines end
  return wrk.format("GET", nil, { Authorization = lines[i] })
end
done = function() end
LUA
# wrk's done() runs in another Lua state: track progress by the requests wrk reports.
rps() { awk '/^Requests\/sec:/ {print $2}'; }
reqs() { awk '/requests in/ {print $1}'; }
errors() { awk 'BEGIN { n = 0 } /Non-2xx/ { n = $5 } END { print n }'; }
POS_A=0; POS_B=0
R1=(); R2=()
for round in $(seq "$ROUNDS"); do
  P_OUT=$(wrk -t1 -c"$CONNS" -d"${PHASE}s" "$A/public")
  echo "$POS_A" >"$WORK/a.pos"
  M_OUT=$(wrk -t1 -c"$CONNS" -d"${PHASE}s" -s "$WORK/digest.lua" "$A/digest" -- "$WORK/a.headers" "$WORK/a.pos")
  echo "$POS_B" >"$WORK/b.pos"
  R_OUT=$(wrk -t1 -c"$CONNS" -d"${PHASE}s" -s "$WORK/digest.lua" "$B/digest" -- "$WORK/b.headers" "$WORK/b.pos")
  POS_A=$((POS_A + $(reqs <<<"$M_OUT") + CONNS))
  POS_B=$((POS_B + $(reqs <<<"$R_OUT") + CONNS))
  P=$(rps <<<"$P_OUT"); M=$(rps <<<"$M_OUT"); R=$(rps <<<"$R_OUT")
  printf 'round %d: /public %8.0f req/s   /digest memory %8.0f req/s (non-2xx: %s)   /digest Redis %8.0f req/s (non-2xx: %s)\n' \
    "$round" "$P" "$M" "$(errors <<<"$M_OUT")" "$R" "$(errors <<<"$R_OUT")"
  R1+=("$(awk -v m="$M" -v p="$P" 'BEGIN { printf "%.3f", m / p }')")
  R2+=("$(awk -v r="$R" -v m="$M" 'BEGIN { printf "%.3f", r / m }')")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "/digest (in-memory nonce store) ÷ /public: median $(median "${R1[@]}")   (target ≥ 0.90)"
echo "/digest (Redis nonce store) ÷ /digest (in-memory): median $(median "${R2[@]}")   (target ≥ 0.60)"
