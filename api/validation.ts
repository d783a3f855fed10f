import type { Request } from 'express';
import type { z } from 'zod';
import { ApiError, toValidationIssues, type ValidationIssue } from '../shared/errors.ts';
import { type IdKind, isWellFormedId } from '../shared/ids.ts';

/**
 * Deepest nesting of arrays and objects a body or query may have. Well above anything the API or
 * an upstream needs (Slack's richest blocks nest about 10 deep), and far below what would overflow
 * a recursive JSON.stringify, zod walk or canonical-JSON hash downstream.
 */
export const MAX_JSON_DEPTH = 32;

// U+0000 cannot be stored in a Postgres text or jsonb value, and a lone UTF-16 surrogate is not
// valid Unicode (jsonb refuses its escape): either would fail deep inside a query as a 500.
// biome-ignore lint/suspicious/noControlCharactersInRegex: U+0000 is exactly what this must find.
const unstorable = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const pathOf = (segments: ReadonlyArray<string | number>) =>
  segments
    .map((s) => (typeof s === 'number' ? `[${s}]` : s))
    .join('.')
    .replace(/\.\[/g, '[') || '(root)';

/** A value still to look at: where it is (its key, under its parent), and how deep. */
interface Visit {
  value: unknown;
  depth: number;
  key: string | number;
  parent: Visit | undefined;
}

/** The path segments of a visit, built only once there is an issue to name (not for every value). */
function segmentsOf(visit: Visit): Array<string | number> {
  const segments: Array<string | number> = [];
  for (let v: Visit | undefined = visit; v?.parent; v = v.parent) segments.push(v.key);
  return segments.reverse();
}

/**
 * The first thing in a parsed JSON value (or query) that must not go further: a string or key with
 * a NUL or a lone surrogate, or nesting deeper than MAX_JSON_DEPTH. Iterative, so a hostile depth
 * cannot overflow the stack here either. Runs on every request body: it allocates one small record
 * per value and builds a path only for the issue it returns.
 */
export function findUnsafeValue(value: unknown, maxDepth = MAX_JSON_DEPTH): ValidationIssue | undefined {
  const stack: Visit[] = [{ value, depth: 0, key: '', parent: undefined }];
  while (stack.length > 0) {
    const visit = stack.pop()!;
    const { value: v, depth } = visit;
    if (typeof v === 'string') {
      if (unstorable.test(v))
        return { path: pathOf(segmentsOf(visit)), message: 'contains a NUL character or invalid Unicode' };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= maxDepth) return { path: pathOf(segmentsOf(visit)), message: `nested deeper than ${maxDepth} levels` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth: depth + 1, key: i, parent: visit });
      continue;
    }
    for (const key of Object.keys(v)) {
      if (unstorable.test(key))
        return {
          path: pathOf([...segmentsOf(visit), key.replace(unstorable, '\ufffd')]),
          message: 'this key contains a NUL character or invalid Unicode',
        };
      stack.push({ value: (v as Record<string, unknown>)[key], depth: depth + 1, key, parent: visit });
    }
  }
  return undefined;
}

/** Validates a JSON body at the edge; everything past this point trusts its types. */
export function parseBody<T>(schema: z.ZodType<T>, req: Request): T {
  if (req.body === undefined && req.method !== 'GET') {
    if ((req.headers['content-length'] ?? '0') !== '0' || req.headers['transfer-encoding']) {
      throw new ApiError('invalid_json', 'Send the body as JSON with "Content-Type: application/json".');
    }
  }
  const unsafe = findUnsafeValue(req.body);
  if (unsafe) throw new ApiError('invalid_input', 'The request body is invalid.', [unsafe]);
  const parsed = schema.safeParse(req.body ?? {});
  if (!parsed.success)
    throw new ApiError('invalid_input', 'The request body is invalid.', toValidationIssues(parsed.error.issues));
  return parsed.data;
}

export function parseQuery<T>(schema: z.ZodType<T>, req: Request): T {
  const query = req.query; // Express parses the query string again on every read of req.query
  const unsafe = findUnsafeValue(query, 4);
  if (unsafe) throw new ApiError('invalid_input', 'The query parameters are invalid.', [unsafe]);
  const parsed = schema.safeParse(query);
  if (!parsed.success)
    throw new ApiError('invalid_input', 'The query parameters are invalid.', toValidationIssues(parsed.error.issues));
  return parsed.data;
}

/** A path id of the wrong shape names nothing: 404, never a query with attacker-chosen text. */
export function pathId(req: Request, param: string, kind: IdKind, what: string): string {
  const value = req.params[param];
  if (typeof value !== 'string' || !isWellFormedId(kind, value)) throw new ApiError('not_found', `No such ${what}.`);
  return value;
}
