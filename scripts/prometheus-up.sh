#!/usr/bin/env bash
# Starts a Prometheus server on 127.0.0.1:$PROMETHEUS_PORT (default 9090) unless ours answers
# already; fast and idempotent. Installs Debian's `prometheus` package when /usr/bin/prometheus is
# missing (apt-get update first). The configuration is scripts/prometheus.yml, copied to
# $TANDEM_HOME/prometheus/prometheus.yml (reloaded with SIGHUP when it changed); scrape targets are
# read from $TANDEM_HOME/prometheus/targets/*.json (file-based service discovery, picked up while
# running); the TSDB lives in $TANDEM_HOME/prometheus/data (kept 1 day).
#   TANDEM_HOME       cache and state folder (default ~/.cache/tandem)
#   PROMETHEUS_PORT   listen port on 127.0.0.1 (default 9090)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TANDEM_HOME=${TANDEM_HOME:-$HOME/.cache/tandem}
PORT=${PROMETHEUS_PORT:-9090}
STATE=$TANDEM_HOME/prometheus
URL=http://127.0.0.1:$PORT
mkdir -p "$STATE/targets" "$STATE/data"

source "$HERE/lib.sh"

if [ ! -x /usr/bin/prometheus ]; then
  apt_install prometheus
fi

ready() { curl -fsS --max-time 2 "$URL/-/ready" >/dev/null 2>&1; }
changed=0
cmp -s "$HERE/prometheus.yml" "$STATE/prometheus.yml" || { cp "$HERE/prometheus.yml" "$STATE/prometheus.yml"; changed=1; }

if ready; then
  # Ours only: its configuration file must be the copy in $STATE.
  if ! curl -fsS --max-time 2 "$URL/api/v1/status/flags" | grep -qF "\"config.file\":\"$STATE/prometheus.yml\""; then
    die "$URL answers, but it is not the Prometheus this script starts (config.file is not $STATE/prometheus.yml); stop it or set PROMETHEUS_PORT"
  fi
  if [ "$changed" = 1 ] && [ -f "$STATE/prometheus.pid" ]; then
    kill -HUP "$(cat "$STATE/prometheus.pid")" && log "configuration changed: reloaded"
  fi
  log "already running on $URL"
  exit 0
fi

log "starting on $URL, state $STATE — log $STATE/prometheus.log"
nohup setsid /usr/bin/prometheus \
  --config.file="$STATE/prometheus.yml" \
  --storage.tsdb.path="$STATE/data" \
  --storage.tsdb.retention.time=1d \
  --web.listen-address="127.0.0.1:$PORT" \
  --log.level=warn \
  >>"$STATE/prometheus.log" 2>&1 </dev/null &
echo $! >"$STATE/prometheus.pid"

for _ in $(seq 1 120); do
  if ready; then log "ready"; exit 0; fi
  kill -0 "$(cat "$STATE/prometheus.pid")" 2>/dev/null || break
  sleep 0.25
done
echo "prometheus-up: Prometheus did not become ready in 30s; see $STATE/prometheus.log" >&2
tail -20 "$STATE/prometheus.log" >&2
exit 1
