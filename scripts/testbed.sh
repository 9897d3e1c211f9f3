#!/usr/bin/env bash
# The test bed: several real dockerd side by side on this machine, each its
# own host (own hostname and engine ID through its own UTS and mount
# namespaces), with engine labels, a loopback TCP port, its own bridge for
# published ports, and a busybox image imported (no registry is reachable).
#
#   scripts/testbed.sh install          apt-get docker.io, busybox-static, curl, tmux, etcd-server, zookeeper, docker-registry if missing
#   scripts/testbed.sh start N [DIR]    start node-1..node-N; prints their addresses
#   scripts/testbed.sh stop [DIR]       stop them all and leave nothing behind
#   scripts/testbed.sh kill I [DIR]     kill -9 node-I's dockerd (a dead host)
#   scripts/testbed.sh revive I [DIR]   start node-I again and wait for it
#   scripts/testbed.sh start-tls I CERTS start node-I with TLS only on its TCP port
#                                       (--tlsverify; CERTS has ca.pem, server-cert.pem,
#                                       server-key.pem, cert.pem and key.pem)
#   scripts/testbed.sh stop-node I      stop node-I alone
#   scripts/testbed.sh start-node I     start node-I alone (a bed grown by one) and wait for it
#
# DIR defaults to /tmp/swarmdeck-testbed. Node I listens on
# 127.0.0.1:$((BASEPORT+I)) (BASEPORT defaults to 23750) and on
# unix://DIR/node-I/docker.sock. DIR/env has SWARMDECK_TESTBED_NODES
# (comma-separated host:port) and SWARMDECK_TESTBED_DIR.
# Labels: zone = a, b, c, a, …; disk = ssd on odd nodes, hdd on even ones.
set -euo pipefail
. "$(dirname "$0")/pidfile.sh"

# TESTBED_SLOT (0-9, default 0) lets several test beds run side by side:
# slot S uses ports 23750+20*S+I, bridges sdS-brI (sdbrI for slot 0),
# subnets 172.31.(100+10*S+I).0/24 and cgroups swarmdeck-sS-node-I.
SLOT=${TESTBED_SLOT:-0}
case "$SLOT" in [0-9]) ;; *) echo "testbed: TESTBED_SLOT must be 0-9, not '$SLOT'" >&2; exit 2 ;; esac
if [ "$SLOT" = 0 ]; then DEFAULT_DIR=/tmp/swarmdeck-testbed; else DEFAULT_DIR=/tmp/swarmdeck-testbed-s$SLOT; fi
DIR=${DIR:-$DEFAULT_DIR}
BASEPORT=${BASEPORT:-$((23750 + 20 * SLOT))}
bridge() { if [ "$SLOT" = 0 ]; then echo "sdbr$1"; else echo "sd$SLOT-br$1"; fi; }
cgname() { if [ "$SLOT" = 0 ]; then echo "swarmdeck-node-$1"; else echo "swarmdeck-s$SLOT-node-$1"; fi; }
die() { echo "testbed: $*" >&2; exit 1; }

install() {
  local need=()
  command -v dockerd >/dev/null || need+=(docker.io)
  [ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || need+=(busybox-static)
  command -v ip >/dev/null || need+=(iproute2)
  command -v unshare >/dev/null || need+=(util-linux)
  command -v curl >/dev/null || need+=(curl)
  command -v tmux >/dev/null || need+=(tmux)   # the console's end-to-end test
  [ -x /usr/bin/etcd ] || need+=(etcd-server)                  # etcd:// discovery tests
  [ -f /usr/share/java/zookeeper.jar ] || need+=(zookeeper)    # zk:// discovery tests (brings Java)
  [ -x /usr/bin/docker-registry ] || need+=(docker-registry)    # image pull/push tests (scripts/registry.sh)
  [ ${#need[@]} -eq 0 ] && return 0
  echo "testbed: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq "${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
}

zone() { local z=(a b c); echo "${z[$(( ($1 - 1) % 3 ))]}"; }
disk() { if (( $1 % 2 )); then echo ssd; else echo hdd; fi; }

start_node() {
  local i=$1 tlsflags=""
  local d="$DIR/node-$i" port=$((BASEPORT + i)) br="$(bridge "$i")"
  if [ -n "${CERTS:-}" ]; then
    tlsflags="--tlsverify --tlscacert '$CERTS/ca.pem' --tlscert '$CERTS/server-cert.pem' --tlskey '$CERTS/server-key.pem'"
  fi
  # A port another engine holds would answer our /_ping for it (a bed of
  # another slot, or one a killed run left): say whose it is instead.
  if command -v ss >/dev/null && ss -Hltnp "sport = :$port" | grep -q .; then
    die "port $port for node-$i is taken: $(ss -Hltnp "sport = :$port" | grep -o 'users:.*' | head -1) (a bed left running? stop it with DIR=… scripts/testbed.sh stop)"
  fi
  mkdir -p "$d/data" "$d/exec" "$d/etc"
  if ! ip link show "$br" >/dev/null 2>&1; then
    ip link add "$br" type bridge
    ip addr add "172.31.$((100 + 10 * SLOT + i)).1/24" dev "$br"
    ip link set "$br" up
  fi
  # Own UTS and mount namespaces: a hostname and /etc/docker (so an engine
  # ID) of its own. The namespace lives as long as dockerd.
  setsid unshare --uts --mount sh -c "
    mount --make-rprivate /
    mount --bind '$d/etc' /etc/docker
    hostname node-$i
    exec dockerd --data-root '$d/data' --exec-root '$d/exec' --pidfile '$d/pid' \
      -H 'unix://$d/docker.sock' -H 'tcp://127.0.0.1:$port' \
      --iptables=false --ip-masq=false --bridge='$br' \
      --cgroup-parent '/$(cgname "$i")' $tlsflags \
      --label zone=$(zone "$i") --label disk=$(disk "$i") --label testbed=swarmdeck
  " >"$d/dockerd.log" 2>&1 < /dev/null &
  echo $! > "$d/launcher.pid"
}

wait_node() {
  local i=$1
  local port=$((BASEPORT + i))
  for _ in $(seq 1 200); do
    if [ -n "${CERTS:-}" ]; then
      if curl -sf --cacert "$CERTS/ca.pem" --cert "$CERTS/cert.pem" --key "$CERTS/key.pem" "https://127.0.0.1:$port/_ping" >/dev/null 2>&1; then return 0; fi
    elif curl -sf "http://127.0.0.1:$port/_ping" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  echo "--- $DIR/node-$i/dockerd.log" >&2; tail -20 "$DIR/node-$i/dockerd.log" >&2
  die "node-$i (127.0.0.1:$port) did not answer /_ping within 20 s"
}

import_image() {
  local i=$1
  local d="$DIR/node-$i" root="$DIR/rootfs"
  if [ ! -d "$root" ]; then
    mkdir -p "$root/bin" "$root/tmp" "$root/www"
    cp "$(command -v busybox)" "$root/bin/busybox"
    for app in sh sleep httpd echo cat ls env true false hostname nc wget; do ln -sf busybox "$root/bin/$app"; done
    echo "hello from swarmdeck" > "$root/www/index.html"
  fi
  if ! docker -H "unix://$d/docker.sock" image inspect busybox:latest >/dev/null 2>&1; then
    tar -C "$root" -c . | docker -H "unix://$d/docker.sock" import - busybox:latest >/dev/null
  fi
}

cmd_start() {
  local n=${1:?usage: testbed.sh start N}
  [ "$(id -u)" = 0 ] || die "the test bed needs root (dockerd, namespaces, bridges)"
  install
  command -v curl >/dev/null || die "curl is needed to poll /_ping"
  mkdir -p "$DIR"
  local addrs=()
  for i in $(seq 1 "$n"); do start_node "$i"; done
  for i in $(seq 1 "$n"); do wait_node "$i"; import_image "$i"; addrs+=("127.0.0.1:$((BASEPORT + i))"); done
  local IFS=,
  printf 'SWARMDECK_TESTBED_NODES=%s\nSWARMDECK_TESTBED_DIR=%s\nTESTBED_SLOT=%s\nBASEPORT=%s\nDIR=%s\n' "${addrs[*]}" "$DIR" "$SLOT" "$BASEPORT" "$DIR" > "$DIR/env"
  echo "${addrs[*]}"
}

# stop_node ends node I's dockerd by its pid file, then whatever containerd
# and shims remain under its exec-root, by pid, then its bridge.
stop_node() {
  local i=$1
  local d="$DIR/node-$i"
  [ -d "$d" ] || return 0
  stop_engine "$d"
  kill_leftovers "$i"
  ip link del "$(bridge "$i")" 2>/dev/null || true
}

# kill_leftovers ends the processes a dead dockerd left: containerd and the
# shims under its exec-root, and the containers in its cgroup.
kill_leftovers() { engine_leftovers "$DIR/node-$1" "$(cgname "$1")"; }

cmd_stop() {
  [ -d "$DIR" ] || return 0
  for d in "$DIR"/node-*; do
    [ -d "$d" ] || continue
    stop_node "${d##*-}"
  done
  rm -rf "$DIR"
}

# no_bed refuses kill and revive where no bed was started: without its env
# (TESTBED_SLOT, DIR) a revive would start a stray engine in slot 0.
no_bed() { [ -d "$DIR/node-$1" ] || die "no test bed node-$1 in $DIR: load the bed's env first (set -a; . /tmp/swarmdeck-bed-S.env; set +a)"; }

cmd_kill() {
  local i=${1:?usage: testbed.sh kill I}
  no_bed "$i"
  kill -KILL "$(cat "$DIR/node-$i/pid")"
}

# running reports whether a pid is a live process (a zombie is not: a
# killed dockerd stays one when nothing reaps it, and its pid file would
# make the next dockerd refuse to start).
running() {
  [ -n "$1" ] && [ -e "/proc/$1/stat" ] && ! awk '{exit ($3 == "Z") ? 0 : 1}' "/proc/$1/stat"
}

cmd_revive() {
  local i=${1:?usage: testbed.sh revive I}
  local d="$DIR/node-$i" pid
  no_bed "$i"
  pid=$(cat "$d/pid" 2>/dev/null || true)
  if running "$pid"; then die "node-$i is running (pid $pid): kill it first"; fi
  kill_leftovers "$i"
  rm -f "$d/pid"
  start_node "$i"
  wait_node "$i"
}

case "${1:-}" in
  install) install ;;
  start-tls)
    i=${2:?usage: testbed.sh start-tls I CERTS}
    CERTS=${3:?usage: testbed.sh start-tls I CERTS}
    mkdir -p "$DIR"; start_node "$i"; wait_node "$i"; import_image "$i" ;;
  stop-node) stop_node "${2:?usage: testbed.sh stop-node I}" ;;
  start-node)
    i=${2:?usage: testbed.sh start-node I}
    mkdir -p "$DIR"; start_node "$i"; wait_node "$i"; import_image "$i" ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop ;;
  kill) shift; cmd_kill "$@" ;;
  revive) shift; cmd_revive "$@" ;;
  *) sed -n '2,20p' "$0"; exit 2 ;;
esac
