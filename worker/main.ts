import { Worker } from 'bullmq';
import { createLogger } from '../shared/logger.ts';
import { EXECUTE_QUEUE, type ExecuteJobData } from '../shared/queue/execute-job.ts';
import { createRedis } from '../shared/queue/redis.ts';
import { loadRuntime, onShutdownSignal, openDatabaseChecked } from '../shared/runtime.ts';
import { createExecuteProcessor } from './execute-processor.ts';
import { RetryScheduled } from './retry-policy.ts';

/** `npm run worker`: one worker process. Run more of them to scale; they share the queue. */
const { config, vault } = loadRuntime();
const logger = createLogger('worker', config.LOG_LEVEL);
const db = await openDatabaseChecked(config, vault, logger, Math.min(config.WORKER_CONCURRENCY + 2, 20));
const publisher = createRedis(config.REDIS_URL, 'worker');

const worker = new Worker<ExecuteJobData>(EXECUTE_QUEUE, createExecuteProcessor({ db, vault, config, publisher, logger }), {
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
  if (!(err instanceof RetryScheduled)) logger.error({ invocationId: job?.id, err: err.message }, 'job failed');
});
worker.on('error', (err) => logger.error({ err: err.message }, 'worker error'));
await worker.waitUntilReady();
logger.info({ concurrency: config.WORKER_CONCURRENCY }, 'worker ready');

onShutdownSignal(logger, async () => {
  // close() stops taking jobs and waits for the active ones to finish.
  await worker.close();
  await publisher.quit();
  await db.destroy();
});
