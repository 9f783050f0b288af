#!/usr/bin/env bash
# Real users through a flood of guesses, against the release demo with a bcrypt-10 htpasswd
# file of USERS users, every client from its own loopback address (127.0.0.0/8):
#  1. a rush: USERS simultaneous first logins (targets: all 200, the slowest within 3 s);
#  2. a flood over 64 connections, a new unknown username and a new address for every guess,
#     with USERS real first logins spread through it (targets: >= 95 % 200, median <= 300 ms),
#     and one user who retries the right password through it and logs in afterwards;
#  3. refusal timing, unknown users against known users with wrong passwords, idle and under
#     the flood (target: median ratio within 0.8-1.25). Under the flood each probe starts at
#     its own random moment of its step (seeded): probes sent together in a fixed order would
#     measure their place in the line (the third of three waits for one of the two permits),
#     not whether the user exists. Then 3c: BURST concurrent wrong guesses for one known
#     username against as many for one unknown username, each from its own address (mean
#     ratio; a username's checks run at most max(1, cores / 2) at once, and so must look its
#     refusals).
# Bounded: FLOOD_SECONDS per phase (default 8), every request with a 10 s timeout.
# Usage: scripts/pool-fairness.sh  (env: USERS=40 FLOOD_SECONDS=8)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/demo.sh
USERS=${USERS:-40}
BURST=${BURST:-4}
FLOOD_SECONDS=${FLOOD_SECONDS:-8}
command -v htpasswd >/dev/null || { echo "needs htpasswd (apache2-utils)"; exit 1; }

echo "building the demo (release)"
cargo build --release --example demo --quiet

DIR=$(mktemp -d)
OUT="$DIR/out"
for i in $(seq 0 $((2 * USERS - 1))); do
  htpasswd -b -B -C 10 $([ "$i" = 0 ] && echo -c) "$DIR/htpasswd" "user$i" "pw$i" 2>/dev/null
done
PORT=0 target/release/examples/demo --htpasswd "$DIR/htpasswd" --port 0 >"$OUT" 2>/dev/null &
DEMO=$!
trap 'kill $DEMO 2>/dev/null || true; wait $DEMO 2>/dev/null || true; rm -rf "$DIR"' EXIT
BASE=$(demo_url "$OUT")
[ -n "$BASE" ] || { echo "the demo did not start"; exit 1; }
echo "demo at $BASE ($(nproc) cores), $((2 * USERS)) bcrypt-10 users"

python3 - "$BASE" "$USERS" "$FLOOD_SECONDS" "$BURST" <<'PY'
import asyncio, base64, random, statistics, sys, time
base, users, flood_s, burst = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
host, port = base.removeprefix("http://").split(":")
port = int(port)

def addr(n):
    n += 2
    return f"127.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"

async def get(source, user, pw):
    """One GET /basic from `source`: (status, seconds)."""
    start = time.monotonic()
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port, local_addr=(source, 0)), 10)
        creds = base64.b64encode(f"{user}:{pw}".encode()).decode()
        w.write(f"GET /basic HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {creds}\r\nConnection: close\r\n\r\n".encode())
        line = await asyncio.wait_for(r.readline(), 10)
        w.close()
        return int(line.split()[1]), time.monotonic() - start
    except Exception:
        return 0, time.monotonic() - start

def summary(name, results):
    codes = {}
    for s, _ in results:
        codes[s] = codes.get(s, 0) + 1
    times = sorted(t for _, t in results)
    print(f"{name}: {codes}, median {statistics.median(times)*1000:.0f} ms, slowest {times[-1]*1000:.0f} ms")

async def flood(stop, counter):
    n = counter[0]
    while time.monotonic() < stop:
        counter[0] += 1
        i = counter[0]
        await get(addr(100_000 + i), f"nobody{i}", "guess")

async def later(delay, coro):
    await asyncio.sleep(delay)
    return await coro

async def main():
    rng = random.Random(16)
    # 1. The rush.
    rush = await asyncio.gather(*(get(addr(1000 + i), f"user{i}", f"pw{i}") for i in range(users)))
    summary(f"1. {users} simultaneous first logins", rush)
    # Wrong passwords are never cached: each is a hash.
    idle_known = [await get(addr(2000 + i), f"user{i}", f"wrong{i}") for i in range(10)]
    idle_unknown = [await get(addr(3000 + i), f"ghost{i}", f"wrong{i}") for i in range(10)]
    ki, ui = statistics.median(t for _, t in idle_known), statistics.median(t for _, t in idle_unknown)
    print(f"3a. idle refusals: known {ki*1000:.0f} ms, unknown {ui*1000:.0f} ms, ratio {ui/ki:.2f}")
    # 2. The flood, with first logins of the file's other users spread through it.
    stop = time.monotonic() + flood_s
    counter = [0]
    floods = [asyncio.create_task(flood(stop, counter)) for _ in range(64)]
    await asyncio.sleep(1)
    real, known, unknown = [], [], []
    step = (flood_s - 2) / max(1, users)
    retry_user = 2 * users - 1
    for i in range(users):
        real.append(asyncio.create_task(get(addr(4000 + i), f"user{users + i}", f"pw{users + i}")))
        known.append(asyncio.create_task(later(rng.uniform(0, step), get(addr(5000 + i), f"user{i}", f"wrong-again{i}"))))
        unknown.append(asyncio.create_task(later(rng.uniform(0, step), get(addr(6000 + i), f"ghost-again{i}", "x"))))
        await asyncio.sleep(step)
    real = await asyncio.gather(*real)
    known = await asyncio.gather(*known)
    unknown = await asyncio.gather(*unknown)
    await asyncio.gather(*floods)
    summary(f"2. {users} logins during a 64-connection flood ({counter[0]} guesses, each a new username and address)", real)
    ok = sum(1 for s, _ in real if s == 200) / len(real) * 100
    print(f"   {ok:.0f} % 200")
    kl = statistics.median(t for s, t in known if s == 401)
    ul = statistics.median(t for s, t in unknown if s == 401)
    print(f"3b. refusals under the flood: known {kl*1000:.0f} ms, unknown {ul*1000:.0f} ms, ratio {ul/kl:.2f}")
    s, _ = await get(addr(7000), f"user{retry_user}", f"pw{retry_user}")
    print(f"   user{retry_user} after the flood: {s}")
    # 3c. Concurrent guesses for one username (idle again; under its failure limit).
    kb, ub = [], []
    for r in range(3):
        kb += await asyncio.gather(*(get(addr(8000 + 100 * r + i), f"user{users - 1 - r}", f"burst{i}") for i in range(burst)))
        ub += await asyncio.gather(*(get(addr(9000 + 100 * r + i), f"ghost-burst{r}", f"burst{i}") for i in range(burst)))
    km, um = statistics.mean(t for _, t in kb), statistics.mean(t for _, t in ub)
    print(f"3c. {burst} concurrent refusals of one username (3 rounds): known mean {km*1000:.0f} ms, unknown {um*1000:.0f} ms, ratio {um/km:.2f}")

asyncio.run(main())
PY
