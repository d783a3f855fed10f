import type { Queue } from 'bullmq';
import { sql } from 'kysely';
import type { Db } from '../shared/db/database.ts';
import { completeInvocation } from '../shared/invocations/invocation-store.ts';
import type { Logger } from '../shared/logger.ts';
import type { ExecuteJobData } from '../shared/queue/execute-job.ts';

/** Older than this, a queued or running invocation is checked against its job. */
const SWEEP_AFTER_MS = 2 * 60_000;
const BATCH = 200;

/**
 * Every accepted invocation must end. When its job is gone from the queue (failed after the
 * worker could not record it, stalled too often, or lost with Redis), the row is closed as failed
 * rather than left queued forever. Jobs still waiting or delayed (deferred by the rate limit) are
 * left alone.
 */
export async function sweepUnfinishedInvocations(
  db: Db,
  queue: Queue<ExecuteJobData>,
  logger: Logger,
): Promise<number> {
  const rows = await db
    .selectFrom('invocations')
    .select(['id', 'status'])
    .where('status', 'in', ['queued', 'running'])
    .where('created_at', '<', sql<Date>`now() - ${SWEEP_AFTER_MS} * interval '1 millisecond'`)
    .orderBy('created_at')
    .limit(BATCH)
    .execute();
  let closed = 0;
  for (const row of rows) {
    const state = await queue.getJobState(row.id);
    if (state !== 'unknown' && state !== 'failed' && state !== 'completed') continue;
    const job = state === 'failed' ? await queue.getJob(row.id) : undefined;
    await completeInvocation(db, row.id, {
      failure: {
        code: 'internal_error',
        message:
          state === 'unknown'
            ? 'The queued job was lost (Redis lost it before persisting); the call was not run.'
            : `The job ended without recording a result${job?.failedReason ? ` (${job.failedReason.slice(0, 200)})` : ''}.`,
      },
      durationMs: null,
    });
    closed++;
  }
  if (closed) logger.warn({ closed }, 'closed invocations whose jobs were gone');
  return closed;
}
