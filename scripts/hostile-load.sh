#!/usr/bin/env bash
# Bounded load test of the endpoint under hostile clients, on loopback
# only: a manager over the test bed's real dockerd, 20,000 idle keep-alive
# connections and 5,000 /events followers that never read, while /_ping,
# timed creates and the real `docker run` keep answering. Prints p50/p99
# and the manager's RSS (figures: docs/reliability.md, "Hostile clients").
# Not part of scripts/test.sh (about a minute, and 25,000 sockets).
#
# Usage: TESTBED_SLOT=S scripts/bed.sh up; set -a; . /tmp/swarmdeck-bed-S.env; set +a
#        scripts/hostile-load.sh            (IDLE=20000 FOLLOWERS=5000 CREATES=200 PORT=...)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${SWARMDECK_TESTBED_NODES:?load the test bed env first (scripts/bed.sh up)}"
IDLE=${IDLE:-20000}
FOLLOWERS=${FOLLOWERS:-5000}
CREATES=${CREATES:-200}
PORT=${PORT:-$((3390 + ${TESTBED_SLOT:-0}))}
DIR=$(mktemp -d /tmp/swarmdeck-hostile-XXXX)
# Both ends of 25,000 connections live in this machine: raise the limit.
ulimit -n $((IDLE + FOLLOWERS + 4096)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "fd limit: $(ulimit -n)"

go build -o "$DIR/swarmdeck" .
go build -o "$DIR/hostile" ./internal/hostile/cmd/hostile
"$DIR/swarmdeck" manage --headless -H "tcp://127.0.0.1:$PORT" --log-file "$DIR/manager.log" \
	"nodes://$SWARMDECK_TESTBED_NODES" >"$DIR/events.log" 2>&1 &
MANAGER=$!
HOSTILE=
cleanup() {
	[ -n "$HOSTILE" ] && kill "$HOSTILE" 2>/dev/null || true
	kill "$MANAGER" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$DIR"
}
trap cleanup EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/_ping" >/dev/null && break; sleep 0.1; done
sleep 2 # the engines' first refresh
rss() { awk '/^VmRSS/ {print $2/1024 " MiB"}' "/proc/$MANAGER/status"; }
echo "manager RSS before: $(rss)"

"$DIR/hostile" -addr "127.0.0.1:$PORT" -idle "$IDLE" -followers "$FOLLOWERS" -creates "$CREATES" -hold 30s -limit 4m \
	>"$DIR/hostile.out" 2>"$DIR/hostile.err" &
HOSTILE=$!
for _ in $(seq 1800); do grep -q '^holding' "$DIR/hostile.out" 2>/dev/null && break; kill -0 "$HOSTILE" 2>/dev/null || break; sleep 0.1; done
cat "$DIR/hostile.out"
echo "manager RSS under the load: $(rss); open descriptors: $(ls /proc/$MANAGER/fd | wc -l)"
RUNS=0
for i in 1 2 3 4 5; do
	t0=$(date +%s%N)
	DOCKER_HOST="tcp://127.0.0.1:$PORT" docker run --rm --name "hostile-run-$i" busybox true
	echo "docker run $i under the load: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
	RUNS=$((RUNS + 1))
done
curl -fs -o /dev/null -w '/_ping from curl under the load: %{http_code} in %{time_total}s\n' "http://127.0.0.1:$PORT/_ping"
HOSTILE_RC=0; wait "$HOSTILE" || HOSTILE_RC=$?; HOSTILE=
echo "manager peak RSS: $(awk '/^VmHWM/ {print $2/1024 " MiB"}' /proc/$MANAGER/status)"
[ -s "$DIR/hostile.err" ] && { echo "client errors:"; head -20 "$DIR/hostile.err"; }
echo "docker run under the load: $RUNS of 5"
exit "$HOSTILE_RC"
