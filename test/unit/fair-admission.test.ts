import { describe, expect, it } from 'vitest';
import { FairAdmission } from '../../api/execution/fair-admission.ts';

/** A piece of work that finishes when the test says so, recording when it started. */
function gate(started: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  return { work: () => (started.push(name), done), finish };
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
