import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { EXECUTE_QUEUE } from '../../shared/queue/execute-job.ts';
import { executeShard, shardOf } from '../../shared/queue/execute-queues.ts';
import { CLUSTER_SLOTS, hashSlot } from '../../shared/queue/hash-slot.ts';
import { withSharedConcurrency } from '../../worker/execute/shared-concurrency.ts';

describe('execute queue shards', () => {
  it('keeps one shard exactly the queue of before: `execute`, every project on it', () => {
    expect(executeShard(0, 1)).toEqual({ name: EXECUTE_QUEUE, tag: 'ce:execute' });
    expect(shardOf('prj_anything', 1)).toBe(0);
  });

  it('sends a project always to the same shard, and projects to every shard', () => {
    const ids = Array.from({ length: 300 }, (_, i) => `prj_${i.toString(36).padStart(26, '0')}`);
    for (const id of ids) expect(shardOf(id, 4)).toBe(shardOf(id, 4));
    const counts = [0, 0, 0, 0];
    for (const id of ids) counts[shardOf(id, 4)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(30);
  });

  it('puts shard i of n in the i-th of n equal slot ranges (one master each on an evenly created cluster)', () => {
    for (const n of [2, 3, 6]) {
      for (let i = 0; i < n; i++) {
        const slot = hashSlot(`{${executeShard(i, n).tag}}`);
        expect(slot).toBeGreaterThanOrEqual(Math.floor((i * CLUSTER_SLOTS) / n));
        expect(slot).toBeLessThan(Math.floor(((i + 1) * CLUSTER_SLOTS) / n));
      }
    }
  });

  it('computes the slots of the cluster specification', () => {
    expect(hashSlot('foo')).toBe(12182);
    expect(hashSlot('123456789')).toBe(12739); // CRC16/XMODEM check value 0x31C3
    expect(hashSlot('{user1000}.following')).toBe(hashSlot('user1000'));
    expect(hashSlot('foo{}{bar}')).toBe(hashSlot('foo{}{bar}')); // an empty tag: the whole key
  });
});

describe('one process concurrency shared by the shards', () => {
  it('runs at most `limit` jobs at once across the shard workers, and every job', async () => {
    let running = 0;
    let most = 0;
    const processor = withSharedConcurrency(3, async () => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
    });
    await Promise.all(Array.from({ length: 20 }, () => processor({} as Job, 'token')));
    expect(most).toBe(3);
    expect(running).toBe(0);
  });

  it('frees the place of a job that throws', async () => {
    const processor = withSharedConcurrency(1, async (job: Job) => {
      if (job.id === 'bad') throw new Error('boom');
    });
    await expect(processor({ id: 'bad' } as Job, 'token')).rejects.toThrow('boom');
    await expect(processor({ id: 'good' } as Job, 'token')).resolves.toBeUndefined();
  });
});
