# syntax=docker/dockerfile:1
# keyless-worker: the worker (node dist/src/main.js) and the scripts an operator runs as Container
# Apps jobs (dist/scripts/migrate.js, doctor.js, publish.js, sql.js).
#
# The base is pinned to one Node 24 LTS release. To bump it: pick the newest 24.x from
# https://nodejs.org/en/about/previous-releases, set it in NODE_IMAGE below, and pin its digest
# (docker buildx imagetools inspect node:24.X.Y-bookworm-slim) as node:24.X.Y-bookworm-slim@sha256:…;
# keep the `node` devDependency in package.json on the same major.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: the one the build would run is the `node` devDependency's, which downloads a
# Node binary (about 130 MB) that the base image already has; the others are optional native
# speed-ups the compiler does not use. The runtime stage installs its dependencies with theirs.
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only: no compiler, no test runner, no stand-in's library.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
# The image's own unprivileged user (uid 1000); nothing under /app is writable by it.
USER node
# The worker drains on SIGTERM itself (SHUTDOWN_GRACE_MS): node runs as PID 1 with no shell between.
CMD ["node", "dist/src/main.js"]
