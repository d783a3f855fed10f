import type { RedisClient } from './redis.ts';

/**
 * What a worker publishes on the waiting api instance's channel once the invocation row is durable
 * (docs/design.md, decision 3). The invocation row stays the source of truth; this only saves a read.
 */
export interface ExecutionReply {
  invocationId: string;
  status: 'succeeded' | 'failed';
  output?: unknown;
  durationMs: number | null;
  error?: { code: string; message: string; details?: unknown };
}

export const replyChannelFor = (instanceId: string) => `connector-engine:replies:${instanceId}`;

/**
 * Publishes a reply. On a cluster, plain PUBLISH is broadcast to every node of the cluster; sharded
 * pub/sub (SPUBLISH) goes only to the node owning the channel's slot, where the listener subscribed.
 */
export function publishReply(publisher: RedisClient, channel: string, reply: ExecutionReply): Promise<unknown> {
  const message = JSON.stringify(reply);
  return publisher.isCluster ? publisher.spublish(channel, message) : publisher.publish(channel, message);
}

/** Listens on a reply channel (SSUBSCRIBE on a cluster, see publishReply). */
export async function subscribeReplies(
  subscriber: RedisClient,
  channel: string,
  onMessage: (message: string) => void,
): Promise<void> {
  if (subscriber.isCluster) {
    subscriber.on('smessage', (_channel: string, message: string) => onMessage(message));
    await subscriber.ssubscribe(channel);
  } else {
    subscriber.on('message', (_channel: string, message: string) => onMessage(message));
    await subscriber.subscribe(channel);
  }
}
