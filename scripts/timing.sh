#!/usr/bin/env bash
# User enumeration by timing on an htpasswd file mixing formats and costs: starts the release
# demo with `--htpasswd` over a file holding one user per format (bcrypt cost 10 and 12,
# $apr1$, {SHA}, sha512-crypt, written by Apache's `htpasswd`), sends wrong passwords to each
# user and to an unknown one, interleaved (one round = one request per user, order shuffled),
# and prints each format's median refusal time and its ratio to the unknown user's
# (target: 0.8–1.25 for every format).
# Sequential requests (one at a time): this measures the refusal path, not the queue.
# Usage: scripts/timing.sh  (env: ROUNDS=15)
# The demo runs with --no-throttle: the script sends many wrong passwords per user on purpose
# (the throttle would answer 429 and there would be nothing to time).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/demo.sh

ROUNDS=${ROUNDS:-15}
command -v htpasswd >/dev/null || { echo "needs Apache's htpasswd (apache2-utils)"; exit 1; }

echo "building the demo (release)"
cargo build --release --example demo --quiet

DIR=$(mktemp -d)
FILE="$DIR/users.htpasswd"
htpasswd -cbB -C 10 "$FILE" bcrypt10 secret 2>/dev/null
htpasswd -bB -C 12 "$FILE" bcrypt12 secret 2>/dev/null
htpasswd -bm "$FILE" apr1 secret 2>/dev/null
htpasswd -bs "$FILE" sha1 secret 2>/dev/null
htpasswd -b5 "$FILE" sha512 secret 2>/dev/null

OUT="$DIR/out"
PORT=0 target/release/examples/demo --htpasswd "$FILE" --no-throttle >"$OUT" 2>/dev/null &
DEMO=$!
trap 'kill $DEMO 2>/dev/null || true; wait $DEMO 2>/dev/null || true; rm -rf "$DIR"' EXIT
BASE=$(demo_url "$OUT")
[ -n "$BASE" ] || { echo "the demo did not start"; exit 1; }
echo "demo at $BASE ($(nproc) cores), $ROUNDS rounds"

USERS="unknown bcrypt10 bcrypt12 apr1 sha1 sha512"
# Sanity: the right password logs in (and warms nothing: refusals are never cached).
for u in bcrypt10 bcrypt12 apr1 sha1 sha512; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -u "$u:secret" "$BASE/basic")
  [ "$code" = 200 ] || { echo "$u: login answered $code"; exit 1; }
done

python3 - "$BASE" "$ROUNDS" $USERS <<'PY'
import base64, http.client, random, statistics, sys, time, urllib.parse
base, rounds, users = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
url = urllib.parse.urlparse(base)
times = {u: [] for u in users}
codes = {}
for r in range(rounds + 1):
    order = users[:]
    random.shuffle(order)
    for u in order:
        conn = http.client.HTTPConnection(url.hostname, url.port)
        cred = base64.b64encode(f"{u}:wrong{r}-{random.random()}".encode()).decode()
        start = time.perf_counter()
        conn.request("GET", "/basic", headers={"Authorization": "Basic " + cred})
        res = conn.getresponse(); res.read()
        took = time.perf_counter() - start
        conn.close()
        codes[res.status] = codes.get(res.status, 0) + 1
        if r > 0:  # round 0 warms up (first refusal measures each class once)
            times[u].append(took * 1000)
ref = statistics.median(times["unknown"])
print(f"status codes: {codes}")
print(f"{'user':<10} {'median ms':>10} {'min':>8} {'max':>8} {'ratio':>6}")
worst = 1.0
for u in users:
    m = statistics.median(times[u])
    ratio = m / ref
    if u != "unknown":
        worst = max(worst, ratio, 1 / ratio) if ratio > 0 else float("inf")
    flag = "" if 0.8 <= ratio <= 1.25 else "  OUT OF 0.8–1.25"
    print(f"{u:<10} {m:>10.1f} {min(times[u]):>8.1f} {max(times[u]):>8.1f} {ratio:>6.2f}{flag}")
print(f"worst ratio (or inverse) vs unknown: {worst:.2f}  (target ≤ 1.25)")
PY
