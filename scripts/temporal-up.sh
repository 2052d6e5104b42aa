#!/usr/bin/env bash
# Starts the Temporal dev server (with Web UI and tandem's search attributes) unless one answers
# already. The `temporal` binary is taken from PATH, else built once from the Temporal CLI's Go
# module into a cache outside the repo. Releases survive a server restart: the server keeps its
# state in a SQLite file.
#   TANDEM_HOME         cache and state folder (default ~/.cache/tandem)
#   TEMPORAL_PORT       gRPC port (default 7233); TEMPORAL_UI_PORT Web UI port (default 8233)
set -euo pipefail
TEMPORAL_CLI_VERSION=v1.5.1
TANDEM_HOME=${TANDEM_HOME:-$HOME/.cache/tandem}
PORT=${TEMPORAL_PORT:-7233}
UI_PORT=${TEMPORAL_UI_PORT:-8233}
STATE=$TANDEM_HOME/temporal
mkdir -p "$STATE"

temporal_bin() {
  if command -v temporal >/dev/null 2>&1; then command -v temporal; return; fi
  local cached=$TANDEM_HOME/temporal-cli-$TEMPORAL_CLI_VERSION/temporal
  if [ ! -x "$cached" ]; then
    echo "temporal-up: building the Temporal CLI $TEMPORAL_CLI_VERSION from its Go module (once; takes minutes)" >&2
    local start=$SECONDS
    CGO_ENABLED=0 GOBIN=$(dirname "$cached") go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" >&2
    echo "temporal-up: built in $((SECONDS - start))s" >&2
  fi
  echo "$cached"
}

BIN=$(temporal_bin)
if [ "${1:-}" = "--print-binary" ]; then echo "$BIN"; exit 0; fi

if "$BIN" operator cluster health --address "127.0.0.1:$PORT" >/dev/null 2>&1; then
  echo "temporal-up: dev server already running on 127.0.0.1:$PORT (Web UI http://127.0.0.1:$UI_PORT)"
  exit 0
fi

echo "temporal-up: starting dev server on 127.0.0.1:$PORT, Web UI http://127.0.0.1:$UI_PORT, state $STATE/dev.db"
nohup setsid "$BIN" server start-dev \
  --ip 127.0.0.1 --port "$PORT" --ui-port "$UI_PORT" \
  --db-filename "$STATE/dev.db" \
  --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal \
  --namespace default --namespace tandem-test \
  --search-attribute TandemModel=Keyword \
  --search-attribute TandemVersion=Keyword \
  --search-attribute TandemEnvironment=Keyword \
  --search-attribute TandemStage=Keyword \
  --log-level error \
  >"$STATE/server.log" 2>&1 < /dev/null &
echo $! > "$STATE/server.pid"

for _ in $(seq 1 120); do
  if "$BIN" operator cluster health --address "127.0.0.1:$PORT" >/dev/null 2>&1; then
    echo "temporal-up: ready"
    exit 0
  fi
  sleep 0.5
done
echo "temporal-up: the dev server did not become healthy in 60s; see $STATE/server.log" >&2
tail -20 "$STATE/server.log" >&2
exit 1
