import type { Processor } from 'bullmq';

/**
 * One process's WORKER_CONCURRENCY shared by the BullMQ Workers of every execute shard
 * (docs/decisions/0015): give the one processor they share to each of them. Each shard's Worker may fetch up to the full concurrency, so a process whose
 * calls all come from one hot shard still runs that many at once (a split of the concurrency over the
 * shards would cap it at a fraction); this bounds what runs at once across the shards to `limit`,
 * first come, first served. A job fetched beyond it waits here, its BullMQ lock kept alive, before
 * its running-share lease and its upstream call.
 */
export function withSharedConcurrency<T>(limit: number, processor: Processor<T>): Processor<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  const enter = (): Promise<void> | undefined => {
    if (running < limit) {
      running++;
      return undefined;
    }
    // The place is handed over by `leave`, so `running` stays counted.
    return new Promise<void>((resolve) => waiting.push(resolve));
  };
  const leave = () => {
    const next = waiting.shift();
    if (next) next();
    else running--;
  };
  return async (job, token, signal) => {
    await enter();
    try {
      return await processor(job, token, signal);
    } finally {
      leave();
    }
  };
}
