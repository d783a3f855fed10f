/**
 * The raw-BullMQ baseline's consumer: a Worker with a no-op processor, with the engine worker's
 * options (concurrency, stalled/lock settings, connection options). Prints `READY`, then
 * `DONE <n> <epoch ms of the last completion>` every 100 ms while the count moves.
 *
 * env: REDIS_URL, BENCH_QUEUE, WORKER_CONCURRENCY.
 */
import { Worker } from 'bullmq';
import { createRedis } from '../shared/queue/redis.ts';

const worker = new Worker(process.env.BENCH_QUEUE ?? 'bench-noop', async () => undefined, {
  connection: createRedis(process.env.REDIS_URL!, 'worker'),
  concurrency: Number(process.env.WORKER_CONCURRENCY ?? 16),
  stalledInterval: 5_000,
  maxStalledCount: 2,
  lockDuration: 15_000,
});
let done = 0;
let lastAt = 0;
let reported = -1;
worker.on('completed', () => {
  done++;
  lastAt = Date.now();
});
worker.on('error', (err) => process.stderr.write(`noop worker error: ${err.message}\n`));
await worker.waitUntilReady();
process.stdout.write('READY\n');
setInterval(() => {
  if (done !== reported) {
    reported = done;
    process.stdout.write(`DONE ${done} ${lastAt}\n`);
  }
}, 100);

const stop = () => {
  void worker.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 5_000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
