#!/usr/bin/env bash
# npm run demo: installs what is missing, starts the real parts (reused when up), runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
bash scripts/temporal-up.sh
bash scripts/docker-up.sh
exec npx tsx scripts/demo.ts "$@"
