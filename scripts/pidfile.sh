# Sourced by the scripts that run a test service (consul.sh, etcd.sh,
# zk.sh, registry.sh) or engines (testbed.sh, overlay.sh): stop_pidfile FILE
# ends the process whose pid FILE holds (TERM, then KILL after 10 s) and
# removes FILE.
stop_pidfile() {
  local pid
  pid=$(cat "$1" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$1"
}

# stop_engine D ends the dockerd of the engine folder D (its pid file, or
# its launcher's): CONT (a hung one), TERM, then KILL after 15 s.
stop_engine() {
  local pid
  pid=$(cat "$1/pid" 2>/dev/null || cat "$1/launcher.pid" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill -CONT "$pid" 2>/dev/null || true
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

# engine_leftovers D CG ends what a dead dockerd of the engine folder D
# left, by pid: containerd and the shims under D/exec and the containers in
# its cgroup CG; then removes the cgroup and unmounts what is under D.
engine_leftovers() {
  local d=$1 cgname=$2 pids cg m
  pids=$(pgrep -f -- "$d/exec" || true)
  for cg in /sys/fs/cgroup/"$cgname" /sys/fs/cgroup/*/"$cgname"; do
    if [ -d "$cg" ]; then
      pids="$pids $(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null || true)"
    fi
  done
  for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
  sleep 0.2
  for cg in /sys/fs/cgroup/"$cgname" /sys/fs/cgroup/*/"$cgname"; do
    if [ -d "$cg" ]; then
      find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    fi
  done
  for m in $(grep " $d/" /proc/mounts | awk '{print $2}' | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  return 0
}
