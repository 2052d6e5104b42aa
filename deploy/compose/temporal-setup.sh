#!/bin/sh
# One-shot (service temporal-setup, in the Temporal admin-tools image): registers the namespace
# tandem uses and tandem's search attributes, which every release upserts (the Web UI lists
# releases by them). Idempotent. TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE as for every Temporal tool.
set -eu
ns=${TEMPORAL_NAMESPACE:-default}
attributes="TandemModel TandemVersion TandemEnvironment TandemStage"

if ! temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
  echo "temporal-setup: registering namespace $ns (retention ${TEMPORAL_NAMESPACE_RETENTION:-72h})"
  temporal operator namespace create --namespace "$ns" --retention "${TEMPORAL_NAMESPACE_RETENTION:-72h}"
fi
# A new namespace reaches every service's cache within seconds; search attributes need it there.
tries=0
until existing=$(temporal operator search-attribute list --namespace "$ns" 2>&1); do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "temporal-setup: namespace $ns not usable after 60 s: $existing" >&2; exit 1; }
  sleep 1
done
for name in $attributes; do
  if ! printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "temporal-setup: registering search attribute $name (Keyword) in $ns"
    temporal operator search-attribute create --namespace "$ns" --name "$name" --type Keyword
  fi
done
# Done once the frontend answers a visibility query that names them all.
query='TandemModel="-" AND TandemVersion="-" AND TandemEnvironment="-" AND TandemStage="-"'
tries=0
until temporal workflow list --namespace "$ns" --limit 1 --query "$query" >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "temporal-setup: search attributes not usable in $ns after 60 s" >&2; exit 1; }
  sleep 1
done
echo "temporal-setup: namespace $ns with search attributes $attributes"
