#!/usr/bin/env bash
# A second Docker engine on this host, for tests of a model's path across two environments
# (staging on the first engine, prod on this one): its own data root, exec root and socket
# (unix:///var/run/tandem-docker2.sock), a default bridge of its own (tandem-br2, 10.215.0.1/24) and
# no iptables rules of its own, so the first engine's docker0 and rules stay untouched. Ports it
# publishes on 127.0.0.1 work through the userland proxy; it pulls from the same local registry
# (127.0.0.1:5000) as the first engine. Needs scripts/docker-up.sh first (packages, registry).
# Idempotent: prints the socket and exits when the engine answers.
# Two dockerd options delete the host's docker0 (the first engine's bridge, whose containers and
# builds then fail with "could not find bridge docker0") and must never be given here:
# --bridge=none, and --default-address-pool (a restarting dockerd with pools removes docker0 while
# it clears a stale default network). Without pools a network made without a subnet would take the
# first engine's 172.x ranges, so this script makes the network the tests use, $NETWORK, with
# subnet $NETWORK_SUBNET (apart from the fault engine's 10.213/10.214 and the first engine's).
# Environment: TANDEM_HOME (default ~/.cache/tandem): data and log under $TANDEM_HOME/docker2.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TANDEM_HOME=${TANDEM_HOME:-$HOME/.cache/tandem}
STATE=$TANDEM_HOME/docker2
SOCKET=/var/run/tandem-docker2.sock
BRIDGE=tandem-br2
BRIDGE_CIDR=10.215.0.1/24
NETWORK=tandem
NETWORK_SUBNET=10.215.1.0/24
source "$HERE/lib.sh"
mkdir -p "$STATE"

d2() { docker -H "unix://$SOCKET" "$@"; }
ready() { d2 version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# A bridge left on the host by a network this engine no longer knows (its network db was dropped)
# keeps a route to the subnet ahead of the live network's, and connections to its containers are
# reset: remove it.
drop_stale_bridges() {
  local known dev
  known=$(d2 network ls -q --no-trunc | cut -c1-12)
  for dev in $(ip -o -4 addr show to "$NETWORK_SUBNET" | awk '{print $2}'); do
    [[ "$dev" == br-* ]] || continue
    grep -qx "${dev#br-}" <<<"$known" || { log "removing $dev, a stale bridge on $NETWORK_SUBNET"; as_root ip link delete "$dev"; }
  done
}

# The network the tests use, with a subnet of its own; one left with another subnet (made under an
# address pool) is replaced when nothing is attached to it.
ensure_network() {
  local subnet
  drop_stale_bridges
  subnet=$(d2 network inspect "$NETWORK" -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' 2>/dev/null || true)
  [ "$subnet" = "$NETWORK_SUBNET" ] && return 0
  if [ -n "$subnet" ]; then
    d2 network rm "$NETWORK" >/dev/null 2>&1 || { log "network $NETWORK on the second engine has subnet $subnet and is in use; keeping it"; return 0; }
  fi
  d2 network create --driver bridge --subnet "$NETWORK_SUBNET" --label tandem.managed=true "$NETWORK" >/dev/null
}

if ready; then ensure_network; echo "unix://$SOCKET"; exit 0; fi

if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
  as_root ip link add name "$BRIDGE" type bridge
fi
if ! ip -o addr show dev "$BRIDGE" | grep -q " $BRIDGE_CIDR "; then
  as_root ip addr flush dev "$BRIDGE"
  as_root ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
fi
as_root ip link set "$BRIDGE" up
# dockerd keeps its networks, the default bridge's address among them, in local-kv.db and puts them
# back on start: one written under other settings (an older version of this script) is dropped.
SETTINGS="bridge=$BRIDGE $BRIDGE_CIDR, no address pools"
if [ "$(cat "$STATE/network-settings" 2>/dev/null)" != "$SETTINGS" ]; then
  as_root rm -f "$STATE/data/network/files/local-kv.db"
  echo "$SETTINGS" >"$STATE/network-settings"
fi
log "starting a second dockerd on $SOCKET — log $STATE/dockerd.log"
as_root nohup setsid dockerd --storage-driver=overlay2 --data-root "$STATE/data" --exec-root /var/run/tandem-docker2 \
  --pidfile /var/run/tandem-docker2.pid -H "unix://$SOCKET" --bridge="$BRIDGE" --iptables=false --ip-masq=false \
  --userland-proxy=true >>"$STATE/dockerd.log" 2>&1 </dev/null &
for _ in $(seq 1 120); do
  if ready; then ensure_network; echo "unix://$SOCKET"; exit 0; fi
  sleep 0.5
done
echo "docker-second-up: the second engine did not answer within 60s; see $STATE/dockerd.log" >&2
exit 1
