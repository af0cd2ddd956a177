// The built-in offline provider: no key, no network, deterministic. It classifies a thread with keyword rules and
// quotes the lead's own words instead of writing new ones (extractive), so the product runs end to end on a fresh
// machine. Everything it writes is labelled: provider "offline", model OFFLINE_MODEL, and a marked synthesis.
import type { ConversationInsightOutcome } from "@insights/shared/db/client";
import { NO_USAGE, type AnswerContext, type AnswerStream, type LeadThread, type LlmProvider, type PackDigest } from "./provider.ts";
import { abortableSleep } from "./rate-limit.ts";
import type { ChatAnswer, LeadInsight } from "./schemas.ts";

/** Part of the summary cache's key, like a model name: bump it when the offline output changes. */
export const OFFLINE_MODEL = "offline-extractive-v2";
export const OFFLINE_LABEL = "[Offline extractive summary: no LLM was used; set OPENAI_API_KEY for model-written insights]";
/** The short form on each lead summary (its row also says provider "offline"), so quoted summaries stay readable. */
const OFFLINE_TAG = "[offline]";

/** First match wins, so the strongest signal is listed first. */
const OUTCOME_RULES: Array<[ConversationInsightOutcome, RegExp]> = [
  ["UNSUBSCRIBED", /\b(unsubscribe|remove me|stop (emailing|texting|contacting)|opt(ed)? out)\b/i],
  ["MEETING_BOOKED", /\b(booked|book(ed)? a (call|meeting|demo)|see you (then|on)|calendar invite|let'?s (meet|talk) (on|at))\b/i],
  ["NOT_INTERESTED", /\b(not interested|no thanks|happy with (our|the) current|already use|not a fit)\b/i],
  ["FOLLOW_UP_LATER", /\b(check back|next (quarter|month|year)|not a priority|reach out (later|again)|circle back)\b/i],
  ["INTERESTED", /\b(interested|sounds (good|great)|send (me )?(pricing|details|info)|tell me more|can we|relevant)\b/i],
];

const OBJECTION = /\b(expensive|price|pricing|budget|competitor|already use|contract|no time|not a priority|frozen)\b/i;
const FACT = /\d|\b(seats|users|team|fleet|vendor|deadline|quarter|pricing)\b/i;
const POSITIVE: ConversationInsightOutcome[] = ["MEETING_BOOKED", "INTERESTED"];
const NEGATIVE: ConversationInsightOutcome[] = ["NOT_INTERESTED", "UNSUBSCRIBED"];

const sentencesOf = (text: string) =>
  text
    .split(/(?<=[.!?])\s+/)
    .map((s) => s.trim())
    .filter(Boolean);
const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

export function extractOffline(thread: LeadThread): LeadInsight {
  const inbound = thread.messages.filter((m) => m.direction === "INBOUND");
  const leadText = inbound.map((m) => m.body).join(" ");
  const outcome: ConversationInsightOutcome =
    inbound.length === 0 ? "NO_REPLY" : (OUTCOME_RULES.find(([, rule]) => rule.test(leadText))?.[0] ?? "UNKNOWN");
  const sentences = sentencesOf(leadText);
  const lastInbound = inbound.at(-1)?.body;
  return {
    outcome,
    sentiment: POSITIVE.includes(outcome) ? "positive" : NEGATIVE.includes(outcome) ? "negative" : "neutral",
    summary: clip(
      lastInbound
        ? `${OFFLINE_TAG} Lead replied ${inbound.length} time(s); latest: "${lastInbound}"`
        : `${OFFLINE_TAG} ${thread.messages.length} outreach message(s), no reply from the lead.`,
      1000,
    ),
    keyFacts: sentences
      .filter((s) => FACT.test(s))
      .slice(0, 5)
      .map((s) => clip(s, 300)),
    objections: sentences
      .filter((s) => OBJECTION.test(s))
      .slice(0, 4)
      .map((s) => clip(s, 300)),
    nextStep: nextStepFor(outcome),
  };
}

function nextStepFor(outcome: ConversationInsightOutcome): string | null {
  switch (outcome) {
    case "MEETING_BOOKED":
      return "Prepare for the booked meeting.";
    case "INTERESTED":
      return "Answer their questions and propose a meeting.";
    case "FOLLOW_UP_LATER":
      return "Schedule a follow-up for the time they named.";
    case "NO_REPLY":
      return "Send a follow-up or try another channel.";
    default:
      return null;
  }
}

export function synthesizeOffline(digest: PackDigest): string {
  const m = digest.metrics as {
    counts?: { summarized?: number; failed?: number };
    byOutcome?: Record<string, number>;
    replyRate?: number;
    positiveRate?: number;
    byCampaign?: Array<{ campaignName: string | null; leads: number; positiveRate: number }>;
  };
  const pct = (x: number | undefined) => `${Math.round((x ?? 0) * 100)}%`;
  const outcomes = Object.entries(m.byOutcome ?? {})
    .sort((a, b) => b[1] - a[1])
    .map(([o, n]) => `- ${o}: ${n}`)
    .join("\n");
  const campaigns = (m.byCampaign ?? [])
    .map((c) => `- ${c.campaignName ?? "No campaign"}: ${c.leads} leads, ${pct(c.positiveRate)} positive`)
    .join("\n");
  const objections = digest.summaries
    .flatMap((s) => s.objections)
    .slice(0, 5)
    .map((o) => `- "${o}"`)
    .join("\n");
  return [
    OFFLINE_LABEL,
    `## ${digest.scopeDescription}`,
    `${m.counts?.summarized ?? 0} conversations summarized; reply rate ${pct(m.replyRate)}, positive rate ${pct(m.positiveRate)}.`,
    `### Outcomes\n${outcomes || "- none"}`,
    `### Campaigns\n${campaigns || "- none"}`,
    `### Objections heard\n${objections || "- none"}`,
  ].join("\n\n");
}

/** Quotes the pack's figures and the summaries ranked most relevant to the question; suggests no actions. */
export function answerOffline(context: AnswerContext): ChatAnswer {
  const m = context.metrics as { counts?: { summarized?: number }; replyRate?: number; positiveRate?: number };
  const pct = (x: number | undefined) => `${Math.round((x ?? 0) * 100)}%`;
  const top = context.summaries.slice(0, 5);
  const leads = top.map((s) => `- ${s.leadName ?? s.leadId} (${s.campaignName ?? "no campaign"}, ${s.outcome}): ${s.summary}`);
  return {
    answer: [
      OFFLINE_LABEL,
      `You asked: "${clip(context.question, 300)}"`,
      `In ${context.scopeDescription}: ${m.counts?.summarized ?? 0} conversations, reply rate ${pct(m.replyRate)}, positive rate ${pct(m.positiveRate)}.`,
      top.length
        ? `The conversations most related to your question:\n${leads.join("\n")}`
        : "No conversation summary matches your question.",
    ].join("\n\n"),
    citedLeadIds: top.map((s) => s.leadId),
    suggestedActions: [],
  };
}

/** Words per piece and the pause between pieces: the offline answer streams like a model's, so the demo shows it. */
const OFFLINE_PIECE_WORDS = 4;
const OFFLINE_PIECE_MS = 15;

async function streamInPieces(text: string, stream: AnswerStream, signal: AbortSignal): Promise<void> {
  stream.begin();
  const words = text.split(/(?<=\s)/);
  for (let i = 0; i < words.length; i += OFFLINE_PIECE_WORDS) {
    if (i > 0) await abortableSleep(OFFLINE_PIECE_MS, signal);
    stream.text(words.slice(i, i + OFFLINE_PIECE_WORDS).join(""));
  }
}

export function createOfflineProvider(): LlmProvider {
  return {
    name: "offline",
    modelFor: () => OFFLINE_MODEL,
    extractLeadInsight: async (thread) => ({ value: extractOffline(thread), usage: NO_USAGE }),
    synthesizePack: async (digest) => ({ value: synthesizeOffline(digest), usage: NO_USAGE }),
    answerQuestion: async (context, options, stream) => {
      const value = answerOffline(context);
      await streamInPieces(value.answer, stream, options.signal);
      return { value, usage: NO_USAGE };
    },
  };
}
