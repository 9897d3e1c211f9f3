#!/usr/bin/env bash
# The manager's start as an operator sees it: from the moment
# `swarmdeck manage --headless` is run on a generated simulated cluster
# until `docker info` through it (GET /info) lists every node Healthy,
# with the process's CPU time by then and the load average. `swarmdeck
# bench --way start` measures less: from the manager's Run, once the
# simulated pool is generated, until every node is Healthy with its
# containers, asked in the process.
#
#   scripts/manage-start.sh [BINARY] [NODES] [CONTAINERS]
#   (defaults: a swarmdeck built from this tree, 10000, 30)
#
# The manager listens on a 127.0.0.1 port the kernel picks free, keeps
# its state in no file, and is ended by pid at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-}
NODES=${2:-10000}
PER=${3:-30}
if [ -z "$BIN" ]; then
  BIN=$(mktemp -d)/swarmdeck
  go build -o "$BIN" .
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start=$(date +%s.%N)
"$BIN" manage --headless --state-file none -H "tcp://127.0.0.1:$port" "sim://$NODES?containers=$PER" >/dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
while :; do
  healthy=$(curl -s --max-time 10 "http://127.0.0.1:$port/info" | grep -o '"  └ Status","Healthy"' | wc -l || true)
  [ "$healthy" -ge "$NODES" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "the manager ended" >&2; exit 1; }
  sleep 0.1
done
end=$(date +%s.%N)
tick=$(getconf CLK_TCK)
echo "manage sim://$NODES?containers=$PER: every node Healthy in docker info after $(echo "$end - $start" | bc) s, CPU $(awk -v t="$tick" '{printf "%.2f", ($14+$15)/t}' "/proc/$pid/stat") s, load $(cut -d' ' -f1-3 /proc/loadavg)"
