# One image for every process (API, worker, migrations); docker-compose.yml picks the command.
FROM node:20-bookworm-slim

WORKDIR /app

# Dependencies first, so a source edit does not reinstall them. `npm ci` runs the postinstall step
# (`npm run db:generate`), which needs the Prisma schema, prisma.config.ts and prisma/tools, so those come in now too.
# Dev dependencies stay: tsx runs the TypeScript directly, and the migrations need prisma's wasm schema engine.
COPY package.json package-lock.json prisma.config.ts tsconfig.base.json tsconfig.json ./
COPY api/package.json api/
COPY worker/package.json worker/
COPY shared/package.json shared/
COPY tests/package.json tests/
COPY prisma prisma
RUN npm ci && npm cache clean --force

# The source. .dockerignore keeps out node_modules, .env and the generated client built above.
COPY . .

USER node
EXPOSE 3000
CMD ["npm", "run", "start:api"]
