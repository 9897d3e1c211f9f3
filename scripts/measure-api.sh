#!/usr/bin/env bash
# Measures what docs/performance.md reports for the Docker API endpoint:
#  1. `docker run -d` through swarmdeck against straight to one dockerd,
#     interleaved in the same run (20 each; medians);
#  2. `docker ps -a` and `docker info` against a simulated cluster of 1,000
#     nodes and 30,000 containers: the HTTP answer (curl) and the whole
#     docker CLI command (10 each; medians).
# As root; starts and stops its own test bed and managers.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o /tmp/swarmdeck-measure .
export DIR=/tmp/swarmdeck-measure-api-$$
cleanup() {
  pkill -f "/tmp/swarmdeck-measure manage" 2>/dev/null || true
  scripts/testbed.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
scripts/testbed.sh start 3 >/dev/null
set -a; . "$DIR/env"; set +a
/tmp/swarmdeck-measure manage --headless -H tcp://127.0.0.1:3390 "nodes://$SWARMDECK_TESTBED_NODES" >/dev/null 2>&1 &
/tmp/swarmdeck-measure manage --headless -H tcp://127.0.0.1:3391 'sim://1000?containers=30' >/dev/null 2>&1 &
for port in 3390 3391; do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/_ping" >/dev/null && break; sleep 0.1; done
done
sleep 3 # let 1,000 simulated nodes connect

ms() { echo $(( ($2 - $1) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
direct=${SWARMDECK_TESTBED_NODES%%,*}
: > /tmp/m-direct; : > /tmp/m-swarm
# Both create on the same engine (node-1), alternating, so they share its load.
for i in $(seq 1 40); do
  t0=$(date +%s%N); docker -H "tcp://$direct" run -d busybox sleep 600 >/dev/null; t1=$(date +%s%N)
  docker -H tcp://127.0.0.1:3390 run -d -e constraint:node==node-1 busybox sleep 600 >/dev/null; t2=$(date +%s%N)
  ms "$t0" "$t1" >> /tmp/m-direct; ms "$t1" "$t2" >> /tmp/m-swarm
done
d=$(median < /tmp/m-direct); s=$(median < /tmp/m-swarm)
echo "docker run -d (sleep 600) on node-1: straight to dockerd ${d} ms, through swarmdeck ${s} ms (median of 40, interleaved)"

for what in "ps -a" "info"; do
  : > /tmp/m-cli
  for i in $(seq 1 10); do
    t0=$(date +%s%N); docker -H tcp://127.0.0.1:3391 $what >/dev/null; t1=$(date +%s%N); ms "$t0" "$t1" >> /tmp/m-cli
  done
  echo "docker $what on 1,000 nodes / 30,000 containers: $(median < /tmp/m-cli) ms (CLI, median of 10)"
done
for path in "containers/json?all=1" "info"; do
  : > /tmp/m-http
  for i in $(seq 1 10); do
    curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:3391/v1.41/$path" | awk '{printf "%d\n", $1*1000}' >> /tmp/m-http
  done
  echo "GET /$path: $(median < /tmp/m-http) ms (HTTP answer, median of 10)"
done
echo "containers listed: $(curl -s 'http://127.0.0.1:3391/v1.41/containers/json?all=1' | grep -o '"Id"' | wc -l)"
