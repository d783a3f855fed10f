import type { Redis } from 'ioredis';

/**
 * Each workspace's share of the webhook delivery slots, across all workers: at most `perWorkspace`
 * of its deliveries are in flight at once. A workspace whose receivers never answer can then hold
 * only its share of the slots for a timeout each; the other slots keep serving other workspaces
 * (docs/decisions/0008-egress-guard.md). A slot is a member of a sorted set scored by when it
 * expires, so a worker that dies mid-delivery frees its slots by itself.
 */
const ACQUIRE = `
local now, expires, member, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], member) and redis.call('ZCARD', KEYS[1]) >= cap then return 0 end
redis.call('ZADD', KEYS[1], expires, member)
redis.call('PEXPIREAT', KEYS[1], math.ceil(expires))
return 1
`;

export class WebhookWorkspaceShare {
  constructor(
    private readonly redis: Redis,
    private readonly perWorkspace: number,
    /** How long a slot is held at most: the delivery timeout plus the bookkeeping around it. */
    private readonly holdMs: number,
  ) {}

  private key(workspaceId: string): string {
    return `webhooks:in-flight:${workspaceId}`;
  }

  /** Takes one of the workspace's slots for `member` (a delivery id); false when its share is in use. */
  async acquire(workspaceId: string, member: string, now = Date.now()): Promise<boolean> {
    const taken = await this.redis.eval(ACQUIRE, 1, this.key(workspaceId), now, now + this.holdMs, member, this.perWorkspace);
    return taken === 1;
  }

  async release(workspaceId: string, member: string): Promise<void> {
    await this.redis.zrem(this.key(workspaceId), member);
  }
}
