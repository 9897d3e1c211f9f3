#!/usr/bin/env bash
# Runs every test of swarmdeck: formatting and vet, the unit tests with the
# race detector, a bounded fuzz of the expression parser, and a smoke run
# of every benchmark. Later stages (real dockerd, Consul) install and start
# what they need here and clean up after themselves.
#
# Usage: scripts/test.sh            (from anywhere; CI runs it via .ci/run)
#        FUZZTIME=60s scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-30s}
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
  echo "sched or model imports I/O, UI or network packages (see docs/architecture in the README)"; exit 1
fi

step "unit tests (race detector)"
go test -race -count=1 ./...

step "fuzz the expression parser for $FUZZTIME"
go test -run '^$' -fuzz '^FuzzParseExpr$' -fuzztime "$FUZZTIME" -fuzzminimizetime 2s ./sched

step "benchmarks, one iteration each (figures: docs/performance.md)"
go test -run '^$' -bench . -benchtime 1x ./... >/dev/null

echo
echo "all tests passed"
