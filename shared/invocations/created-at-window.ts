import { decodeTime } from 'ulid';

/** A range of `invocations.created_at`, `from` inclusive, `to` exclusive. */
export interface CreatedAtWindow {
  from: Date;
  to: Date;
}

/**
 * How far a row's created_at may be from its id's time and still be found by a bounded lookup. The
 * id carries the api's clock when it accepted the call; created_at is Postgres's clock a moment later.
 */
const MARGIN_MS = 24 * 3600 * 1000;

/**
 * Where a batch of invocations' rows are, from their ids (ULIDs carry their time). `invocations` is
 * partitioned by month on created_at (decision 0013): a lookup by id alone plans, locks and probes
 * every month's partition; bounded by this window, Postgres prunes all but the one or two months the
 * window touches. Null when an id is not a ULID. A caller retries the ids it did not find without the
 * window, so a row outside it (clocks a day apart, a row written by hand) is still found.
 */
export function createdAtWindow(ids: readonly string[]): CreatedAtWindow | null {
  if (ids.length === 0) return null;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const id of ids) {
    let time: number;
    try {
      time = decodeTime(id.slice(id.indexOf('_') + 1).toUpperCase());
    } catch {
      return null;
    }
    if (time < min) min = time;
    if (time > max) max = time;
  }
  return { from: new Date(min - MARGIN_MS), to: new Date(max + MARGIN_MS) };
}

/**
 * The one way to look rows of `invocations` up by id: `statement` runs on `items` within their ids'
 * window, then once more without it on the items whose ids it did not return (a row outside the
 * window, or one the statement does not touch: then the second run finds nothing either).
 */
export async function withinIdWindow<T, R>(
  items: readonly T[],
  idOf: (item: T) => string,
  foundIdOf: (result: R) => string,
  statement: (items: readonly T[], window: CreatedAtWindow | null) => Promise<R[]>,
): Promise<R[]> {
  const window = createdAtWindow(items.map(idOf));
  const results = await statement(items, window);
  if (!window || results.length === items.length) return results;
  const found = new Set(results.map(foundIdOf));
  const rest = items.filter((item) => !found.has(idOf(item)));
  return rest.length === 0 ? results : [...results, ...(await statement(rest, null))];
}
