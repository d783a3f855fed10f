/**
 * The essential-work baseline's consumer (sections 1 and 2 of the bench: the same call written by
 * hand at c=1, and the async throughput baseline): per job, what any system that
 * runs a queued resend.sendEmail and keeps a durable audit row must do, hand-written without engine
 * code. UPDATE the row to running, POST /emails to the upstream fake exactly as the engine's
 * sendEmail does (bench/lib/resend-call.ts), UPDATE the row to succeeded with its output.
 *
 * A BullMQ Worker with the engine worker's options (bench/lib/baseline-worker.ts), a plain pg Pool
 * (no kysely), got with a keep-alive agent. Prints `READY` once its Redis and Postgres connections
 * are up.
 *
 * env: REDIS_URL, DATABASE_URL, BENCH_QUEUE, WORKER_CONCURRENCY, BENCH_UPSTREAM_URL, BENCH_RESEND_KEY.
 */
import { performance } from 'node:perf_hooks';
import type { Job } from 'bullmq';
import pg from 'pg';
import { baselineConcurrency, startBaselineWorker } from './lib/baseline-worker.ts';
import { resendClient, sendEmail } from './lib/resend-call.ts';

// One connection per job in flight: no job waits for the pool.
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL!, max: baselineConcurrency });
pool.on('error', (err) => process.stderr.write(`essential worker pg error: ${err.message}\n`));
const upstream = resendClient(process.env.BENCH_UPSTREAM_URL!, process.env.BENCH_RESEND_KEY!);

// Named statements, parsed once per connection: the engine names its statements too
// (shared/db/prepared-statement-pool.ts), so unnamed ones here would bill Postgres for parsing the
// engine does not pay. Same columns as the engine's claim and completion write.
const claim = {
  name: 'essential_claim',
  text: "update invocations set status = 'running', attempts = attempts + 1, started_at = now() where id = $1",
};
const succeed = {
  name: 'essential_succeed',
  text: "update invocations set status = 'succeeded', output = $2, duration_ms = $3, finished_at = now() where id = $1",
};
const fail = {
  name: 'essential_fail',
  text: "update invocations set status = 'failed', error_code = 'upstream_error', error_message = $2, finished_at = now() where id = $1",
};

async function run(job: Job<{ invocationId: string }>): Promise<void> {
  const id = job.data.invocationId;
  await pool.query({ ...claim, values: [id] });
  const t0 = performance.now();
  let output: string;
  try {
    output = JSON.stringify({ id: await sendEmail(upstream, id) }); // the engine's output of sendEmail
  } catch (err) {
    // Recorded, not retried: the bench counts failed rows (a retry would need the engine's backoff).
    await pool.query({ ...fail, values: [id, (err as Error).message.slice(0, 500)] });
    return;
  }
  await pool.query({ ...succeed, values: [id, output, Math.round(performance.now() - t0)] });
}

await startBaselineWorker('essential worker', 'bench-essential', run, {
  ready: () => pool.query('select 1'),
  close: () => pool.end(),
});
