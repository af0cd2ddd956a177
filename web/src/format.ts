// Labels and dates as a person reads them.
import type { Pack, PackStage, WindowPreset } from "./types.ts";

export const PRESET_LABELS: Record<WindowPreset, string> = {
  LAST_7_DAYS: "Last 7 days",
  LAST_30_DAYS: "Last 30 days",
  LAST_90_DAYS: "Last 90 days",
  CUSTOM: "Custom dates",
};

export const STAGE_LABELS: Record<PackStage, string> = {
  QUEUED: "Waiting for a worker",
  SELECTING: "Selecting leads",
  EXTRACTING: "Reading conversations",
  SYNTHESIZING: "Writing the synthesis",
  DONE: "Done",
};

export const OUTCOME_LABELS: Record<string, string> = {
  MEETING_BOOKED: "Meeting booked",
  INTERESTED: "Interested",
  FOLLOW_UP_LATER: "Follow up later",
  NOT_INTERESTED: "Not interested",
  UNSUBSCRIBED: "Unsubscribed",
  NO_REPLY: "No reply",
  UNKNOWN: "Unknown",
};

export const humanize = (code: string): string => {
  const words = code.toLowerCase().replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
};

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });

export const formatDateTime = (iso: string): string => dateTime.format(new Date(iso));
const formatDate = (iso: string): string => dateOnly.format(new Date(iso));

/** `Last 90 days · 2 campaigns`: what a pack covers, in one line. */
export function scopeLabel(pack: Pack, campaignName: (id: string) => string): string {
  const { window, campaignIds } = pack.scope;
  const when = window.preset === "CUSTOM" ? `${formatDate(window.from)} – ${formatDate(window.to)}` : PRESET_LABELS[window.preset];
  const which =
    campaignIds.length === 0
      ? "all campaigns"
      : campaignIds.length <= 2
        ? campaignIds.map(campaignName).join(", ")
        : `${campaignIds.length} campaigns`;
  return `${when} · ${which}`;
}

export const percent = (rate: number): string => `${Math.round(rate * 100)}%`;
