// Prompts, versioned: a cached lead summary is reused only while PROMPT_VERSION (and the thread and model) are
// unchanged, so bump it whenever a change here should re-extract every thread.
import type { LeadThread, PackDigest } from "./provider.ts";

export const PROMPT_VERSION = "extract-v1";

/** Bounds one thread's share of a prompt; the newest messages are kept, since they decide the outcome. */
const MAX_THREAD_CHARS = 12_000;

export function leadInsightMessages(thread: LeadThread) {
  const lines: string[] = [];
  let used = 0;
  for (const m of [...thread.messages].reverse()) {
    const line = `[${m.sentAt.toISOString()}] ${m.direction === "INBOUND" ? "LEAD" : "US"}: ${m.body}`;
    if (used + line.length > MAX_THREAD_CHARS) break;
    lines.unshift(line);
    used += line.length;
  }
  return [
    {
      role: "system" as const,
      content:
        "You summarize one sales outreach conversation for a sales team. Read the thread and return: the outcome " +
        "(MEETING_BOOKED, INTERESTED, FOLLOW_UP_LATER, NOT_INTERESTED, UNSUBSCRIBED, NO_REPLY if the lead never " +
        "wrote back, UNKNOWN), the lead's sentiment, a summary of at most three sentences, key facts (company, " +
        "needs, numbers, dates), the lead's objections, and the next step the team should take (or null). Use " +
        "only what the thread says.",
    },
    {
      role: "user" as const,
      content:
        `Lead: ${thread.leadName ?? "unknown"}\nCampaign: ${thread.campaignName ?? "none"}\n` +
        `Thread (oldest first${lines.length < thread.messages.length ? ", older messages omitted" : ""}):\n` +
        lines.join("\n"),
    },
  ];
}

export function packSynthesisMessages(digest: PackDigest) {
  const summaries = digest.summaries
    .map(
      (s, i) =>
        `${i + 1}. [${s.outcome}] ${s.leadName ?? "lead"} (${s.campaignName ?? "no campaign"}): ${s.summary}` +
        (s.objections.length ? ` Objections: ${s.objections.join("; ")}` : ""),
    )
    .join("\n");
  return [
    {
      role: "system" as const,
      content:
        "You brief a sales team on their outreach conversations. From the metrics and lead summaries, write a " +
        "synthesis in Markdown: what is working, what is not, the common objections, which campaigns perform " +
        "best, and the three most useful next actions. Cite numbers from the metrics. Do not invent leads.",
    },
    {
      role: "user" as const,
      content: `Scope: ${digest.scopeDescription}\nMetrics: ${JSON.stringify(digest.metrics)}\nLead summaries:\n${summaries}`,
    },
  ];
}
