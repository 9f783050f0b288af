# Sourced by the scripts that start the demo (bash).

# The demo's base URL once its output file `$1` says it listens, waiting at most `$2` tenths of
# a second (default 100); empty when it never did.
demo_url() {
  for _ in $(seq "${2:-100}"); do
    grep -q '^listening on ' "$1" && break
    sleep 0.1
  done
  sed -n 's/^listening on //p' "$1" | head -1
}
