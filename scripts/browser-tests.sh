#!/usr/bin/env bash
# Real browsers against the demo server (tests/browser/, docs/browsers.md): Debian's Chromium
# driven by playwright-core and Firefox ESR driven by puppeteer-core over WebDriver BiDi.
# Installs what is missing (Debian packages, then the npm packages of tests/browser's lock),
# builds the demo, runs `node --test`. Fails loudly when a browser cannot be had: no skip.
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM_BIN=${CHROMIUM_BIN:-/usr/bin/chromium}
FIREFOX_BIN=${FIREFOX_BIN:-/usr/bin/firefox-esr}

fail() {
  echo "browser-tests: FAILED: $*" >&2
  exit 1
}

# --- Debian packages: the browsers and a font to render the pages with --------------------
need_apt=()
[ -x "$CHROMIUM_BIN" ] || need_apt+=(chromium)
[ -x "$FIREFOX_BIN" ] || need_apt+=(firefox-esr)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "browser-tests: installing ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    "${need_apt[@]}" >/dev/null || fail "cannot install ${need_apt[*]}"
fi
[ -x "$CHROMIUM_BIN" ] || fail "no Chromium at $CHROMIUM_BIN (Debian package chromium)"
[ -x "$FIREFOX_BIN" ] || fail "no Firefox at $FIREFOX_BIN (Debian package firefox-esr)"
command -v node >/dev/null 2>&1 || fail "no node"
echo "browser-tests: $("$CHROMIUM_BIN" --version 2>/dev/null | head -1); $("$FIREFOX_BIN" --version 2>/dev/null | head -1); node $(node --version)"

# --- npm packages (drivers only: neither downloads a browser) ------------------------------
if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/puppeteer-core ]; then
  echo "browser-tests: npm ci in tests/browser"
  (cd tests/browser && timeout 600 npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed"
fi

# --- the demo, then the tests --------------------------------------------------------------
cargo build --example demo --all-features --quiet
cd tests/browser
export CHROMIUM_BIN FIREFOX_BIN
# Each file starts its own demo (on a free port) and browser; every step has its own timeout,
# and the whole run is bounded too.
timeout 600 node --test --test-concurrency=1 --test-timeout=240000 \
  chromium.test.mjs firefox.test.mjs || fail "browser tests failed (see above)"
echo "browser-tests: screenshots in target/browser-screenshots/"
