#!/usr/bin/env bash
# A developer's test bed in a slot of its own, so several can run side by
# side on one machine: 3 real dockerd (scripts/testbed.sh), a real Consul
# (scripts/consul.sh), etcd (scripts/etcd.sh), ZooKeeper (scripts/zk.sh) and an
# image registry (scripts/registry.sh) on ports of the slot's.
#
#   TESTBED_SLOT=S scripts/bed.sh up [N] [overlay]
#                                          start N engines (default 3), Consul, etcd, ZooKeeper and a registry; writes
#                                          /tmp/swarmdeck-bed-S.env; with "overlay", also 2 engines in network namespaces
#                                          of their own that share a cluster store (scripts/overlay.sh: Docker's overlay
#                                          networks span them)
#   TESTBED_SLOT=S scripts/bed.sh down     stop them and leave nothing behind
#
# Then:  set -a; . /tmp/swarmdeck-bed-S.env; set +a; go test -race ./backend -run TestX
set -euo pipefail
cd "$(dirname "$0")/.."
SLOT=${TESTBED_SLOT:-1}
export TESTBED_SLOT=$SLOT
export DIR=/tmp/swarmdeck-testbed-s$SLOT
export CONSUL_DIR=/tmp/swarmdeck-consul-s$SLOT
export CONSUL_PORT=$((28500 + 10 * SLOT))
export ETCD_DIR=/tmp/swarmdeck-etcd-s$SLOT ETCD_PORT=$((2379 + 100 * SLOT))
export ZK_DIR=/tmp/swarmdeck-zk-s$SLOT ZK_PORT=$((2181 + 100 * SLOT))
export REGISTRY_DIR=/tmp/swarmdeck-registry-s$SLOT REGISTRY_PORT=$((25000 + SLOT))
ENV=/tmp/swarmdeck-bed-$SLOT.env
case "${1:-}" in
  up)
    n=3 overlay=
    for a in "${@:2}"; do case "$a" in overlay) overlay=1 ;; *) n=$a ;; esac; done
    # another bed (or a build in the background) may be building Consul: wait for it
    while pgrep -f "go build -o .*consul-1.14.11/consul" >/dev/null; do sleep 5; done
    flock /tmp/swarmdeck-consul-build.lock scripts/consul.sh build
    scripts/testbed.sh stop >/dev/null 2>&1 || true
    scripts/consul.sh stop >/dev/null 2>&1 || true
    scripts/testbed.sh start "$n" >/dev/null
    scripts/consul.sh start >/dev/null
    scripts/etcd.sh stop >/dev/null 2>&1 || true
    scripts/zk.sh stop >/dev/null 2>&1 || true
    scripts/etcd.sh start >/dev/null
    scripts/zk.sh start >/dev/null
    scripts/registry.sh stop >/dev/null 2>&1 || true
    scripts/registry.sh start >/dev/null
    { cat "$DIR/env" "$CONSUL_DIR/env" "$ETCD_DIR/env" "$ZK_DIR/env" "$REGISTRY_DIR/env"; echo "CONSUL_DIR=$CONSUL_DIR"; echo "CONSUL_PORT=$CONSUL_PORT"
      echo "ETCD_PORT=$ETCD_PORT"; echo "ZK_PORT=$ZK_PORT"; echo "SWARMDECK_REQUIRE_INTEGRATION=1"; } > "$ENV"
    scripts/overlay.sh stop >/dev/null 2>&1 || true
    if [ -n "$overlay" ]; then
      scripts/overlay.sh start 2 >/dev/null
      cat "/tmp/swarmdeck-overlay-s$SLOT/env" >> "$ENV"
    fi
    cat "$ENV" ;;
  down)
    scripts/overlay.sh stop || true
    scripts/testbed.sh stop || true
    scripts/consul.sh stop || true
    scripts/etcd.sh stop || true
    scripts/zk.sh stop || true
    scripts/registry.sh stop || true
    rm -f "$ENV" ;;
  *) sed -n '2,15p' "$0"; exit 2 ;;
esac
