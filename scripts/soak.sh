#!/usr/bin/env bash
# A fault soak of swarmdeck on real engines (see docs/reliability.md):
# 4 real dockerd and a real Consul, 2 replicated managers (the built
# binary, `manage --replication` on consul://) and a `swarmdeck join`
# agent per engine; a steady load of creates, starts, stops and removes
# through the managers; random faults (kill -9 and revive of a dockerd,
# SIGSTOP/SIGCONT hangs of 1–20 s, slow stops, kill -9 of the primary or
# the replica, a Consul restart) for DURATION; then, once everything
# healed, the checker. Exits 1 on any violation, with the history around
# it.
#
#   scripts/soak.sh DURATION [soak run flags]     e.g. scripts/soak.sh 20m
#
# Inside a test bed (SWARMDECK_TESTBED_DIR and SWARMDECK_CONSUL in the
# environment, as scripts/test.sh and bed.sh's env file set them) it uses
# that bed and grows it to 4 engines for the run; otherwise it starts a
# bed of its own in TESTBED_SLOT (default 9) and stops it at the end.
# SOAK_RACE=1 builds both programs with the race detector. Flags after
# DURATION go to `soak run` (go run ./internal/soak/cmd/soak run -h).
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in # before anything is started or built
  -h|--help) usage; exit 0 ;;
  ""|-*) usage >&2; echo "soak.sh: the first argument is the DURATION (e.g. 100s, 20m), not ${1:-nothing}" >&2; exit 2 ;;
esac
DURATION=$1
shift

work=$(mktemp -d /tmp/swarmdeck-soak-XXXXXX)
cleanup=("rm -f $work/swarmdeck $work/soak")   # the history and the logs stay
on_exit() { for c in "${cleanup[@]}"; do eval "$c" >/dev/null 2>&1 || true; done; }
trap on_exit EXIT

if [ -z "${SWARMDECK_TESTBED_DIR:-}" ] || [ -z "${SWARMDECK_CONSUL:-}" ]; then
  export TESTBED_SLOT=${TESTBED_SLOT:-9}
  echo "soak: starting a test bed of 4 engines and Consul in slot $TESTBED_SLOT"
  cleanup+=("TESTBED_SLOT=$TESTBED_SLOT scripts/bed.sh down")
  scripts/bed.sh up 4 >/dev/null
  set -a; . "/tmp/swarmdeck-bed-$TESTBED_SLOT.env"; set +a
fi
export DIR=$SWARMDECK_TESTBED_DIR
IFS=, read -r -a nodes <<< "$SWARMDECK_TESTBED_NODES"
BASEPORT=${BASEPORT:-$(( ${nodes[0]##*:} - 1 ))}
export BASEPORT
for i in $(seq $(( ${#nodes[@]} + 1 )) 4); do
  echo "soak: adding node-$i to the bed for the run"
  cleanup+=("scripts/testbed.sh stop-node $i")
  scripts/testbed.sh start-node "$i"
  nodes+=("127.0.0.1:$((BASEPORT + i))")
done
SWARMDECK_TESTBED_NODES=$(IFS=,; echo "${nodes[*]}")
export SWARMDECK_TESTBED_NODES

race=()
[ "${SOAK_RACE:-}" = 1 ] && race=(-race)
go build "${race[@]}" -o "$work/swarmdeck" .
go build "${race[@]}" -o "$work/soak" ./internal/soak/cmd/soak
"$work/soak" run --duration "$DURATION" --bin "$work/swarmdeck" --dir "$work" "$@"
