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
