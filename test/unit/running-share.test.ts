import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LeaseResult, RunningShare, runningCapOf } from '../../shared/limiter/running-share.ts';
import { SlidingWindowLimiter } from '../../shared/limiter/sliding-window-limiter.ts';
import { testRedisUrl } from '../support/services.ts';

/** The rules of shared/limiter/running-share.ts, against a real Redis, one tier per test. */
describe('running share (real Redis)', () => {
  let url = '';
  const clients: Redis[] = [];
  const shares: RunningShare[] = [];
  let tier = 0;

  beforeAll(async () => {
    url = await testRedisUrl();
  });
  afterAll(async () => {
    for (const s of shares) await s.stop();
    for (const c of clients) c.disconnect();
  });

  async function worker(
    name: string,
    concurrency: number,
    options: { reserve?: number; leaseTtlMs?: number } = {},
  ): Promise<{ share: RunningShare; redis: Redis }> {
    const redis = new Redis(url);
    clients.push(redis);
    const share = new RunningShare(redis, {
      name,
      concurrency,
      reserve: options.reserve ?? 2,
      leaseTtlMs: options.leaseTtlMs,
    });
    shares.push(share);
    await share.start();
    return { share, redis };
  }
  const granted = (r: LeaseResult) => (r.granted ? r : expect.fail(`refused: ${r.reason}`));
  /** Gives `held`'s places back one after another, `n` times, each taken again by A once back in Redis. */
  async function turnOver(share: RunningShare, held: Array<{ release: () => void }>, n: number) {
    for (let i = 0; i < n; i++) {
      const freed = share.placeFreed(5_000);
      held.pop()!.release();
      await freed;
      held.push(granted(await share.acquire('A')));
    }
  }
  async function take(share: RunningShare, owner: string, n: number) {
    const leases = [];
    for (let i = 0; i < n; i++) leases.push(granted(await share.acquire(owner)));
    return leases;
  }

  it('lets an owner alone use all but the reserve, and gives the reserve to another owner at once', async () => {
    const name = `t${++tier}`;
    const { share } = await worker(name, 5);
    await worker(name, 3); // capacity is the sum of the tier's workers: 8
    await take(share, 'A', 6);
    expect(await share.acquire('A')).toEqual({ granted: false, reason: 'share' });
    // B is below its share: the reserve is for it.
    await take(share, 'B', 2);
    expect(await share.acquire('B')).toEqual({ granted: false, reason: 'capacity' });
  });

  it('holds an owner to its share while another is waiting, and hands places back on release', async () => {
    const name = `t${++tier}`;
    const { share } = await worker(name, 10, { reserve: 2 });
    const a = await take(share, 'A', 8);
    await take(share, 'B', 2);
    expect(await share.acquire('B')).toEqual({ granted: false, reason: 'capacity' }); // B now waits
    // A's calls finish; while B waits, A (at 7, over its share of 4) gets none of the freed places.
    a.pop()!.release();
    await new Promise((r) => setTimeout(r, 20)); // releases are not awaited
    expect(await share.acquire('A')).toEqual({ granted: false, reason: 'share' });
    granted(await share.acquire('B'));
    for (const lease of a.splice(0, 3)) lease.release();
    await new Promise((r) => setTimeout(r, 20));
    granted(await share.acquire('B')); // B: 4 of (10 − 2) ÷ 2
    expect(await share.acquire('B')).toEqual({ granted: false, reason: 'share' });
    // A at 4 is at its share too; the reserve stays free for a third owner.
    expect(await share.acquire('A')).toEqual({ granted: false, reason: 'share' });
    granted(await share.acquire('C'));
  });

  it('takes a project’s own cap within the operator’s maximum', () => {
    expect(runningCapOf(null, 0)).toBe(0); // neither: no cap
    expect(runningCapOf(5, 0)).toBe(5);
    expect(runningCapOf(null, 32)).toBe(32);
    expect(runningCapOf(5, 32)).toBe(5);
    expect(runningCapOf(64, 32)).toBe(32); // stored before the maximum was lowered: clamped
  });

  it('bounds an owner by its own cap whatever its share', async () => {
    const name = `t${++tier}`;
    const { share } = await worker(name, 10);
    for (let i = 0; i < 3; i++) granted(await share.acquire('A', 3));
    expect(await share.acquire('A', 3)).toEqual({ granted: false, reason: 'owner_cap' });
  });

  it('gives back the places and the capacity of a worker that stopped beating', async () => {
    const name = `t${++tier}`;
    const { share } = await worker(name, 4, { reserve: 0, leaseTtlMs: 600 });
    const crashed = await worker(name, 4, { reserve: 0, leaseTtlMs: 600 });
    await take(crashed.share, 'A', 8);
    expect(await share.acquire('B')).toEqual({ granted: false, reason: 'capacity' });
    // The crashed worker's connection is gone: no heartbeat renews its capacity or its leases.
    crashed.redis.disconnect();
    await new Promise((r) => setTimeout(r, 900));
    await take(share, 'B', 4); // capacity is this worker's 4 alone
    expect(await share.acquire('B')).toEqual({ granted: false, reason: 'capacity' });
  });

  it('renews the leases of a live worker past their time to live', async () => {
    const name = `t${++tier}`;
    const { share } = await worker(name, 2, { reserve: 0, leaseTtlMs: 300 });
    await take(share, 'A', 2);
    await new Promise((r) => setTimeout(r, 700));
    expect(await share.acquire('B')).toEqual({ granted: false, reason: 'capacity' });
  });

  it('checks the limit after a granted lease in the same script: a refused check gives the place back, a refused lease checks nothing', async () => {
    const name = `t${++tier}`;
    const { share, redis } = await worker(name, 3, { reserve: 0 });
    const limiter = new SlidingWindowLimiter(redis, `limits-${name}`);
    const t0 = Date.now();
    // Limit 1 per minute: the first start passes and holds its place...
    const first = await share.acquireThenCheck('A', 0, limiter.admission('k', 1, 'm1', t0), t0);
    expect(first).toMatchObject({ granted: true, passed: true, checked: { admitted: true } });
    // ...the second is refused by the limit, with when to try again, and does not keep its place.
    const second = await share.acquireThenCheck('A', 0, limiter.admission('k', 1, 'm2', t0 + 10), t0 + 10);
    expect(second).toEqual({ granted: true, passed: false, checked: { admitted: false, retryAt: t0 + 60_500 } }); // 60 s plus the guard
    await take(share, 'B', 2); // capacity 3: A's one place and B's two, none left over
    // The share refuses: the limit is not asked, so nothing is recorded as started.
    const third = await share.acquireThenCheck('C', 0, limiter.admission('other', 5, 'm3', t0 + 20), t0 + 20);
    expect(third).toEqual({ granted: false, reason: 'capacity' });
    expect(await limiter.admit('other', 1, 'probe', t0 + 30)).toEqual({ admitted: true });
    // A's release gives its place back.
    if (first.granted && first.passed) first.release();
    await new Promise((r) => setTimeout(r, 20));
    granted(await share.acquire('C'));
  });

  it('wakes a job waiting for a place when this worker gives one back, and says when places are turning over fast', async () => {
    const name = `t${++tier}`;
    const { share } = await worker(name, 3, { reserve: 0 });
    expect(share.placeLikelyWithin(5)).toBe(false); // nothing given back yet
    const held = await take(share, 'A', 3);
    expect(await share.acquire('A')).toEqual({ granted: false, reason: 'capacity' });
    // Nothing freed: the wait ends at its timeout.
    let t = performance.now();
    await share.placeFreed(60);
    expect(performance.now() - t).toBeGreaterThanOrEqual(55);
    // A place given back wakes the waiter once it is back in Redis: the place is then there to take.
    t = performance.now();
    const woken = share.placeFreed(5_000);
    held.pop()!.release();
    await woken;
    expect(performance.now() - t).toBeLessThan(1_000);
    held.push(granted(await share.acquire('A')));
    // Places given back one after another, quickly: one is likely soon. After a pause: not any more.
    await turnOver(share, held, 6);
    expect(share.placeLikelyWithin(1_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 60));
    expect(share.placeLikelyWithin(50)).toBe(false);
  });
});
