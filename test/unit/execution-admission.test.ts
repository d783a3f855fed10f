import { EventEmitter } from 'node:events';
import type { NextFunction, Request, Response } from 'express';
import { describe, expect, it, vi } from 'vitest';
import { FairAdmission } from '../../api/execution/fair-admission.ts';
import { executionAdmission } from '../../api/middleware/execution-admission.ts';

function fakeExchange(key: string) {
  const req = { get: (name: string) => (name.toLowerCase() === 'authorization' ? key : undefined) } as unknown as Request;
  const res = Object.assign(new EventEmitter(), { locals: {} as Record<string, unknown> }) as unknown as Response & EventEmitter;
  return { req, res };
}

describe('execution admission middleware', () => {
  it('gives the place back when the response ends, and when the route says the call is admitted', async () => {
    const admission = new FairAdmission(1);
    const gate = executionAdmission(admission);
    const { req, res } = fakeExchange('Bearer a');
    const next = vi.fn() as unknown as NextFunction;
    await gate(req, res, next);
    expect(next).toHaveBeenCalledOnce();
    expect(admission.active).toBe(1);
    (res.locals.admitted as () => void)();
    expect(admission.active).toBe(0);
    res.emit('close'); // no double release
    expect(admission.active).toBe(0);

    const second = fakeExchange('Bearer a');
    await gate(second.req, second.res, vi.fn() as unknown as NextFunction);
    expect(admission.active).toBe(1);
    second.res.emit('close');
    expect(admission.active).toBe(0);
  });

  it('does not keep a place for a client that hung up while waiting for it', async () => {
    const admission = new FairAdmission(1);
    const gate = executionAdmission(admission);
    const holder = await admission.acquire('someone else');
    const { req, res } = fakeExchange('Bearer b');
    const next = vi.fn() as unknown as NextFunction;
    const waiting = gate(req, res, next);
    res.emit('close');
    holder();
    await waiting;
    expect(next).not.toHaveBeenCalled();
    expect(admission.active).toBe(0);
    // The gate still admits others.
    const other = fakeExchange('Bearer c');
    const nextOther = vi.fn() as unknown as NextFunction;
    await gate(other.req, other.res, nextOther);
    expect(nextOther).toHaveBeenCalledOnce();
  });

  it('counts a caller as light only once the route has admitted its call, not when its response merely closes', async () => {
    for (const admitted of [false, true]) {
      const admission = new FairAdmission(4, { share: 1 });
      const gate = executionAdmission(admission);
      const light = fakeExchange('Bearer light');
      await gate(light.req, light.res, vi.fn() as unknown as NextFunction);
      if (admitted) (light.res.locals.admitted as () => void)();
      else light.res.emit('close'); // e.g. a 401 for a made-up key
      const heavy = Array.from({ length: 3 }, () => fakeExchange('Bearer heavy'));
      const nexts = heavy.map(() => vi.fn() as unknown as NextFunction);
      heavy.forEach((h, i) => void gate(h.req, h.res, nexts[i]!));
      await new Promise((r) => setImmediate(r));
      // Held to a share of one while a served light caller is active; every place otherwise.
      expect(admission.active).toBe(admitted ? 1 : 3);
    }
  });

  it('tells the route how long the call waited for its place', async () => {
    const admission = new FairAdmission(1);
    const gate = executionAdmission(admission);
    const holder = await admission.acquire('someone else');
    const { req, res } = fakeExchange('Bearer w');
    const waiting = gate(req, res, vi.fn() as unknown as NextFunction);
    await new Promise((r) => setTimeout(r, 40));
    holder();
    await waiting;
    expect(res.locals.admissionWaitMs).toBeGreaterThanOrEqual(35);
    expect(res.locals.admissionWaitMs).toBeLessThan(1_000);
  });
});
