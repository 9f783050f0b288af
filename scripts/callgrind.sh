#!/usr/bin/env bash
# Instructions per request for every case of benches/layer.rs (httpauth on axum and actix-web
# beside tower-http and actix-web-httpauth), counted by valgrind's callgrind: deterministic, so
# unlike the nanoseconds it does not depend on what else the machine is doing.
#
#   scripts/callgrind.sh                  # all cases, N=2000
#   N=5000 CASES="axum/no-auth axum/httpauth-basic" scripts/callgrind.sh
#
# Each case runs twice, for N and 2N requests; (I(2N) - I(N)) / N is the cost of one request,
# with the setup (runtime, router, argon2 hashing, the checked warm-up requests) cancelled out.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null 2>&1; then
  echo "callgrind.sh: valgrind is not installed (apt-get install valgrind): no instruction counts." >&2
  exit 0
fi

N=${N:-2000}
echo "building benches/layer.rs (release)..." >&2
bin=$(cargo bench --bench layer --features actix --no-run --message-format=json 2>/dev/null |
  grep '"kind":\["bench"\]' | grep '"name":"layer"' |
  grep -o '"executable":"[^"]*"' | tail -n 1 | cut -d'"' -f4)
if [[ -z "$bin" || ! -x "$bin" ]]; then
  echo "callgrind.sh: could not build the layer bench (cargo bench --bench layer --features actix --no-run)" >&2
  exit 1
fi
cases=${CASES:-$(HTTPAUTH_BENCH_CALLGRIND=list "$bin")}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Instructions executed by one run of a case with $2 requests (all threads).
count() {
  HTTPAUTH_BENCH_CALLGRIND="$1" HTTPAUTH_BENCH_N="$2" \
    valgrind --tool=callgrind --callgrind-out-file="$tmp/callgrind.out" "$bin" \
    2>"$tmp/stderr" >/dev/null || { cat "$tmp/stderr" >&2; exit 1; }
  sed -n 's/^==[0-9]*== Collected : \([0-9]*\)$/\1/p' "$tmp/stderr" | tail -n 1
}

declare -A per
for c in $cases; do
  i1=$(count "$c" "$N")
  i2=$(count "$c" $((2 * N)))
  per[$c]=$(( (i2 - i1) / N ))
  echo "  $c: $i1 instructions for $N requests, $i2 for $((2 * N)): ${per[$c]} per request" >&2
done

echo
echo "Instructions per request under callgrind ((I(2N) - I(N)) / N, N=$N), valgrind $(valgrind --version | sed 's/valgrind-//')"
printf '%-38s %14s %14s %7s\n' case instr/request "+ vs no-auth" ratio
for c in $cases; do
  base="${c%%/*}/no-auth"
  if [[ -n "${per[$base]:-}" && "$c" != "$base" ]]; then
    printf '%-38s %14s %+14d %6.2fx\n' "$c" "${per[$c]}" $((per[$c] - per[$base])) \
      "$(awk -v a="${per[$c]}" -v b="${per[$base]}" 'BEGIN { printf "%.2f", a / b }')"
  else
    printf '%-38s %14s %14s %7s\n' "$c" "${per[$c]}" "–" ""
  fi
done
