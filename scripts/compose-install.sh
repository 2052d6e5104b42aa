#!/usr/bin/env bash
# Installs Docker Compose v2 (pinned) as the Docker CLI plugin, so `docker compose …` works.
# Nothing can be downloaded from GitHub here, so the binary is built once from its Go module
# (github.com/docker/compose/v2, no `replace` lines) through the Go module proxy into
# $TANDEM_HOME/compose-<version>/docker-compose, then linked as ~/.docker/cli-plugins/docker-compose
# (Docker's per-user plugin folder; an existing plugin of another version is left alone and this
# one is used through COMPOSE_BIN instead). Reused when present: a re-run takes milliseconds.
# Where Compose is already installed (Docker Desktop, docker-compose-plugin), it is used as is.
#
#   compose-install.sh                 build if needed, link the plugin; prints the binary's path last
#   TANDEM_HOME   cache folder (default ~/.cache/tandem)
set -euo pipefail
COMPOSE_VERSION=v2.40.3
TANDEM_HOME=${TANDEM_HOME:-$HOME/.cache/tandem}
DIR=$TANDEM_HOME/compose-$COMPOSE_VERSION
BIN=$DIR/docker-compose
PLUGINS=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
log() { echo "compose-install: $*" >&2; }

if [ ! -x "$BIN" ]; then
  command -v go >/dev/null 2>&1 || { log "needs Go to build Compose $COMPOSE_VERSION"; exit 1; }
  mkdir -p "$DIR"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  start=$SECONDS
  log "building Docker Compose $COMPOSE_VERSION from its Go module (once; takes minutes)"
  # Its go.mod has `exclude` lines, which `go install module@version` refuses: build inside a copy
  # of the module source (fetched through the module proxy) as the main module instead.
  export GOTOOLCHAIN=${GOTOOLCHAIN:-auto}
  src=$(go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$src" ] || { log "the module proxy did not serve github.com/docker/compose/v2@$COMPOSE_VERSION"; exit 1; }
  cp -r "$src" "$tmp/src"
  chmod -R u+w "$tmp/src"
  (cd "$tmp/src" && CGO_ENABLED=0 nice -n 10 go build -trimpath -o "$tmp/docker-compose" \
    -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" ./cmd) >&2
  mv "$tmp/docker-compose" "$BIN"
  log "built $BIN in $((SECONDS - start))s ($(( $(stat -c %s "$BIN") / 1000000 )) MB)"
fi

mkdir -p "$PLUGINS"
if [ ! -e "$PLUGINS/docker-compose" ] || [ -L "$PLUGINS/docker-compose" ]; then
  ln -sfn "$BIN" "$PLUGINS/docker-compose"
fi
"$BIN" version >&2
echo "$BIN"
