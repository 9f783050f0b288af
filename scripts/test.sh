#!/usr/bin/env bash
# The whole test suite: formatting, lints, docs, unit + integration tests (real HTTP against
# the demo, curl, Python clients, Apache's htpasswd), doctests. Installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

# --- system tools the tests drive -------------------------------------------------------
need_apt=()
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v htpasswd >/dev/null 2>&1 || need_apt+=(apache2-utils)
# The two-instance tests (tests/it/redis_two_instances.rs) start a real redis-server.
[ -x /usr/bin/redis-server ] || need_apt+=(redis-server)
# ... over TLS with a CA the test makes (openssl) and on a cluster made by redis-cli.
command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
# The documented fail2ban filters are run by fail2ban's own fail2ban-regex
# (tests/it/audit_events.rs).
command -v fail2ban-regex >/dev/null 2>&1 || need_apt+=(fail2ban)
# The Redis clock test (tests/it/redis_clocks.rs) runs the demo under libfaketime.
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || need_apt+=(faketime)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# Python clients used as real Digest/Basic clients, werkzeug to make Flask-style hashes, and
# grpcio (+ the health service's stubs) as the real gRPC client of examples/grpc.
if ! python3 -c 'import requests, httpx, werkzeug, grpc, grpc_health.v1' >/dev/null 2>&1; then
  echo "installing python packages: requests httpx werkzeug grpcio grpcio-health-checking"
  python3 -m pip install -q --disable-pip-version-check requests httpx werkzeug grpcio grpcio-health-checking
fi

# Cargo tools the checks below run (built from crates.io when missing; cargo-fuzz is
# installed by scripts/fuzz.sh).
for tool in cargo-hack cargo-deny; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "installing $tool"
    cargo install --locked --quiet "$tool"
  fi
done

export CARGO_TERM_COLOR=never
cargo fmt --all -- --check
# The workspace: the library and the example crates (examples/users-db, grpc, hyper,
# htpasswd, actix-jwt), whose heavy dependencies (sqlx, tonic, jsonwebtoken) stay out of the
# library's.
cargo clippy --workspace --all-targets --all-features -- -D warnings

# --- every feature set ------------------------------------------------------------------
# The library with no features, each feature alone, the defaults and all of them (what an
# application with `default-features = false` builds) lints clean. Without the
# dev-dependencies, so their features cannot hide a feature this crate forgot to enable.
cargo hack clippy --each-feature --no-dev-deps --lib --quiet -- -D warnings

# --- MSRV -------------------------------------------------------------------------------
# No dependency of any feature set needs a newer Rust than Cargo.toml's rust-version.
./scripts/msrv.sh

# --- dependencies: licenses, duplicate versions, sources (deny.toml) --------------------
# Offline: the advisories check needs the RustSec database from the network.
cargo deny --offline check licenses bans sources

# --- the published package --------------------------------------------------------------
# What `cargo publish` would upload (Cargo.toml's `include`) builds on its own. A working
# tree with uncommitted changes is packaged as it is (--allow-dirty), and says so.
dirty=()
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then
  echo "package: uncommitted changes, packaging the working tree as it is"
  dirty=(--allow-dirty)
fi
cargo package "${dirty[@]}" 2>&1 | grep -Ev '^ *(Compiling|Checking|Updating|Locking|Adding|Downloaded|Downloading)'
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features --quiet
# The black-box tests run the demo and the small examples' binaries themselves (the example
# crates' tests start their own binaries).
cargo build --examples --all-features --quiet
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-features --no-fail-fast
else
  cargo test --workspace --all-features --no-fail-fast --tests --lib --examples
fi
cargo test --doc --all-features
./scripts/browser-tests.sh

# --- fuzzing ----------------------------------------------------------------------------
# Each cargo-fuzz target for FUZZ_SECONDS (20 s) from the seed corpus; skipped without nightly.
./scripts/fuzz.sh
