/**
 * `node --import tsx bench/cluster-shards.ts`: the execute queue on a local Redis Cluster (3 masters,
 * 3 replicas, test/support/redis-cluster.ts) with 1 and with 3 shards (EXECUTE_QUEUE_SHARDS), jobs
 * shaped like the engine's (priority, execute job options) added for 64 projects and consumed by
 * BullMQ Workers with a no-op processor, as the engine's workers consume every shard. It measures
 * the Redis side only (no api, Postgres or upstream; docs/benchmarks.md): jobs per second, and how
 * the masters' CPU is spread, which is what the shards are for (docs/decisions/0015).
 *
 * env: BENCH_CLUSTER_JOBS=20000, BENCH_CLUSTER_WORKERS=2 (Workers per shard), BENCH_WORKER_CONCURRENCY=16
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { executeJobOptions } from '../shared/queue/execute-job.ts';
import { ExecuteQueues, executeShard } from '../shared/queue/execute-queues.ts';
import { createRedis, queuePrefix } from '../shared/queue/redis.ts';
import { startRedisCluster, type TestRedisCluster } from '../test/support/redis-cluster.ts';

const JOBS = Number(process.env.BENCH_CLUSTER_JOBS ?? 20_000);
const WORKERS_PER_SHARD = Number(process.env.BENCH_CLUSTER_WORKERS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 16);
const PRODUCERS = 64;

/** Seconds of CPU each master used so far (INFO cpu). */
async function masterCpu(cluster: TestRedisCluster): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const port of await cluster.masters()) {
    const r = new Redis(port, '127.0.0.1');
    const info = await r.info('cpu');
    r.disconnect();
    const value = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
    out.set(port, value('used_cpu_sys') + value('used_cpu_user'));
  }
  return out;
}

async function run(cluster: TestRedisCluster, shards: number): Promise<string> {
  const settings = { REDIS_URL: cluster.url, REDIS_CLUSTER_NODES: cluster.seeds.split(',') };
  const connections: ReturnType<typeof createRedis>[] = [];
  const connect = () => {
    const c = createRedis(settings, 'worker');
    connections.push(c);
    return c;
  };
  const queues = new ExecuteQueues(connect, shards);
  let done = 0;
  let allDone: () => void = () => {};
  const finished = new Promise<void>((r) => {
    allDone = r;
  });
  const workers = queues.shards.flatMap((_, i) => {
    const { name, tag } = executeShard(i, shards);
    return Array.from({ length: WORKERS_PER_SHARD }, () => {
      const connection = connect();
      return new Worker(
        name,
        async () => {
          if (++done === JOBS) allDone();
        },
        { connection, concurrency: CONCURRENCY, ...queuePrefix(connection, name, tag) },
      );
    });
  });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const cpu0 = await masterCpu(cluster);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: PRODUCERS }, async (_, p) => {
      const projectId = `prj_bench${p.toString().padStart(21, '0')}`;
      while (next < JOBS) {
        const id = `inv_bench${shards}_${(next++).toString().padStart(20, '0')}`;
        await queues.forProject(projectId).add('resend.sendEmail', { invocationId: id, projectId } as never, {
          ...executeJobOptions,
          jobId: id,
          priority: 1 + (next % 50),
        });
      }
    }),
  );
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = await masterCpu(cluster);
  await Promise.all(workers.map((w) => w.close()));
  await queues.close();
  for (const c of connections) c.disconnect();
  const spread = [...cpu1].map(([port, s]) => `${(s - (cpu0.get(port) ?? 0)).toFixed(1)}`).join(' / ');
  return `${shards} shard${shards > 1 ? 's' : ''}: ${Math.round(JOBS / seconds)} jobs/s (add + process, ${JOBS} jobs, ${seconds.toFixed(1)} s); CPU s per master: ${spread}`;
}

const cluster = await startRedisCluster();
try {
  const lines = [];
  for (const shards of [1, 3, 1, 3]) lines.push(await run(cluster, shards));
  console.log(
    `Redis Cluster 3 masters + 3 replicas (local), ${WORKERS_PER_SHARD} BullMQ Workers per shard x concurrency ${CONCURRENCY}, ${PRODUCERS} projects adding:`,
  );
  for (const l of lines) console.log(`  ${l}`);
} finally {
  await cluster.stop();
}
