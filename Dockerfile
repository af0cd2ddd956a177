# One image for every process (API, worker, migrations); docker-compose.yml picks the command.
# Node 24 is an LTS line (supported to 2028-04); the code also runs on Node >= 20.19 (package.json "engines").
ARG NODE_IMAGE=node:24-bookworm-slim

# Build stage: every dependency, to generate the Prisma client and build the web client (`npm ci` runs
# `npm run db:generate`, which needs the prisma CLI, a dev dependency, with the schema and prisma.config.ts, then
# `npm run build:web`, which needs Vite and web/). Only the generated client and web/dist leave it.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts tsconfig.base.json tsconfig.json ./
COPY api/package.json api/
COPY worker/package.json worker/
COPY shared/package.json shared/
COPY tests/package.json tests/
COPY web/package.json web/
COPY prisma prisma
COPY web/index.html web/vite.config.ts web/
COPY web/src web/src
RUN npm ci --no-audit --no-fund

# Runtime stage: production dependencies only (no vitest, testcontainers, prisma CLI or compiler). The app runs its
# TypeScript through tsx, and the migrations through @prisma/schema-engine-wasm: both are production dependencies.
# --ignore-scripts: the postinstall step needs the prisma CLI and Vite; its output is copied from the build stage.
# (npm still keeps the prisma CLI and typescript: @prisma/client names them as optional peers, unused at run time.)
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY api/package.json api/
COPY worker/package.json worker/
COPY shared/package.json shared/
COPY tests/package.json tests/
COPY web/package.json web/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# The source (.dockerignore keeps out node_modules, .env and any host copy of the generated client), then the client.
COPY . .
COPY --from=build /app/shared/src/db/generated shared/src/db/generated
COPY --from=build /app/web/dist web/dist

# The files stay root's and read-only to the process; it runs as the image's unprivileged `node` user.
USER node
EXPOSE 3000 9464
# The API's readiness (the default command). Compose gives the worker its own check and turns it off for migrate.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 CMD ["node", "scripts/healthcheck.js", "api"]
CMD ["npm", "run", "start:api"]
