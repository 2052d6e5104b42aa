#!/usr/bin/env bash
# Builds tandem's image from the root Dockerfile, tags it 127.0.0.1:5000/tandem:<package.json version>
# and pushes it to the local registry. Prints the image reference on its last line.
#
# Nothing can be pulled here, so unless BASE_IMAGE is given the base is made from this machine:
# tandem/node-base:20 (scripts/docker-up.sh: the host's node and its libraries) plus what
# node:20-slim and the Dockerfile's apt-get step would bring — npm, /usr/bin/env, git with its
# helpers, templates and libraries, librt (the Temporal core bridge links it), the CA bundle
# (NODE_EXTRA_CA_CERTS, so npm trusts it as the host's npm does) — as
# tandem/node-tools:20, tagged with a content key and rebuilt only when that key changes.
# The build runs with --network host: `npm ci` inside it reaches the npm registry as this machine does.
# Environment:
#   BASE_IMAGE   use this base instead (e.g. node:20-slim where it can be pulled)
#   IMAGE        repository to tag and push (default 127.0.0.1:5000/tandem)
#   PUSH=0       build and tag only
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
IMAGE=${IMAGE:-127.0.0.1:5000/tandem}
VERSION=$(node -p "require('./package.json').version")
source "$ROOT/scripts/lib.sh"
START=$SECONDS

bash scripts/docker-up.sh | sed 's/^/  /'
export DOCKER_BUILDKIT=0 # Debian's engine 20.10 without buildx: the classic builder

# --- the local base ------------------------------------------------------------------------------
make_tools_base() {
  local repo=tandem/node-tools git_bins libs key tag dir
  git_bins=$(find /usr/lib/git-core -maxdepth 1 -type f -perm -u+x)
  # Shared libraries of git, its helpers and the Temporal core bridge (ldd gives the closure).
  libs=$( { for f in /usr/bin/git /usr/bin/env $git_bins "$ROOT"/node_modules/@temporalio/core-bridge/releases/x86_64-unknown-linux-gnu/index.node; do
              ldd "$f" 2>/dev/null || true; done; } | grep -o '/[^ ]*\.so[^ ]*' | sort -u)
  key=$( { docker image inspect -f '{{.Id}}' tandem/node-base:20; npm --version; git --version
           sha256sum /usr/bin/env /usr/bin/git /etc/ssl/certs/ca-certificates.crt $libs; echo "layout-2"; } | sha256sum | cut -c1-12)
  tag="$repo:20-$key"
  if ! docker image inspect "$tag" >/dev/null 2>&1; then
    local t0=$SECONDS
    dir=$(mktemp -d "${TMPDIR:-/tmp}/tandem-tools.XXXXXX")
    mkdir -p "$dir/root/usr/bin" "$dir/root/usr/lib/node_modules" "$dir/root/usr/share/git-core" "$dir/root/etc/ssl/certs"
    cp -a "$(readlink -f "$(command -v npm)" | sed 's#/bin/npm-cli.js$##')" "$dir/root/usr/lib/node_modules/npm"
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$dir/root/usr/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$dir/root/usr/bin/npx"
    cp /usr/bin/env /usr/bin/git "$dir/root/usr/bin/"
    cp -a /usr/lib/git-core "$dir/root/usr/lib/git-core"
    cp -a /usr/share/git-core/templates "$dir/root/usr/share/git-core/templates"
    cp /etc/ssl/certs/ca-certificates.crt "$dir/root/etc/ssl/certs/"
    for lib in $libs; do mkdir -p "$dir/root$(dirname "$lib")"; cp -L "$lib" "$dir/root$lib"; done
    tar -C "$dir/root" --numeric-owner --owner=0 --group=0 -cf "$dir/tools.tar" .
    # The CA bundle is this machine's (it may hold a proxy's CA): npm inside the build trusts it too.
    printf 'FROM tandem/node-base:20\nADD tools.tar /\nENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt\n' >"$dir/Dockerfile"
    local out
    out=$(docker build -q -t "$tag" "$dir" 2>&1) || { echo "$out" >&2; exit 1; }
    rm -rf "$dir"
    log "built $tag (npm $(npm --version), $(git --version)) in $((SECONDS - t0))s"
  else
    log "local base $tag present"
  fi
  docker tag "$tag" "$repo:20"
  BASE_IMAGE=$repo:20
}

[ -n "${BASE_IMAGE:-}" ] || make_tools_base

# --- tandem's image ------------------------------------------------------------------------------
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# The context is the working tree: say so when what it copies differs from the commit.
if [ "$REVISION" != unknown ] && [ -n "$(git status --porcelain -- src bin package.json package-lock.json tsconfig.json tsconfig.build.json scripts/build-workflow-bundle.ts Dockerfile)" ]; then
  REVISION="$REVISION-dirty"
fi
SOURCE=$(git config --get remote.origin.url 2>/dev/null || true)
REF="$IMAGE:$VERSION"
log "building $REF from $BASE_IMAGE (revision $REVISION)"
t0=$SECONDS
set +e
docker build --network host -t "$REF" -t "tandem:$VERSION" \
  --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg VERSION="$VERSION" \
  --build-arg REVISION="$REVISION" --build-arg SOURCE="$SOURCE" . 2>&1 |
  grep -vE '^ ---> |Removing intermediate container|^DEPRECATED|^ +(BuildKit|Install the buildx|Docker Desktop|https://docs.docker.com/go/buildx)'
status=${PIPESTATUS[0]}
set -e
[ "$status" = 0 ] || { echo "image-build: docker build failed (exit $status)" >&2; exit 1; }
log "built in $((SECONDS - t0))s; $(( $(docker image inspect -f '{{.Size}}' "$REF") / 1000000 )) MB"
if [ "${PUSH:-1}" != 0 ]; then
  docker push "$REF" | tail -n 1
fi
log "done in $((SECONDS - START))s"
echo "$REF"
