import { type JobState, Queue } from 'bullmq';
import { EXECUTE_QUEUE, type ExecuteJobData } from './execute-job.ts';
import { tagInSlice } from './hash-slot.ts';
import { queuePrefix, type RedisClient } from './redis.ts';

/**
 * The execute queue, split into `EXECUTE_QUEUE_SHARDS` shards (docs/decisions/0015). On a Redis
 * Cluster one queue lives in one hash slot, so one master would carry every call; shards give each
 * its own slot. A project's calls always go to the same shard (its FIFO order within the limiter's
 * slots is kept), and every worker consumes every shard. Shard 0 is the queue `execute` itself, so
 * one shard is exactly the engine before shards.
 */
export const executeShardName = (shard: number): string => (shard === 0 ? EXECUTE_QUEUE : `${EXECUTE_QUEUE}-${shard}`);

/**
 * A shard's queue name and (on a cluster) hash tag. The tag puts shard i of n in the i-th slice of
 * the slots, so n shards on n masters of an evenly created cluster use one master each, instead of
 * wherever their names happen to hash (three names on three masters often share one).
 */
export function executeShard(shard: number, count: number): { name: string; tag: string } {
  const name = executeShardName(shard);
  return { name, tag: count === 1 ? `ce:${name}` : tagInSlice(`ce:${name}`, shard, count) };
}

/** The shard of a project: FNV-1a of its id, so every api instance picks the same one. */
export function shardOf(projectId: string, shards: number): number {
  if (shards <= 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < projectId.length; i++) {
    hash ^= projectId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}

export class ExecuteQueues {
  /** Index = shard number. */
  readonly shards: readonly Queue<ExecuteJobData>[];

  /** `connection` gives each shard's Queue its connection (called once per shard). */
  constructor(connection: () => RedisClient, count: number) {
    this.shards = Array.from({ length: count }, (_, shard) => {
      const { name, tag } = executeShard(shard, count);
      const client = connection();
      return new Queue<ExecuteJobData>(name, { connection: client, ...queuePrefix(client, name, tag) });
    });
  }

  /** The queue a project's calls go to. */
  forProject(projectId: string): Queue<ExecuteJobData> {
    return this.shards[shardOf(projectId, this.shards.length)]!;
  }

  /**
   * Where a job is and in which state, looked up in its project's shard first, then in the others: a
   * job queued before the number of shards changed is still found. Null: no shard knows it.
   */
  async locate(projectId: string, jobId: string): Promise<{ state: JobState; queue: Queue<ExecuteJobData> } | null> {
    const first = this.forProject(projectId);
    for (const queue of [first, ...this.shards.filter((q) => q !== first)]) {
      const state = await queue.getJobState(jobId);
      if (state !== 'unknown') return { state, queue };
    }
    return null;
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.map((q) => q.close()));
  }
}
