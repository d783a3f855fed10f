import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { effectiveLimit, SlidingWindowLimiter } from '../../shared/limiter/sliding-window-limiter.ts';
import { testRedisUrl } from '../support/services.ts';

const WINDOW = 60_500; // 60 s plus the limiter's guard

describe('sliding-window limiter (real Redis)', () => {
  let redis: Redis;
  let limiter: SlidingWindowLimiter;
  let n = 0;
  const key = () => `test-${++n}`;

  beforeAll(async () => {
    redis = new Redis(await testRedisUrl());
    limiter = new SlidingWindowLimiter(redis);
  });
  afterAll(() => redis.disconnect());

  it('admits a burst of N at once and defers the next past the window', async () => {
    const k = key();
    const t0 = 1_000_000;
    for (let i = 0; i < 5; i++) {
      expect(await limiter.reserve({ key: k, limitPerMinute: 5, member: `m${i}` }, t0)).toEqual({
        granted: true,
        startAt: t0,
        delayMs: 0,
        rank: i,
        // What the RateLimit header reports: calls left now, and when the window's oldest slot leaves it.
        remaining: 5 - i - 1,
        resetMs: WINDOW,
      });
    }
    expect(await limiter.reserve({ key: k, limitPerMinute: 5, member: 'm5' }, t0 + 10)).toMatchObject({
      granted: true,
      startAt: t0 + WINDOW,
      remaining: 0, // deferred: nothing starts now
      resetMs: WINDOW - 10,
    });
  });

  it('never puts more than N slots in any window, whatever the arrival pattern', async () => {
    const k = key();
    const limit = 7;
    const slots: number[] = [];
    let now = 5_000_000;
    for (let i = 0; i < 200; i++) {
      now += Math.floor(Math.random() * 3_000);
      const r = await limiter.reserve({ key: k, limitPerMinute: limit, member: `m${i}` }, now);
      if (r.granted) slots.push(r.startAt);
    }
    slots.sort((a, b) => a - b);
    for (let i = 0; i + limit < slots.length; i++) expect(slots[i + limit]! - slots[i]!).toBeGreaterThanOrEqual(WINDOW);
    // FIFO: slots were handed out in non-decreasing order.
    expect(slots).toHaveLength(200);
  });

  it('refuses without reserving when the slot is past the deadline', async () => {
    const k = key();
    const t0 = 9_000_000;
    await limiter.reserve({ key: k, limitPerMinute: 1, member: 'a' }, t0);
    const refused = await limiter.reserve({ key: k, limitPerMinute: 1, member: 'b', deadline: t0 + 30_000 }, t0);
    expect(refused).toEqual({
      granted: false,
      startAt: t0 + WINDOW,
      retryAfterMs: WINDOW,
      rank: 1,
      remaining: 0,
      resetMs: WINDOW,
    });
    // Nothing was taken: an async call now gets the same slot the refused one was offered.
    expect(await limiter.reserve({ key: k, limitPerMinute: 1, member: 'c' }, t0)).toMatchObject({
      granted: true,
      startAt: t0 + WINDOW,
    });
  });

  it('keeps tenants apart', async () => {
    const [a, b] = [key(), key()];
    const t0 = 12_000_000;
    for (let i = 0; i < 3; i++) await limiter.reserve({ key: a, limitPerMinute: 1, member: `a${i}` }, t0);
    expect(await limiter.reserve({ key: b, limitPerMinute: 1, member: 'b0' }, t0)).toMatchObject({
      granted: true,
      delayMs: 0,
    });
  });

  it('honours notBefore and an upstream cooldown', async () => {
    const k = key();
    const t0 = Date.now();
    expect(await limiter.reserve({ key: k, limitPerMinute: 100, member: 'x', notBefore: t0 + 500 }, t0)).toMatchObject({
      startAt: t0 + 500,
    });
    await limiter.coolDown(k, t0 + 5_000);
    expect(await limiter.cooldownUntil(k)).toBe(t0 + 5_000);
    expect(await limiter.reserve({ key: k, limitPerMinute: 100, member: 'y' }, t0)).toMatchObject({
      startAt: t0 + 5_000,
    });
    await limiter.coolDown(k, t0 + 1_000); // a shorter cooldown never shortens a longer one
    expect(await limiter.cooldownUntil(k)).toBe(t0 + 5_000);
  });

  it('picks the project override, else the engine default; never above the connector ceiling, an override never above the operator maximum', () => {
    expect(effectiveLimit({ resend: 50 }, 'resend', 300, 1000)).toBe(50);
    expect(effectiveLimit({ resend: 5000 }, 'resend', 300, 1000)).toBe(300);
    expect(effectiveLimit({ slack: 5000 }, 'slack', 6000, 1000, 2000)).toBe(2000);
    expect(effectiveLimit({}, 'resend', 300, 1000)).toBe(300);
    expect(effectiveLimit({}, 'slack', 6000, 1000)).toBe(1000);
  });
});

describe('admission at the moment of the call (real Redis)', () => {
  let redis: Redis;
  let limiter: SlidingWindowLimiter;

  beforeAll(async () => {
    redis = new Redis(await testRedisUrl());
    limiter = new SlidingWindowLimiter(redis, 'admit-test');
  });
  afterAll(() => redis.disconnect());

  it('admits at most N actual starts in any window, and says when the next may start', async () => {
    const t0 = 50_000_000;
    for (let i = 0; i < 3; i++) expect(await limiter.admit('k', 3, `m${i}`, t0 + i * 100)).toEqual({ admitted: true });
    expect(await limiter.admit('k', 3, 'm3', t0 + 500)).toEqual({ admitted: false, retryAt: t0 + WINDOW });
    // A refusal records nothing; once the first start leaves the window, one more is admitted.
    expect(await limiter.admit('k', 3, 'm3', t0 + WINDOW)).toEqual({ admitted: true });
    expect(await limiter.admit('k', 3, 'm4', t0 + WINDOW + 50)).toEqual({
      admitted: false,
      retryAt: t0 + 100 + WINDOW,
    });
  });

  it('holds every start back during an upstream cooldown', async () => {
    const now = Date.now();
    await limiter.coolDown('c', now + 2_000);
    expect(await limiter.admit('c', 100, 'x', now)).toEqual({ admitted: false, retryAt: now + 2_000 });
  });
});
