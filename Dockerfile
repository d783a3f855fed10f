# One image for every process: `npm run api` (default), `npm run worker`, `npm run migrate`,
# `npm run cli -- <command>`. See docs/operations.md and docker-compose.yml.
#
# The processes run TypeScript directly with tsx, which is a runtime dependency, so the image installs
# `dependencies` only (`--omit=dev`): no vitest, testcontainers or upstream SDKs. A runtime import of a
# devDependency would break here; test/unit/docker-compose.test.ts guards against it.

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# The lockfile's overrides (msgpackr-extract 3.0.3, rollup → @rollup/wasm-node) apply to `npm ci` as is.
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM node:20-bookworm-slim
# npm runs scripts with `sh -c`; Debian's dash forks instead of exec'ing, so on SIGTERM the shell dies,
# the node process is orphaned and never drains (checked with `npm run worker`). bash exec's a single
# command, so the signal reaches node and api and worker shut down gracefully (docker stop, scale-down).
ENV NODE_ENV=production \
    npm_config_script_shell=/bin/bash \
    npm_config_update_notifier=false \
    npm_config_fund=false
WORKDIR /app
# Owned by root and read-only for the app user; tsx writes its cache under /tmp.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY api ./api
COPY worker ./worker
COPY shared ./shared
COPY connectors ./connectors
COPY migrations ./migrations
COPY scripts ./scripts
# The `node` user (uid 1000) of the base image.
USER node
EXPOSE 8080
CMD ["npm", "run", "api"]
