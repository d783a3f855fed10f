/**
 * The bench's baseline consumers (bench/noop-worker.ts, bench/essential-worker.ts): a BullMQ Worker
 * with the engine worker's options (concurrency from WORKER_CONCURRENCY, the same stalled-job
 * settings and Redis connection options), `READY` on stdout once connected, and a clean close on
 * SIGTERM/SIGINT.
 */
import { type Processor, Worker } from 'bullmq';
import { createRedis } from '../../shared/queue/redis.ts';
import { stalledJobRecovery } from '../../shared/queue/stalled-job-recovery.ts';

export const baselineConcurrency = Number(process.env.WORKER_CONCURRENCY ?? 16);

export async function startBaselineWorker<T>(
  name: string,
  defaultQueue: string,
  processor: Processor<T>,
  hooks: { ready?: () => Promise<unknown>; close?: () => Promise<unknown> } = {},
): Promise<Worker<T>> {
  const worker = new Worker<T>(process.env.BENCH_QUEUE ?? defaultQueue, processor, {
    connection: createRedis(process.env.REDIS_URL!, 'worker'),
    concurrency: baselineConcurrency,
    ...stalledJobRecovery,
  });
  worker.on('error', (err) => process.stderr.write(`${name} error: ${err.message}\n`));
  worker.on('failed', (job, err) => process.stderr.write(`${name} job ${job?.id} failed: ${err.message}\n`));
  await worker.waitUntilReady();
  await hooks.ready?.();
  process.stdout.write('READY\n');

  const stop = () => {
    void worker
      .close()
      .then(() => hooks.close?.())
      .finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 5_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return worker;
}
