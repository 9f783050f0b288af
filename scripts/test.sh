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
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# Python clients used as real Digest/Basic clients, and werkzeug to make Flask-style hashes.
if ! python3 -c 'import requests, httpx, werkzeug' >/dev/null 2>&1; then
  echo "installing python packages: requests httpx werkzeug"
  python3 -m pip install -q --disable-pip-version-check requests httpx werkzeug
fi

export CARGO_TERM_COLOR=never
cargo fmt --all -- --check
cargo clippy --all-targets --all-features -- -D warnings
# The library alone under smaller feature sets (what an application with
# `default-features = false` builds) has no warnings either.
for features in "" password actix; do
  cargo clippy --lib --no-default-features ${features:+--features "$features"} --quiet -- -D warnings
done
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features --quiet
# The black-box tests run the demo binary itself.
cargo build --examples --all-features --quiet
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --all-features --no-fail-fast
else
  cargo test --all-features --no-fail-fast --tests --lib --examples
fi
cargo test --doc --all-features
./scripts/browser-tests.sh
