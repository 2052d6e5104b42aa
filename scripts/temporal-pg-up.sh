#!/usr/bin/env bash
# Starts a Temporal cluster the way a platform team runs one, beside the dev server of
# scripts/temporal-up.sh: the Temporal server (all four services in one process) built from its Go
# module go.temporal.io/server at a pinned version, on PostgreSQL from Debian with the schema made
# and updated by the module's own temporal-sql-tool, the Temporal Web UI server built from its Go
# module (github.com/temporalio/ui-server/v2, which embeds the UI's assets) and mutual TLS on the
# frontend: a client without a certificate signed by the script's CA is refused.
# Each part is reused when it already runs; binaries are built once into
# $TANDEM_HOME/temporal-pg-<server version>, state (PostgreSQL data, certificates, configuration,
# logs) lives in $TANDEM_HOME/temporal-pg.
#
#   temporal-pg-up.sh               build if needed, start what is not running, register namespaces
#                                   (default, tandem-test) and tandem's search attributes
#   temporal-pg-up.sh --print-env   the client settings (@temporalio/envconfig / Temporal CLI
#                                   variables) as `export` lines: eval "$(temporal-pg-up.sh --print-env)"
#   temporal-pg-up.sh --stop        stop the UI server, the Temporal server and PostgreSQL (data kept)
#
#   TANDEM_HOME            cache and state folder (default ~/.cache/tandem)
#   TEMPORAL_PG_PORT       frontend gRPC (default 7243); its HTTP API is the next port, history,
#                          matching and the system worker the three after (7245-7247), membership
#                          on 6943-6946, server metrics on 127.0.0.1:9243
#   TEMPORAL_PG_UI_PORT    Web UI (default 8243)
#   TEMPORAL_PG_DB_PORT    PostgreSQL on 127.0.0.1 (default 5433; its unix socket in the state folder)
#
# Go: go.temporal.io/server v1.32.2 and the UI server v2.56.4 declare `go 1.26.10`; with
# GOTOOLCHAIN=auto the go command fetches a newer toolchain from the module proxy (golang.org/toolchain)
# when the local one is older.
# PostgreSQL refuses to run as root; as root the script runs it in a user namespace (unshare) as an
# unprivileged user that owns its data folder there, so everything stays under $TANDEM_HOME.
set -euo pipefail
TEMPORAL_SERVER_VERSION=v1.32.2
# The newest UI server, v2.58.x, needs labstack/echo v4.16.1 and go.temporal.io/api v1.64.0, which
# the module proxy reachable here does not serve; v2.56.4 builds.
TEMPORAL_UI_VERSION=v2.56.4
TEMPORAL_CLI_VERSION=v1.5.1
TANDEM_HOME=${TANDEM_HOME:-$HOME/.cache/tandem}
PORT=${TEMPORAL_PG_PORT:-7243}
UI_PORT=${TEMPORAL_PG_UI_PORT:-8243}
DB_PORT=${TEMPORAL_PG_DB_PORT:-5433}
BIN=$TANDEM_HOME/temporal-pg-$TEMPORAL_SERVER_VERSION
STATE=$TANDEM_HOME/temporal-pg
CERTS=$STATE/certs
PGDATA=$STATE/pgdata
PGSOCK=$STATE/pgsock
DB_USER=temporal
DB_PASSWORD=temporal
NAMESPACES=(default tandem-test)
SEARCH_ATTRIBUTES=(TandemModel TandemVersion TandemEnvironment TandemStage)
SCRIPTS=$(cd "$(dirname "$0")" && pwd)

LOG_FD=2
source "$SCRIPTS/lib.sh"

print_env() {
  cat <<EOF
export TEMPORAL_ADDRESS=127.0.0.1:$PORT
export TEMPORAL_TLS_SERVER_CA_CERT_PATH=$CERTS/ca.pem
export TEMPORAL_TLS_CLIENT_CERT_PATH=$CERTS/client.pem
export TEMPORAL_TLS_CLIENT_KEY_PATH=$CERTS/client.key
export TEMPORAL_TLS_SERVER_NAME=localhost
EOF
}

stop_pidfile() {
  local file=$1
  [ -s "$file" ] || return 0
  local pid
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$file"
}

# --- PostgreSQL ----------------------------------------------------------------------------------
pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$dir" ]; then
    apt_install postgresql >&2
    dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  echo "$dir"
}

# Runs a PostgreSQL server program as a non-root user: directly when we are not root, else inside a
# user namespace where our uid maps to an unprivileged one (files keep belonging to us outside).
as_pg_user() {
  if [ "$(id -u)" -ne 0 ]; then "$@"; else unshare --user --map-user=65534 --map-group=65534 "$@"; fi
}

pg_up() {
  local pgbin=$1
  if "$pgbin/pg_isready" -q -h "$PGSOCK" -p "$DB_PORT" 2>/dev/null; then return 0; fi
  mkdir -p "$PGSOCK"
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    log "initialising PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') in $PGDATA"
    rm -rf "$PGDATA"
    printf '%s\n' "$DB_PASSWORD" > "$STATE/pg-superuser-password"
    as_pg_user "$pgbin/initdb" -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      --pwfile="$STATE/pg-superuser-password" -E UTF8 --locale=C >"$STATE/initdb.log" 2>&1 \
      || { tail -20 "$STATE/initdb.log" >&2; exit 1; }
  fi
  log "starting PostgreSQL on 127.0.0.1:$DB_PORT (socket in $PGSOCK)"
  as_pg_user "$pgbin/pg_ctl" -D "$PGDATA" -l "$STATE/postgres.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $DB_PORT -k $PGSOCK -c max_connections=200" >/dev/null \
    || { tail -20 "$STATE/postgres.log" >&2; exit 1; }
}

psql_q() { "$PG_BIN/psql" -h "$PGSOCK" -p "$DB_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtAc "$1"; }

sql_tool() {
  "$BIN/temporal-sql-tool" --plugin postgres12 --endpoint 127.0.0.1 --port "$DB_PORT" \
    --user "$DB_USER" --password "$DB_PASSWORD" "$@"
}

schema_up() {
  if [ "$(psql_q "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" != 1 ]; then
    psql_q "CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASSWORD'"
  fi
  local db schema
  for db in temporal temporal_visibility; do
    schema=postgresql/v12/temporal
    [ "$db" = temporal_visibility ] && schema=postgresql/v12/visibility
    if [ "$(psql_q "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
      log "creating database $db and its schema ($schema) with temporal-sql-tool"
      { sql_tool --database "$db" create-database && sql_tool --database "$db" setup-schema --version 0.0; } \
        >"$STATE/schema-$db.log" 2>&1 || { tail -20 "$STATE/schema-$db.log" >&2; exit 1; }
    fi
    # Brings the schema to the version this server needs (a no-op when it is there already).
    sql_tool --database "$db" update-schema --schema-name "$schema" >"$STATE/schema-$db.log" 2>&1 \
      || { tail -20 "$STATE/schema-$db.log" >&2; exit 1; }
  done
}

# --- binaries ------------------------------------------------------------------------------------
go_install() { # package@version binary-name
  local tmp start=$SECONDS
  tmp=$(mktemp -d)
  log "building $1 (once; takes minutes)"
  GOTOOLCHAIN=${GOTOOLCHAIN_FOR_TEMPORAL:-auto} CGO_ENABLED=0 GOBIN=$tmp nice -n 10 go install "$1" >&2
  mv "$tmp"/* "$BIN/$2"
  rmdir "$tmp"
  log "built $2 in $((SECONDS - start))s"
}

build() {
  mkdir -p "$BIN"
  [ -x "$BIN/temporal-server" ] || go_install "go.temporal.io/server/cmd/server@$TEMPORAL_SERVER_VERSION" temporal-server
  [ -x "$BIN/temporal-sql-tool" ] || go_install "go.temporal.io/server/cmd/tools/sql@$TEMPORAL_SERVER_VERSION" temporal-sql-tool
  [ -x "$BIN/temporal-ui-server-$TEMPORAL_UI_VERSION" ] \
    || go_install "github.com/temporalio/ui-server/v2/cmd/server@$TEMPORAL_UI_VERSION" "temporal-ui-server-$TEMPORAL_UI_VERSION"
}

temporal_cli() {
  local cli
  cli=$(bash "$SCRIPTS/temporal-up.sh" --print-binary)
  "$cli" "$@" --address "127.0.0.1:$PORT" --tls-ca-path "$CERTS/ca.pem" \
    --tls-cert-path "$CERTS/client.pem" --tls-key-path "$CERTS/client.key" --tls-server-name localhost
}

# --- Temporal server -----------------------------------------------------------------------------
write_server_config() {
  local cfg=$STATE/config
  mkdir -p "$cfg"
  cat > "$cfg/dynamicconfig.yaml" <<EOF
frontend.enableUpdateWorkflowExecution:
  - value: true
EOF
  sqlstore() { # database, connections
    cat <<EOF
      sql:
        pluginName: postgres12
        databaseName: $1
        connectAddr: "127.0.0.1:$DB_PORT"
        connectProtocol: tcp
        user: $DB_USER
        password: $DB_PASSWORD
        maxConns: $2
        maxIdleConns: $2
        maxConnLifetime: 1h
EOF
  }
  cat > "$cfg/server.yaml" <<EOF
# Written by scripts/temporal-pg-up.sh (Temporal server $TEMPORAL_SERVER_VERSION).
log:
  stdout: true
  level: warn
persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
    postgres-default:
$(sqlstore temporal 20)
    postgres-visibility:
$(sqlstore temporal_visibility 10)
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
  pprof:
    port: 0
  metrics:
    prometheus:
      framework: tally
      timerType: histogram
      listenAddress: 127.0.0.1:9243
  tls:
    frontend:
      server:
        certFile: $CERTS/server.pem
        keyFile: $CERTS/server.key
        requireClientAuth: true
        clientCaFiles: [$CERTS/ca.pem]
      client:
        serverName: localhost
        rootCaFiles: [$CERTS/ca.pem]
    systemWorker:
      certFile: $CERTS/client.pem
      keyFile: $CERTS/client.key
      client:
        serverName: localhost
        rootCaFiles: [$CERTS/ca.pem]
services:
  frontend:
    rpc: { grpcPort: $PORT, httpPort: $((PORT + 1)), membershipPort: 6943, bindOnLocalHost: true }
  history:
    rpc: { grpcPort: $((PORT + 2)), membershipPort: 6944, bindOnLocalHost: true }
  matching:
    rpc: { grpcPort: $((PORT + 3)), membershipPort: 6945, bindOnLocalHost: true }
  worker:
    rpc: { grpcPort: $((PORT + 4)), membershipPort: 6946, bindOnLocalHost: true }
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: 127.0.0.1:$PORT
dcRedirectionPolicy:
  policy: noop
publicClient:
  hostPort: 127.0.0.1:$PORT
dynamicConfigClient:
  filepath: $cfg/dynamicconfig.yaml
  pollInterval: 10s
EOF
}

server_healthy() { temporal_cli operator cluster health >/dev/null 2>&1; }

server_up() {
  if server_healthy; then return 0; fi
  write_server_config
  log "starting Temporal server $TEMPORAL_SERVER_VERSION: frontend 127.0.0.1:$PORT (mutual TLS), log $STATE/server.log"
  local start=$SECONDS
  nohup setsid "$BIN/temporal-server" --config-file "$STATE/config/server.yaml" --allow-no-auth start \
    >"$STATE/server.log" 2>&1 </dev/null &
  echo $! > "$STATE/server.pid"
  for _ in $(seq 1 240); do
    if server_healthy; then log "Temporal server healthy after $((SECONDS - start))s"; return 0; fi
    if ! kill -0 "$(cat "$STATE/server.pid")" 2>/dev/null; then break; fi
    sleep 0.5
  done
  log "the Temporal server did not become healthy; see $STATE/server.log"
  tail -20 "$STATE/server.log" >&2
  exit 1
}

namespaces_up() {
  local ns name existing
  for ns in "${NAMESPACES[@]}"; do
    if ! temporal_cli operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
      log "registering namespace $ns"
      temporal_cli operator namespace create --namespace "$ns" --retention 72h >/dev/null
    fi
  done
  for ns in "${NAMESPACES[@]}"; do
    # A new namespace reaches every service's cache within seconds; search attributes need it there.
    for _ in $(seq 1 60); do
      existing=$(temporal_cli operator search-attribute list --namespace "$ns" 2>/dev/null) && break
      sleep 0.5
    done
    for name in "${SEARCH_ATTRIBUTES[@]}"; do
      if ! grep -qw "$name" <<<"$existing"; then
        log "registering search attribute $name (Keyword) in $ns"
        temporal_cli operator search-attribute create --namespace "$ns" --name "$name" --type Keyword >/dev/null
      fi
    done
  done
  # Usable once the frontend answers a visibility query that names them.
  for _ in $(seq 1 60); do
    if temporal_cli workflow list --namespace tandem-test --limit 1 \
      --query 'TandemModel="-" AND TandemVersion="-" AND TandemEnvironment="-" AND TandemStage="-"' >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  log "search attributes not usable in tandem-test after 30s"
  exit 1
}

# --- Web UI --------------------------------------------------------------------------------------
ui_up() {
  if curl -fsS -o /dev/null "http://127.0.0.1:$UI_PORT/" 2>/dev/null; then return 0; fi
  local cfg=$STATE/ui-config
  mkdir -p "$cfg"
  cat > "$cfg/base.yaml" <<EOF
# Written by scripts/temporal-pg-up.sh (Temporal UI server $TEMPORAL_UI_VERSION).
temporalGrpcAddress: 127.0.0.1:$PORT
host: 127.0.0.1
port: $UI_PORT
enableUi: true
defaultNamespace: tandem-test
refreshInterval: 1m
disableNewsFetch: true
notifyOnNewVersion: false
cors:
  cookieInsecure: true
tls:
  caFile: $CERTS/ca.pem
  certFile: $CERTS/client.pem
  keyFile: $CERTS/client.key
  serverName: localhost
  enableHostVerification: true
EOF
  : > "$cfg/tandem.yaml"
  log "starting the Temporal Web UI $TEMPORAL_UI_VERSION on http://127.0.0.1:$UI_PORT"
  nohup setsid "$BIN/temporal-ui-server-$TEMPORAL_UI_VERSION" --root "$STATE" --config ui-config --env tandem start \
    >"$STATE/ui.log" 2>&1 </dev/null &
  echo $! > "$STATE/ui.pid"
  for _ in $(seq 1 60); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$UI_PORT/" 2>/dev/null; then return 0; fi
    sleep 0.5
  done
  log "the Web UI did not answer; see $STATE/ui.log"
  tail -20 "$STATE/ui.log" >&2
  exit 1
}

case "${1:-}" in
  --print-env) print_env; exit 0 ;;
  --stop)
    stop_pidfile "$STATE/ui.pid"
    stop_pidfile "$STATE/server.pid"
    if [ -s "$PGDATA/postmaster.pid" ]; then as_pg_user "$(pg_bin)/pg_ctl" -D "$PGDATA" -m fast -w stop >&2 || true; fi
    exit 0 ;;
  "") ;;
  *) echo "usage: temporal-pg-up.sh [--print-env | --stop]" >&2; exit 2 ;;
esac

mkdir -p "$STATE"
started=$SECONDS
build
bash "$SCRIPTS/temporal-pg-certs.sh" "$CERTS"
PG_BIN=$(pg_bin)
pg_up "$PG_BIN"
schema_up
server_up
namespaces_up
ui_up
log "ready in $((SECONDS - started))s: frontend 127.0.0.1:$PORT (mutual TLS; client settings: $0 --print-env), Web UI http://127.0.0.1:$UI_PORT, PostgreSQL 127.0.0.1:$DB_PORT"
