import type { RedisClient } from '../../shared/queue/redis.ts';

/**
 * A circuit per target host of a workspace (`host:port` of the webhook URL): after `failures`
 * consecutive attempts that got no HTTP answer (timeouts, refused or reset connections, refused
 * targets), deliveries to it are deferred for a cool-off instead of each holding a slot for a
 * timeout. Then one delivery is let through as a probe: an answer (any HTTP status) closes the
 * circuit; another failure reopens it for twice the cool-off, up to an hour. Deferring spends no
 * attempt, so retries never come faster than the delivery policy (webhookRetryDelayMs).
 */
// One hash tag for every circuit and the set of open ones: FAILED and SUCCEEDED touch a circuit and
// the set in one script, which a Redis Cluster allows only within one slot (docs/decisions/0015).
const OPEN_SET = 'webhooks:{circuits}:open';
const MAX_COOLOFF_MS = 3600_000;
/** Forgotten a day after its last failure: the retry policy gives up on a delivery after a day anyway. */
const TTL_MS = 24 * 3600_000;

const BEFORE = `
local now, probeHold = tonumber(ARGV[1]), tonumber(ARGV[2])
local openUntil = tonumber(redis.call('HGET', KEYS[1], 'openUntil') or '0')
if openUntil == 0 then return {1, 0} end
if openUntil > now then return {0, openUntil} end
local probeUntil = tonumber(redis.call('HGET', KEYS[1], 'probeUntil') or '0')
if probeUntil > now then return {0, probeUntil} end
redis.call('HSET', KEYS[1], 'probeUntil', now + probeHold)
return {2, 0}
`;

const FAILED = `
local now, threshold, cooloff, maxCooloff, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local openUntil = tonumber(redis.call('HGET', KEYS[1], 'openUntil') or '0')
redis.call('PEXPIRE', KEYS[1], ttl)
-- Closed and past the threshold, or half-open (the probe failed): (re)open.
if failures >= threshold and openUntil <= now then
  local openings = redis.call('HINCRBY', KEYS[1], 'openings', 1)
  local until_ = math.floor(now + math.min(cooloff * 2 ^ (openings - 1), maxCooloff))
  redis.call('HSET', KEYS[1], 'openUntil', until_, 'probeUntil', 0)
  redis.call('ZADD', KEYS[2], until_, KEYS[1])
  return 1
end
return 0
`;

const SUCCEEDED = `
redis.call('ZREM', KEYS[2], KEYS[1])
return redis.call('DEL', KEYS[1])
`;

export type CircuitVerdict = { go: true; probe: boolean } | { go: false; retryAt: number };

export class WebhookCircuits {
  constructor(
    private readonly redis: RedisClient,
    private readonly settings: { failures: number; cooloffMs: number; probeHoldMs: number },
  ) {}

  private key(workspaceId: string, url: string): string {
    return `webhooks:{circuits}:${workspaceId}:${new URL(url).host}`;
  }

  /** Whether a delivery to `url` may go now (maybe as the probe), or when to look again. */
  async before(workspaceId: string, url: string, now = Date.now()): Promise<CircuitVerdict> {
    const [state, retryAt] = (await this.redis.eval(
      BEFORE,
      1,
      this.key(workspaceId, url),
      now,
      this.settings.probeHoldMs,
    )) as [number, number];
    return state === 0 ? { go: false, retryAt: Number(retryAt) } : { go: true, probe: state === 2 };
  }

  /** Records an attempt that got no HTTP answer; true when it opened (or reopened) the circuit. */
  async failed(workspaceId: string, url: string, now = Date.now()): Promise<boolean> {
    const { failures, cooloffMs } = this.settings;
    return (
      (await this.redis.eval(
        FAILED,
        2,
        this.key(workspaceId, url),
        OPEN_SET,
        now,
        failures,
        cooloffMs,
        MAX_COOLOFF_MS,
        TTL_MS,
      )) === 1
    );
  }

  /** Records an HTTP answer: the target is reachable, so its circuit closes. */
  async answered(workspaceId: string, url: string): Promise<void> {
    await this.redis.eval(SUCCEEDED, 2, this.key(workspaceId, url), OPEN_SET);
  }

  /** Circuits open or half-open now (circuits not heard of for a day are dropped from the count). */
  async openCount(now = Date.now()): Promise<number> {
    await this.redis.zremrangebyscore(OPEN_SET, '-inf', now - TTL_MS);
    return this.redis.zcard(OPEN_SET);
  }
}
