# syntax=docker/dockerfile:1
#
# ordered-sidecar image.
#
#   docker build -t ordered-sidecar .
#   docker run --rm -e HOST=0.0.0.0 -p 127.0.0.1:8080:8080 \
#     -e KAFKA_BROKERS=kafka:9092 -e REDIS_URL=redis://redis:6379 ordered-sidecar
#
# Stages:
#   build   - glibc (Debian slim) image: `npm ci` installs the devDependencies, which include the npm
#             package `node` (a glibc-only Node binary that npm scripts put first on PATH), so this
#             stage must not be Alpine. Runs `npm run build` (the server bundled by esbuild into dist/, the
#             Lua scripts copied beside it, the operations console bundled by esbuild into dist/console).
#   deps    - production dependencies only (`npm ci --omit=dev`); all of them are pure JavaScript.
#   runtime - Alpine, dist/ + production node_modules, non-root, no npm/yarn, no shell tools needed.
#
# HOST: the image does NOT set HOST, so the sidecar keeps its default bind address 127.0.0.1. That is
# right for a sidecar whose only client is the application in the same network namespace, and it keeps
# /admin/v1/* and the produce API off every other network. Whoever needs it reachable from outside the
# container sets HOST=0.0.0.0 explicitly and takes the matching precautions (docs/operations.md,
# "Exposure"): docker-compose.yml does (Prometheus scrapes it over the compose network; the port is
# published on the host's loopback only). deploy/k8s/ keeps HOST on loopback instead and serves /metrics,
# /healthz and /readyz alone on OPS_PORT (8081, OPS_HOST 0.0.0.0) for kubelet's httpGet probes and
# Prometheus, with a NetworkPolicy admitting that port only from Prometheus. The HEALTHCHECK below runs
# inside the container and works with either bind.

ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The npm workspace's other member (the client SDK package): npm ci reads it, the image does not ship it.
COPY packages/sdk/package.json ./packages/sdk/
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build-server.mjs scripts/lazy-ajv.ts scripts/copy-lua.mjs scripts/build-console.mjs ./scripts/
COPY src ./src
RUN npm run build

FROM node:${NODE_VERSION}-alpine AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/sdk/package.json ./packages/sdk/
# --ignore-scripts: no production dependency needs an install script, so none gets to run one. The
# workspace link to the SDK package is dropped: the sidecar does not use it.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund && rm node_modules/ordered-sidecar-client

FROM node:${NODE_VERSION}-alpine AS runtime
# The runtime never installs anything: drop the package managers (smaller image, fewer CVE reports).
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
           /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
           /opt/yarn-* /usr/local/bin/yarn /usr/local/bin/yarnpkg
ENV NODE_ENV=production \
    PORT=8080
WORKDIR /app
# Files stay owned by root and read-only for the runtime user; the sidecar writes nothing to disk, so
# the container also runs with a read-only root filesystem (deploy/k8s sets readOnlyRootFilesystem).
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY deploy/docker/healthcheck.mjs ./healthcheck.mjs
# The official image's `node` user, numerically, so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["node", "/app/healthcheck.mjs"]
# Node runs as PID 1 and handles SIGTERM itself: the sidecar stops accepting, drains in-flight
# requests (SHUTDOWN_GRACE, default 25s), waits for the Kafka writes they started (at most
# 2 x KAFKA_WRITE_TIMEOUT, 60s by default, when Kafka is slow), closes Redis (at most REDIS_COMMAND_TIMEOUT,
# 2s) and exits: 87s at worst by default. Give it a stop timeout longer than that (docker stop -t 100,
# compose stop_grace_period, k8s terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve"]
