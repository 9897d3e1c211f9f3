#!/bin/sh
# C1M: a million containers onto 10,000 nodes, measured four ways.
#   scripts/c1m.sh [NODES] [CONTAINERS]
# 1. `swarmdeck place --count` on a generated cluster file (streams);
# 2-4. `swarmdeck bench`: the scheduler alone, the manager on simulated
#    engines, the HTTP API with 16 clients; then a manager start with 30
#    containers per node. Each runs in its own process, so each peak RSS is
#    its own. Prints throughput, CPU time and memory.
set -eu
nodes=${1:-10000}
containers=${2:-1000000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$(dirname "$0")/.."
go build -o "$dir/swarmdeck" .
scripts/genfile.sh "$nodes" > "$dir/cluster.yaml"
echo "place --count $containers on $nodes nodes (cluster file):"
start=$(date +%s.%N)
"$dir/swarmdeck" place --cluster "$dir/cluster.yaml" --count "$containers" --cpus 0.01 -m 16m nginx | tail -n 1 > /dev/null
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "  %.2f s\n", b - a }'
for way in sched cluster api; do
  "$dir/swarmdeck" bench --way "$way" --nodes "$nodes" --containers "$containers"
done
"$dir/swarmdeck" bench --way start --nodes "$nodes" --per-node 30
