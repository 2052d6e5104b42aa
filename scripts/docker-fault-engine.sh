#!/usr/bin/env bash
# A second Docker engine and a second registry that belong to the fault tests, so a test can stop,
# SIGKILL and restart them without touching the shared ones that scripts/docker-up.sh starts.
#
#   docker-fault-engine.sh start            start dockerd (reused when it answers), load the base image
#   docker-fault-engine.sh stop             SIGTERM dockerd and wait until it is gone
#   docker-fault-engine.sh kill             SIGKILL dockerd (its containerd and containers stay behind)
#   docker-fault-engine.sh registry-start   start the test registry (reused when it answers)
#   docker-fault-engine.sh registry-stop    SIGKILL the test registry
#   docker-fault-engine.sh down             stop both and remove every container of the engine
#
# The engine: socket $SOCK, its own --data-root, --exec-root (so its own managed containerd),
# --pidfile and --config-file; its default bridge is its own interface $BRIDGE (10.214.0.1/24),
# made here; no iptables, masquerading or ip_forward changes, so nothing it does touches the
# host's firewall. Ports published on 127.0.0.1 work through docker-proxy.
# Two dockerd options delete the host's docker0 — the shared engine's bridge, which then cannot
# start containers — and must never be given here: `--bridge=none`, and `--default-address-pool`
# (a restarting dockerd with address pools removes docker0 while clearing its stale default
# network). Without pools a network created without a subnet would take 172.17.0.0/16 or the next
# pool and clash with the shared engine's networks: this script creates the network the tests use,
# $NETWORK, with subnet $NETWORK_SUBNET; give any other network an explicit subnet.
# The base image tandem/node-base:20 is copied from the shared engine (docker save | docker load);
# run scripts/docker-up.sh first.
# The registry: Debian's docker-registry with scripts/registry-config.yml, on $FAULT_REGISTRY_ADDR
# with its own storage. Only processes whose pid files this script wrote are signalled.
# Environment:
#   TANDEM_HOME           cache and state folder (default ~/.cache/tandem); logs in $TANDEM_HOME/fault
#   FAULT_REGISTRY_ADDR   default 127.0.0.1:5055
#   FAULT_REGISTRY_ROOT   where the test registry stores images (default $TANDEM_HOME/fault/registry)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TANDEM_HOME=${TANDEM_HOME:-$HOME/.cache/tandem}
STATE=$TANDEM_HOME/fault
RUN_DIR=/run/tandem-fault
SOCK=$RUN_DIR/docker.sock
EXEC_ROOT=$RUN_DIR/exec
PIDFILE=$RUN_DIR/docker.pid
DATA_ROOT=/var/lib/tandem-fault/docker
FAULT_REGISTRY_ADDR=${FAULT_REGISTRY_ADDR:-127.0.0.1:5055}
REGISTRY_PIDFILE=$STATE/registry.pid
REGISTRY_ROOT=${FAULT_REGISTRY_ROOT:-$STATE/registry}
BASE_IMAGE=tandem/node-base:20
BRIDGE=tfault0
BRIDGE_CIDR=10.214.0.1/24
NETWORK=tandem-fault
NETWORK_SUBNET=10.213.0.0/24
mkdir -p "$STATE" "$REGISTRY_ROOT"

source "$HERE/lib.sh"

fault_docker() { docker -H "unix://$SOCK" "$@"; }
engine_ready() { fault_docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# True when the process runs; a zombie does not count.
alive() {
  local state
  state=$(ps -o stat= -p "${1:-0}" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z* ]]
}

engine_pid() { cat "$PIDFILE" 2>/dev/null || true; }

wait_gone() {
  local pid=$1
  for _ in $(seq 1 120); do alive "$pid" || return 0; sleep 0.25; done
  return 1
}

# The containerd this engine ran for itself outlives a SIGKILLed dockerd; a new dockerd would wait
# for it. Stop it (it is ours: its pid file is under our exec root) before starting dockerd.
stop_orphan_containerd() {
  local pidfile=$EXEC_ROOT/containerd/containerd.pid pid
  [ -f "$pidfile" ] || return 0
  alive "$(engine_pid)" && return 0
  pid=$(cat "$pidfile")
  if alive "$pid" && grep -q "$EXEC_ROOT/containerd" "/proc/$pid/cmdline" 2>/dev/null; then
    log "stopping containerd $pid left behind by the killed engine"
    as_root kill "$pid" 2>/dev/null || true
    wait_gone "$pid" || as_root kill -9 "$pid" 2>/dev/null || true
  fi
  alive "$pid" || as_root rm -f "$pidfile"
}

start_engine() {
  if engine_ready; then log "engine already running on $SOCK"; return 0; fi
  wait_gone "$(engine_pid)" || die "dockerd $(engine_pid) is still shutting down"
  as_root rm -f "$PIDFILE"
  stop_orphan_containerd
  as_root mkdir -p "$RUN_DIR" "$EXEC_ROOT" "$DATA_ROOT"
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    as_root ip link add "$BRIDGE" type bridge
    as_root ip addr add "$BRIDGE_CIDR" dev "$BRIDGE"
  fi
  as_root ip link set "$BRIDGE" up
  [ -f "$STATE/daemon.json" ] || echo '{}' >"$STATE/daemon.json"
  local driver
  driver=$(cat "$TANDEM_HOME/docker/storage-driver" 2>/dev/null || echo overlay2)
  log "starting dockerd on $SOCK (storage driver $driver) — log $STATE/dockerd.log"
  echo "--- $(date -Is) start" >>"$STATE/dockerd.log"
  as_root nohup setsid dockerd \
    --host "unix://$SOCK" --pidfile "$PIDFILE" --data-root "$DATA_ROOT" --exec-root "$EXEC_ROOT" \
    --config-file "$STATE/daemon.json" --storage-driver "$driver" \
    --bridge "$BRIDGE" --iptables=false --ip-masq=false --ip-forward=false --userland-proxy=true \
    >>"$STATE/dockerd.log" 2>&1 </dev/null &
  local pid=$!
  for _ in $(seq 1 120); do
    if engine_ready; then break; fi
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$STATE/dockerd.log" >&2; die "dockerd exited while starting"; }
    sleep 0.5
  done
  engine_ready || { tail -n 20 "$STATE/dockerd.log" >&2; die "dockerd did not answer on $SOCK"; }
  if ! fault_docker network inspect "$NETWORK" >/dev/null 2>&1; then
    fault_docker network create --driver bridge --subnet "$NETWORK_SUBNET" "$NETWORK" >/dev/null
  fi
  if ! fault_docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || die "$BASE_IMAGE is not on the shared engine; run scripts/docker-up.sh"
    docker save "$BASE_IMAGE" | fault_docker load -q >/dev/null
    log "loaded $BASE_IMAGE from the shared engine"
  fi
  log "engine ready (pid $(engine_pid))"
}

stop_engine() {
  local pid
  pid=$(engine_pid)
  alive "$pid" || { log "engine not running"; return 0; }
  as_root kill -TERM "$pid"
  wait_gone "$pid" || die "dockerd $pid did not stop"
  log "engine stopped"
}

kill_engine() {
  local pid
  pid=$(engine_pid)
  alive "$pid" || die "engine not running"
  as_root kill -KILL "$pid"
  wait_gone "$pid" || die "dockerd $pid did not die"
  log "engine $pid killed"
}

registry_ready() {
  node -e "fetch('http://$FAULT_REGISTRY_ADDR/v2/',{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
}

start_registry() {
  if registry_ready; then log "registry already answering on $FAULT_REGISTRY_ADDR"; return 0; fi
  REGISTRY_HTTP_ADDR=$FAULT_REGISTRY_ADDR REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$REGISTRY_ROOT" \
    nohup setsid /usr/bin/docker-registry serve "$HERE/registry-config.yml" >>"$STATE/registry.log" 2>&1 </dev/null &
  echo $! >"$REGISTRY_PIDFILE"
  for _ in $(seq 1 40); do
    if registry_ready; then log "registry ready on $FAULT_REGISTRY_ADDR"; return 0; fi
    sleep 0.25
  done
  tail -n 20 "$STATE/registry.log" >&2
  die "registry did not answer on $FAULT_REGISTRY_ADDR"
}

stop_registry() {
  local pid
  pid=$(cat "$REGISTRY_PIDFILE" 2>/dev/null || true)
  if alive "$pid" && grep -q docker-registry "/proc/$pid/cmdline" 2>/dev/null; then
    kill -KILL "$pid"
    wait_gone "$pid" || die "registry $pid did not die"
    log "registry $pid killed"
  else
    log "registry not running"
  fi
  rm -f "$REGISTRY_PIDFILE"
}

down() {
  stop_registry
  if engine_ready; then
    local ids
    ids=$(fault_docker ps -aq)
    [ -z "$ids" ] || fault_docker rm -f $ids >/dev/null
  fi
  stop_engine
  stop_orphan_containerd
  if ip link show "$BRIDGE" >/dev/null 2>&1; then as_root ip link delete "$BRIDGE"; fi
}

case "${1:-}" in
  start) start_engine ;;
  stop) stop_engine ;;
  kill) kill_engine ;;
  registry-start) start_registry ;;
  registry-stop) stop_registry ;;
  down) down ;;
  *) die "usage: $0 start|stop|kill|registry-start|registry-stop|down" ;;
esac
