#!/usr/bin/env bash
# npm run demo: installs what is missing, starts the real parts (reused when up), runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/temporal-up.sh
bash scripts/docker-up.sh
if [ "${1:-}" = "--kubernetes" ]; then
  # npm run demo -- --kubernetes [--keep]: the same story on the real Kubernetes node, through
  # `tandem gateway --kubernetes` (scripts/demo-kubernetes.ts). k8s-node-up.sh prints the kubeconfig.
  shift
  out=$(bash scripts/k8s-node-up.sh) || { echo "demo: the Kubernetes node did not start (k8s-node-up.sh exit $?; 3: this machine cannot run one)" >&2; exit 1; }
  exec npx tsx scripts/demo-kubernetes.ts --kubeconfig "$(printf '%s\n' "$out" | tail -n 1)" "$@"
fi
exec npx tsx scripts/demo.ts "$@"
