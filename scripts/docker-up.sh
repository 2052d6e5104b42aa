#!/usr/bin/env bash
# Brings up the single-host parts tandem builds and runs on: a Docker engine, a local image
# registry on 127.0.0.1:5000, and the base image tandem/node-base:20. Idempotent and fast when
# everything is up already; prints what it did.
#   - installs Debian's docker.io and docker-registry when missing (apt-get update once);
#   - starts dockerd as root unless the engine answers (storage driver overlay2, vfs when overlay2
#     cannot start; default iptables and userland proxy, so ports published on 127.0.0.1 work);
#   - starts /usr/bin/docker-registry with scripts/registry-config.yml (no auth, loopback only,
#     deletes enabled), storing blobs under $TANDEM_HOME/registry, unless /v2/ answers;
#   - makes tandem/node-base:20 with `docker import` of a root filesystem that holds the host's
#     node binary, the libraries ldd lists for it, /bin/sh (dash) and minimal /etc files. Nothing
#     is pulled. The image is also tagged with a content key (node version + binary checksum) and
#     rebuilt only when that key changes.
# Environment:
#   TANDEM_HOME   cache and state folder (default ~/.cache/tandem); logs in $TANDEM_HOME/docker
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TANDEM_HOME=${TANDEM_HOME:-$HOME/.cache/tandem}
STATE=$TANDEM_HOME/docker
REGISTRY_ADDR=127.0.0.1:5000
BASE_REPO=tandem/node-base
BASE_IMAGE=$BASE_REPO:20
mkdir -p "$STATE" "$TANDEM_HOME/registry"
START=$SECONDS

source "$HERE/lib.sh"

# --- packages --------------------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
[ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi

# --- Docker engine ---------------------------------------------------------------------------
engine_ready() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# start_dockerd DRIVER [EXTRA FLAGS...]: starts dockerd in the background, waits up to 60s.
start_dockerd() {
  local driver=$1; shift
  log "starting dockerd (storage driver $driver) — log $STATE/dockerd.log"
  echo "--- $(date -Is) dockerd --storage-driver=$driver $*" >>"$STATE/dockerd.log"
  LOG_FROM=$(wc -l <"$STATE/dockerd.log")
  as_root nohup setsid dockerd --storage-driver="$driver" --iptables=true --userland-proxy=true "$@" \
    >>"$STATE/dockerd.log" 2>&1 </dev/null &
  local pid=$!
  for _ in $(seq 1 120); do
    if engine_ready; then echo "$driver" >"$STATE/storage-driver"; return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.5
  done
  as_root kill "$pid" 2>/dev/null || true
  return 1
}
# What the last start attempt logged.
last_start_log() { tail -n +"$((LOG_FROM + 1))" "$STATE/dockerd.log"; }

# True when the process runs; a zombie (dead, not yet reaped by init) does not count.
alive() {
  local state
  state=$(ps -o stat= -p "${1:-0}" 2>/dev/null) || return 1
  [[ -n "$state" && "$state" != Z* ]]
}

# The containerd that dockerd runs for itself outlives a dockerd that was killed (crash, kill -9),
# or lingers as a zombie until init reaps it; a new dockerd then waits for it and gives up.
# Stop such an orphan, and drop its pid file, before starting dockerd.
stop_orphan_containerd() {
  local pidfile=/var/run/docker/containerd/containerd.pid pid
  [ -f "$pidfile" ] || return 0
  alive "$(cat /var/run/docker.pid 2>/dev/null)" && return 0
  pid=$(cat "$pidfile")
  if alive "$pid" && grep -q /var/run/docker/containerd/containerd.toml "/proc/$pid/cmdline" 2>/dev/null; then
    log "stopping containerd $pid left behind by a dockerd that is gone"
    as_root kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do alive "$pid" || break; sleep 0.25; done
    alive "$pid" && as_root kill -9 "$pid" 2>/dev/null
  fi
  alive "$pid" || as_root rm -f "$pidfile"
}

# A dockerd started elsewhere with --bridge=none or address pools deletes docker0; this engine then
# starts no container ("could not find bridge docker0") until a restart makes the bridge again.
if engine_ready && ! ip link show docker0 >/dev/null 2>&1; then
  log "the bridge docker0 is gone (another dockerd removed it): restarting dockerd"
  as_root kill "$(cat /var/run/docker.pid)"
  for _ in $(seq 1 60); do engine_ready || break; sleep 0.5; done
fi

if engine_ready; then
  log "Docker engine already running ($(docker version --format '{{.Server.Version}}'))"
else
  # A dockerd that is still shutting down holds its pid file; give it a moment to go.
  for _ in $(seq 1 30); do alive "$(cat /var/run/docker.pid 2>/dev/null)" || break; sleep 0.5; done
  # A killed dockerd that nobody reaped stays a zombie holding its pid, and dockerd refuses to
  # start while its pid file names a process that exists: drop the file of a dead one.
  alive "$(cat /var/run/docker.pid 2>/dev/null)" || as_root rm -f /var/run/docker.pid
  stop_orphan_containerd
  preferred=$(cat "$STATE/storage-driver" 2>/dev/null || echo overlay2)
  if start_dockerd "$preferred"; then :
  elif [ "$preferred" != vfs ] && last_start_log | grep -v 'level=info' | grep -qiE 'graphdriver|storage.driver|driver not supported|overlay' && start_dockerd vfs; then
    log "overlay2 is not available here: dockerd runs with the vfs storage driver (slower, uses more disk)"
  elif last_start_log | grep -qi iptables && start_dockerd "$preferred" --iptables=false; then
    log "iptables unavailable: dockerd runs with --iptables=false (ports on 127.0.0.1 still work through docker-proxy)"
  else
    last_start_log | tail -n 20 >&2
    die "dockerd did not start; see $STATE/dockerd.log"
  fi
  log "Docker engine ready ($(docker version --format '{{.Server.Version}}'), storage driver $(docker info --format '{{.Driver}}'))"
fi

# --- registry --------------------------------------------------------------------------------
registry_ready() {
  node -e "fetch('http://$REGISTRY_ADDR/v2/',{signal:AbortSignal.timeout(2000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
}
if registry_ready; then
  log "registry already answering on $REGISTRY_ADDR"
else
  log "starting registry on $REGISTRY_ADDR (storage $TANDEM_HOME/registry) — log $STATE/registry.log"
  REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$TANDEM_HOME/registry" \
    nohup setsid /usr/bin/docker-registry serve "$HERE/registry-config.yml" \
    >>"$STATE/registry.log" 2>&1 </dev/null &
  echo $! >"$STATE/registry.pid"
  ok=
  for _ in $(seq 1 40); do
    if registry_ready; then ok=1; break; fi
    sleep 0.25
  done
  [ -n "$ok" ] || { tail -n 20 "$STATE/registry.log" >&2; die "registry did not answer on $REGISTRY_ADDR"; }
  log "registry ready"
fi

# --- base image ------------------------------------------------------------------------------
NODE_BIN=$(readlink -f "$(command -v node)")
NODE_VERSION=$("$NODE_BIN" --version)
SHELL_BIN=$(readlink -f /bin/sh)
libs() { { ldd "$NODE_BIN"; ldd "$SHELL_BIN"; } | grep -o '/[^ ]*' | sort -u; }
# Content key: what the image is made of (node version, binaries and libraries by checksum).
KEY=$( { echo "$NODE_VERSION"; sha256sum "$NODE_BIN" "$SHELL_BIN" $(libs) 2>/dev/null; echo "layout-1"; } | sha256sum | cut -c1-12)
KEY_TAG="node-${NODE_VERSION#v}-$KEY"
[ "${NODE_VERSION%%.*}" = v20 ] || log "warning: host node is $NODE_VERSION; $BASE_IMAGE will hold it anyway"

if docker image inspect "$BASE_REPO:$KEY_TAG" >/dev/null 2>&1; then
  if [ "$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE" 2>/dev/null)" != "$(docker image inspect -f '{{.Id}}' "$BASE_REPO:$KEY_TAG")" ]; then
    docker tag "$BASE_REPO:$KEY_TAG" "$BASE_IMAGE"
    log "tagged $BASE_REPO:$KEY_TAG as $BASE_IMAGE"
  else
    log "base image $BASE_IMAGE present ($KEY_TAG)"
  fi
else
  t0=$SECONDS
  ROOT=$(mktemp -d "${TMPDIR:-/tmp}/tandem-rootfs.XXXXXX")
  trap 'rm -rf "$ROOT"' EXIT
  mkdir -p "$ROOT/usr/bin" "$ROOT/bin" "$ROOT/etc" "$ROOT/tmp" "$ROOT/root" "$ROOT/app"
  chmod 1777 "$ROOT/tmp"
  cp "$NODE_BIN" "$ROOT/usr/bin/node"
  cp "$SHELL_BIN" "$ROOT/bin/sh"
  for lib in $(libs); do
    mkdir -p "$ROOT$(dirname "$lib")"
    cp -L "$lib" "$ROOT$lib"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' >"$ROOT/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$ROOT/etc/group"
  printf 'hosts: files dns\n' >"$ROOT/etc/nsswitch.conf"
  tar -C "$ROOT" --numeric-owner --owner=0 --group=0 -cf - . | docker import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change "LABEL tandem.base.node=$NODE_VERSION tandem.base.key=$KEY" \
    --change 'WORKDIR /app' \
    --change 'CMD ["node"]' \
    - "$BASE_REPO:$KEY_TAG" >/dev/null
  docker tag "$BASE_REPO:$KEY_TAG" "$BASE_IMAGE"
  size=$(docker image inspect -f '{{.Size}}' "$BASE_IMAGE")
  log "built $BASE_IMAGE ($KEY_TAG, node $NODE_VERSION, $((size / 1000000)) MB) in $((SECONDS - t0))s"
fi

log "done in $((SECONDS - START))s"
