#!/usr/bin/env bash
# A real ZooKeeper for the integration tests: Debian's zookeeper (3.8),
# run standalone from a zoo.cfg of its own with a data folder (so a
# restart keeps its nodes and sessions) on a loopback client port, the
# admin server off.
#
#   scripts/zk.sh start     start it and wait until it serves; prints host:port
#   scripts/zk.sh kill      stop it, keeping its data (ZooKeeper away)
#   scripts/zk.sh revive    start it again on the same port and data
#   scripts/zk.sh stop      stop it and remove its data
#
# ZK_DIR defaults to /tmp/swarmdeck-zk; ZK_PORT (client) to 23181.
# tickTime is 1 s, so sessions (join --ttl) last 2 s to 60 s.
# ZK_DIR/env has SWARMDECK_ZK and SWARMDECK_ZK_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/pidfile.sh

ZK_DIR=${ZK_DIR:-/tmp/swarmdeck-zk}
PORT=${ZK_PORT:-23181}
JAR=${ZK_JAR:-/usr/share/java/zookeeper.jar}
die() { echo "zookeeper: $*" >&2; exit 1; }

run_server() {
  [ -f "$JAR" ] || die "$JAR is missing: apt-get install zookeeper"
  command -v java >/dev/null || die "java is missing: apt-get install zookeeper (it brings a JRE)"
  mkdir -p "$ZK_DIR/data"
  cat > "$ZK_DIR/zoo.cfg" <<CFG
tickTime=1000
minSessionTimeout=2000
maxSessionTimeout=60000
dataDir=$ZK_DIR/data
clientPort=$PORT
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=srvr,ruok
CFG
  setsid java -Xmx256m -cp "/etc/zookeeper/conf:$JAR" -Dzookeeper.log.dir="$ZK_DIR" \
    org.apache.zookeeper.server.ZooKeeperServerMain "$ZK_DIR/zoo.cfg" >"$ZK_DIR/zk.log" 2>&1 </dev/null &
  echo $! > "$ZK_DIR/pid"
  for _ in $(seq 1 600); do
    # a server that is starting may take the connection and say nothing: bound each try
    if timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && echo srvr >&3 && grep -q "^Mode:" <&3' "$PORT" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  tail -20 "$ZK_DIR/zk.log" >&2
  die "the server on 127.0.0.1:$PORT does not serve within 60 s"
}

kill_server() { stop_pidfile "$ZK_DIR/pid"; }

case "${1:-}" in
  start)
    mkdir -p "$ZK_DIR"
    run_server
    printf 'SWARMDECK_ZK=127.0.0.1:%s\nSWARMDECK_ZK_DIR=%s\n' "$PORT" "$ZK_DIR" > "$ZK_DIR/env"
    echo "127.0.0.1:$PORT" ;;
  kill) kill_server ;;
  revive) run_server ;;
  stop) kill_server; rm -rf "$ZK_DIR" ;;
  *) sed -n '2,14p' "$0"; exit 2 ;;
esac
