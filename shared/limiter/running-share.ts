import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../queue/redis.ts';

/**
 * Fair shares of the work running at once across every worker of a tier (docs/decisions/0007).
 *
 * The sliding-window limiter bounds how many calls an owner (a project) *starts* per minute; it
 * says nothing about how long they run. Before this, one project whose upstream answered in 10 s,
 * or never, held every slot of every worker, and another project's 10 ms calls waited seconds.
 * Each job now takes a lease before its upstream call and gives it back after. Leases are granted by
 * three rules, checked together in one Redis script so every worker sees the same picture:
 *
 * 1. Never more leases than the tier's capacity (the sum of the live workers' concurrency).
 * 2. The last `reserve` places go only to owners below their fair share: an owner alone may use all
 *    but the reserve, so another owner's first call starts at once.
 * 3. While another owner is waiting (it was refused within `waitingWindowMs`), an owner at or above
 *    its share is refused. The share is (capacity − reserve) ÷ the owners running or waiting.
 *
 * An owner may also carry a cap of its own (a per-project override). A refused job goes back to the
 * queue's delayed set without spending an attempt; the caller decides how long it waits.
 *
 * Leases are renewed by their worker's heartbeat, so those of a crashed worker lapse within
 * `leaseTtlMs` and its capacity leaves the sum the same way.
 */
export interface RunningShareOptions {
  /** Names the keys; one tier per name (e.g. `execute`). */
  name: string;
  /** This worker's concurrency: what it adds to the tier's capacity. */
  concurrency: number;
  /** Places kept for owners below their share. Default 2. */
  reserve?: number;
  /** How long a refused owner counts as waiting. Default 2,000 ms. */
  waitingWindowMs?: number;
  /** How long a lease or a worker's capacity lives without a heartbeat. Default 15,000 ms. */
  leaseTtlMs?: number;
  /** Key prefix. Default `connector-engine:share`. */
  prefix?: string;
}

/** Why a lease was refused; a bounded set, so usable as a metric label. */
export type RefusalReason = 'capacity' | 'share' | 'owner_cap';

export type LeaseResult = { granted: true; release: () => void } | { granted: false; reason: RefusalReason };

/**
 * A check made right after a lease is granted, in the same Redis script when the keys allow it (one
 * Redis; on a cluster its keys may be in another slot, and it runs as a call of its own). Its `lua`
 * reads its own `KEYS` and `ARGV` and returns `{1, …}` to let the job start; anything else refuses it,
 * and the lease is given back in the same script. Saves the hot path a round trip per job.
 */
export interface CheckAfterLease<R> {
  /** Names the combined command (one per kind of check). */
  name: string;
  lua: string;
  keys: string[];
  args: (string | number)[];
  /** The same check as a call of its own (on a cluster), answering as the script does. */
  alone: () => Promise<Array<string | number>>;
  /** What the script's answer means to the caller. */
  read: (answer: Array<string | number>) => R;
}

/**
 * A lease with a check after it: refused by the share (`reason`); granted but refused by the check
 * (the lease already given back); or granted and passed, to be released when the job is done.
 */
export type CheckedLeaseResult<R> =
  | { granted: false; reason: RefusalReason }
  | { granted: true; passed: false; checked: R }
  | { granted: true; passed: true; checked: R; release: () => void };

// KEYS: leases (zset member owner|lease → expiry), running (hash owner → count),
//       waiting (zset owner → refused at), workers (zset worker → expiry), capacity (hash worker → concurrency)
// ARGV: now, owner, lease, leaseExpiry, reserve, ownerCap (0: none), waitingWindowMs
const ACQUIRE = `
local leases, running, waiting, workers, capacity = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now, owner, lease, expiry = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local reserve, ownerCap, window = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])

-- Lapsed leases and workers (a crashed process) give their places back.
for _, m in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now, 'LIMIT', 0, 100)) do
  redis.call('ZREM', leases, m)
  local o = string.match(m, '^(.*)|[^|]*$')
  if redis.call('HINCRBY', running, o, -1) <= 0 then redis.call('HDEL', running, o) end
end
for _, w in ipairs(redis.call('ZRANGEBYSCORE', workers, '-inf', now)) do
  redis.call('ZREM', workers, w)
  redis.call('HDEL', capacity, w)
end
local total = 0
for _, c in ipairs(redis.call('HVALS', capacity)) do total = total + tonumber(c) end
redis.call('ZREMRANGEBYSCORE', waiting, '-inf', now - window)

local held = redis.call('ZCARD', leases)
local mine = tonumber(redis.call('HGET', running, owner) or '0')
local owners = redis.call('HLEN', running)
local othersWaiting = false
for _, o in ipairs(redis.call('ZRANGE', waiting, 0, -1)) do
  if o ~= owner then
    othersWaiting = true
    if redis.call('HEXISTS', running, o) == 0 then owners = owners + 1 end
  end
end
if mine == 0 then owners = owners + 1 end
local share = math.max(1, math.floor((total - reserve) / owners))

local refusal = nil
if ownerCap > 0 and mine >= ownerCap then refusal = 'owner_cap'
elseif held >= total then refusal = 'capacity'
elseif held >= total - reserve and mine >= share then refusal = 'share'
elseif othersWaiting and mine >= share then refusal = 'share'
end
if refusal then
  if refusal ~= 'owner_cap' then redis.call('ZADD', waiting, now, owner) end
  return refusal
end
redis.call('ZADD', leases, expiry, owner .. '|' .. lease)
redis.call('HINCRBY', running, owner, 1)
return 'granted'
`;

// KEYS: leases, running. ARGV: (owner, lease) pairs
const RELEASE = `
for i = 1, #ARGV, 2 do
  if redis.call('ZREM', KEYS[1], ARGV[i] .. '|' .. ARGV[i + 1]) == 1 then
    if redis.call('HINCRBY', KEYS[2], ARGV[i], -1) <= 0 then redis.call('HDEL', KEYS[2], ARGV[i]) end
  end
end
return 1
`;

// KEYS: leases, workers, capacity. ARGV: worker, concurrency, expiry, lease members…
const HEARTBEAT = `
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
for i = 4, #ARGV do redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[i]) end
return 1
`;

// KEYS: workers, capacity. ARGV: worker
const LEAVE = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
`;

/** Wraps a script's body as a Lua function of its own keys and arguments. */
const asFunction = (name: string, lua: string) => `local function ${name}(KEYS, ARGV)\n${lua}\nend\n`;

/** ACQUIRE, then (granted) the check; a refused check gives the lease back. Keys and arguments: ACQUIRE's, then the check's. */
const acquireThen = (
  checkLua: string,
) => `${asFunction('acquire', ACQUIRE)}${asFunction('check', checkLua)}${asFunction('release', RELEASE)}
local function part(t, from, to) local out = {} for i = from, to do out[#out + 1] = t[i] end return out end
local answer = acquire(part(KEYS, 1, 5), part(ARGV, 1, 7))
if answer ~= 'granted' then return {answer} end
local checked = check(part(KEYS, 6, #KEYS), part(ARGV, 8, #ARGV))
if checked[1] ~= 1 then release({KEYS[1], KEYS[2]}, {ARGV[2], ARGV[3]}) end
local out = {answer}
for _, v in ipairs(checked) do out[#out + 1] = v end
return out
`;

type ShareRedis = RedisClient & {
  shareAcquire(...args: (string | number)[]): Promise<string>;
  shareRelease(...args: (string | number)[]): Promise<number>;
  shareHeartbeat(...args: (string | number)[]): Promise<number>;
  shareLeave(...args: (string | number)[]): Promise<number>;
};

/** The highest cap a project may set for itself when the operator sets none. */
export const MAX_RUNNING_CALLS_OVERRIDE = 100_000;

/**
 * An owner's cap on its running work: its own (a project's `maxRunningCalls`) within the operator's
 * maximum (`PROJECT_MAX_RUNNING_CALLS`); 0 means none. A stored override above a since-lowered
 * maximum is clamped, never an error.
 */
export function runningCapOf(ownCap: number | null, operatorMax: number): number {
  if (operatorMax <= 0) return ownCap ?? 0;
  return Math.min(ownCap ?? operatorMax, operatorMax);
}

export class RunningShare {
  readonly #redis: ShareRedis;
  readonly #keys: { leases: string; running: string; waiting: string; workers: string; capacity: string };
  readonly #worker = randomBytes(8).toString('hex');
  readonly #concurrency: number;
  readonly #reserve: number;
  readonly #waitingWindowMs: number;
  readonly #leaseTtlMs: number;
  /** Leases this worker holds, as stored (`owner|lease`), renewed by the heartbeat. */
  readonly #held = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  /** Leases released since the last flush, as (owner, lease) pairs: given back together. */
  #releasing: string[] = [];
  /** Callers of `placeFreed`, first come first woken. */
  readonly #waitingForPlace: Array<() => void> = [];
  /** When this worker last gave places back (performance.now()), and the mean time between two places it gave back. */
  #lastFreedAt = Number.NEGATIVE_INFINITY;
  #freedEveryMs = Number.POSITIVE_INFINITY;
  #sequence = 0;

  constructor(redis: RedisClient, options: RunningShareOptions) {
    if (!('shareAcquire' in redis)) {
      redis.defineCommand('shareAcquire', { numberOfKeys: 5, lua: ACQUIRE });
      redis.defineCommand('shareRelease', { numberOfKeys: 2, lua: RELEASE });
      redis.defineCommand('shareHeartbeat', { numberOfKeys: 3, lua: HEARTBEAT });
      redis.defineCommand('shareLeave', { numberOfKeys: 2, lua: LEAVE });
    }
    this.#redis = redis as ShareRedis;
    // One hash tag: every key of a tier lives in one cluster slot, as a script needs.
    const base = `${options.prefix ?? 'connector-engine:share'}:{${options.name}}`;
    this.#keys = {
      leases: `${base}:leases`,
      running: `${base}:running`,
      waiting: `${base}:waiting`,
      workers: `${base}:workers`,
      capacity: `${base}:capacity`,
    };
    this.#concurrency = options.concurrency;
    this.#reserve = options.reserve ?? 2;
    this.#waitingWindowMs = options.waitingWindowMs ?? 2_000;
    this.#leaseTtlMs = options.leaseTtlMs ?? 15_000;
  }

  /** Adds this worker's capacity to the tier and keeps it (and its leases) alive until `stop`. */
  async start(): Promise<void> {
    await this.#beat();
    this.#timer = setInterval(() => void this.#beat().catch(() => {}), Math.max(100, Math.floor(this.#leaseTtlMs / 3)));
    this.#timer.unref();
  }

  /** Takes this worker's capacity out of the tier. Leases still held lapse on their own. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    if (this.#releasing.length > 0) this.#flushReleases();
    await this.#redis.shareLeave(this.#keys.workers, this.#keys.capacity, this.#worker).catch(() => {});
  }

  /**
   * A place to run one job for `owner`, or why not. `ownerCap` (0: none) bounds the owner's places
   * whatever its share. The returned `release` gives the place back; calling it again does nothing.
   */
  async acquire(owner: string, ownerCap = 0, now = Date.now()): Promise<LeaseResult> {
    const { lease, keys, args } = this.#acquisition(owner, ownerCap, now);
    const answer = await this.#redis.shareAcquire(...keys, ...args);
    if (answer !== 'granted') return { granted: false, reason: answer as RefusalReason };
    return { granted: true, release: this.#hold(owner, lease) };
  }

  /**
   * `acquire`, then `check` (CheckAfterLease) in the same round trip where the keys allow it. Refused
   * by the check, the lease is given back at once (there is nothing to release).
   */
  async acquireThenCheck<R>(
    owner: string,
    ownerCap: number,
    check: CheckAfterLease<R>,
    now = Date.now(),
  ): Promise<CheckedLeaseResult<R>> {
    if (this.#redis.isCluster) {
      const lease = await this.acquire(owner, ownerCap, now);
      if (!lease.granted) return lease;
      const answer = await check.alone();
      if (answer[0] === 1) return { granted: true, passed: true, checked: check.read(answer), release: lease.release };
      lease.release();
      return { granted: true, passed: false, checked: check.read(answer) };
    }
    const command = `shareAcquireThen_${check.name}`;
    if (!(command in this.#redis)) {
      this.#redis.defineCommand(command, { numberOfKeys: 5 + check.keys.length, lua: acquireThen(check.lua) });
    }
    const { lease, keys, args } = this.#acquisition(owner, ownerCap, now);
    const run = (
      this.#redis as unknown as Record<string, (...a: (string | number)[]) => Promise<Array<string | number>>>
    )[command]!;
    const [answer, ...checked] = await run.call(this.#redis, ...keys, ...check.keys, ...args, ...check.args);
    if (answer !== 'granted') return { granted: false, reason: answer as RefusalReason };
    if (checked[0] !== 1) return { granted: true, passed: false, checked: check.read(checked) };
    return { granted: true, passed: true, checked: check.read(checked), release: this.#hold(owner, lease) };
  }

  /** ACQUIRE's keys and arguments for a new lease of `owner`. */
  #acquisition(owner: string, ownerCap: number, now: number) {
    const lease = `${this.#worker}.${(this.#sequence++).toString(36)}`;
    const { leases, running, waiting, workers, capacity } = this.#keys;
    return {
      lease,
      keys: [leases, running, waiting, workers, capacity],
      args: [now, owner, lease, now + this.#leaseTtlMs, this.#reserve, ownerCap, this.#waitingWindowMs],
    };
  }

  /** Keeps a granted lease alive (the heartbeat) until the returned release, which works once. */
  #hold(owner: string, lease: string): () => void {
    const member = `${owner}|${lease}`;
    this.#held.add(member);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#held.delete(member);
      // Not awaited: the job's answer never waits for its place to be handed back. Jobs finish
      // together (their completions share a commit), so their places go back in one call.
      this.#releasing.push(owner, lease);
      if (this.#releasing.length === 2) setImmediate(() => this.#flushReleases());
    };
  }

  #flushReleases(): void {
    const pairs = this.#releasing;
    this.#releasing = [];
    void this.#redis
      .shareRelease(this.#keys.leases, this.#keys.running, ...pairs)
      .catch(() => {})
      .finally(() => {
        const now = performance.now();
        const places = pairs.length / 2;
        const every = (now - this.#lastFreedAt) / places;
        this.#freedEveryMs = Number.isFinite(this.#freedEveryMs) ? 0.8 * this.#freedEveryMs + 0.2 * every : every;
        this.#lastFreedAt = now;
        // Places are back in Redis: as many waiters as places may try again.
        for (let i = 0; i < places; i++) this.#waitingForPlace.shift()?.();
      });
  }

  /**
   * Whether this worker is giving places back often enough that one is likely within `ms`: when
   * waiting for one (placeFreed) beats going back to the queue. Under a flood of short calls, places
   * free every few milliseconds; while calls take seconds, a job that waited would only hold a queue
   * slot another project's job could use.
   */
  placeLikelyWithin(ms: number): boolean {
    return this.#freedEveryMs < ms && performance.now() - this.#lastFreedAt < ms;
  }

  /**
   * Resolves once this worker has given a place back (in Redis), or after `timeoutMs`, whichever is
   * first: a job refused for the tier's capacity or its owner's share can wait a moment in its worker
   * for a place instead of going back to the queue at once. Under a flood a place frees every few
   * milliseconds, and a job that went straight back was picked up again by the same slot and refused
   * again: a third of the slots' time and Redis's work went to that churn (docs/benchmarks.md).
   */
  placeFreed(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        const at = this.#waitingForPlace.indexOf(wake);
        if (at >= 0) this.#waitingForPlace.splice(at, 1);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      this.#waitingForPlace.push(wake);
    });
  }

  #beat(): Promise<number> {
    return this.#redis.shareHeartbeat(
      this.#keys.leases,
      this.#keys.workers,
      this.#keys.capacity,
      this.#worker,
      this.#concurrency,
      Date.now() + this.#leaseTtlMs,
      ...this.#held,
    );
  }
}
