# One image for every process: `npm run api` (default), `npm run worker`, `npm run migrate`,
# `npm run cli -- <command>`. See docs/operations.md and docker-compose.yml.
#
# The processes run compiled JavaScript: the build stage bundles the entries with esbuild into dist/
# (scripts/build.mjs; packages stay external), and the final image holds dist/ and the `dependencies`
# only (`npm ci --omit=dev`): no TypeScript sources, no tsx, esbuild, vitest or upstream SDKs. The npm
# scripts run scripts/build.mjs before node; without esbuild and without sources, as here, it does
# nothing and the prebuilt dist/ runs (anywhere else, a missing esbuild is an error, so a stale dist
# never runs). A run-time import of a devDependency would break here; test/unit/docker-compose.test.ts
# guards against it.

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# The lockfile's overrides (msgpackr-extract 3.0.3, rollup → @rollup/wasm-node) apply to `npm ci` as is.
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY api ./api
COPY worker ./worker
COPY shared ./shared
COPY connectors ./connectors
COPY migrations ./migrations
COPY scripts ./scripts
# The console and connect pages (Vite) → dist/web, served by the api.
COPY web ./web
RUN node scripts/build.mjs

FROM node:24-bookworm-slim
# npm runs scripts with `sh -c`. Each script ends in `exec node …`, so node replaces the shell and
# SIGTERM (docker stop, scale-down) reaches it: api and worker drain. bash as the script shell stays
# as a second guard: Debian's dash forks for a lone command without `exec`, and then the shell dies on
# SIGTERM, node is orphaned and never drains (checked with `npm run worker` when it was a lone command).
ENV NODE_ENV=production \
    npm_config_script_shell=/bin/bash \
    npm_config_update_notifier=false \
    npm_config_fund=false
# `npm run worker` runs node with --max-semi-space-size=8 (V8's young generation; 16 MB per semi-space
# by default): in `BENCH_QUICK=1 BENCH_SECTIONS=tput npm run bench` (2 cores, 2 workers), the largest
# worker's peak RSS under load averaged 141 MB with it and 176 MB without (4-5 runs each), at 344/s
# against 356/s (runs without it ranged 343-362/s). 4 and 2 saved no more memory and cost more
# throughput. --enable-source-maps (stack traces name the .ts files) cost no measurable RSS.
# `npm run api` runs with it too since issue 21: `BENCH_SECTIONS=sync,tput npm run bench`, two runs
# each, alternated: api peak RSS 173 and 178 MB with it, 246 and 206 MB without; api CPU per call
# 0.49 and 0.49 ms against 0.55 and 0.47. Later in issue 21, at ~1,000 accepted calls/s, the api's
# peak was back at 224-230 MB (garbage grows with the rate, not a leak: ~36 MB live); the api also
# runs with --heap-growing-percent=60 (V8 grows its old space by 60 % past the live heap before the
# next full GC, instead of up to several times): 141 and 145 MB against 228, at +0.06 ms of api CPU
# per call (0.49 against 0.43) and throughput within the runs' spread.
WORKDIR /app
# Owned by root and read-only for the app user.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json package-lock.json ./
COPY scripts/build.mjs ./scripts/build.mjs
# The `node` user (uid 1000) of the base image.
USER node
EXPOSE 8080
CMD ["npm", "run", "api"]
