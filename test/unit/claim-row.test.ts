import { describe, expect, it } from 'vitest';
import type { InvocationStatus } from '../../shared/db/schema.ts';
import { type ClaimRowSteps, claimRow, ROW_RECHECK_MS } from '../../worker/execute/claim-row.ts';

class Delayed extends Error {
  constructor(readonly at: number) {
    super('delayed');
  }
}

/**
 * A scripted row: `claims` answers each claim in turn (a value: claimed; null: nothing claimed),
 * `statuses` each look at the row's status. Records the order of the steps.
 */
function script(claims: Array<string | null>, statuses: Array<InvocationStatus | undefined>, addedAgoMs = 0) {
  const steps: string[] = [];
  const now = 1_000_000;
  const options: ClaimRowSteps<string> = {
    claim: async () => {
      steps.push('claim');
      return claims.shift() ?? null;
    },
    status: async () => {
      const status = statuses.shift();
      steps.push(`status:${status ?? 'missing'}`);
      return status;
    },
    delay: async (at) => {
      throw new Delayed(at);
    },
    addedAt: now - addedAgoMs,
    pausesMs: [1, 2, 4],
    rowWaitMs: 60_000,
    now: () => now,
    sleep: async (ms) => void steps.push(`sleep:${ms}`),
  };
  return { options, steps, now };
}

describe('claimRow', () => {
  it('claims a row that is there with one statement', async () => {
    const { options, steps } = script(['attempt'], []);
    expect(await claimRow(options)).toEqual({ kind: 'claimed', claim: 'attempt', waitedForRow: false });
    expect(steps).toEqual(['claim']);
  });

  it('tells a duplicate delivery (a terminal row) from a missing row, and claims nothing', async () => {
    for (const terminal of ['succeeded', 'failed'] as const) {
      const { options, steps } = script([null], [terminal]);
      expect(await claimRow(options)).toEqual({ kind: 'terminal' });
      expect(steps).toEqual(['claim', `status:${terminal}`]);
    }
  });

  it('claims at once a row that committed between the claim and the look at its status', async () => {
    const { options, steps } = script([null, 'attempt'], ['queued']);
    expect(await claimRow(options)).toEqual({ kind: 'claimed', claim: 'attempt', waitedForRow: false });
    expect(steps).toEqual(['claim', 'status:queued', 'claim']);
  });

  it('waits in place for a missing row and claims it when it comes', async () => {
    const { options, steps } = script([null, null, 'attempt'], [undefined, undefined]);
    expect(await claimRow(options)).toEqual({ kind: 'claimed', claim: 'attempt', waitedForRow: true });
    expect(steps).toEqual(['claim', 'status:missing', 'sleep:1', 'claim', 'status:missing', 'sleep:2', 'claim']);
  });

  it('sends the job to the delayed set when the row is still missing after the pauses', async () => {
    const { options, steps, now } = script([], [undefined, undefined, undefined, undefined], 5_000);
    await expect(claimRow(options)).rejects.toEqual(new Delayed(now + ROW_RECHECK_MS));
    expect(steps.filter((s) => s.startsWith('sleep'))).toEqual(['sleep:1', 'sleep:2', 'sleep:4']);
    expect(steps.filter((s) => s === 'claim')).toHaveLength(4);
  });

  it('gives up on a row that has not come long after its job was added: nothing is claimed', async () => {
    const { options } = script([], [undefined, undefined, undefined, undefined], 60_001);
    expect(await claimRow(options)).toEqual({ kind: 'no_row' });
  });

  it('never gives up on a row that is there but could not be claimed yet', async () => {
    const { options, now } = script([], ['queued', 'queued', 'queued', 'queued'], 10 * 60_000);
    await expect(claimRow(options)).rejects.toEqual(new Delayed(now + ROW_RECHECK_MS));
  });
});
