import type { EventEmitter } from 'node:events';
import { admissionWait, observeAdmission } from '../../shared/metrics.ts';
import { type AcquireOptions, FairAdmission } from './fair-admission.ts';

/** Executions admitted at once per api process (see FairAdmission and docs/decisions/0003). */
export const ADMISSION_CONCURRENCY = 8;
/** Places a heavy caller may hold while a light caller is active (docs/decisions/0005). */
export const ADMISSION_SHARE = 2;

/** A place at the gate, held from admission until the call is recorded and queued. */
export interface AdmissionTicket {
  /** How long the call waited for its place: a sync call's timeoutMs counts from its arrival. */
  readonly waitedMs: number;
  /**
   * Gives the place back (again: nothing). `served: true` once the call passed authentication and
   * was admitted: only such calls make the caller count as an active light caller, so requests
   * with made-up keys cannot hold paying callers to their share.
   */
  release(options?: { served?: boolean }): void;
}

/**
 * The fair admission gate every transport's executions pass (HTTP, MCP, …): a few places per api
 * process, handed to callers in turns, with a heavy caller held to a share while a light one is
 * active (FairAdmission). It lives in the ExecutionService, so a transport cannot skip it; the HTTP
 * route enters it once the request has authenticated and its body is read (docs/decisions/0009),
 * keyed by the presented key's hash, and hands the ticket on.
 */
export class AdmissionGate {
  /**
   * The api's gate: ADMISSION_CONCURRENCY places, ADMISSION_SHARE for a heavy caller while a light
   * one is active, each of them taken at least `paceMs` (ADMISSION_HEAVY_PACE_MS, docs/decisions/0018).
   */
  static paced(paceMs: number): AdmissionGate {
    return new AdmissionGate(new FairAdmission(ADMISSION_CONCURRENCY, { share: ADMISSION_SHARE, paceMs }));
  }

  constructor(readonly fair: FairAdmission) {
    observeAdmission(() => fair.queued);
  }

  /**
   * Waits for a place for `caller`. With `connection` (the HTTP response), a client that hangs up
   * while waiting does not keep the place it is then given: null, and the place is free again.
   */
  async enter(
    caller: string,
    connection?: Pick<EventEmitter, 'once' | 'off'>,
    options?: AcquireOptions,
  ): Promise<AdmissionTicket | null> {
    let gone = false;
    const onGone = () => {
      gone = true;
    };
    connection?.once('close', onGone);
    const started = performance.now();
    const release = await this.fair.acquire(caller, options);
    const waitedMs = performance.now() - started;
    admissionWait.observe(waitedMs / 1000);
    connection?.off('close', onGone);
    if (gone) {
      release();
      return null;
    }
    return { waitedMs, release };
  }
}

/** What is left of a sync call's timeoutMs after its wait at the gate; at least 1 ms (the call still runs, the caller polls). */
export function remainingBudgetMs(timeoutMs: number, waitedMs: number): number {
  return Math.max(1, Math.floor(timeoutMs - waitedMs));
}
