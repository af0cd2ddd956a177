// Demo and test data: a workspace with campaigns, leads with believable threads, and one user per role.
// Leads go through the same ingestion service the host application's pushes do.
import { randomUUID } from "node:crypto";
import type { Db } from "@insights/shared/db/client";
import type { Caller } from "../http/request-context.ts";
import { ingestLeads } from "../leads/leads.service.ts";
import { MAX_LEADS_PER_BATCH, type LeadInput } from "../leads/leads.schema.ts";

export interface SeededUser {
  id: string;
  email: string;
}

export interface SeededWorkspace {
  workspaceId: string;
  campaignIds: string[];
  users: { owner: SeededUser; admin: SeededUser; member: SeededUser; outsider: SeededUser };
}

const CAMPAIGNS = ["Q4 outbound: logistics", "Webinar follow-up", "SMS reactivation"];
const FIRST_NAMES = ["Ana", "Ben", "Chloe", "Dev", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jon", "Kofi", "Lena"];
const COMPANIES = ["Acme Freight", "Northwind", "Globex", "Initech", "Umbrella Ops", "Stark Supply", "Hooli"];

/** Thread shapes, each a plausible reply pattern with a known outcome. */
const REPLIES: ReadonlyArray<readonly string[]> = [
  ["Thanks for reaching out. This looks relevant; can we book a call Tuesday at 10?", "Booked, see you then."],
  ["Interesting. Can you send pricing for 20 seats?", "We're comparing with our current vendor."],
  ["Not a priority this quarter, check back in March.", ""],
  ["We already use a competitor and are happy with it. Not interested.", ""],
  ["Please remove me from your list. Unsubscribe.", ""],
  ["Too expensive for us right now; budget is frozen until next year.", ""],
  [],
];

export async function seedWorkspace(db: Db, options: { leads: number; now?: Date }): Promise<SeededWorkspace> {
  const now = options.now ?? new Date();
  const tag = randomUUID().slice(0, 8);
  const user = (role: string) => ({ email: `${role}+${tag}@example.test`, name: `${role[0]!.toUpperCase()}${role.slice(1)} ${tag}` });

  const { workspace, users } = await db.$transaction(async (tx) => {
    const workspace = await tx.client.create({ data: { name: `Demo workspace ${tag}` } });
    const [owner, admin, member, outsider] = await Promise.all(
      ["owner", "admin", "member", "outsider"].map((role) => tx.user.create({ data: user(role) })),
    );
    await tx.workspaceMembership.createMany({
      data: [
        { clientId: workspace.id, userId: owner!.id, role: "OWNER" },
        { clientId: workspace.id, userId: admin!.id, role: "ADMIN" },
        { clientId: workspace.id, userId: member!.id, role: "MEMBER" },
      ],
    });
    await tx.workspaceSettings.create({ data: { clientId: workspace.id } });
    await tx.campaign.createMany({
      data: CAMPAIGNS.map((name, i) => ({ clientId: workspace.id, id: `cmp-${tag}-${i + 1}`, name })),
    });
    return { workspace, users: { owner: owner!, admin: admin!, member: member!, outsider: outsider! } };
  });

  const campaignIds = CAMPAIGNS.map((_, i) => `cmp-${tag}-${i + 1}`);
  const caller: Caller = { workspaceId: workspace.id, userId: users.owner.id, isAdmin: true };
  for (let start = 0; start < options.leads; start += MAX_LEADS_PER_BATCH) {
    const count = Math.min(MAX_LEADS_PER_BATCH, options.leads - start);
    const batch = Array.from({ length: count }, (_, i) => makeLead(start + i, tag, campaignIds, now));
    await ingestLeads(db, caller, batch);
  }

  const pick = (u: { id: string; email: string }) => ({ id: u.id, email: u.email });
  return {
    workspaceId: workspace.id,
    campaignIds,
    users: { owner: pick(users.owner), admin: pick(users.admin), member: pick(users.member), outsider: pick(users.outsider) },
  };
}

/** Deterministic in its index, so a seeded workspace is reproducible apart from its ids. */
export function makeLead(index: number, tag: string, campaignIds: string[], now: Date): LeadInput {
  const name = `${FIRST_NAMES[index % FIRST_NAMES.length]} ${String.fromCharCode(65 + (index % 26))}.`;
  const company = COMPANIES[index % COMPANIES.length]!;
  // Spread activity over ~80 days so the 7/30/90-day windows select different sets.
  const startedAt = now.getTime() - ((index * 7919) % (80 * 24)) * 3600_000 - 3 * 3600_000;
  const replies = REPLIES[index % REPLIES.length]!.filter(Boolean);
  const messages = [
    {
      id: "m1",
      direction: "OUTBOUND" as const,
      body: `Hi ${name}, I noticed ${company} is growing its fleet. Would a 15-minute call about cutting dispatch costs be useful?`,
      sentAt: new Date(startedAt),
    },
    ...replies.map((body, i) => ({
      id: `m${i + 2}`,
      direction: (i % 2 === 0 ? "INBOUND" : "OUTBOUND") as "INBOUND" | "OUTBOUND",
      body,
      sentAt: new Date(startedAt + (i + 1) * 3600_000),
    })),
  ];
  return {
    id: `lead-${tag}-${index + 1}`,
    name,
    email: `lead${index + 1}@${company.toLowerCase().replace(/\s+/g, "")}.example`,
    campaignId: campaignIds[index % campaignIds.length]!,
    messages,
  };
}
