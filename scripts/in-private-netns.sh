#!/usr/bin/env bash
# Runs a command in a private network namespace: only a loopback device, with the test cluster's
# pod network (10.244.0.0/16) on it so every pod IP is a local address. Nothing started inside can
# reach or be reached from the machine's network; the namespace disappears when the command ends.
# Needs root (or CAP_SYS_ADMIN). See docs/testing-traffic.md and docs/adr/0024-real-traffic-test-cluster.md.
#
#   bash scripts/in-private-netns.sh npx vitest run --project traffic
set -euo pipefail
if [ "$#" -eq 0 ]; then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi
if [ "${VIREO_TRAFFIC_NETNS:-}" = "1" ]; then
  # Already inside (a nested npm script): a second namespace would hide the first one's servers.
  exec "$@"
fi
exec unshare --net -- bash -c '
  set -euo pipefail
  ip link set lo up
  ip addr add "${VIREO_POD_NETWORK:-10.244.0.1/16}" dev lo
  export VIREO_TRAFFIC_NETNS=1
  exec "$@"
' in-private-netns "$@"
