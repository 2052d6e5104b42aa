#!/usr/bin/env bash
# A second Docker engine on this host, for tests of a model's path across two environments
# (staging on the first engine, prod on this one): its own data root, exec root and socket
# (unix:///var/run/tandem-docker2.sock), a default bridge of its own (tandem-br2, 10.214.0.0/24) and
# no iptables rules of its own (the first engine's docker0 and rules stay untouched), address pool 10.213.0.0/16 (apart from the first engine's
# networks). Ports it publishes on 127.0.0.1 work through the userland proxy; it pulls from the
# same local registry (127.0.0.1:5000) as the first engine. Needs scripts/docker-up.sh first
# (packages, registry). Idempotent: prints the socket and exits when the engine answers.
# Environment: TANDEM_HOME (default ~/.cache/tandem): data and log under $TANDEM_HOME/docker2.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TANDEM_HOME=${TANDEM_HOME:-$HOME/.cache/tandem}
STATE=$TANDEM_HOME/docker2
SOCKET=/var/run/tandem-docker2.sock
source "$HERE/lib.sh"
mkdir -p "$STATE"

ready() { docker -H "unix://$SOCKET" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if ready; then echo "unix://$SOCKET"; exit 0; fi

# Its default bridge is one of its own: with --bridge=none a dockerd deletes the interface docker0,
# which is the first engine's (its containers and builds then fail: "could not find bridge docker0").
BRIDGE=tandem-br2
if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
  as_root ip link add name "$BRIDGE" type bridge
  as_root ip addr add 10.214.0.1/24 dev "$BRIDGE"
  as_root ip link set "$BRIDGE" up
fi
log "starting a second dockerd on $SOCKET — log $STATE/dockerd.log"
as_root nohup setsid dockerd --storage-driver=overlay2 --data-root "$STATE/data" --exec-root /var/run/tandem-docker2 \
  --pidfile /var/run/tandem-docker2.pid -H "unix://$SOCKET" --bridge="$BRIDGE" --iptables=false --ip-masq=false \
  --userland-proxy=true --default-address-pool base=10.213.0.0/16,size=24 >>"$STATE/dockerd.log" 2>&1 </dev/null &
for _ in $(seq 1 120); do
  if ready; then echo "unix://$SOCKET"; exit 0; fi
  sleep 0.5
done
echo "docker-second-up: the second engine did not answer within 60s; see $STATE/dockerd.log" >&2
exit 1
