import { describe, expect, it } from 'vitest';
import { FairAdmission } from '../../api/execution/fair-admission.ts';

/** A piece of work that finishes when the test says so, recording when it started. */
function gate(started: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  return {
    work: () => {
      started.push(name);
      return done;
    },
    finish,
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('FairAdmission', () => {
  it('never runs more than its limit at once', async () => {
    const admission = new FairAdmission(3);
    let running = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        admission.run(i % 2 ? 'a' : 'b', async () => {
          running++;
          most = Math.max(most, running);
          await tick();
          running--;
        }),
      ),
    );
    expect(most).toBe(3);
    expect(admission.active).toBe(0);
    expect(admission.queued).toBe(0);
  });

  it('lets a tenant with one call in ahead of a flooding tenant’s backlog', async () => {
    const admission = new FairAdmission(2);
    const started: string[] = [];
    const a = Array.from({ length: 10 }, (_, i) => gate(started, `a${i}`));
    const runs = a.map((g) => admission.run('a', g.work));
    await tick();
    const b = gate(started, 'b0');
    const bRun = admission.run('b', b.work);
    await tick();
    expect(started).toEqual(['a0', 'a1']);
    a[0]!.finish();
    await tick();
    // a's turn came first; b's is next, ahead of the 7 calls a still has queued.
    expect(started).toEqual(['a0', 'a1', 'a2']);
    a[1]!.finish();
    await tick();
    expect(started).toEqual(['a0', 'a1', 'a2', 'b0']);
    b.finish();
    for (const g of a) g.finish();
    await Promise.all([...runs, bRun]);
    expect(started).toEqual(['a0', 'a1', 'a2', 'b0', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9']);
  });

  it('takes waiting tenants in turns', async () => {
    const admission = new FairAdmission(1);
    const started: string[] = [];
    const first = gate(started, 'x');
    const blocker = admission.run('x', first.work);
    const gates = ['a1', 'a2', 'a3', 'b1', 'b2', 'c1'].map((n) => ({ tenant: n[0]!, g: gate(started, n) }));
    const runs = gates.map(({ tenant, g }) => admission.run(tenant, g.work));
    for (const { g } of gates) g.finish();
    first.finish();
    await Promise.all([blocker, ...runs]);
    expect(started).toEqual(['x', 'a1', 'b1', 'c1', 'a2', 'b2', 'a3']);
  });

  it('frees the place when the work fails', async () => {
    const admission = new FairAdmission(1);
    await expect(admission.run('a', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(admission.run('a', async () => 'ok')).resolves.toBe('ok');
    expect(admission.active).toBe(0);
  });
});

describe('FairAdmission.acquire', () => {
  it('gives a place back once, however often release is called', async () => {
    const admission = new FairAdmission(1);
    const release = await admission.acquire('a');
    const second = admission.acquire('b');
    expect(admission.queued).toBe(1);
    release();
    release();
    const releaseSecond = await second;
    expect(admission.active).toBe(1);
    releaseSecond();
    expect(admission.active).toBe(0);
  });
});

describe('FairAdmission share: a heavy caller yields while a light caller is active', () => {
  /** Starts `n` acquires for `caller`; returns their release functions in the order granted. */
  function flood(admission: FairAdmission, caller: string, n: number) {
    const granted: Array<(o?: { served?: boolean }) => void> = [];
    for (let i = 0; i < n; i++) void admission.acquire(caller).then((release) => granted.push(release));
    return granted;
  }

  it('holds the heavy caller to its share while the light one is active, and hands it every place after', async () => {
    let now = 0;
    const admission = new FairAdmission(4, { share: 2, windowMs: 1_000, now: () => now });
    const a = flood(admission, 'a', 20);
    await tick();
    expect(a).toHaveLength(4); // alone, the heavy caller may hold every place

    const b = admission.acquire('b');
    a.shift()!({ served: true });
    a.shift()!({ served: true });
    await tick();
    const releaseB = await b; // its turn came after a's next one
    expect(a).toHaveLength(3);
    releaseB({ served: true }); // b is now an active light caller
    await tick();
    expect(admission.active).toBe(3);

    // a holds 3: it gets no new place until it holds fewer than 2.
    a.shift()!({ served: true });
    await tick();
    expect(admission.active).toBe(2);
    a.shift()!({ served: true });
    await tick();
    expect(admission.active).toBe(2); // one freed, one more of a's admitted

    // b's next call goes straight in, past a's backlog.
    const b2 = await admission.acquire('b');
    expect(admission.active).toBe(3);
    now += 10;
    b2({ served: true });

    // b quiet for the window: a's next release gives it every place again.
    now += 1_000;
    a.shift()!({ served: true });
    await tick();
    expect(admission.active).toBe(4);
    expect(admission.queued).toBe(20 - 9); // a was granted 4 + 1 + 1 + 3 places in all
  });

  it('does not hold back callers that are all heavy: they take every place in turns', async () => {
    const admission = new FairAdmission(4, { share: 1, now: () => 0 });
    const a = flood(admission, 'a', 10);
    const b = flood(admission, 'b', 10);
    await tick();
    for (let i = 0; i < 6; i++) {
      (a.length > 0 ? a : b).shift()!({ served: true });
      await tick();
      expect(admission.active).toBe(4);
    }
  });

  it('is not held to its share by a caller whose calls were not served (an unauthenticated key)', async () => {
    const admission = new FairAdmission(4, { share: 1, now: () => 0 });
    const stranger = await admission.acquire('made-up key');
    stranger(); // refused by authentication: released without `served`
    const a = flood(admission, 'a', 10);
    await tick();
    expect(admission.active).toBe(4);
    a.shift()!({ served: true });
    await tick();
    expect(admission.active).toBe(4);
  });

  it('stops holding others back once the light caller turns heavy', async () => {
    let now = 0;
    const admission = new FairAdmission(4, { share: 1, windowMs: 1_000, now: () => now });
    (await admission.acquire('b'))({ served: true }); // b light and active
    const a = flood(admission, 'a', 10);
    await tick();
    expect(admission.active).toBe(1); // a held to its share
    now += 1;
    flood(admission, 'b', 2); // b now has more than its share at the gate: heavy
    await tick();
    a.shift()!({ served: true });
    await tick();
    expect(admission.active).toBe(4);
  });

  it('paces the heavy caller while a light one is active: a place it gives back early stays taken until paceMs after it was taken', async () => {
    let now = 0;
    const timers: Array<{ fn: () => void; at: number }> = [];
    const admission = new FairAdmission(4, {
      share: 2,
      paceMs: 8,
      now: () => now,
      schedule: (fn, ms) => timers.push({ fn, at: now + ms }),
    });
    const runTimers = () => {
      for (const t of timers.filter((t) => t.at <= now)) {
        timers.splice(timers.indexOf(t), 1);
        t.fn();
      }
    };
    (await admission.acquire('b'))({ served: true }); // b light and active
    const a = flood(admission, 'a', 10);
    await tick();
    expect(admission.active).toBe(2); // a held to its share of 2

    now += 3;
    a.shift()!({ served: true }); // 3 ms after it was taken: kept 5 ms more
    await tick();
    expect(admission.active).toBe(2);
    expect(a).toHaveLength(1);
    expect(timers.map((t) => t.at)).toEqual([8]);
    now = 8;
    runTimers();
    await tick();
    expect(a).toHaveLength(2); // the place went to a's next call at 8 ms
    expect(admission.active).toBe(2);

    now = 20;
    a.shift()!({ served: true }); // held longer than paceMs: given back at once
    await tick();
    expect(timers).toHaveLength(0);
    expect(a).toHaveLength(2);

    // b's own calls are never paced, and neither is a once b has been quiet for the window.
    const b = await admission.acquire('b');
    b({ served: true });
    expect(timers).toHaveLength(0);
    now += 1_001;
    a.shift()!({ served: true });
    await tick();
    expect(timers).toHaveLength(0);
    expect(admission.active).toBe(4); // alone again: a takes every place
  });

  it('paces a costlier call longer: paceMs times its cost', async () => {
    let now = 0;
    const timers: number[] = [];
    const admission = new FairAdmission(4, {
      share: 2,
      paceMs: 8,
      now: () => now,
      schedule: (_, ms) => timers.push(ms),
    });
    (await admission.acquire('b'))({ served: true }); // b light and active
    const releases = await Promise.all([admission.acquire('a', { cost: 2 }), admission.acquire('a', { cost: 2 })]);
    void admission.acquire('a', { cost: 2 }); // a is heavy: three calls at the gate
    now += 1;
    releases[0]!({ served: true });
    expect(timers).toEqual([15]); // 2 × 8 ms from when it was taken
  });

  it('does not pace a caller alone, however many calls it has', async () => {
    const timers: number[] = [];
    const admission = new FairAdmission(4, { share: 2, paceMs: 8, now: () => 0, schedule: (_, ms) => timers.push(ms) });
    const a = flood(admission, 'a', 10);
    await tick();
    a.shift()!({ served: true });
    await tick();
    expect(timers).toEqual([]);
    expect(admission.active).toBe(4);
  });

  it('refuses a negative pace', () => {
    expect(() => new FairAdmission(4, { paceMs: -1 })).toThrow(RangeError);
  });

  it('refuses a share outside 1..limit', () => {
    expect(() => new FairAdmission(4, { share: 0 })).toThrow(RangeError);
    expect(() => new FairAdmission(4, { share: 5 })).toThrow(RangeError);
  });
});
