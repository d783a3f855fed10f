import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../shared/db/group-commit.ts';

describe('GroupCommit', () => {
  it('is idle only while no write is in flight; items arriving during a write go out together after it', async () => {
    const batches: number[][] = [];
    const gates: Array<() => void> = [];
    const writeStarted = async () => {
      while (gates.length === 0) await new Promise((resolve) => setImmediate(resolve));
    };
    const commit = new GroupCommit<number>(async (items) => {
      batches.push(items);
      await new Promise<void>((resolve) => gates.push(resolve));
    });
    expect(commit.idle).toBe(true);

    const first = commit.add(1);
    expect(commit.idle).toBe(false);
    const second = commit.add(2);
    const third = commit.add(3);
    expect(batches).toEqual([[1]]);

    gates.shift()!();
    await first;
    await writeStarted();
    expect(commit.idle).toBe(false); // 2 and 3 are being written now
    expect(batches).toEqual([[1], [2, 3]]);
    gates.shift()!();
    await Promise.all([second, third]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(commit.idle).toBe(true);
  });
});
