/**
 * The raw-BullMQ baseline's consumer: a no-op processor with the engine worker's options
 * (bench/lib/baseline-worker.ts). Prints `READY`, then `DONE <n> <epoch ms of the last completion>`
 * every 100 ms while the count moves.
 *
 * env: REDIS_URL, BENCH_QUEUE, WORKER_CONCURRENCY.
 */
import { startBaselineWorker } from './lib/baseline-worker.ts';

const worker = await startBaselineWorker('noop worker', 'bench-noop', async () => undefined);
let done = 0;
let lastAt = 0;
let reported = -1;
worker.on('completed', () => {
  done++;
  lastAt = Date.now();
});
setInterval(() => {
  if (done !== reported) {
    reported = done;
    process.stdout.write(`DONE ${done} ${lastAt}\n`);
  }
}, 100);
