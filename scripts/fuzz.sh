#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time (FUZZ_SECONDS each, default 20),
# starting from the committed seed corpus (fuzz/seeds/<target>/, from the hostile-input
# catalogues; `fuzz/seeds.py` rewrites it). New inputs go to fuzz/corpus/<target>/ (not
# committed); a crash leaves its input in fuzz/artifacts/<target>/ and fails the script.
# Needs a nightly toolchain (libFuzzer's sanitizer flags): without one it says so and skips.
# Installs cargo-fuzz when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-20}
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "fuzz: SKIPPED, no nightly toolchain (rustup toolchain install nightly to run it)"
  exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install --locked --quiet cargo-fuzz
fi

cd fuzz
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Debug assertions on: an arithmetic overflow is a crash too.
cargo +nightly fuzz build --debug-assertions
for target in $(cargo +nightly fuzz list); do
  mkdir -p "corpus/$target"
  # libFuzzer writes new inputs to the first directory and only reads the others.
  if ! cargo +nightly fuzz run --debug-assertions "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $target FAILED (the input is in fuzz/artifacts/$target/)"
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "fuzz: $target ok, ${runs:-?} inputs in ${seconds}s"
done
