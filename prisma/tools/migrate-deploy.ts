// `npm run db:migrate`: creates the database if needed and applies the committed migrations it lacks (the offline
// stand-in for `prisma migrate deploy`, recording them in `_prisma_migrations` the same way). Safe to run repeatedly.
import { deployMigrations, runCli } from "./schema-engine.ts";

await runCli(async (databaseUrl) => {
  const { applied } = await deployMigrations(databaseUrl);
  for (const name of applied) console.log(`applied ${name}`);
  if (applied.length === 0) console.log("database is up to date");
});
