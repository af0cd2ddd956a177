// Prisma's schema engine compiled to wasm, driven over adapter-pg. The `prisma` CLI's migrate commands need a native
// engine these machines cannot download; this build (pinned to the CLI's engine version) runs the same Rust code, so
// migrations are applied, recorded in `_prisma_migrations` and diffed exactly as `prisma migrate` would.
// Argument shapes: node_modules/@prisma/schema-engine-wasm/schema_engine_bg.d.ts.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import { bindMigrationAwareSqlAdapterFactory, ColumnTypeEnum } from "@prisma/driver-adapter-utils";
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory, SqlQueryable } from "@prisma/driver-adapter-utils";
import * as glue from "@prisma/schema-engine-wasm/schema_engine_bg";
import pg from "pg";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const schemaPath = path.join(root, "prisma/schema.prisma");
export const migrationsDir = path.join(root, "prisma/migrations");
const noFilters = { externalTables: [], externalEnums: [] };

// Node 20 cannot `import` a .wasm, so instantiate it against its JS glue by hand (what the package's schema_engine.js
// leaves to a bundler). The glue holds one module-wide instance: load it once per process.
// The project's libs (ES2023, no DOM) leave WebAssembly untyped; this is the one call made.
declare const WebAssembly: { instantiate(b: Uint8Array, i: object): Promise<{ instance: { exports: Record<string, unknown> } }> };
let loaded: Promise<void> | undefined;
let lastPanic: string | undefined;
function loadWasm(): Promise<void> {
  return (loaded ??= (async () => {
    const gluePath = createRequire(import.meta.url).resolve("@prisma/schema-engine-wasm/schema_engine_bg");
    const bytes = await readFile(path.join(path.dirname(gluePath), "schema_engine_bg.wasm"));
    // The engine races its advisory lock against a 10 s timer it never clears, which kept every run alive for 10 s.
    // Unref'd it no longer does; while the lock matters, the pending lock query keeps the process up anyway.
    const imports: Record<string, unknown> = { ...glue };
    for (const key of Object.keys(imports).filter((k) => k.startsWith("__wbg_setTimeout_"))) {
      imports[key] = (callback: () => void, ms: number) => setTimeout(callback, ms >>> 0).unref();
    }
    const { instance } = await WebAssembly.instantiate(bytes, { "./schema_engine_bg.js": imports as never });
    glue.__wbg_set_wasm(instance.exports);
    // A Rust panic reports its message here, then traps outside any promise; runCli reports it.
    Object.assign(globalThis, { PRISMA_WASM_PANIC_REGISTRY: { set_message: (m: string) => void (lastPanic = m) } });
    (instance.exports.__wbindgen_start as () => void)();
  })());
}

// The engine's catalog queries return Postgres' internal one-byte `"char"` (OID 18, e.g. pg_constraint.contype).
// adapter-pg refuses that column type, and the engine needs it reported as Character (as Text it panics). So our pg
// client relabels OID 18 as text for adapter-pg and notes those columns against the rows array, which adapter-pg
// returns as is; the queryRaw wrapper then reports them as Character.
const charColumns = new WeakMap<object, number[]>();
function relabelChar<T>(result: T): T {
  for (const r of [result].flat() as { fields?: { dataTypeID: number }[]; rows: object }[]) {
    const columns = (r?.fields ?? []).flatMap((f, i) => (f.dataTypeID === 18 ? [i] : []));
    for (const i of columns) r.fields![i]!.dataTypeID = 25;
    if (columns.length) charColumns.set(r.rows, columns);
  }
  return result;
}
class CharAsTextClient extends pg.Client {
  // Both call styles arrive here: with a callback (from Pool#query) and without (inside adapter transactions).
  override query(...args: unknown[]): never {
    const callback = args.at(-1);
    if (typeof callback === "function") args[args.length - 1] = (e: unknown, r: unknown) => callback(e, e ? r : relabelChar(r));
    const out: unknown = Reflect.apply(super.query, this, args);
    return (out instanceof Promise ? out.then(relabelChar) : out) as never;
  }
}
function withCharColumns<Q extends SqlQueryable>(queryable: Q): Q {
  const queryRaw = queryable.queryRaw.bind(queryable);
  queryable.queryRaw = async (query) => {
    const result = await queryRaw(query);
    for (const i of charColumns.get(result.rows) ?? []) result.columnTypes[i] = ColumnTypeEnum.Character;
    return result;
  };
  return queryable;
}

async function connectAdapter(url: string, onDispose = async () => {}): Promise<SqlDriverAdapter> {
  const adapter = withCharColumns(await new PrismaPg({ connectionString: url, Client: CharAsTextClient }).connect());
  const startTransaction = adapter.startTransaction.bind(adapter);
  adapter.startTransaction = async (isolation) => withCharColumns(await startTransaction(isolation));
  // adapter-pg splits a script at every ";", cutting $$-quoted function bodies (the audit trigger) apart. Send it whole
  // as one simple query, as the native engine does: Postgres runs it as one implicit transaction.
  adapter.executeScript = async (script) => void (await adapter.executeRaw({ sql: script, args: [], argTypes: [] }));
  const dispose = adapter.dispose.bind(adapter);
  let disposed: Promise<void> | undefined; // the engine disposes shadow adapters itself; we dispose everything
  adapter.dispose = () => (disposed ??= dispose().then(onDispose));
  return adapter;
}

const withDatabase = (url: string, db: string) => Object.assign(new URL(url), { pathname: `/${encodeURIComponent(db)}` }).href;
const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Runs `work` on the server's `postgres` maintenance database (CREATE/DROP DATABASE cannot run in the target). */
async function onServer<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: withDatabase(url, "postgres") });
  await client.connect();
  return work(client).finally(() => client.end());
}

/** Creates the database `url` names unless it exists. */
export async function ensureDatabase(url: string): Promise<void> {
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  await onServer(url, async (c) => {
    const { rowCount } = await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    // Another process may create it meanwhile (42P04, or 23505 from the catalog index): that is success too.
    if (!rowCount)
      await c.query(`CREATE DATABASE ${quote(name)}`).catch((e: { code?: string }) => {
        if (e.code !== "42P04" && e.code !== "23505") throw e;
      });
  });
}

/** Drops database `name` on url's server, even with connections left open to it. */
export async function dropDatabase(url: string, name: string): Promise<void> {
  await onServer(url, (c) => c.query(`DROP DATABASE IF EXISTS ${quote(name)} WITH (FORCE)`));
}

// adapter-pg's own connectToShadowDb connects back to the main database (its connection string beats the database it
// sets), so shadow databases come from here: a throwaway database per request, dropped with its adapter. The engine
// never disposes its main adapter, so withEngine disposes all of them, or idle pools would hold the process open.
const liveShadows = new Map<string, string>(); // name → server url; runCli drops these after an engine crash
function adapterFactory(url: string) {
  const adapters: SqlDriverAdapter[] = [];
  const track = (adapter: SqlDriverAdapter) => {
    adapters.push(adapter);
    return adapter;
  };
  const factory: SqlMigrationAwareDriverAdapterFactory = {
    provider: "postgres",
    adapterName: "@prisma/adapter-pg",
    connect: async () => track(await connectAdapter(url)),
    async connectToShadowDb() {
      const name = `prisma_shadow_${randomBytes(6).toString("hex")}`;
      await onServer(url, (c) => c.query(`CREATE DATABASE ${quote(name)}`));
      liveShadows.set(name, url);
      const drop = () => dropDatabase(url, name).then(() => void liveShadows.delete(name));
      return track(await connectAdapter(withDatabase(url, name), drop));
    },
  };
  return { factory, close: () => Promise.all(adapters.map((a) => a.dispose())) };
}

type Schema = { path: string; content: string };
async function withEngine<T>(url: string, schema: Schema | null, run: (engine: glue.SchemaEngine) => Promise<T>) {
  await loadWasm();
  const { factory, close } = adapterFactory(url);
  const log = (line: string) => process.env.SCHEMA_ENGINE_DEBUG && console.error(line);
  const datamodels: [string, string][] | undefined = schema ? [[schema.path, schema.content]] : undefined;
  const engine = await glue.SchemaEngine.new({ datamodels }, log, bindMigrationAwareSqlAdapterFactory(factory));
  try {
    return await run(engine);
  } finally {
    engine.free();
    await close();
  }
}

/** The migrations directory as `prisma migrate` hands it to the engine: subdirectories sorted by name. */
async function readMigrations(dir: string): Promise<glue.MigrationList> {
  const read = (file: string) => readFile(path.join(dir, file), "utf8");
  const names = (await readdir(dir, { withFileTypes: true }).catch(() => []))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort((a, b) => a.localeCompare(b));
  const migrationDirectories = await Promise.all(
    names.map(async (name) => {
      const content = await read(path.join(name, "migration.sql")).then(
        (value) => ({ tag: "ok" as const, value }),
        (e: Error) => ({ tag: "error" as const, value: e.message }),
      );
      return { path: name, migrationFile: { path: "migration.sql", content } };
    }),
  );
  const lockfile = { path: "migration_lock.toml", content: await read("migration_lock.toml").catch(() => null) };
  return { baseDir: dir, lockfile, shadowDbInitScript: "", migrationDirectories };
}

/** Where the schema and migrations are read from (default: prisma/); tests point these at temporary copies. */
export type Sources = { schemaPath?: string; migrationsDir?: string };

/** Creates the database if needed, then applies every committed migration it has not recorded yet. Idempotent. */
export async function deployMigrations(databaseUrl: string, sources: Sources = {}): Promise<{ applied: string[] }> {
  await ensureDatabase(databaseUrl);
  const migrationsList = await readMigrations(sources.migrationsDir ?? migrationsDir);
  // Applying needs the migrations only: a half-edited schema.prisma must not block a deploy.
  const { appliedMigrationNames } = await withEngine(databaseUrl, null, (engine) =>
    engine.applyMigrations({ migrationsList, filters: noFilters }),
  );
  return { applied: appliedMigrationNames };
}

/**
 * The SQL that takes what the committed migrations build to the schema (default prisma/schema.prisma): '' or only
 * comments when they agree. The migrations are replayed into a throwaway shadow database on databaseUrl's server.
 */
export async function diffMigrationsToSchema(databaseUrl: string, sources: Sources = {}): Promise<string> {
  const file = sources.schemaPath ?? schemaPath;
  const schema = { path: file, content: await readFile(file, "utf8") };
  const migrations = await readMigrations(sources.migrationsDir ?? migrationsDir);
  // With no migrations yet the starting point is simply empty, which needs no shadow database.
  const from: glue.DiffTarget = migrations.migrationDirectories.length ? { tag: "migrations", ...migrations } : { tag: "empty" };
  const to: glue.DiffTarget = { tag: "schemaDatamodel", files: [schema] };
  // The engine wants a main connection too; the maintenance database serves, so the target need not exist.
  const result = await withEngine(withDatabase(databaseUrl, "postgres"), schema, (engine) =>
    engine.diff({ from, to, script: true, exitCode: null, filters: noFilters }),
  );
  return result.stdout ?? "";
}

/** True when `sql` has no statement, only comments and blank lines (the engine's "no difference"). */
export const isEmptyMigration = (sql: string) => sql.split("\n").every((l) => !l.trim() || l.trim().startsWith("--"));

/**
 * Runs a CLI's body with DATABASE_URL (environment or the repo's .env, else the local default, said out loud) and
 * turns any failure into one line saying what to do, and exit code 1: a stack trace helps nobody here.
 */
export async function runCli(main: (databaseUrl: string) => Promise<number | void>): Promise<void> {
  if (existsSync(path.join(root, ".env"))) process.loadEnvFile(path.join(root, ".env"));
  const url = process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/insights";
  if (!process.env.DATABASE_URL) console.log(`DATABASE_URL is not set; using ${url}`);
  const fail = async (error: unknown) => {
    console.error(URL.canParse(url) ? explainFailure(error, new URL(url)) : "DATABASE_URL is not a postgresql:// URL");
    await Promise.allSettled([...liveShadows].map(([name, server]) => dropDatabase(server, name)));
    process.exit(1);
  };
  process.on("uncaughtException", fail); // where an engine panic arrives
  process.exitCode = (await main(url).catch(fail)) ?? 0;
}

function explainFailure(error: unknown, { hostname, port }: URL): string {
  const { code, message = String(error) } = error as { code?: string; message?: string };
  if (lastPanic) return `the schema engine crashed: ${lastPanic.replaceAll("\n", " ")}`;
  if (/^(ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH)$/.test(code ?? "") || /Can't reach/.test(message)) {
    return `cannot reach PostgreSQL at ${hostname}:${port || 5432} — start it or set DATABASE_URL`;
  }
  if (code === "28P01" || code === "28000") return `PostgreSQL refused the login — fix the user/password in DATABASE_URL`;
  // Engine errors end in a Rust span trace ("   0: …"): keep the sentence and the migration the trace names.
  const migration = /migration_name="([^"]+)"/.exec(message)?.[1];
  const text = message
    .split(/\n\s+0: /)[0]!
    .replace("external connector error", "")
    .split("\n");
  const line = text
    .map((l) => l.trim())
    .filter(Boolean)
    .join(" ");
  return migration ? `migration ${migration} failed: ${line}` : `failed: ${line}`;
}
