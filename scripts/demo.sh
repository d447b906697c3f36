#!/usr/bin/env bash
# Starts the services of the chain on their embedded defaults (loopback) and prints their URLs;
# Ctrl-C stops them all. `make demo` builds the release binaries first.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=target/release
pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped"
}
trap stop INT TERM EXIT

start() {
  local name=$1
  "$bin/$name" &
  pids+=($!)
}

start central-api
start citizen-notify
start edge-agent

for url in http://127.0.0.1:8080 http://127.0.0.1:8090 http://127.0.0.1:9100; do
  for _ in $(seq 1 50); do
    curl -fsS "$url/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
done

cat <<MSG

  central-api     http://127.0.0.1:8080/healthz   (review UI arrives with central-api)
  citizen-notify  http://127.0.0.1:8090/healthz   (citizen portal arrives with citizen-notify)
  edge-agent      http://127.0.0.1:9100/metrics

  Ctrl-C stops everything.
MSG
wait
