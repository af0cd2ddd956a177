// Prompts, versioned: a cached lead summary is reused only while PROMPT_VERSION (and the thread and model) are
// unchanged, so bump it whenever a change here should re-extract every thread.
import type { AnswerContext, LeadThread, PackDigest } from "./provider.ts";
import type { ActionType } from "@insights/shared/insights/shapes";

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

const ACTION_DESCRIPTIONS: Record<ActionType, string> = {
  CAMPAIGN_CHANGE: "CAMPAIGN_CHANGE: propose a change to a campaign (copy, audience, cadence)",
  EXPERIMENT_WRITE: "EXPERIMENT_WRITE: propose an A/B experiment to set up",
  FOLLOWUP_PAUSE: "FOLLOWUP_PAUSE: propose pausing follow-ups for named leads",
};

export function chatAnswerMessages(context: AnswerContext) {
  const actions = context.enabledActions.length
    ? `The workspace allows suggesting these actions, as structured suggestions only (this service executes none):\n${context.enabledActions.map((a) => `- ${ACTION_DESCRIPTIONS[a]}`).join("\n")}\nSuggest an action only when it clearly follows from the context.`
    : "The workspace allows no actions: suggestedActions must be empty.";
  const summaries = context.summaries
    .map(
      (s) =>
        `- lead ${s.leadId} (${s.leadName ?? "unnamed"}, ${s.campaignName ?? "no campaign"}) [${s.outcome}]: ${s.summary}` +
        (s.keyFacts.length ? ` Facts: ${s.keyFacts.join("; ")}.` : "") +
        (s.objections.length ? ` Objections: ${s.objections.join("; ")}.` : "") +
        (s.nextStep ? ` Next step: ${s.nextStep}` : ""),
    )
    .join("\n");
  return [
    {
      role: "system" as const,
      content:
        "You answer a sales team's questions about their outreach conversations. You see a context pack: a " +
        "synthesis, metrics, and summaries of the most relevant lead conversations (never the raw messages). Answer " +
        "from that context only; say so when it does not contain the answer. Cite the lead ids you used in " +
        `citedLeadIds.\n${actions}`,
    },
    {
      role: "user" as const,
      content:
        `Scope: ${context.scopeDescription}\n\nSynthesis:\n${context.synthesis}\n\nMetrics: ${JSON.stringify(context.metrics)}\n\n` +
        `Relevant lead summaries:\n${summaries || "(none)"}`,
    },
    ...context.history.map((m) => ({ role: m.role === "USER" ? ("user" as const) : ("assistant" as const), content: m.content })),
    { role: "user" as const, content: context.question },
  ];
}
