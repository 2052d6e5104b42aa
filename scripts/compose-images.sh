#!/usr/bin/env bash
# Makes, on this machine, the images docker-compose.yml runs, and prints the variables that point
# docker-compose.yml at them. Nothing can be pulled here (no Docker Hub), so each image is put
# together from binaries the project already builds or installs, laid out like the public image it
# stands in for, and made with `docker import` (as scripts/docker-up.sh makes tandem/node-base):
#
#   POSTGRES_IMAGE              tandem/postgres:15                 for postgres:15
#     Debian's PostgreSQL 15 (bin, lib, share; the JIT plug-in left out: it pulls in LLVM) and the
#     libraries ldd lists; an entry point that honours the official image's POSTGRES_USER,
#     POSTGRES_PASSWORD, POSTGRES_DB, POSTGRES_INITDB_ARGS and PGDATA; runs as uid 999 from the start
#     (the official image starts as root and steps down with gosu). `docker import` cannot set
#     STOPSIGNAL: docker-compose.yml sets stop_signal SIGINT (the official image's, a fast shutdown).
#   TEMPORAL_IMAGE              tandem/temporal-server:1.32.2      for temporalio/server:1.32.2
#   TEMPORAL_ADMIN_TOOLS_IMAGE  tandem/temporal-admin-tools:1.32.2 for temporalio/admin-tools:1.32.2
#   TEMPORAL_UI_IMAGE           tandem/temporal-ui:2.56.4          for temporalio/ui:2.56.4
#     The binaries of scripts/temporal-pg-up.sh (server, temporal-sql-tool and UI server built from
#     their Go modules, cached in $TANDEM_HOME/temporal-pg-v1.32.2) and the Temporal CLI of
#     scripts/temporal-up.sh, with the upstream images' own entry points and config templates taken
#     from the same modules (docker/targets/*.Dockerfile, docker/scripts/sh/entrypoint.sh,
#     ui-server's config/docker.yaml and start-ui-server.sh), same paths, users (uid 1000) and
#     commands. admin-tools holds `temporal` and `temporal-sql-tool` (not tdbg nor the Cassandra and
#     Elasticsearch tools: nothing here uses them).
#   REGISTRY_IMAGE              tandem/registry:2.8.2              for registry:2
#     Debian's docker-registry (distribution 2.8.2) with the official image's config and entry point.
#   TANDEM_IMAGE                127.0.0.1:5000/tandem:<version>    tandem's own (scripts/image-build.sh)
#
# The public images are Alpine-based and have BusyBox (sh, wget, awk, hostname …); these get Debian's
# busybox-static (its .deb unpacked into the cache, nothing installed on the host) and, where the
# upstream scripts need them, Debian's getent and bash with their libraries.
# Each image is also tagged <repo>:key-<content key> and made again only when what goes into it
# changes (a re-run takes seconds). Progress goes to stderr; stdout is only the KEY=value lines:
#   export $(scripts/compose-images.sh)        # then: docker compose up -d --wait
#   SKIP_TANDEM_IMAGE=1   do not run scripts/image-build.sh (TANDEM_IMAGE then names what it made last)
#   TANDEM_HOME           cache folder (default ~/.cache/tandem)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TANDEM_HOME=${TANDEM_HOME:-$HOME/.cache/tandem}
TEMPORAL_SERVER_VERSION=v1.32.2
TEMPORAL_UI_VERSION=v2.56.4
TEMPORAL_BIN=$TANDEM_HOME/temporal-pg-$TEMPORAL_SERVER_VERSION
CACHE=$TANDEM_HOME/compose-images
START=$SECONDS
log() { echo "compose-images: $*" >&2; }
die() { log "$*"; exit 1; }
mkdir -p "$CACHE"

bash "$ROOT/scripts/docker-up.sh" 2>&1 | sed 's/^/  /' >&2

# --- inputs ----------------------------------------------------------------------------------------
# The Temporal binaries: built by scripts/temporal-pg-up.sh; built here the same way when missing.
go_build_once() { # package@version binary-name
  [ -x "$TEMPORAL_BIN/$2" ] && return 0
  mkdir -p "$TEMPORAL_BIN"
  local tmp t0=$SECONDS
  tmp=$(mktemp -d)
  log "building $1 (once; takes minutes)"
  GOTOOLCHAIN=${GOTOOLCHAIN_FOR_TEMPORAL:-auto} CGO_ENABLED=0 GOBIN=$tmp nice -n 10 go install "$1" >&2
  mv "$tmp"/* "$TEMPORAL_BIN/$2"
  rmdir "$tmp"
  log "built $2 in $((SECONDS - t0))s"
}
go_build_once "go.temporal.io/server/cmd/server@$TEMPORAL_SERVER_VERSION" temporal-server
go_build_once "go.temporal.io/server/cmd/tools/sql@$TEMPORAL_SERVER_VERSION" temporal-sql-tool
go_build_once "github.com/temporalio/ui-server/v2/cmd/server@$TEMPORAL_UI_VERSION" "temporal-ui-server-$TEMPORAL_UI_VERSION"
TEMPORAL_CLI=$(bash "$ROOT/scripts/temporal-up.sh" --print-binary)
[ -x "$TEMPORAL_CLI" ] || die "no Temporal CLI at $TEMPORAL_CLI (scripts/temporal-up.sh builds it)"

# The upstream Dockerfiles, entry points and templates, from the module sources.
module_dir() { GOTOOLCHAIN=${GOTOOLCHAIN_FOR_TEMPORAL:-auto} go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'; }
SERVER_SRC=$(module_dir "go.temporal.io/server@$TEMPORAL_SERVER_VERSION")
UI_SRC=$(module_dir "github.com/temporalio/ui-server/v2@$TEMPORAL_UI_VERSION")
[ -f "$SERVER_SRC/docker/scripts/sh/entrypoint.sh" ] || die "no docker/scripts/sh/entrypoint.sh in $SERVER_SRC"
[ -f "$UI_SRC/config/docker.yaml" ] && [ -f "$UI_SRC/docker/start-ui-server.sh" ] || die "no config/docker.yaml or docker/start-ui-server.sh in $UI_SRC"

# BusyBox: Debian's static build, unpacked from its package into the cache.
BUSYBOX=$CACHE/busybox-static/bin/busybox
if [ ! -x "$BUSYBOX" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download busybox-static >/dev/null 2>&1) \
    || { apt-get update -qq >&2 && (cd "$tmp" && apt-get download busybox-static >/dev/null 2>&1); } \
    || die "apt-get download busybox-static failed"
  rm -rf "$CACHE/busybox-static"
  dpkg-deb -x "$tmp"/busybox-static_*.deb "$CACHE/busybox-static"
  rm -rf "$tmp"
  log "unpacked Debian's busybox-static ($("$BUSYBOX" | head -1 | awk '{print $2}'))"
fi

PG_BIN=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)
if [ -z "$PG_BIN" ]; then
  log "installing Debian's postgresql-15"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >&2
  PG_BIN=/usr/lib/postgresql/15/bin
fi
PG_VERSION=$(dpkg-query -W -f '${Version}' postgresql-15)
REGISTRY_VERSION=$(dpkg-query -W -f '${Version}' docker-registry | sed 's/[+~].*//')

# --- root filesystems ------------------------------------------------------------------------------
# copy_with_libs ROOT FILE...: the files at the same paths, and every library ldd lists for them.
copy_with_libs() {
  local root=$1 f lib; shift
  for f in "$@"; do mkdir -p "$root$(dirname "$f")"; cp -aL "$f" "$root$f"; done
  for lib in $( { for f in "$@"; do ldd "$f" 2>/dev/null || true; done; } | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

# base_root ROOT USER UID HOME: BusyBox as /bin/sh and its applets in /bin (as in Alpine), getent,
# users, CA bundle, time zones, /tmp.
base_root() {
  local root=$1 user=$2 uid=$3 home=$4 applet
  mkdir -p "$root/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/usr/share" "$root$home"
  chmod 1777 "$root/tmp"
  cp "$BUSYBOX" "$root/bin/busybox"
  for applet in $("$BUSYBOX" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  copy_with_libs "$root" /usr/bin/getent
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  cp -a /usr/share/zoneinfo "$root/usr/share/zoneinfo"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  if [ "$uid" != 0 ]; then
    printf '%s:x:%s:%s:%s:%s:/bin/sh\n' "$user" "$uid" "$uid" "$user" "$home" >>"$root/etc/passwd"
    printf '%s:x:%s:\n' "$user" "$uid" >>"$root/etc/group"
  fi
  printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
  [ "$uid" = 0 ] || chown "$uid:$uid" "$root$home"
}

postgres_root() {
  local root=$1
  base_root "$root" postgres 999 /var/lib/postgresql
  mkdir -p "$root/usr/lib/postgresql/15" "$root/usr/share/postgresql" "$root/var/run/postgresql" "$root/usr/local/bin"
  cp -a "$PG_BIN" "$root/usr/lib/postgresql/15/bin"
  cp -a /usr/lib/postgresql/15/lib "$root/usr/lib/postgresql/15/lib"
  rm -rf "$root/usr/lib/postgresql/15/lib/llvmjit"* "$root/usr/lib/postgresql/15/lib/bitcode"
  cp -a /usr/share/postgresql/15 "$root/usr/share/postgresql/15"
  local libs
  mapfile -t libs < <(find "$root/usr/lib/postgresql/15" -type f \( -perm -u+x -o -name '*.so' \) | sed "s#^$root##")
  for f in "${libs[@]}"; do ldd "$f" 2>/dev/null || true; done | grep -o '/[^ ]*\.so[^ ]*' | sort -u | while read -r lib; do
    case "$lib" in /usr/lib/postgresql/*) continue ;; esac
    [ -e "$root$lib" ] || { mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; }
  done
  mkdir -p "$root/var/lib/postgresql/data"
  chown -R 999:999 "$root/var/lib/postgresql" "$root/var/run/postgresql"
  chmod 0700 "$root/var/lib/postgresql/data"
  chmod 2775 "$root/var/run/postgresql"
  cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# Stand-in for the official postgres image's entry point (made by tandem's scripts/compose-images.sh):
# on an empty PGDATA, initdb with POSTGRES_USER / POSTGRES_PASSWORD (scram-sha-256 over TCP, trust
# on the local socket), POSTGRES_INITDB_ARGS, and POSTGRES_DB created; then runs the command.
set -eu
if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?is not set: the database superuser needs a password}"
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  # shellcheck disable=SC2086
  initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA"
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  if [ "$db" != postgres ]; then
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -k /var/run/postgresql" -w start
    psql -v ON_ERROR_STOP=1 -h /var/run/postgresql -U "$user" -d postgres -qc "CREATE DATABASE \"$db\""
    pg_ctl -D "$PGDATA" -m fast -w stop
  fi
  echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
EOF
  chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
  CHANGES=(
    'ENV PATH=/usr/local/bin:/usr/lib/postgresql/15/bin:/usr/bin:/bin PGDATA=/var/lib/postgresql/data'
    'USER 999:999' 'WORKDIR /var/lib/postgresql' 'EXPOSE 5432' 'VOLUME /var/lib/postgresql/data'
    'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' 'CMD ["postgres"]'
  )
}

temporal_server_root() {
  local root=$1
  base_root "$root" temporal 1000 /home/temporal
  mkdir -p "$root/usr/local/bin" "$root/etc/temporal"
  cp "$TEMPORAL_BIN/temporal-server" "$root/usr/local/bin/temporal-server"
  install -m 755 "$SERVER_SRC/docker/scripts/sh/entrypoint.sh" "$root/etc/temporal/entrypoint.sh"
  chown 1000:1000 "$root/etc/temporal"
  CHANGES=('ENV PATH=/usr/local/bin:/usr/bin:/bin' 'USER 1000:1000' 'WORKDIR /etc/temporal' 'CMD ["/etc/temporal/entrypoint.sh"]')
}

temporal_admin_tools_root() {
  local root=$1
  base_root "$root" temporal 1000 /home/temporal
  mkdir -p "$root/usr/local/bin" "$root/etc/temporal"
  cp "$TEMPORAL_CLI" "$root/usr/local/bin/temporal"
  cp "$TEMPORAL_BIN/temporal-sql-tool" "$root/usr/local/bin/temporal-sql-tool"
  cp -a "$SERVER_SRC/schema" "$root/etc/temporal/schema"
  find "$root/etc/temporal/schema" -name '*.go' -delete
  chmod -R u+w "$root/etc/temporal/schema"
  CHANGES=('ENV PATH=/usr/local/bin:/usr/bin:/bin' 'USER 1000:1000' 'WORKDIR /etc/temporal'
    'CMD ["sh", "-c", "trap exit INT HUP TERM; sleep 2147483647 & wait"]')
}

temporal_ui_root() {
  local root=$1
  base_root "$root" temporal 1000 /home/temporal
  copy_with_libs "$root" /bin/bash
  mkdir -p "$root/home/ui-server/config"
  cp "$TEMPORAL_BIN/temporal-ui-server-$TEMPORAL_UI_VERSION" "$root/home/ui-server/ui-server"
  cp "$UI_SRC/config/docker.yaml" "$root/home/ui-server/config/docker.yaml"
  install -m 755 "$UI_SRC/docker/start-ui-server.sh" "$root/home/ui-server/start-ui-server.sh"
  chmod u+w "$root/home/ui-server/config/docker.yaml"
  chown -R 1000:1000 "$root/home/ui-server"
  CHANGES=('ENV PATH=/usr/local/bin:/usr/bin:/bin TEMPORAL_CLOUD_UI=false' 'USER 1000:1000' 'WORKDIR /home/ui-server'
    'EXPOSE 8080' 'ENTRYPOINT ["./start-ui-server.sh"]')
}

registry_root() {
  local root=$1
  base_root "$root" registry 0 /root
  mkdir -p "$root/etc/docker/registry" "$root/var/lib/registry"
  copy_with_libs "$root" /usr/bin/docker-registry
  mv "$root/usr/bin/docker-registry" "$root/bin/registry"
  cat >"$root/etc/docker/registry/config.yml" <<'EOF'
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF
  cat >"$root/entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
case "$1" in
    *.yaml|*.yml) set -- registry serve "$@" ;;
    serve|garbage-collect|help|-*) set -- registry "$@" ;;
esac
exec "$@"
EOF
  chmod 755 "$root/entrypoint.sh"
  CHANGES=('ENV PATH=/usr/local/bin:/usr/bin:/bin' 'EXPOSE 5000' 'VOLUME /var/lib/registry'
    'ENTRYPOINT ["/entrypoint.sh"]' 'CMD ["/etc/docker/registry/config.yml"]')
}

# make_image REF RECIPE KEY-INPUT...: imports RECIPE's root filesystem as REF unless an image with
# the same content key exists (the key covers the recipe, the files it copies and this script's layout).
make_image() {
  local ref=$1 recipe=$2 repo key dir t0=$SECONDS; shift 2
  repo=${ref%:*}
  key=$( { declare -f base_root copy_with_libs "$recipe"; echo "$@"; sha256sum "$BUSYBOX" /usr/bin/getent "${@:1}" 2>/dev/null || true; echo layout-1; } | sha256sum | cut -c1-12)
  if docker image inspect "$repo:key-$key" >/dev/null 2>&1; then
    docker tag "$repo:key-$key" "$ref"
    log "$ref present (key $key)"
    return 0
  fi
  dir=$(mktemp -d "${TMPDIR:-/tmp}/tandem-compose-image.XXXXXX")
  CHANGES=()
  "$recipe" "$dir"
  local args=() change
  for change in "${CHANGES[@]}"; do args+=(--change "$change"); done
  args+=(--change "LABEL org.opencontainers.image.title=$ref tandem.compose.key=$key tandem.compose.made-by=scripts/compose-images.sh")
  tar -C "$dir" --numeric-owner -cf - . | docker import "${args[@]}" - "$repo:key-$key" >/dev/null
  rm -rf "$dir"
  docker tag "$repo:key-$key" "$ref"
  log "made $ref in $((SECONDS - t0))s ($(( $(docker image inspect -f '{{.Size}}' "$ref") / 1000000 )) MB, key $key)"
}

POSTGRES_IMAGE=tandem/postgres:15
TEMPORAL_IMAGE=tandem/temporal-server:${TEMPORAL_SERVER_VERSION#v}
TEMPORAL_ADMIN_TOOLS_IMAGE=tandem/temporal-admin-tools:${TEMPORAL_SERVER_VERSION#v}
TEMPORAL_UI_IMAGE=tandem/temporal-ui:${TEMPORAL_UI_VERSION#v}
REGISTRY_IMAGE=tandem/registry:$REGISTRY_VERSION

make_image "$POSTGRES_IMAGE" postgres_root "$PG_BIN/postgres" "$PG_BIN/initdb" "postgresql-15=$PG_VERSION"
make_image "$TEMPORAL_IMAGE" temporal_server_root "$TEMPORAL_BIN/temporal-server" "$SERVER_SRC/docker/scripts/sh/entrypoint.sh"
make_image "$TEMPORAL_ADMIN_TOOLS_IMAGE" temporal_admin_tools_root "$TEMPORAL_CLI" "$TEMPORAL_BIN/temporal-sql-tool" "$SERVER_SRC/go.mod"
make_image "$TEMPORAL_UI_IMAGE" temporal_ui_root "$TEMPORAL_BIN/temporal-ui-server-$TEMPORAL_UI_VERSION" "$UI_SRC/config/docker.yaml" "$UI_SRC/docker/start-ui-server.sh" /bin/bash
make_image "$REGISTRY_IMAGE" registry_root /usr/bin/docker-registry

# --- tandem's image --------------------------------------------------------------------------------
VERSION=$(node -p "require('$ROOT/package.json').version")
TANDEM_IMAGE=127.0.0.1:5000/tandem:$VERSION
if [ "${SKIP_TANDEM_IMAGE:-}" = 1 ]; then
  docker image inspect "$TANDEM_IMAGE" >/dev/null 2>&1 || die "SKIP_TANDEM_IMAGE=1 but $TANDEM_IMAGE does not exist"
  log "$TANDEM_IMAGE as it is (SKIP_TANDEM_IMAGE=1)"
else
  bash "$ROOT/scripts/image-build.sh" 2>&1 | sed 's/^/  /' >&2
fi

log "done in $((SECONDS - START))s"
cat <<EOF
POSTGRES_IMAGE=$POSTGRES_IMAGE
TEMPORAL_IMAGE=$TEMPORAL_IMAGE
TEMPORAL_ADMIN_TOOLS_IMAGE=$TEMPORAL_ADMIN_TOOLS_IMAGE
TEMPORAL_UI_IMAGE=$TEMPORAL_UI_IMAGE
REGISTRY_IMAGE=$REGISTRY_IMAGE
TANDEM_IMAGE=$TANDEM_IMAGE
EOF
