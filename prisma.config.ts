// Prisma CLI configuration. The service itself never runs the Prisma CLI's migrate commands (their native engine
// cannot be downloaded offline); prisma/tools applies and writes migrations instead.
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/insights" },
});
