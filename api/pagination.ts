import { z } from 'zod';
import { ApiError } from '../shared/errors.ts';

/**
 * Lists are newest first and page on the (time-ordered) id: a cursor is the last id of the previous
 * page, so pages stay stable while new rows arrive.
 */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
};

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[a-z]{2,4}_[0-9a-z]{26}$/.test(id))
    throw new ApiError('invalid_input', 'The cursor is invalid.', [
      { path: 'cursor', message: 'not a cursor from this API' },
    ]);
  return id;
}

/** Callers fetch limit + 1 rows; the extra one only says whether there is a next page. */
export function toPage<T extends { id: string }, R>(
  rows: T[],
  limit: number,
  present: (row: T) => R,
): { data: R[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    data: page.map(present),
    nextCursor: rows.length > limit && last ? Buffer.from(last.id, 'utf8').toString('base64url') : null,
  };
}
