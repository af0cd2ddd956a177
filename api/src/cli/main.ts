// `npm run cli -- <command>`: seed, token, demo. Each prints what the next step needs and nothing else on stdout.
import { parseArgs } from "node:util";
import { z } from "zod";
import { loadConfig, loadLocalEnv } from "@insights/shared/config";
import { createDb, type Db } from "@insights/shared/db/client";
import { apiEnvSchema } from "../config.ts";
import { signServiceToken, signToken } from "../auth/jwt.ts";
import { DemoFailure, runDemo } from "./demo.ts";
import { seedWorkspace } from "./seed.ts";
import { resealWebhookSecrets } from "../webhooks/webhooks.service.ts";
import { createSecretBox } from "@insights/shared/webhooks/secret-box";

const USAGE = `usage: npm run cli -- <command>
  seed --leads N [--json]        create a workspace with campaigns, N leads and four users (owner, admin, member, outsider)
  token --user <id|email> [--ttl-hours H]   print a bearer token for a user
  token --service [--name N] [--ttl-hours H]  print a service token for the host's backend (provisioning, ingestion)
  demo                           seed if needed, compute a context pack, show its progress, ask a question
  rotate-webhook-key             re-seal every webhook secret under WEBHOOK_SECRET_KEY (opening it with WEBHOOK_SECRET_KEY_PREVIOUS)`;

// PORT and API_URL only tell `demo` where the running API is.
const cliEnvSchema = apiEnvSchema
  .pick({
    DATABASE_URL: true,
    AUTH_JWT_SECRET: true,
    LOG_LEVEL: true,
    PORT: true,
    WEBHOOK_SECRET_KEY: true,
    WEBHOOK_SECRET_KEY_PREVIOUS: true,
  })
  .extend({ API_URL: z.url().optional() });

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      leads: { type: "string", default: "50" },
      json: { type: "boolean", default: false },
      user: { type: "string" },
      service: { type: "boolean", default: false },
      name: { type: "string", default: "host" },
      "ttl-hours": { type: "string", default: "24" },
    },
    strict: true,
  });
  if (command !== "seed" && command !== "token" && command !== "demo" && command !== "rotate-webhook-key") fail(USAGE);

  // Like `npm start`: on a fresh clone the CLI reaches the same database and signs tokens with the same secret as
  // the API it started.
  loadLocalEnv();
  const config = loadConfig(cliEnvSchema);
  const db = createDb(config.DATABASE_URL, { maxConnections: 2 });
  try {
    if (command === "seed") await seed(db, config.AUTH_JWT_SECRET, values.leads, values.json);
    else if (command === "token" && values.service)
      await serviceToken(config.AUTH_JWT_SECRET, values.user, values.name, values["ttl-hours"]);
    else if (command === "token") await token(db, config.AUTH_JWT_SECRET, values.user, values["ttl-hours"]);
    else if (command === "rotate-webhook-key") await rotateWebhookKey(db, config.WEBHOOK_SECRET_KEY, config.WEBHOOK_SECRET_KEY_PREVIOUS);
    else await runDemo(db, { apiUrl: config.API_URL ?? `http://localhost:${config.PORT}`, secret: config.AUTH_JWT_SECRET });
  } finally {
    await db.$disconnect();
  }
}

async function seed(db: Db, secret: string, leadsArg: string, json: boolean): Promise<void> {
  const leads = z.coerce.number().int().min(0).max(100_000).safeParse(leadsArg);
  if (!leads.success) fail("seed: --leads must be a whole number from 0 to 100000");
  const seeded = await seedWorkspace(db, { leads: leads.data });
  const withTokens: Record<string, { id: string; email: string; token: string }> = {};
  for (const [role, user] of Object.entries(seeded.users)) {
    withTokens[role] = { ...user, token: await signToken(secret, user.id) };
  }
  const output = { workspaceId: seeded.workspaceId, campaignIds: seeded.campaignIds, users: withTokens };
  if (json) {
    warnAboutNpmBanner("seed --json");
    process.stdout.write(`${JSON.stringify(output)}\n`);
    return;
  }
  process.stdout.write(
    `seeded workspace ${seeded.workspaceId} with ${leads.data} leads in ${seeded.campaignIds.length} campaigns\n` +
      Object.entries(withTokens)
        .map(([role, user]) => `  ${role.padEnd(8)} ${user.email}\n           token: ${user.token}`)
        .join("\n") +
      "\n",
  );
}

function ttlSecondsOf(ttlArg: string): number {
  const ttl = z.coerce
    .number()
    .positive()
    .max(24 * 365)
    .safeParse(ttlArg);
  if (!ttl.success) fail("token: --ttl-hours must be a positive number of hours");
  return Math.round(ttl.data * 3600);
}

async function token(db: Db, secret: string, who: string | undefined, ttlArg: string): Promise<void> {
  if (!who) fail("token: pass --user <id|email>, or --service");
  const ttlSeconds = ttlSecondsOf(ttlArg);
  const user = await db.user.findFirst({ where: who.includes("@") ? { email: who } : { id: who } });
  if (!user) fail(`token: no user with ${who.includes("@") ? "email" : "id"} ${who}; run \`npm run cli -- seed\` first`);
  warnAboutNpmBanner(`token --user ${who}`);
  process.stdout.write(`${await signToken(secret, user.id, ttlSeconds)}\n`);
}

/** Needs no database row: the service is no user, and its token can never act as one. */
async function serviceToken(secret: string, user: string | undefined, name: string, ttlArg: string): Promise<void> {
  if (user) fail("token: pass either --user or --service, not both");
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) fail("token: --name must be 1-64 letters, digits or . _ -");
  warnAboutNpmBanner("token --service");
  process.stdout.write(`${await signServiceToken(secret, name, ttlSecondsOf(ttlArg))}\n`);
}

async function rotateWebhookKey(db: Db, current: Buffer | undefined, previous: Buffer | undefined): Promise<void> {
  if (!current) fail("rotate-webhook-key: set WEBHOOK_SECRET_KEY to the new key and WEBHOOK_SECRET_KEY_PREVIOUS to the old one");
  const resealed = await resealWebhookSecrets(db, createSecretBox(current, previous));
  process.stdout.write(`re-sealed ${resealed} webhook secret(s) under the current WEBHOOK_SECRET_KEY\n`);
}

/**
 * `npm run` prints its `> cli` banner on stdout before this process starts, so output meant for a program (JSON, a
 * token) arrives behind two lines it cannot parse, and nothing here can take them back. `npm run -s` prints no
 * banner: say so on stderr whenever npm ran us without it.
 */
function warnAboutNpmBanner(command: string): void {
  if (process.env.npm_lifecycle_event === "cli" && process.env.npm_config_loglevel !== "silent") {
    process.stderr.write(
      `cli: npm printed its banner on stdout above this output; for the output alone run \`npm run -s cli -- ${command}\`\n`,
    );
  }
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  // The demo's failures already say what to do, in one line.
  if (err instanceof DemoFailure) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  const text = err instanceof Error ? err.message : String(err);
  process.stderr.write(
    /ECONNREFUSED|connect/i.test(text)
      ? "cli: cannot reach PostgreSQL; start it or set DATABASE_URL (see README)\n"
      : `cli: ${text.split("\n")[0]}\n`,
  );
  process.exit(1);
});
