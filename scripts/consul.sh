#!/usr/bin/env bash
# A real Consul for the integration tests: v1.14.11 (the last MPL-2.0
# release that builds from the Go module proxy), built once from its Go
# module in scripts/consul/ and kept in a cache, run as a one-server
# cluster with a data folder (so a restart keeps its keys) on loopback
# ports of its own.
#
#   scripts/consul.sh build          build the agent if the cache lacks it (about 6 minutes the first time)
#   scripts/consul.sh start          start it and wait for a leader; prints host:port
#   scripts/consul.sh kill           stop it, keeping its data (Consul away)
#   scripts/consul.sh revive         start it again on the same ports and data
#   scripts/consul.sh stop           stop it and remove its data
#
# CONSUL_DIR defaults to /tmp/swarmdeck-consul; CONSUL_PORT (HTTP) to 28500.
# CONSUL_DIR/env has SWARMDECK_CONSUL (host:port) and SWARMDECK_CONSUL_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pidfile.sh

CONSUL_DIR=${CONSUL_DIR:-/tmp/swarmdeck-consul}
PORT=${CONSUL_PORT:-28500}
CACHE=${SWARMDECK_CACHE:-$HOME/.cache/swarmdeck}
BIN=$CACHE/consul-1.14.11/consul
die() { echo "consul: $*" >&2; exit 1; }

build() {
  [ -x "$BIN" ] && return 0
  echo "consul: building v1.14.11 from its Go module (cached in $BIN)" >&2
  mkdir -p "$(dirname "$BIN")"
  (cd scripts/consul && go build -o "$BIN" github.com/hashicorp/consul) || die "go build of github.com/hashicorp/consul v1.14.11 failed"
}

run_agent() {
  mkdir -p "$CONSUL_DIR/data"
  setsid "$BIN" agent -server -bootstrap-expect 1 -data-dir "$CONSUL_DIR/data" -node swarmdeck-test \
    -bind 127.0.0.1 -client 127.0.0.1 -http-port "$PORT" -server-port $((PORT + 1)) \
    -serf-lan-port $((PORT + 2)) -serf-wan-port $((PORT + 3)) -dns-port -1 -grpc-port -1 -grpc-tls-port -1 \
    -log-level warn >"$CONSUL_DIR/consul.log" 2>&1 </dev/null &
  echo $! > "$CONSUL_DIR/pid"
  for _ in $(seq 1 300); do
    leader=$(curl -sf "http://127.0.0.1:$PORT/v1/status/leader" 2>/dev/null || true)
    if [ -n "$leader" ] && [ "$leader" != '""' ]; then return 0; fi
    sleep 0.1
  done
  tail -20 "$CONSUL_DIR/consul.log" >&2
  die "the agent on 127.0.0.1:$PORT elected no leader within 30 s"
}

kill_agent() { stop_pidfile "$CONSUL_DIR/pid"; }

case "${1:-}" in
  build) build ;;
  start)
    build
    mkdir -p "$CONSUL_DIR"
    run_agent
    printf 'SWARMDECK_CONSUL=127.0.0.1:%s\nSWARMDECK_CONSUL_DIR=%s\n' "$PORT" "$CONSUL_DIR" > "$CONSUL_DIR/env"
    echo "127.0.0.1:$PORT" ;;
  kill) kill_agent ;;
  revive) run_agent ;;
  stop) kill_agent; rm -rf "$CONSUL_DIR" ;;
  *) sed -n '2,17p' "$0"; exit 2 ;;
esac
