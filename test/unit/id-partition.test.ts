import { ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { newId } from '../../shared/ids.ts';
import { ALL_MONTHS, inIdPartitions, partitionOfId } from '../../shared/invocations/id-partition.ts';

describe("an invocation id's partition", () => {
  it("is the month of the id's time, UTC", () => {
    // 2025-12-31T23:59:59.999Z and a millisecond later, as ULID times.
    const at = (ms: number) => `inv_${ulid(ms).toLowerCase()}`;
    expect(partitionOfId(at(Date.UTC(2025, 11, 31, 23, 59, 59, 999)))).toBe('invocations_p2025_12');
    expect(partitionOfId(at(Date.UTC(2026, 0, 1)))).toBe('invocations_p2026_01');
    const now = new Date();
    const month = `${now.getUTCFullYear()}_${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
    expect(partitionOfId(newId('invocation'))).toBe(`invocations_p${month}`);
  });

  it('is unknown for an id that is not a ULID', () => {
    expect(partitionOfId('inv_legacy-id')).toBeNull();
  });
});

describe('inIdPartitions', () => {
  const run = (found: (table: string, id: string) => boolean, missing = new Set<string>()) => {
    const calls: Array<[string, string[]]> = [];
    const statement = async (items: readonly string[], table: string) => {
      calls.push([table, [...items]]);
      if (missing.has(table)) throw Object.assign(new Error(`relation "${table}" does not exist`), { code: '42P01' });
      return items.filter((id) => found(table, id));
    };
    return { calls, statement };
  };

  it("writes each id in its month's partition, and only what it did not find there in the whole table", async () => {
    const [a, b] = [newId('invocation'), newId('invocation')];
    const { calls, statement } = run((table, id) => table !== ALL_MONTHS || id === b);
    const partition = partitionOfId(a)!;
    const onlyA = run((table, id) => (table === partition ? id === a : id === b));
    expect(
      await inIdPartitions(
        [a, b],
        (id) => id,
        (id) => id,
        onlyA.statement,
      ),
    ).toEqual([a, b]);
    expect(onlyA.calls).toEqual([
      [partition, [a, b]],
      [ALL_MONTHS, [b]],
    ]);
    expect(
      await inIdPartitions(
        [a, b, 'inv_legacy'],
        (id) => id,
        (id) => id,
        statement,
      ),
    ).toEqual([a, b]);
    // The legacy id went to the whole table at once and is not tried there twice.
    expect(calls).toEqual([
      [partition, [a, b]],
      [ALL_MONTHS, ['inv_legacy']],
    ]);
  });

  it("falls back to the whole table when the id's month has no partition", async () => {
    const a = newId('invocation');
    const { calls, statement } = run(() => true, new Set([partitionOfId(a)!]));
    expect(
      await inIdPartitions(
        [a],
        (id) => id,
        (id) => id,
        statement,
      ),
    ).toEqual([a]);
    expect(calls.map(([table]) => table)).toEqual([partitionOfId(a), ALL_MONTHS]);
  });

  it('passes other errors on', async () => {
    const statement = async (): Promise<string[]> => {
      throw Object.assign(new Error('boom'), { code: '23505' });
    };
    await expect(
      inIdPartitions(
        [newId('invocation')],
        (id) => id,
        (id) => id,
        statement,
      ),
    ).rejects.toThrow('boom');
  });
});
