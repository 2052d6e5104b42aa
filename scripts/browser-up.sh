#!/usr/bin/env bash
# The browser the console's tests drive (playwright-core with executablePath): Debian's Chromium
# at /usr/bin/chromium, installed when missing. Idempotent: does nothing when it is there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
[ -x /usr/bin/chromium ] && exit 0
log "installing chromium (apt)"
# Try the package lists the machine has first; refresh them only when that fails (a fresh machine has none).
if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
  apt_install chromium
fi
[ -x /usr/bin/chromium ] || die "chromium did not install at /usr/bin/chromium"
log "chromium $(/usr/bin/chromium --version 2>/dev/null || echo '(version unknown)')"
