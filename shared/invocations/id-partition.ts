import { decodeTime } from 'ulid';
import { monthStart, partitionName } from '../db/partitions.ts';

/** The whole partitioned table: where a row is looked up when its id does not say its month. */
export const ALL_MONTHS = 'invocations';

/**
 * The partition an invocation's row is in, from its id: ids are ULIDs carrying the api's clock when
 * it accepted the call, and `invocations` is partitioned by month of created_at (decision 0013),
 * which Postgres sets a moment later. Null when the id is not a ULID.
 */
export function partitionOfId(id: string): string | null {
  let time: number;
  try {
    time = decodeTime(id.slice(id.indexOf('_') + 1).toUpperCase());
  } catch {
    return null;
  }
  return partitionName('invocations', monthStart(new Date(time)));
}

/** Postgres's "undefined_table": the id's month has no partition (its rows are in the default one, or gone). */
const isUndefinedTable = (err: unknown) => (err as { code?: string }).code === '42P01';

/**
 * The one way to write rows of `invocations` by id on the hot path: `statement` runs on each month's
 * items against that month's partition itself, then once more against the whole table on the items
 * whose ids it did not return (a row written just across a month boundary, a row written by hand, or
 * one the statement does not touch: then the second run finds nothing either).
 *
 * Why the partition and not the table: a statement on the partitioned table is planned for every
 * month (or, bounded by created_at, pruned while it is planned), which cost Postgres more than the
 * statement itself on each call; on one partition it is planned as on a plain table.
 */
export async function inIdPartitions<T, R>(
  items: readonly T[],
  idOf: (item: T) => string,
  foundIdOf: (result: R) => string,
  statement: (items: readonly T[], table: string) => Promise<R[]>,
): Promise<R[]> {
  const byPartition = new Map<string, T[]>();
  for (const item of items) {
    const table = partitionOfId(idOf(item)) ?? ALL_MONTHS;
    const group = byPartition.get(table);
    if (group) group.push(item);
    else byPartition.set(table, [item]);
  }
  const results: R[] = [];
  for (const [table, group] of byPartition) {
    try {
      results.push(...(await statement(group, table)));
    } catch (err) {
      if (!isUndefinedTable(err) || table === ALL_MONTHS) throw err;
    }
  }
  if (results.length === items.length) return results;
  const found = new Set(results.map(foundIdOf));
  const triedAll = new Set(byPartition.get(ALL_MONTHS));
  const rest = items.filter((item) => !found.has(idOf(item)) && !triedAll.has(item));
  return rest.length === 0 ? results : [...results, ...(await statement(rest, ALL_MONTHS))];
}
