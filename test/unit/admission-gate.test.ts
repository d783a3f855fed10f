import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { AdmissionGate, remainingBudgetMs } from '../../api/execution/admission-gate.ts';
import { FairAdmission } from '../../api/execution/fair-admission.ts';

describe('the admission gate of the execution service', () => {
  it('gives the place back once, however often the ticket is released', async () => {
    const fair = new FairAdmission(1);
    const gate = new AdmissionGate(fair);
    const ticket = await gate.enter('a');
    expect(fair.active).toBe(1);
    ticket!.release({ served: true });
    expect(fair.active).toBe(0);
    ticket!.release(); // no double release
    expect(fair.active).toBe(0);
    const second = await gate.enter('a');
    expect(fair.active).toBe(1);
    second!.release();
    expect(fair.active).toBe(0);
  });

  it('does not keep a place for a client that hung up while waiting for it', async () => {
    const fair = new FairAdmission(1);
    const gate = new AdmissionGate(fair);
    const holder = await fair.acquire('someone else');
    const connection = new EventEmitter();
    const waiting = gate.enter('b', connection);
    connection.emit('close');
    holder();
    expect(await waiting).toBeNull();
    expect(fair.active).toBe(0);
    // The gate still admits others.
    const other = await gate.enter('c', new EventEmitter());
    expect(other).not.toBeNull();
    expect(fair.active).toBe(1);
  });

  it('counts a caller as light only once its call was served, not when its ticket is merely released', async () => {
    for (const served of [false, true]) {
      const fair = new FairAdmission(4, { share: 1 });
      const gate = new AdmissionGate(fair);
      const light = await gate.enter('light');
      light!.release({ served }); // not served: e.g. a 401 for a made-up key
      const heavy = Array.from({ length: 3 }, () => gate.enter('heavy'));
      await new Promise((r) => setImmediate(r));
      // Held to a share of one while a served light caller is active; every place otherwise.
      expect(fair.active).toBe(served ? 1 : 3);
      void heavy;
    }
  });

  it('measures how long the call waited for its place', async () => {
    const fair = new FairAdmission(1);
    const gate = new AdmissionGate(fair);
    const holder = await fair.acquire('someone else');
    const waiting = gate.enter('w');
    await new Promise((r) => setTimeout(r, 40));
    holder();
    const ticket = await waiting;
    expect(ticket!.waitedMs).toBeGreaterThanOrEqual(35);
    expect(ticket!.waitedMs).toBeLessThan(1_000);
  });

  it("spends the wait from a sync call's timeoutMs, leaving at least 1 ms (the call still runs; the caller polls it)", () => {
    expect(remainingBudgetMs(1000, 0)).toBe(1000);
    expect(remainingBudgetMs(1000, 250.4)).toBe(749);
    expect(remainingBudgetMs(30_000, 1_000)).toBe(29_000);
    expect(remainingBudgetMs(1000, 5_000)).toBe(1);
  });
});
