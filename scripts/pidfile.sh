# Sourced by the scripts that run a test service (consul.sh, etcd.sh,
# zk.sh): stop_pidfile FILE ends the process whose pid FILE holds (TERM,
# then KILL after 10 s) and removes FILE.
stop_pidfile() {
  local pid
  pid=$(cat "$1" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1"
}
