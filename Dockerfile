# x402-facilitator image: one image, three roles. The mode is the argument:
#   docker run IMAGE migrate   apply migrations/ to DATABASE_URL, then exit
#   docker run IMAGE api       HTTP API only (never holds the relayer key)
#   docker run IMAGE worker    settlement worker only (the one process given the relayer key)
#   docker run IMAGE           "all": api + worker in one process, for small installs
# Targets: `runtime` (default, last stage) and `devnet` (keeps devDependencies: `npm run devnet`).
# No HEALTHCHECK here: worker and migrate serve no HTTP, so docker-compose.yml declares the
# /healthz probe on the api service only.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# ---- deps: every dependency, dev included (tsc, and the devnet target) -------------------
# Install scripts stay off (--ignore-scripts), as on the project's machines: the native module
# used (secp256k1) loads a bundled prebuild at run time, so no compiler is needed anywhere.
# The one script the project needs, its own postinstall, is run by name: patch-package applies
# patches/ (the postgres driver's closed-socket guard, see README) and fails the build if it can't.
FROM base AS deps
COPY package.json package-lock.json .npmrc* ./
COPY patches ./patches
RUN npm ci --ignore-scripts && npx --no-install patch-package --error-on-fail && npm cache clean --force

# ---- build: compile src/ to dist/ --------------------------------------------------------
FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- devnet: try-it-now image (anvil + USDC + simulated Solana + api + worker), keeps devDependencies
# anvil comes from @foundry-rs/anvil-linux-amd64: this target is for linux/amd64 only. The
# simulated Solana cluster is litesvm (a devDependency), whose native prebuild npm picks per platform.
FROM build AS devnet
COPY --chown=node:node . .
RUN chown node:node /app
USER node
ENV NODE_ENV=development
EXPOSE 4021 4022 4023 8545 8899
CMD ["npm", "run", "devnet"]

# ---- prod-deps: runtime dependencies only -------------------------------------------------
FROM deps AS prod-deps
RUN npm prune --omit=dev --ignore-scripts && npm cache clean --force

# ---- runtime ------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=4021 \
    HOST=0.0.0.0
WORKDIR /app
# Owned by root, run as `node` (uid 1000): the process cannot rewrite its own code.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# `migrate` resolves ../../migrations from dist/db/, i.e. /app/migrations.
COPY migrations ./migrations
USER node
EXPOSE 4021
# The V8 heap settings of src/runtime/node-flags.ts (test/unit/node-flags.test.ts checks they match).
ENTRYPOINT ["node", "--max-semi-space-size=8", "--heap-growing-percent=40", "dist/main.js"]
CMD ["all"]
