// Queue names. A name in Redis is permanent: renaming one strands every job already queued under the old name,
// so add new names instead of changing these.
export const QUEUES = {
  /** One job per pack run: select, plan chunks, wait for them, synthesize. */
  packs: "insights-packs",
  /** One job per chunk of a pack run's leads to extract; served by priority, fairly across workspaces. */
  packChunks: "insights-pack-chunks",
  /** One job per ASSISTANT reply to complete. */
  replies: "insights-replies",
  /** One job per webhook delivery (an event for a workspace's webhook). */
  webhooks: "insights-webhooks",
  /** Reconciliation and retention, on schedules. */
  maintenance: "insights-maintenance",
} as const;

export type QueueKey = keyof typeof QUEUES;
export type QueueName = (typeof QUEUES)[QueueKey];
