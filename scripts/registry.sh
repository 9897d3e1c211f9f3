#!/usr/bin/env bash
# A real image registry for the integration tests: Debian's docker-registry
# (distribution 2.8), run from a config of its own (filesystem storage in a
# folder of its own, loopback only, no auth). dockerd trusts a registry on
# 127.0.0.0/8 without TLS, so the test bed's engines push to and pull from
# it as they would from any registry.
#
#   scripts/registry.sh start     start it and wait until /v2/ answers; prints host:port
#   scripts/registry.sh stop      stop it and remove its data
#
# REGISTRY_DIR defaults to /tmp/swarmdeck-registry; REGISTRY_PORT to 25000
# (bed.sh gives slot S 25000+S). REGISTRY_DIR/env has SWARMDECK_REGISTRY
# (host:port) and SWARMDECK_REGISTRY_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pidfile.sh

REGISTRY_DIR=${REGISTRY_DIR:-/tmp/swarmdeck-registry}
PORT=${REGISTRY_PORT:-25000}
BIN=${REGISTRY_BIN:-/usr/bin/docker-registry}
die() { echo "registry: $*" >&2; exit 1; }

run_server() {
  [ -x "$BIN" ] || die "$BIN is missing: apt-get install docker-registry (scripts/testbed.sh install does)"
  mkdir -p "$REGISTRY_DIR/data"
  cat > "$REGISTRY_DIR/config.yml" <<CFG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
  secret: swarmdeck-test-registry
CFG
  # The registry reads REGISTRY_* variables as config: ours are not for it.
  env -u REGISTRY_DIR -u REGISTRY_PORT -u REGISTRY_BIN setsid "$BIN" serve "$REGISTRY_DIR/config.yml" >"$REGISTRY_DIR/registry.log" 2>&1 </dev/null &
  echo $! > "$REGISTRY_DIR/pid"
  for _ in $(seq 1 200); do
    kill -0 "$(cat "$REGISTRY_DIR/pid")" 2>/dev/null || break   # it exited: the port is taken, or the config is bad
    if curl -sf --max-time 2 "http://127.0.0.1:$PORT/v2/" >/dev/null 2>&1; then
      sleep 0.2
      kill -0 "$(cat "$REGISTRY_DIR/pid")" 2>/dev/null && return 0   # ours answers, not another on the port
      break
    fi
    sleep 0.1
  done
  tail -20 "$REGISTRY_DIR/registry.log" >&2
  die "no registry of ours answers on 127.0.0.1:$PORT (its log is above)"
}

case "${1:-}" in
  start)
    mkdir -p "$REGISTRY_DIR"
    run_server
    printf 'SWARMDECK_REGISTRY=127.0.0.1:%s\nSWARMDECK_REGISTRY_DIR=%s\n' "$PORT" "$REGISTRY_DIR" > "$REGISTRY_DIR/env"
    echo "127.0.0.1:$PORT" ;;
  stop) stop_pidfile "$REGISTRY_DIR/pid"; rm -rf "$REGISTRY_DIR" ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
