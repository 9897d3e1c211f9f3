#!/usr/bin/env bash
# Measures what docs/performance.md reports for the live backend:
# the time from a dead real engine to its container running elsewhere
# (5 rounds of kill -9 on 3 real dockerd; median), and the time to move
# 1,000 containers off a crashed simulated node.
set -euo pipefail
cd "$(dirname "$0")/.."
export DIR=/tmp/swarmdeck-measure-$$
trap 'scripts/testbed.sh stop >/dev/null 2>&1 || true' EXIT
scripts/testbed.sh start 3 >/dev/null
set -a; . "$DIR/env"; set +a
SWARMDECK_MEASURE=1 go test -count=1 -run TestMeasureRescheduleOnRealEngines -v ./backend | grep -E 'round|MEASURE'
go test -run '^$' -bench BenchmarkReschedule1000Containers -benchtime 5x -count 1 ./backend | grep -E 'Benchmark'
