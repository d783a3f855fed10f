import type { RedisClient } from '../queue/redis.ts';
import type { CheckAfterLease } from './running-share.ts';

/**
 * Per-tenant rate limits, ours rather than BullMQ's (docs/design.md, decision 2). A sliding-window log in Redis:
 * every admitted call reserves a start time ("slot"); a new slot is the earliest time at which the
 * window ending there holds fewer than `limit` slots. That is exactly "at most N calls in any window",
 * bursts up to N included, and slots in the future let deferred calls wait in BullMQ's delayed set
 * instead of in front of other tenants' jobs. See docs/decisions/0002-sliding-window-limiter.md.
 *
 * Slots are reserved in FIFO order per key, so a tenant's calls start in the order they were accepted.
 * A cooldown (an upstream's 429 Retry-After) pushes every later slot of that key past its end.
 */
const RESERVE = `
local slots, cooldown = KEYS[1], KEYS[2]
local now, limit, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local notBefore, deadline, member = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
redis.call('ZREMRANGEBYSCORE', slots, '-inf', '(' .. (now - window))
local candidate = math.max(now, notBefore)
local last = redis.call('ZRANGE', slots, -1, -1, 'WITHSCORES')
if last[2] then candidate = math.max(candidate, tonumber(last[2])) end
local until_ = tonumber(redis.call('GET', cooldown) or '0')
candidate = math.max(candidate, until_)
local count = redis.call('ZCARD', slots)
if count >= limit then
  local nth = redis.call('ZRANGE', slots, count - limit, count - limit, 'WITHSCORES')
  candidate = math.max(candidate, tonumber(nth[2]) + window)
end
local oldest = redis.call('ZRANGE', slots, 0, 0, 'WITHSCORES')[2] or candidate
if deadline >= 0 and candidate > deadline then return {0, candidate, count, oldest} end
redis.call('ZADD', slots, candidate, member)
redis.call('PEXPIRE', slots, math.ceil(candidate - now + window))
return {1, candidate, count, math.min(tonumber(oldest), candidate)}
`;

/**
 * At execution: a log of actual start times. Slots reserved at enqueue keep calls apart on paper, but
 * a loaded worker can start one late and the next on time; admitting each start against what really
 * started makes "at most N in any window" hold where the upstream sees it.
 */
const ADMIT = `
local starts, cooldown = KEYS[1], KEYS[2]
local now, limit, window, member = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local until_ = tonumber(redis.call('GET', cooldown) or '0')
if until_ > now then return {0, until_} end
-- The window is (now - window, now]: a start exactly one window ago has left it.
redis.call('ZREMRANGEBYSCORE', starts, '-inf', now - window)
local count = redis.call('ZCARD', starts)
if count >= limit then
  local first = redis.call('ZRANGE', starts, count - limit, count - limit, 'WITHSCORES')
  return {0, tonumber(first[2]) + window}
end
redis.call('ZADD', starts, now, member)
redis.call('PEXPIRE', starts, window)
return {1, now}
`;

const COOL_DOWN = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local until_ = tonumber(ARGV[1])
if until_ > current then redis.call('SET', KEYS[1], until_, 'PXAT', math.ceil(until_)) end
return 1
`;

export interface SlotRequest {
  /** The tenant bucket, e.g. `${projectId}:${connectorId}`. */
  key: string;
  limitPerMinute: number;
  /** Unique per reservation (invocation id plus attempt). */
  member: string;
  /** Earliest acceptable start (e.g. a retry's backoff), epoch ms. */
  notBefore?: number;
  /** Latest acceptable start, epoch ms; past it nothing is reserved. */
  deadline?: number;
}

/**
 * `rank`: how many slots of this key were already reserved in the window (past and future). A tenant's
 * k-th call of the window has rank k−1; used as the job's queue priority, it interleaves tenants
 * fairly, so a flood never queues in front of a light tenant's calls.
 */
export type SlotResult = (
  | { granted: true; startAt: number; delayMs: number }
  | { granted: false; startAt: number; retryAfterMs: number }
) &
  SlotQuota;

/**
 * What is left of the key's quota, for the caller's RateLimit header (api/http/rate-limit-headers.ts):
 * `remaining` slots that would start now, and in `resetMs` the oldest slot of the window leaves it.
 */
export interface SlotQuota {
  rank: number;
  remaining: number;
  resetMs: number;
}

/** Extra width of the window: a slot's call reaches the upstream a little after the slot, by a varying amount. */
const WINDOW_GUARD_MS = 500;
const WINDOW_MS = 60_000 + WINDOW_GUARD_MS;

type LimiterRedis = RedisClient & {
  reserveSlot(
    slots: string,
    cooldown: string,
    ...args: (string | number)[]
  ): Promise<[number, string | number, number, string | number]>;
  coolDown(cooldown: string, until: number): Promise<number>;
  admitStart(starts: string, cooldown: string, ...args: (string | number)[]): Promise<Array<string | number>>;
};

/** Whether a call may start now, or when to try again. */
export type Admission = { admitted: true } | { admitted: false; retryAt: number };

export class SlidingWindowLimiter {
  private readonly redis: LimiterRedis;

  constructor(
    redis: RedisClient,
    private readonly prefix = 'connector-engine:limits',
  ) {
    if (!('reserveSlot' in redis)) {
      redis.defineCommand('reserveSlot', { numberOfKeys: 2, lua: RESERVE });
      redis.defineCommand('coolDown', { numberOfKeys: 1, lua: COOL_DOWN });
      redis.defineCommand('admitStart', { numberOfKeys: 2, lua: ADMIT });
    }
    this.redis = redis as LimiterRedis;
  }

  async reserve(req: SlotRequest, now = Date.now()): Promise<SlotResult> {
    const [granted, startAtRaw, rank, oldestRaw] = await this.redis.reserveSlot(
      this.slotsKey(req.key),
      this.cooldownKey(req.key),
      now,
      req.limitPerMinute,
      WINDOW_MS,
      req.notBefore ?? 0,
      req.deadline ?? -1,
      req.member,
    );
    const startAt = Number(startAtRaw);
    // A deferred or refused call leaves nothing that would start now.
    const remaining = granted === 1 && startAt <= now ? Math.max(0, req.limitPerMinute - rank - 1) : 0;
    const quota = { rank, remaining, resetMs: Math.max(0, Number(oldestRaw) + WINDOW_MS - now) };
    return granted === 1
      ? { granted: true, startAt, delayMs: Math.max(0, startAt - now), ...quota }
      : { granted: false, startAt, retryAfterMs: Math.max(0, startAt - now), ...quota };
  }

  /**
   * Right before a call starts: admitted, or the time to try again (a cooldown, or the window of
   * actual starts is full). A refused start records nothing.
   */
  async admit(key: string, limitPerMinute: number, member: string, now = Date.now()): Promise<Admission> {
    const check = this.admission(key, limitPerMinute, member, now);
    return check.read(await check.alone());
  }

  /**
   * `admit` as a check a running-share lease makes in the same round trip (running-share.ts): what
   * the worker asks before each attempt.
   */
  admission(key: string, limitPerMinute: number, member: string, now = Date.now()): CheckAfterLease<Admission> {
    const keys = [this.startsKey(key), this.cooldownKey(key)];
    const args = [now, limitPerMinute, WINDOW_MS, member];
    return {
      name: 'admitStart',
      lua: ADMIT,
      keys,
      args,
      alone: () => this.redis.admitStart(keys[0]!, keys[1]!, ...args),
      read: ([ok, at]) => (ok === 1 ? { admitted: true } : { admitted: false, retryAt: Number(at) }),
    };
  }

  /** The upstream said "slow down": no slot of this key starts before `until` (epoch ms). */
  async coolDown(key: string, until: number): Promise<void> {
    await this.redis.coolDown(this.cooldownKey(key), until);
  }

  /** When the key's cooldown ends, or 0. */
  async cooldownUntil(key: string): Promise<number> {
    return Number((await this.redis.get(this.cooldownKey(key))) ?? 0);
  }

  // One hash tag per tenant key, so both keys of a script land on the same Redis Cluster slot.
  private slotsKey(key: string) {
    return `${this.prefix}:{${key}}:slots`;
  }
  private startsKey(key: string) {
    return `${this.prefix}:{${key}}:starts`;
  }
  private cooldownKey(key: string) {
    return `${this.prefix}:{${key}}:cooldown`;
  }
}

/** The bucket of one project's calls to one connector. */
export const limitKey = (projectId: string, connectorId: string) => `${projectId}:${connectorId}`;

/**
 * The limit in force: the project's override when set, else the engine-wide default; never above the
 * connector's ceiling, and an override never above the operator's maximum. Overrides stored before
 * these caps existed are clamped here, when used.
 */
export function effectiveLimit(
  projectOverrides: Record<string, number>,
  connectorId: string,
  connectorCeiling: number,
  engineDefault: number,
  overrideMax = Number.POSITIVE_INFINITY,
): number {
  const override = projectOverrides[connectorId];
  return override === undefined
    ? Math.min(engineDefault, connectorCeiling)
    : Math.min(override, connectorCeiling, overrideMax);
}

/** BullMQ priorities run from 1 (first) to 2^21 − 1; equal priorities are FIFO. */
export function queuePriority(rank: number): number {
  return Math.min(rank + 1, 2 ** 21 - 1);
}
