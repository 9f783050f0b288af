#!/usr/bin/env bash
# The throttle over Redis against guesses spread over instances and addresses, against the
# release demo (its defaults: 10 failures per username, 100 per address, per 15 minutes),
# every client from its own loopback address (127.0.0.0/8):
#  1. two instances over one Redis: 1 000 concurrent wrong Digest guesses for susan
#     (/digest-sha256, 50 addresses) -> how many were checked (target: at most 12);
#  2. Redis stopped: 300 concurrent wrong Basic guesses for john on one instance (30
#     addresses) -> how many were checked (target: at most 10);
#  3. a Redis capped at 8 MB with noeviction, two instances, address limits off: 72 000
#     failures for unknown usernames, then correct Digest logins on both instances (target:
#     200) and Redis's used_memory before and after.
# Bounded: every request has a 10 s timeout; the spray is 72 000 requests at 128 at a time.
# Usage: scripts/redis-throttle.sh  (env: SPRAY=72000)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/demo.sh
SPRAY=${SPRAY:-72000}
command -v redis-server >/dev/null || { echo "needs redis-server (scripts/test.sh installs it)"; exit 1; }

echo "building the demo (release, feature redis)"
cargo build --release --example demo --features redis --quiet

DIR=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/secret"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_redis() { # port, extra args...
  local port=$1; shift
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no "$@" >/dev/null &
  PIDS+=($!)
  for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "redis-server did not start"; exit 1
}

start_demo() { # name, args...
  local name=$1; shift
  target/release/examples/demo --port 0 --secret-file "$DIR/secret" "$@" >"$DIR/$name.out" 2>/dev/null &
  PIDS+=($!)
  demo_url "$DIR/$name.out"
}

run() { # phase, bases...
  python3 - "$@" <<'PY'
import asyncio, base64, hashlib, os, sys, time
phase, bases = sys.argv[1], sys.argv[2:]
spray_n = int(os.environ.get("SPRAY", "72000"))

def addr(n):
    n += 2
    return f"127.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"

async def get(base, path, source, auth=None):
    """One GET: (status, WWW-Authenticate value or '')."""
    host, port = base.removeprefix("http://").split(":")
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, int(port), local_addr=(source, 0)), 10)
        head = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        if auth:
            head += f"Authorization: {auth}\r\n"
        w.write((head + "\r\n").encode())
        status, challenge = 0, ""
        line = await asyncio.wait_for(r.readline(), 10)
        status = int(line.split()[1])
        while True:
            line = await asyncio.wait_for(r.readline(), 10)
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"www-authenticate:") and not challenge:
                challenge = line.split(b":", 1)[1].strip().decode()
        w.close()
        return status, challenge
    except Exception:
        return 0, ""

def params(challenge):
    out = {}
    for part in challenge.split(" ", 1)[1].split(","):
        if "=" in part:
            k, v = part.strip().split("=", 1)
            out[k] = v.strip('"')
    return out

def digest(user, password, path, ch, nc, algorithm="SHA-256"):
    h = (lambda s: hashlib.sha256(s.encode()).hexdigest()) if algorithm == "SHA-256" else (lambda s: hashlib.md5(s.encode()).hexdigest())
    cnonce = os.urandom(8).hex()
    ha1 = h(f"{user}:{ch['realm']}:{password}")
    ha2 = h(f"GET:{path}")
    response = h(f"{ha1}:{ch['nonce']}:{nc}:{cnonce}:auth:{ha2}")
    return (f'Digest username="{user}", realm="{ch["realm"]}", nonce="{ch["nonce"]}", uri="{path}", '
            f'algorithm={algorithm}, qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}", opaque="{ch["opaque"]}"')

def tally(results):
    out = {}
    for s, ch in results:
        k = "401 stale" if s == 401 and "stale=true" in ch else str(s)
        out[k] = out.get(k, 0) + 1
    return out

async def login(base, user, password, path, algorithm):
    """A Digest login with a fresh nonce; stale nonces (issued within a second of Redis's
    data start) retried."""
    for _ in range(50):
        _, ch = await get(base, path, addr(60000))
        s, c = await get(base, path, addr(60000), digest(user, password, path, params(ch), "00000001", algorithm))
        if not (s == 401 and "stale=true" in c):
            return s
        await asyncio.sleep(0.1)
    return s

async def burst():
    path = "/digest-sha256"
    nonces = []
    for a in range(50):
        _, ch = await get(bases[a % 2], path, addr(1000 + a))
        nonces.append(params(ch))
    tasks = []
    for i in range(1000):
        a = i % 50
        nc = f"{i // 50 + 1:08x}"
        tasks.append(get(bases[(i // 50) % 2], path, addr(1000 + a), digest("susan", "wrong", path, nonces[a], nc)))
    seen = tally(await asyncio.gather(*tasks))
    print(f"1. 1 000 concurrent wrong Digest guesses for susan over two instances: {seen}")
    print(f"   checked (401 not stale): {seen.get('401', 0)} (target: at most 12)")
    for b in bases:
        print(f"   susan's right password on {b}: {await login(b, 'susan', 'bye', path, 'SHA-256')}; john's: {await login(b, 'john', 'hello', path, 'SHA-256')}")

async def stopped():
    tasks = [get(bases[0], "/basic", addr(2000 + i % 30),
                 "Basic " + base64.b64encode(f"john:guess{i}".encode()).decode()) for i in range(300)]
    start = time.monotonic()
    seen = tally(await asyncio.gather(*tasks))
    print(f"2. Redis stopped: 300 concurrent wrong Basic guesses for john on one instance: {seen} in {time.monotonic() - start:.1f} s")
    print(f"   checked (401): {seen.get('401', 0)} (target: at most 10)")

async def spray():
    path = "/digest"
    counter = [0]
    seen = {}
    async def worker(w):
        _, ch = await get(bases[w % 2], path, addr(3000 + w))
        ch = params(ch)
        nc = 0
        while counter[0] < spray_n:
            counter[0] += 1
            i = counter[0]
            nc += 1
            s, c = await get(bases[w % 2], path, addr(3000 + w), digest(f"nobody{i}", "x", path, ch, f"{nc:08x}", "MD5"))
            k = "401 stale" if s == 401 and "stale=true" in c else str(s)
            seen[k] = seen.get(k, 0) + 1
    start = time.monotonic()
    await asyncio.gather(*(worker(w) for w in range(128)))
    print(f"3. {counter[0]} failures for unknown usernames over two instances in {time.monotonic() - start:.0f} s: {seen}")
    for b in bases:
        print(f"   john's correct Digest login on {b}: {await login(b, 'john', 'hello', path, 'MD5')} (target: 200)")

asyncio.run({"burst": burst, "stopped": stopped, "spray": spray}[phase]())
PY
}

# 1.
PORT=$(free_port); start_redis "$PORT"; REDIS1=${PIDS[-1]}
A=$(start_demo a --redis "redis://127.0.0.1:$PORT/"); B=$(start_demo b --redis "redis://127.0.0.1:$PORT/")
echo "two demos at $A and $B over redis :$PORT ($(nproc) cores)"
run burst "$A" "$B"
# 2.
kill "$REDIS1"; wait "$REDIS1" 2>/dev/null || true
run stopped "$A"
# 3.
PORT=$(free_port); start_redis "$PORT" --maxmemory 8mb --maxmemory-policy noeviction
A=$(start_demo c --redis "redis://127.0.0.1:$PORT/" --max-failures-per-addr 0)
B=$(start_demo d --redis "redis://127.0.0.1:$PORT/" --max-failures-per-addr 0)
echo "   Redis capped at 8 MB: used_memory before $(redis-cli -p "$PORT" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p') bytes"
SPRAY=$SPRAY run spray "$A" "$B"
echo "   used_memory after $(redis-cli -p "$PORT" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p') bytes, keys: $(redis-cli -p "$PORT" dbsize)"
