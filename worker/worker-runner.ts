import { DelayedError, Worker } from 'bullmq';
import type { Config } from '../shared/config.ts';
import type { Vault } from '../shared/crypto/vault.ts';
import type { Logger } from '../shared/logger.ts';
import { EXECUTE_QUEUE, type ExecuteJobData } from '../shared/queue/execute-job.ts';
import { CredentialRefresher } from '../shared/connections/credential-refresher.ts';
import { SlidingWindowLimiter } from '../shared/limiter/sliding-window-limiter.ts';
import { createRedis } from '../shared/queue/redis.ts';
import { openDatabaseChecked } from '../shared/runtime.ts';
import { createExecuteProcessor } from './execute-processor.ts';
import { RetryScheduled } from './retry-policy.ts';

export interface RunningWorker {
  /** Stops taking jobs, waits for the active ones, then releases connections. */
  stop(): Promise<void>;
}

/** One worker's BullMQ consumer; used by worker/main.ts and by in-process tests. */
export async function startWorker(config: Config, vault: Vault, logger: Logger): Promise<RunningWorker> {
  const db = await openDatabaseChecked(config, vault, logger, Math.min(config.WORKER_CONCURRENCY + 2, 20));
  const publisher = createRedis(config.REDIS_URL, 'worker');
  publisher.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));

  const worker = new Worker<ExecuteJobData>(EXECUTE_QUEUE, createExecuteProcessor({
      db,
      vault,
      config,
      publisher,
      limiter: new SlidingWindowLimiter(publisher),
      refresher: new CredentialRefresher(db, vault, publisher, config, logger),
      logger,
    }), {
    connection: createRedis(config.REDIS_URL, 'worker'),
    concurrency: config.WORKER_CONCURRENCY,
    // A crashed worker's jobs are picked up by another within seconds, not minutes.
    stalledInterval: 5_000,
    maxStalledCount: 2,
    lockDuration: 15_000,
    settings: {
      backoffStrategy: (_attemptsMade, _type, err) => (err instanceof RetryScheduled ? err.delayMs : 1_000),
    },
  });
  worker.on('failed', (job, err) => {
    if (!(err instanceof RetryScheduled) && !(err instanceof DelayedError)) logger.error({ invocationId: job?.id, err: err.message }, 'job failed');
  });
  worker.on('error', (err) => logger.error({ err: err.message }, 'worker error'));
  await worker.waitUntilReady();
  logger.info({ concurrency: config.WORKER_CONCURRENCY }, 'worker ready');

  return {
    async stop() {
      await worker.close();
      await publisher.quit().catch(() => {});
      await db.destroy();
    },
  };
}
