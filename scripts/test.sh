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
exec node --import tsx --test --test-concurrency=1 --test-timeout=600000 $files
