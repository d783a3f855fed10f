import { sql } from 'kysely';
import type { Db } from '../shared/db/database.ts';
import { completeInvocation } from '../shared/invocations/invocation-store.ts';
import type { Logger } from '../shared/logger.ts';
import type { ExecuteQueues } from '../shared/queue/execute-queues.ts';

const BATCH = 200;

/**
 * Every accepted invocation must end. When its job is gone from the queue (failed after the
 * worker could not record it, stalled too often, or lost with Redis), the row is closed as failed
 * rather than left queued forever. Jobs still waiting or delayed (deferred by the rate limit) are
 * left alone.
 */
export async function sweepUnfinishedInvocations(
  db: Db,
  queues: ExecuteQueues,
  logger: Logger,
  /** Older than this, a queued or running invocation is checked against its job (UNFINISHED_SWEEP_AFTER_MS). */
  sweepAfterMs: number,
): Promise<number> {
  const rows = await db
    .selectFrom('invocations')
    .select(['id', 'status', 'project_id'])
    .where('status', 'in', ['queued', 'running'])
    .where('created_at', '<', sql<Date>`now() - ${sweepAfterMs} * interval '1 millisecond'`)
    .orderBy('created_at')
    .limit(BATCH)
    .execute();
  let closed = 0;
  for (const row of rows) {
    const found = await queues.locate(row.project_id, row.id);
    const state = found?.state ?? 'unknown';
    if (state !== 'unknown' && state !== 'failed' && state !== 'completed') continue;
    const job = state === 'failed' ? await found?.queue.getJob(row.id) : undefined;
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
