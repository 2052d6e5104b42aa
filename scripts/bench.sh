#!/usr/bin/env bash
# npm run bench [-- --quick]: starts the real parts it needs and prints one JSON object per
# measurement, then how long the whole run took. --quick runs smaller sizes (for development).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
QUICK=""
[ "${1:-}" = "--quick" ] && QUICK="--quick"
export BENCH_QUICK=${QUICK:+1}
started=$(date +%s)
parts=""
# part NAME COMMAND...: runs one part of the benchmark and notes how long it took (bench_seconds lists them)
part() {
  local name=$1 t0=$SECONDS
  shift
  "$@"
  parts="$parts${parts:+,}\"$name\":$((SECONDS - t0))"
}
part temporal_up bash scripts/temporal-up.sh >&2
part release_overhead npx tsx bench/release-overhead.ts
part docker_up bash scripts/docker-up.sh >&2
part image_build npx tsx bench/image-build.ts
# abort / rollback --to → 100% at the gateway, under steady client load
part traffic_switch npx tsx bench/traffic-switch.ts $QUICK
# abort → 100% stable through tandem gateway --kubernetes on the real node; prints a `skipped` line when
# this machine cannot run the node (k8s-node-up.sh exit 3)
part abort_kubernetes npx tsx bench/abort-kubernetes.ts
# tandem serve's latency per route under a small bounded load (a release waiting at its approval gate)
part serve_api npx tsx bench/serve-api.ts
# callers' p50/p99 through the gateway without shadowing and with every request mirrored and compared
part shadow_latency npx tsx bench/shadow-latency.ts
# requests/s and added latency through the gateway against calling the model directly, 1/4/16 versions
part gateway_throughput npx tsx bench/gateway-throughput.ts $QUICK
# the console's page load time and live-update delay in Chromium (installed by browser-up.sh when missing)
part browser_up bash scripts/browser-up.sh >&2
part console npx tsx bench/console.ts
# many releases at once, waiting releases' memory, reaction under load, fleet reads (worker in its own process)
part scale npx tsx bench/scale.ts $QUICK
echo "{\"name\":\"bench_seconds\",\"value\":$(( $(date +%s) - started )),\"unit\":\"s\",\"quick\":${QUICK:+true}${QUICK:-false},\"parts\":{$parts},\"machine\":\"$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME")\"}"
