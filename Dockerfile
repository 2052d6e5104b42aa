# tandem's image: `tandem` is the entry point; `worker` (default), `gateway` and every CLI command.
#   docker build -t tandem .          on a machine that can pull node:20-slim
#   scripts/image-build.sh            here: a base made from the host's Node, pushed to 127.0.0.1:5000
# BASE_IMAGE needs Node 20 with npm on glibc (the Temporal core bridge ships linux-*-gnu binaries).
ARG BASE_IMAGE=node:20-slim

# --- build: compile dist/ and the workflow bundle ----------------------------------------------
FROM ${BASE_IMAGE} AS build
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-workflow-bundle.ts scripts/
COPY src src
RUN npm run build

# --- production dependencies only --------------------------------------------------------------
FROM ${BASE_IMAGE} AS deps
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
# The Temporal core bridge ships its native library for every platform (≈ 30 MB each): keep this one's.
RUN node -e "const bridge = 'node_modules/@temporalio/core-bridge'; const keep = require('./' + bridge + '/common').getPrebuiltTargetName(); \
      for (const name of fs.readdirSync(bridge + '/releases')) if (name !== keep) fs.rmSync(bridge + '/releases/' + name, { recursive: true })"

# --- runtime -----------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
# The worker reads model repositories with git. Debian-based images (the default) get it here; a
# base without apt-get must bring git itself (scripts/image-build.sh's local base does).
RUN if command -v apt-get >/dev/null 2>&1; then \
      apt-get update && apt-get install -y --no-install-recommends git ca-certificates && rm -rf /var/lib/apt/lists/*; \
    fi
# A non-root user with a home for the caches (~/.cache/tandem); only shell built-ins and node,
# so this works on bases without useradd/mkdir.
RUN echo 'tandem:x:10001:10001:tandem:/home/tandem:/bin/sh' >>/etc/passwd \
 && echo 'tandem:x:10001:' >>/etc/group \
 && node -e "fs.mkdirSync('/home/tandem', { recursive: true }); fs.chownSync('/home/tandem', 10001, 10001)"
ENV NODE_ENV=production HOME=/home/tandem
WORKDIR /app
COPY --from=deps /build/node_modules node_modules
COPY package.json ./
COPY bin bin
COPY --from=build /build/dist dist
USER 10001:10001
ENTRYPOINT ["node", "bin/tandem.js"]
CMD ["worker"]

ARG VERSION=dev
ARG REVISION=unknown
# the repository URL: scripts/image-build.sh passes the Git remote "origin" when there is one
ARG SOURCE=
LABEL org.opencontainers.image.title="tandem" \
      org.opencontainers.image.description="Release machine-learning model versions side by side, as durable Temporal workflows." \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
