#!/usr/bin/env bash
# Runs every test of swarmdeck: formatting and vet, the unit tests and the
# integration tests against 3 real dockerd (installed with apt-get when
# missing, started by scripts/testbed.sh, always stopped at the end) with
# the race detector (with real Consul, etcd and ZooKeeper for discovery),
# a short fault soak (scripts/soak.sh: a 4th engine,
# two replicated managers, random faults, the checker), a bounded fuzz of
# the expression parser, and a smoke run of every benchmark. Needs root
# and Go 1.26.
#
# Usage: scripts/test.sh            (from anywhere; CI runs it via .ci/run)
#        FUZZTIME=60s BADINPUT_FUZZTIME=30s SOAKTIME=5m scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-30s}
SOAKTIME=${SOAKTIME:-100s}
BADINPUT_FUZZTIME=${BADINPUT_FUZZTIME:-20s} # each of the bad-input fuzz targets
step() { printf '\n=== %s\n' "$*"; }

step "toolchain: $(go version)"

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "the scheduler and model stay pure"
if go list -deps ./sched ./model | grep -E '^(github.com/docker/docker|github.com/hashicorp|github.com/rivo/tview|github.com/gdamore/tcell|net/http$)'; then
  echo "sched or model imports I/O, UI or network packages (see Layout in the README)"; exit 1
fi

step "test bed: 3 real dockerd (scripts/testbed.sh)"
[ "$(id -u)" = 0 ] || { echo "scripts/test.sh needs root: it starts dockerd, namespaces and bridges"; exit 1; }
export DIR=${TESTBED_DIR:-/tmp/swarmdeck-testbed-$$}
trap 'scripts/testbed.sh stop >/dev/null 2>&1 || true' EXIT
scripts/testbed.sh stop >/dev/null 2>&1 || true
scripts/testbed.sh start 3
set -a; . "$DIR/env"; set +a

step "a real Consul (scripts/consul.sh; built from its Go module the first time)"
export CONSUL_DIR=${TESTBED_CONSUL_DIR:-/tmp/swarmdeck-consul-$$}
trap 'scripts/testbed.sh stop >/dev/null 2>&1 || true; scripts/consul.sh stop >/dev/null 2>&1 || true' EXIT
scripts/consul.sh stop >/dev/null 2>&1 || true
scripts/consul.sh start
set -a; . "$CONSUL_DIR/env"; set +a

step "a real etcd and a real ZooKeeper (scripts/etcd.sh, scripts/zk.sh; Debian's etcd-server and zookeeper)"
export ETCD_DIR=${TESTBED_ETCD_DIR:-/tmp/swarmdeck-etcd-$$} ZK_DIR=${TESTBED_ZK_DIR:-/tmp/swarmdeck-zk-$$}
trap 'scripts/testbed.sh stop >/dev/null 2>&1 || true; scripts/consul.sh stop >/dev/null 2>&1 || true
      scripts/etcd.sh stop >/dev/null 2>&1 || true; scripts/zk.sh stop >/dev/null 2>&1 || true' EXIT
scripts/etcd.sh start
scripts/zk.sh start
set -a; . "$ETCD_DIR/env"; . "$ZK_DIR/env"; set +a

step "a real image registry (scripts/registry.sh; Debian's docker-registry)"
export REGISTRY_DIR=${TESTBED_REGISTRY_DIR:-/tmp/swarmdeck-registry-$$}
trap 'scripts/testbed.sh stop >/dev/null 2>&1 || true; scripts/consul.sh stop >/dev/null 2>&1 || true
      scripts/etcd.sh stop >/dev/null 2>&1 || true; scripts/zk.sh stop >/dev/null 2>&1 || true
      scripts/registry.sh stop >/dev/null 2>&1 || true' EXIT
scripts/registry.sh start
set -a; . "$REGISTRY_DIR/env"; set +a
export SWARMDECK_REQUIRE_INTEGRATION=1

step "all tests, unit and integration (race detector)"
# One package at a time: the integration tests of several packages share
# the test bed, and one kills engines another is using.
go test -race -count=1 -p 1 -timeout 30m ./...

step "fault soak: 4 real dockerd, Consul, 2 replicated managers, $SOAKTIME of load and faults, then the checker (scripts/soak.sh)"
# Every fault kind: engine kills and hangs, slow stops, kill -9 of the
# primary and of the replica, Consul restarts (docs/reliability.md).
SOAK_RACE=1 scripts/soak.sh "$SOAKTIME"

step "fuzz the expression parser for $FUZZTIME"
go test -run '^$' -fuzz '^FuzzParseExpr$' -fuzztime "$FUZZTIME" -fuzzminimizetime 2s ./sched

step "fuzz the create body's resource fields and names for $BADINPUT_FUZZTIME"
go test -run '^$' -fuzz '^FuzzCreateBody$' -fuzztime "$BADINPUT_FUZZTIME" -fuzzminimizetime 2s ./api

step "fuzz the cluster-file loader for $BADINPUT_FUZZTIME"
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime "$BADINPUT_FUZZTIME" -fuzzminimizetime 2s ./clusterfile

step "benchmarks, one iteration each (figures: docs/performance.md)"
go test -run '^$' -bench . -benchtime 1x ./... >/dev/null

echo
echo "all tests passed"
