#!/usr/bin/env bash
# Measures what docs/performance.md reports for the console over a
# simulated cluster: the time until the screen lists every node (the
# title "Nodes [N]"), the CPU time used until then, then the whole
# binary's idle CPU over WINDOW seconds after WARM more, and its RSS.
#
#   scripts/console-figures.sh [BINARY] [NODES] [CONTAINERS]
#   (defaults: a swarmdeck built from this tree, 10000, 30)
#
# The console runs in a 200x50 tmux session of its own, ended at the end.
# Run the old and the new binary side by side (two calls, in the
# background) on a shared machine: compare the pair, and give the load
# average printed with each figure.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-}
NODES=${2:-10000}
PER=${3:-30}
WARM=${WARM:-20}
WINDOW=${WINDOW:-40}
if [ -z "$BIN" ]; then
  BIN=/tmp/swarmdeck-console-figures-$$
  go build -o "$BIN" .
fi
S=console-figures-$$
tick=$(getconf CLK_TCK)
cleanup() { tmux kill-session -t "$S" 2>/dev/null || true; }
trap cleanup EXIT
t0=$(date +%s.%N)
tmux new-session -d -s "$S" -x 200 -y 50 "$BIN 'sim://$NODES?containers=$PER'"
PID=$(tmux list-panes -t "$S" -F '#{pane_pid}')
until tmux capture-pane -p -t "$S" | grep -q "Nodes \[$NODES\]"; do sleep 0.05; done
t1=$(date +%s.%N)
cpu=$(awk '{print $14+$15}' "/proc/$PID/stat")
echo "first frame with every node: $(echo "$t1 - $t0" | bc) s; CPU until then $(echo "scale=2; $cpu/$tick" | bc) s; load $(cut -d' ' -f1-3 /proc/loadavg)"
sleep "$WARM"
a=$(awk '{print $14+$15}' "/proc/$PID/stat")
sleep "$WINDOW"
b=$(awk '{print $14+$15}' "/proc/$PID/stat")
echo "idle CPU: $(echo "scale=2; ($b - $a) * 100 / $WINDOW / $tick" | bc) % of a core; $(grep VmRSS "/proc/$PID/status"); load $(cut -d' ' -f1-3 /proc/loadavg)"
