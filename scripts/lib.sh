# Shared by the scripts in this folder: `source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"`.
# Messages carry the script's name so interleaved output from several scripts stays readable;
# a script whose stdout is data (printed env, piped output) sets LOG_FD=2 before sourcing.
SCRIPT_NAME=${SCRIPT_NAME:-$(basename "$0" .sh)}
LOG_FD=${LOG_FD:-1}

log() { echo "$SCRIPT_NAME: $*" >&"$LOG_FD"; }
die() { echo "$SCRIPT_NAME: $*" >&2; exit 1; }

# Runs a command as root: directly when we are root, through passwordless sudo otherwise.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else die "needs root to run: $*"; fi
}

# Installs Debian packages (without recommends), refreshing the package lists first: a fresh
# machine has none.
apt_install() {
  log "installing $* (apt)"
  as_root apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
