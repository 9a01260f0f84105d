#!/usr/bin/env bash
# flake.sh: run the unit tests of the packages that do concurrency or I/O
# (but boot no VM) many times under the race detector, and report every
# failing test with how often it failed. `make flake`; for developers and
# for changes to these packages, not part of CI.
#
#   COUNT=20 (default) rounds; PKGS overrides the package list.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:/root/go/bin:$PATH

count=${COUNT:-20}
# Packages whose tests run goroutines, sockets, pipes, files or timers and
# boot no VM: the control channel, the docker personality (container
# lifecycle, streams, restart policies, image store), the API server and
# its middleware, the fake compute, network and volume providers,
# vic-machine's local target.
pkgs=${PKGS:-"./tether/control/... ./backends/container/... ./backends/image/... ./backends/reference/... ./backends/system/... ./backends/network/... ./backends/volume/... ./daemon/... ./portlayer/compute/fake/... ./portlayer/network/fake/... ./portlayer/volume/fake/... ./machine/..."}

log=$(mktemp /tmp/vch-flake.XXXXXX)
echo "flake: go test -race -count=$count $pkgs (log: $log)"
# shellcheck disable=SC2086
go test -race -count="$count" -timeout 120m $pkgs >"$log" 2>&1
rc=$?
grep -E '^(ok|FAIL)\s' "$log"
fails=$(grep -E '^\s*--- FAIL: ' "$log" | sed -E 's/^\s*--- FAIL: ([^ ]+).*/\1/' | sort | uniq -c | sort -rn)
if [ -n "$fails" ]; then
	echo "flake: failing tests (times failed in $count rounds):"
	echo "$fails"
	echo "flake: first failure in full:"
	grep -m1 -B2 -A25 -E '^\s*--- FAIL: ' "$log"
fi
if [ $rc -ne 0 ]; then
	echo "flake: FAILED (log kept: $log)"
	exit 1
fi
rm -f "$log"
echo "flake: all $count rounds passed"
