#!/usr/bin/env bash
# npm test: installs what is missing, starts the real parts (reused when up), runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/temporal-up.sh
bash scripts/docker-up.sh
bash scripts/k8s-up.sh
bash scripts/prometheus-up.sh
files=$(find test -name '*.test.ts' | sort)
if [ "$#" -gt 0 ]; then files="$*"; fi
# The real Kubernetes node (kubelet, containerd, kube-proxy: scripts/k8s-node-up.sh) only when a
# test file asks for it; the KWOK-only tests never need it. Those tests start it themselves too
# (reused when up) and say why when this machine cannot run one.
if grep -l 'startRealNode' $files >/dev/null 2>&1; then
  bash scripts/k8s-node-up.sh >/dev/null || echo "test.sh: the real Kubernetes node did not start; the tests that need it say why" >&2
fi
# Chromium (scripts/browser-up.sh) only when a console test, which drives a real browser, is among the files.
if grep -l 'playwright-core' $files >/dev/null 2>&1; then
  bash scripts/browser-up.sh
fi
exec node --import tsx --test --test-concurrency=1 --test-timeout=600000 $files
