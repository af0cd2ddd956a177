// `npm run db:generate` (also the postinstall step): `prisma generate`, offline. Every prisma command first tries to
// download its native schema engine, which these machines cannot reach; `generate` never runs that engine, so pointing
// PRISMA_SCHEMA_ENGINE_BINARY at any existing file (here: node itself) skips the download. A value the user set wins.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const env = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || process.execPath };
const prisma = spawn(path.join(root, "node_modules/.bin/prisma"), ["generate", ...process.argv.slice(2)], {
  cwd: root,
  env,
  stdio: "inherit",
});
prisma.on("error", (error) => {
  console.error(`cannot run prisma (${error.message}) — run \`npm install\` first`);
  process.exit(1);
});
prisma.on("exit", (code) => process.exit(code ?? 1));
