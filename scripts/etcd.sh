#!/usr/bin/env bash
# A real etcd for the integration tests: Debian's etcd-server (3.4), run
# as a one-member cluster with a data folder (so a restart keeps its keys
# and leases) on loopback ports of its own.
#
#   scripts/etcd.sh start     start it and wait until it answers; prints host:port
#   scripts/etcd.sh kill      stop it, keeping its data (etcd away)
#   scripts/etcd.sh revive    start it again on the same ports and data
#   scripts/etcd.sh stop      stop it and remove its data
#
# ETCD_DIR defaults to /tmp/swarmdeck-etcd; ETCD_PORT (client) to 23379 (not etcd's 2379, which a
# system etcd may hold), the
# peer port is ETCD_PORT+1. ETCD_DIR/env has SWARMDECK_ETCD and SWARMDECK_ETCD_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pidfile.sh

ETCD_DIR=${ETCD_DIR:-/tmp/swarmdeck-etcd}
PORT=${ETCD_PORT:-23379}
BIN=${ETCD_BIN:-/usr/bin/etcd}
die() { echo "etcd: $*" >&2; exit 1; }

run_server() {
  [ -x "$BIN" ] || die "$BIN is missing: apt-get install etcd-server"
  mkdir -p "$ETCD_DIR/data"
  setsid "$BIN" --name swarmdeck-test --data-dir "$ETCD_DIR/data" \
    --listen-client-urls "http://127.0.0.1:$PORT" --advertise-client-urls "http://127.0.0.1:$PORT" \
    --listen-peer-urls "http://127.0.0.1:$((PORT + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((PORT + 1))" \
    --initial-cluster "swarmdeck-test=http://127.0.0.1:$((PORT + 1))" \
    --log-level warn --logger zap >"$ETCD_DIR/etcd.log" 2>&1 </dev/null &
  echo $! > "$ETCD_DIR/pid"
  for _ in $(seq 1 300); do
    if curl -sf --max-time 2 "http://127.0.0.1:$PORT/health" 2>/dev/null | grep -q '"health":"true"'; then return 0; fi
    sleep 0.1
  done
  tail -20 "$ETCD_DIR/etcd.log" >&2
  die "the server on 127.0.0.1:$PORT is not healthy within 30 s"
}

kill_server() { stop_pidfile "$ETCD_DIR/pid"; }

case "${1:-}" in
  start)
    mkdir -p "$ETCD_DIR"
    run_server
    printf 'SWARMDECK_ETCD=127.0.0.1:%s\nSWARMDECK_ETCD_DIR=%s\n' "$PORT" "$ETCD_DIR" > "$ETCD_DIR/env"
    echo "127.0.0.1:$PORT" ;;
  kill) kill_server ;;
  revive) run_server ;;
  stop) kill_server; rm -rf "$ETCD_DIR" ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
