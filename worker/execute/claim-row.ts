import { setTimeout as sleep } from 'node:timers/promises';
import type { InvocationStatus } from '../../shared/db/schema.ts';

/**
 * Step 2 of an execute job: the claim of its invocation row, waiting for a row that has not committed
 * yet. A keyless sync call's row and job are written together (docs/decisions/0019), so its job can
 * reach a worker before its row: a claim that finds no row waits for it, a few milliseconds in place,
 * then in the delayed set until `rowWaitMs` after the job was added. A row that never comes was never
 * accepted (its INSERT failed, and the api answered an error): its call is not run.
 */
export interface ClaimRowSteps<C> {
  /** One claim statement: the claimed attempt, or null when no row could be claimed (missing or terminal). */
  claim(): Promise<C | null>;
  /** The row's status now; undefined while it has no committed row. */
  status(): Promise<InvocationStatus | undefined>;
  /** Sends the job to the delayed set until `at` (epoch ms); never returns. */
  delay(at: number): Promise<never>;
  /** When the job was added (epoch ms). */
  addedAt: number;
  /** Pauses (ms) between claims while the row is missing, before the job goes to the delayed set. Default ROW_PAUSES_MS. */
  pausesMs?: readonly number[];
  /** How long after its job was added a row may still come. Default ROW_WAIT_MS. */
  rowWaitMs?: number;
  /** Default Date.now. */
  now?: () => number;
  /** Default node:timers/promises' setTimeout. */
  sleep?: (ms: number) => Promise<unknown>;
}

/** What became of a claim: claimed, already terminal (a duplicate delivery), or a row that never came. */
export type ClaimResult<C> =
  | { kind: 'claimed'; claim: C; waitedForRow: boolean }
  | { kind: 'terminal' }
  | { kind: 'no_row' };

/** Pauses (ms) between claims of a missing row: 31 ms in all, while the job holds its place. */
export const ROW_PAUSES_MS = [1, 2, 4, 8, 16] as const;
/** A job whose row is still missing is looked at again after this long, from the delayed set. */
export const ROW_RECHECK_MS = 1_000;
/** How long after its job was added a row may still come (its INSERT slow, not failed). */
export const ROW_WAIT_MS = 60_000;

const isTerminal = (status: InvocationStatus | undefined) => status === 'succeeded' || status === 'failed';

export async function claimRow<C>(steps: ClaimRowSteps<C>): Promise<ClaimResult<C>> {
  const pause = steps.sleep ?? sleep;
  const now = steps.now ?? Date.now;
  let claim = await steps.claim();
  if (claim) return { kind: 'claimed', claim, waitedForRow: false };
  let waitedForRow = false;
  for (const ms of steps.pausesMs ?? ROW_PAUSES_MS) {
    // The claim found nothing: a terminal row (a duplicate delivery), a row still missing, or one
    // that committed since the claim looked (then it is claimed at once).
    const status = await steps.status();
    if (isTerminal(status)) return { kind: 'terminal' };
    if (status === undefined) {
      waitedForRow = true;
      await pause(ms);
    }
    claim = await steps.claim();
    if (claim) return { kind: 'claimed', claim, waitedForRow };
  }
  const status = await steps.status();
  if (isTerminal(status)) return { kind: 'terminal' };
  if (status !== undefined || now() - steps.addedAt < (steps.rowWaitMs ?? ROW_WAIT_MS))
    return steps.delay(now() + ROW_RECHECK_MS);
  return { kind: 'no_row' };
}
