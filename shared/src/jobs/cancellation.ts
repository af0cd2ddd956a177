// Cancellation crosses processes: the API publishes a pack id, every worker hears it and aborts that pack's work
// in flight (LLM calls included). The database status is the durable record; this channel only makes it fast, so a
// missed message costs at most one lead's work before the worker's own status check stops it.
import type { Redis } from "ioredis";

const channelOf = (prefix: string) => `${prefix}:cancel-pack`;

export async function publishPackCancellation(redis: Redis, prefix: string, packId: string): Promise<void> {
  await redis.publish(channelOf(prefix), packId);
}

/** `subscriber` must be a connection of its own: a subscribed Redis connection can do nothing else. */
export async function subscribePackCancellations(subscriber: Redis, prefix: string, onCancel: (packId: string) => void): Promise<void> {
  const channel = channelOf(prefix);
  subscriber.on("message", (from: string, packId: string) => {
    if (from === channel) onCancel(packId);
  });
  await subscriber.subscribe(channel);
}
