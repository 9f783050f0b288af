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

export CARGO_TERM_COLOR=never
cargo fmt --all -- --check
# The workspace: the library and the example crates (examples/grpc, hyper, htpasswd,
# actix-jwt), whose heavy dependencies (tonic, jsonwebtoken) stay out of the library's.
cargo clippy --workspace --all-targets --all-features -- -D warnings
# The library alone under smaller feature sets (what an application with
# `default-features = false` builds) has no warnings either.
for features in "" password actix; do
  cargo clippy --lib --no-default-features ${features:+--features "$features"} --quiet -- -D warnings
done
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
