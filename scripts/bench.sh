#!/usr/bin/env bash
# npm run bench: starts the real parts it needs and prints one JSON object per measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/temporal-up.sh >&2
npx tsx bench/release-overhead.ts
if [ -f bench/image-build.ts ]; then bash scripts/docker-up.sh >&2 && npx tsx bench/image-build.ts; fi
if [ -f bench/traffic-switch.ts ]; then npx tsx bench/traffic-switch.ts; fi
# abort → 100% stable through tandem gateway --kubernetes on the real node; prints a `skipped` line when
# this machine cannot run the node (k8s-node-up.sh exit 3)
if [ -f bench/abort-kubernetes.ts ]; then npx tsx bench/abort-kubernetes.ts; fi
# tandem serve's latency per route under a small bounded load (a release waiting at its approval gate)
if [ -f bench/serve-api.ts ]; then npx tsx bench/serve-api.ts; fi
# callers' p50/p99 through the gateway without shadowing and with every request mirrored and compared
if [ -f bench/shadow-latency.ts ]; then npx tsx bench/shadow-latency.ts; fi
# the console's page load time and live-update delay in Chromium (installed by browser-up.sh when missing)
if [ -f bench/console.ts ]; then bash scripts/browser-up.sh >&2 && npx tsx bench/console.ts; fi
