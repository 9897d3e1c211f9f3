#!/usr/bin/env bash
# The overlay test bed: real dockerd that are hosts of their own on the
# network too, so Docker's multi-host overlay driver (the talk's
# `docker network create -d overlay`) works between them. Each engine runs
# in its own network namespace with its own address, a veth pair to a
# bridge in the root namespace that this script creates, and its own UTS
# and mount namespaces (own hostname and engine ID). The engines share a
# cluster store (--cluster-store, --cluster-advertise), a real etcd of this
# bed's own.
#
#   scripts/overlay.sh start [N]    start the store and ov-1..ov-N (default 2); prints their addresses
#   scripts/overlay.sh stop         stop them all and leave nothing behind (netns, veth, bridge, mounts,
#                                   containerd, shims, cgroups, the store and its data)
#   scripts/overlay.sh kill I       kill -9 ov-I's dockerd (a dead host)
#   scripts/overlay.sh revive I     start ov-I again and wait for it
#
# TESTBED_SLOT (0-9, default 0) keeps beds of several slots apart: slot S
# uses the bridge sdS-ov with 198.18.S.1/24 (198.18.0.0/15 is the
# benchmarking range, no one's real network), namespaces sdS-nI, veth
# sdS-vI, engine ov-I at 198.18.S.(10+I):2375 (each engine has the port to
# itself in its namespace), cgroups swarmdeck-sS-ov-I, and the store on
# 127.0.0.1 and 198.18.S.1, ports 24379+10*S and the next one (peers).
# The engines run with --iptables=false --ip-masq=false, as the main bed's
# do: the overlay and the embedded DNS (container names) work without
# them (checked with and without; with, dockerd would only change its own
# namespace's tables). OVERLAY_DOCKERD_FLAGS are added to every dockerd's
# flags.
# OVERLAY_DIR (default /tmp/swarmdeck-overlay-sS) holds everything; DIR/env has
# SWARMDECK_OVERLAY_NODES (comma-separated host:port), SWARMDECK_OVERLAY_DIR
# and SWARMDECK_OVERLAY_STORE.
#
# Why etcd and not Consul: Debian's dockerd 20.10 is built without libkv's
# Consul store ("avoid dependencies on consul" in its changelog);
# `--cluster-store consul://…` makes it exit with "failed to start daemon:
# discovery initialization failed (discovery service not supported)". Its
# etcd (v2 API) and ZooKeeper stores are built in.
#
# Traffic stays on the bridge and namespaces this script makes: the
# namespaces have no default route, so no container reaches past them.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pidfile.sh

SLOT=${TESTBED_SLOT:-0}
case "$SLOT" in [0-9]) ;; *) echo "overlay: TESTBED_SLOT must be 0-9, not '$SLOT'" >&2; exit 2 ;; esac
DIR=${OVERLAY_DIR:-/tmp/swarmdeck-overlay-s$SLOT}
BR=sd$SLOT-ov
NET=198.18.$SLOT
STORE_PORT=$((24379 + 10 * SLOT))
ETCD_BIN=${ETCD_BIN:-/usr/bin/etcd}
die() { echo "overlay: $*" >&2; exit 1; }

ns() { echo "sd$SLOT-n$1"; }
veth() { echo "sd$SLOT-v$1"; }
addr() { echo "$NET.$((10 + $1))"; }
cgname() { echo "swarmdeck-s$SLOT-ov-$1"; }
zone() { local z=(a b c); echo "${z[$(( ($1 - 1) % 3 ))]}"; }

start_store() {
  [ -x "$ETCD_BIN" ] || die "$ETCD_BIN is missing: apt-get install etcd-server"
  mkdir -p "$DIR/store"
  # --enable-v2: dockerd's libkv speaks etcd's v2 API.
  setsid "$ETCD_BIN" --name swarmdeck-overlay --data-dir "$DIR/store/data" --enable-v2=true \
    --listen-client-urls "http://127.0.0.1:$STORE_PORT,http://$NET.1:$STORE_PORT" \
    --advertise-client-urls "http://$NET.1:$STORE_PORT" \
    --listen-peer-urls "http://127.0.0.1:$((STORE_PORT + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((STORE_PORT + 1))" \
    --initial-cluster "swarmdeck-overlay=http://127.0.0.1:$((STORE_PORT + 1))" \
    --log-level warn --logger zap >"$DIR/store/etcd.log" 2>&1 </dev/null &
  echo $! > "$DIR/store/pid"
  for _ in $(seq 1 300); do
    if curl -sf --max-time 2 "http://$NET.1:$STORE_PORT/v2/keys" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  tail -20 "$DIR/store/etcd.log" >&2
  die "the cluster store (etcd) on $NET.1:$STORE_PORT does not answer its v2 API within 30 s"
}

# net_up makes the bridge, and node I's namespace with its end of a veth pair.
net_up() {
  local i=$1
  if ! ip link show "$BR" >/dev/null 2>&1; then
    ip link add "$BR" type bridge || die "ip link add $BR type bridge failed"
    ip addr add "$NET.1/24" dev "$BR"
    ip link set "$BR" up
  fi
  ip netns list | grep -qw "$(ns "$i")" && return 0
  ip netns add "$(ns "$i")" || die "ip netns add $(ns "$i") failed"
  ip link add "$(veth "$i")" type veth peer name eth0 netns "$(ns "$i")" || die "ip link add $(veth "$i") type veth failed"
  ip link set "$(veth "$i")" master "$BR" up
  ip -n "$(ns "$i")" addr add "$(addr "$i")/24" dev eth0
  ip -n "$(ns "$i")" link set eth0 up
  ip -n "$(ns "$i")" link set lo up
}

start_node() {
  local i=$1
  local d="$DIR/ov-$i" a
  a=$(addr "$i")
  mkdir -p "$d/data" "$d/exec" "$d/etc"
  # nsenter, not `ip netns exec`: that one remounts /sys, and dockerd then
  # finds no cgroups ("Devices cgroup isn't mounted").
  setsid nsenter --net="/run/netns/$(ns "$i")" unshare --uts --mount sh -c "
    mount --make-rprivate /
    mount --bind '$d/etc' /etc/docker
    hostname ov-$i
    exec dockerd --data-root '$d/data' --exec-root '$d/exec' --pidfile '$d/pid' \
      -H 'unix://$d/docker.sock' -H 'tcp://$a:2375' \
      --cluster-store 'etcd://$NET.1:$STORE_PORT' --cluster-advertise '$a:2375' \
      --cgroup-parent '/$(cgname "$i")' --iptables=false --ip-masq=false \
      --label zone=$(zone "$i") --label testbed=swarmdeck-overlay ${OVERLAY_DOCKERD_FLAGS:-}
  " >"$d/dockerd.log" 2>&1 </dev/null &
  echo $! > "$d/launcher.pid"
}

wait_node() {
  local i=$1 a
  a=$(addr "$i")
  for _ in $(seq 1 300); do
    if curl -sf --max-time 2 "http://$a:2375/_ping" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "--- $DIR/ov-$i/dockerd.log" >&2; grep -v 'level=info' "$DIR/ov-$i/dockerd.log" | tail -20 >&2
  die "ov-$i ($a:2375) did not answer /_ping within 30 s"
}

import_image() {
  local i=$1 root="$DIR/rootfs" sock="unix://$DIR/ov-$i/docker.sock"
  if [ ! -d "$root" ]; then
    mkdir -p "$root/bin" "$root/tmp"
    cp "$(command -v busybox)" "$root/bin/busybox"
    for app in sh sleep ping nslookup ip hostname cat echo ls true; do ln -sf busybox "$root/bin/$app"; done
  fi
  if ! docker -H "$sock" image inspect busybox:latest >/dev/null 2>&1; then
    tar -C "$root" -c . | docker -H "$sock" import - busybox:latest >/dev/null
  fi
}

cmd_start() {
  local n=${1:-2}
  [ "$(id -u)" = 0 ] || die "the overlay bed needs root (dockerd, network namespaces, bridges)"
  scripts/testbed.sh install
  command -v nsenter >/dev/null || die "nsenter is missing (util-linux)"
  mkdir -p "$DIR"
  for i in $(seq 1 "$n"); do net_up "$i"; done
  start_store
  local addrs=()
  for i in $(seq 1 "$n"); do start_node "$i"; done
  for i in $(seq 1 "$n"); do wait_node "$i"; import_image "$i"; addrs+=("$(addr "$i"):2375"); done
  local IFS=,
  printf 'SWARMDECK_OVERLAY_NODES=%s\nSWARMDECK_OVERLAY_DIR=%s\nSWARMDECK_OVERLAY_STORE=%s\n' \
    "${addrs[*]}" "$DIR" "etcd://$NET.1:$STORE_PORT" > "$DIR/env"
  echo "${addrs[*]}"
}

# kill_leftovers ends what a dead dockerd left: containerd and the shims
# under its exec-root and the containers in its cgroup (by pid), then its
# mounts.
kill_leftovers() { engine_leftovers "$DIR/ov-$1" "$(cgname "$1")"; }

stop_node() {
  local i=$1
  if [ -d "$DIR/ov-$i" ]; then
    stop_engine "$DIR/ov-$i"
    kill_leftovers "$i"
  fi
  ip link del "$(veth "$i")" 2>/dev/null || true
  ip netns del "$(ns "$i")" 2>/dev/null || true
}

cmd_stop() {
  local i
  # every node this slot may have, started or half-started
  for i in $( (ls -d "$DIR"/ov-* 2>/dev/null | sed 's/.*-//'; ip netns list | sed -n "s/^sd$SLOT-n\([0-9]*\).*/\1/p") | sort -u); do
    stop_node "$i"
  done
  stop_pidfile "$DIR/store/pid"
  ip link del "$BR" 2>/dev/null || true
  rm -rf "$DIR"
}

running() { [ -n "$1" ] && [ -e "/proc/$1/stat" ] && ! awk '{exit ($3 == "Z") ? 0 : 1}' "/proc/$1/stat"; }

cmd_revive() {
  local i=${1:?usage: overlay.sh revive I}
  local d="$DIR/ov-$i" pid
  pid=$(cat "$d/pid" 2>/dev/null || true)
  if running "$pid"; then die "ov-$i is running (pid $pid): kill it first"; fi
  kill_leftovers "$i"
  rm -f "$d/pid"
  start_node "$i"
  wait_node "$i"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  kill) kill -KILL "$(cat "$DIR/ov-${2:?usage: overlay.sh kill I}/pid")" ;;
  revive) shift; cmd_revive "$@" ;;
  *) sed -n '2,25p' "$0"; exit 2 ;;
esac
