#!/usr/bin/env bash
# The declared MSRV is true: no dependency that any feature set pulls in declares a higher
# `rust-version` than the crate's own (Cargo.toml). Reads the resolved graphs from
# `cargo metadata` (the locked versions), one per feature set: all features, the defaults,
# none, and each feature alone; dev-dependencies are left out (users never build them),
# build-dependencies and every target platform's dependencies are counted.
# Prints each feature set's minimum; exits 1 when one is above the declared `rust-version`.
set -euo pipefail
cd "$(dirname "$0")/.."

features=$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json,sys; p=[p for p in json.load(sys.stdin)["packages"] if p["name"]=="httpauth"][0]; print(" ".join(sorted(f for f in p["features"] if f != "default")))')

sets=("--all-features" "" "--no-default-features")
for f in $features; do sets+=("--no-default-features --features $f"); done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
i=0
for set in "${sets[@]}"; do
  # shellcheck disable=SC2086  # the set is several words on purpose
  cargo metadata --format-version 1 --locked $set >"$tmp/$i.json"
  echo "${set:-(default features)}" >"$tmp/$i.name"
  i=$((i + 1))
done

python3 - "$tmp" "$i" <<'PY'
import json, sys

tmp, count = sys.argv[1], int(sys.argv[2])

def version(v):
    parts = [int(x) for x in (v or "0").split(".")]
    return tuple(parts + [0] * (3 - len(parts)))

def show(v):
    return ".".join(str(x) for x in v[:2]) + (f".{v[2]}" if v[2] else "")

failed = False
for i in range(count):
    name = open(f"{tmp}/{i}.name").read().strip()
    meta = json.load(open(f"{tmp}/{i}.json"))
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = meta["resolve"]["root"]
    declared = version(packages[root].get("rust_version"))
    if declared == (0, 0, 0):
        print("Cargo.toml declares no rust-version"); sys.exit(1)
    # Walk the graph from the crate, leaving out its dev-dependencies (the resolve holds no
    # dev-dependencies of other packages).
    seen, stack = set(), [root]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for dep in nodes[node]["deps"]:
            kinds = [k["kind"] for k in dep["dep_kinds"]]
            if node == root and all(k == "dev" for k in kinds):
                continue
            stack.append(dep["pkg"])
    seen.discard(root)
    needs = sorted(((version(packages[p].get("rust_version")), packages[p]["name"], packages[p]["version"]) for p in seen), reverse=True)
    top = needs[0][0] if needs else (0, 0, 0)
    over = [n for n in needs if n[0] > declared]
    what = ", ".join(f"{n} {v}" for rv, n, v in needs if rv == top)
    print(f"{name:<45} needs Rust {show(top):<6} ({what})")
    if over:
        failed = True
        for rv, n, v in over:
            print(f"    {n} {v} declares rust-version {show(rv)} > the crate's {show(declared)}")
if failed:
    print("FAIL: raise rust-version in Cargo.toml (or pin the dependencies lower)")
    sys.exit(1)
print(f"ok: every feature set builds with the declared rust-version {show(declared)}")
PY
