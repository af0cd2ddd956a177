// The API's shapes as this client reads them (see /openapi.json and the contract). Dates arrive as ISO strings.

export type Role = "OWNER" | "ADMIN" | "MEMBER";
export const isAdminRole = (role: Role | null): boolean => role === "OWNER" || role === "ADMIN";

export interface Workspace {
  id: string;
  name: string;
  /** null when the service has no `GET /v1/me` and the workspace id was typed in. */
  role: Role | null;
}

export interface Me {
  user: { id: string; email: string; name: string | null };
  workspaces: Array<{ id: string; name: string; role: Role }>;
}

export interface Session {
  id: string;
  workspaceId: string;
  title: string;
  createdById: string;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
  deletedById: string | null;
}

export const WINDOW_PRESETS = ["LAST_7_DAYS", "LAST_30_DAYS", "LAST_90_DAYS", "CUSTOM"] as const;
export type WindowPreset = (typeof WINDOW_PRESETS)[number];

type PackStatus = "PENDING" | "RUNNING" | "COMPLETE" | "FAILED" | "CANCELLED";
export type PackStage = "QUEUED" | "SELECTING" | "EXTRACTING" | "SYNTHESIZING" | "DONE";

export interface CampaignFigures {
  campaignId: string | null;
  campaignName: string | null;
  leads: number;
  replied: number;
  positive: number;
  replyRate: number;
  positiveRate: number;
}

interface PackMetrics {
  provider?: string;
  counts?: { total: number; summarized: number; extracted: number; cached: number; failed: number };
  byOutcome?: Record<string, number>;
  byCampaign?: CampaignFigures[];
  replyRate?: number;
  positiveRate?: number;
}

export interface Pack {
  id: string;
  sessionId: string;
  scopeKey: string;
  scope: { window: { preset: WindowPreset; from: string; to: string }; campaignIds: string[]; campaignCap: number };
  status: PackStatus;
  progress: {
    stage: PackStage;
    totalLeads: number;
    processedLeads: number;
    cachedLeads: number;
    failedLeads: number;
    percent: number;
  };
  synthesis: string | null;
  metrics: PackMetrics | null;
  provider?: string | null;
  model?: string | null;
  usage: { llmCalls: number; inputTokens: number; outputTokens: number };
  stale: boolean;
  error: string | null;
  failures?: Array<{ leadId: string; error: string | null }>;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
}

export interface Message {
  id: string;
  sessionId: string;
  role: "USER" | "ASSISTANT" | "SYSTEM";
  status: "PENDING" | "COMPLETE" | "FAILED";
  content: string;
  author: { id: string; email: string; name: string | null } | null;
  packId: string | null;
  replyToId: string | null;
  error: string | null;
  citedLeadIds: string[];
  createdAt: string;
  completedAt: string | null;
}

export interface Preferences {
  windowPreset: WindowPreset;
  customFrom: string | null;
  customTo: string | null;
  campaignCap: number;
  updatedAt: string | null;
}

export interface Campaign {
  id: string;
  name: string;
}

export const AUDIT_ACTIONS = [
  "MESSAGE_CREATED",
  "SESSION_DELETED",
  "SESSION_RESTORED",
  "SESSION_PURGED",
  "PACK_RECOMPUTED",
  "PACK_DELETED",
  "SETTINGS_UPDATED",
  "CAMPAIGN_UPSERTED",
  "LEADS_INGESTED",
  "LEAD_ERASED",
] as const;

export interface AuditEvent {
  id: string;
  action: string;
  actor: { type: "USER" | "SYSTEM"; id?: string; email?: string; name?: string | null };
  sessionId: string | null;
  packId: string | null;
  details: unknown;
  createdAt: string;
}

export interface LeadInsight {
  leadId: string;
  outcome: string;
  summary: unknown;
  model: string;
  provider: string;
  stale: boolean;
  updatedAt: string;
}
