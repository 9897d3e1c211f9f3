#!/usr/bin/env bash
# Idle CPU of two headless managers run side by side, as
# docs/performance.md ("Heartbeats on one timer") reports it: the old
# and the new binary manage the same simulated cluster in the same
# minutes, and each one's user+system CPU time (/proc/PID/stat) over
# WINDOW seconds, WARM seconds after its start, is printed in % of a
# core with its RSS and the load average.
#
#   scripts/idle-pair.sh OLD-BINARY NEW-BINARY [URL] [WARM] [WINDOW]
#   (defaults: 'sim://1000?containers=30', 70, 60; at 10,000 nodes give
#   WARM 300: the start's tail is still in a window 100 s after it)
#
# The managers listen on 127.0.0.1 ports the kernel picks free; both are
# ended by pid at the end.
set -euo pipefail
if [ $# -lt 2 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  [ $# -ge 2 ] || exit 2
  exit 0
fi
OLD=$1 NEW=$2 URL=${3:-'sim://1000?containers=30'} WARM=${4:-70} WINDOW=${5:-60}
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
for bin in "$OLD" "$NEW"; do
  "$bin" manage --headless -H "tcp://127.0.0.1:$(freeport)" "$URL" >/dev/null 2>&1 &
  pids+=($!)
done
sleep "$WARM"
cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
a0=$(cpu "${pids[0]}") a1=$(cpu "${pids[1]}")
sleep "$WINDOW"
b0=$(cpu "${pids[0]}") b1=$(cpu "${pids[1]}")
tick=$(getconf CLK_TCK)
pct() { echo "scale=2; ($2-$1)*100/$WINDOW/$tick" | bc; }
rss() { awk '/VmRSS/{print $2, $3}' "/proc/$1/status"; }
echo "$URL, ${WINDOW}s after ${WARM}s: old $(pct "$a0" "$b0")% (RSS $(rss "${pids[0]}")), new $(pct "$a1" "$b1")% (RSS $(rss "${pids[1]}")), load $(cut -d' ' -f1-3 /proc/loadavg)"
