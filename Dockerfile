# syntax=docker/dockerfile:1
# runledger in one image: the CLI, `serve`, `worker`, `relay` and `ingest` (docker-compose.yml runs
# each as a service). See docs/deploy.md.
#
#   docker build -t runledger:local .
#   docker run --rm runledger:local --help
#
# Two stages. "build" has what compiling needs: every npm dependency (tsc, esbuild) and the native
# toolchain better-sqlite3 falls back to when no prebuilt binary matches (python3, make, g++).
# "runtime" has only production dependencies and the compiled output, owned by root and read-only
# to the unprivileged user it runs as; nothing is downloaded at run time (the TensorFlow.js wasm
# backend, the iris dataset and the dashboard bundle are all in the image).

FROM node:22.22.0-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# node-gyp builds against the image's own headers instead of downloading them.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json ./
# Install scripts are off so the root "prepare" (a build) cannot run before the sources are here;
# the two packages whose install scripts matter are rebuilt explicitly.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 esbuild
COPY . .
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf dist/test

FROM node:22.22.0-bookworm-slim AS runtime
ENV NODE_ENV=production \
    RUNLEDGER_HOME=/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/docs ./docs
# The ledger home (signing key, checkpoints, artifacts; the embedded store by default) is the one
# writable place, owned by the image's "node" user (uid 1000).
RUN mkdir -p /data && chown 1000:1000 /data && chmod 0700 /data
USER 1000:1000
VOLUME ["/data"]
EXPOSE 8787
ENTRYPOINT ["node", "/app/bin/runledger.js"]
CMD ["--help"]
