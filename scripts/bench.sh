#!/usr/bin/env bash
# `make bench`: the criterion benches and every harness, one after the other (run it on an
# otherwise idle machine). Each harness prints its figures as markdown table rows (`| …`); they
# are gathered with the machine's description into benches/results/DATE-HOST.md. A harness
# fails the run only on an error, never on a figure.
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p benches/results
out="benches/results/$(date -u +%Y-%m-%d)-$(hostname -s).md"
rows="$(mktemp)"
trap 'rm -f "$rows"' EXIT

# Shows what comes in on standard error and keeps the table rows.
keep_rows() {
  while IFS= read -r line; do
    printf '%s\n' "$line" >&2
    case "$line" in '| '*) printf '%s\n' "$line" >> "$rows" ;; esac
  done
}

# Runs a harness, showing its output and keeping its table rows.
harness() {
  echo "== $*" >&2
  "$@" | keep_rows
}

# Criterion's medians as rows: `name  time: [low median high]`, the name alone on the line
# before when it is long.
criterion_rows() {
  awk '
    /time:/ {
      line = $0
      name = ($1 == "time:") ? last : $1
      sub(/.*time: *\[/, "", line); sub(/\].*/, "", line)
      split(line, t, " ")
      printf "| criterion `%s` | %s %s | | median |\n", name, t[3], t[4]
      next
    }
    NF == 1 { last = $1 }
  '
}

echo "== criterion" >&2
cargo bench -q -p benches 2>/dev/null | criterion_rows | keep_rows

release=target/release
harness "$release/versus" 20
harness "$release/pipeline" 20 3
harness "$release/streams" 12 40
harness "$release/plates" 600
# Central ingest through a Mosquitto set up as deploy/mosquitto-central.conf says, then the
# machine's stock one for comparison.
for rate in 400 1000 2500 5000 10000; do
  harness "$release/ingest-load" $((rate * 10)) 8 postgres "$rate"
done
harness "$release/ingest-load" 50000 64 postgres 5000
harness "$release/ingest-load" 50000 64 postgres 0
harness "$release/ingest-load" 25000 8 sqlite 2500
harness "$release/ingest-load" 8000 8 postgres 800 stock
harness "$release/review-load" 15
harness "$release/review-load" 15 20000

{
  echo "# Benchmarks, $(date -u '+%Y-%m-%d %H:%M') UTC"
  echo
  echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, \
$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo) GiB; \
$(. /etc/os-release && echo "$PRETTY_NAME"); $(rustc --version | cut -d' ' -f1-2); \
ONNX Runtime ${ORT_VERSION:-?}"
  echo
  echo "| figure | value | goal | ratio / note |"
  echo "|---|---|---|---|"
  cat "$rows"
} > "$out"
echo "figures in $out" >&2
