import type { Request } from 'express';
import type { z } from 'zod';
import { ApiError, toValidationIssues } from '../shared/errors.ts';
import { isWellFormedId, type IdKind } from '../shared/ids.ts';

/** Validates a JSON body at the edge; everything past this point trusts its types. */
export function parseBody<T>(schema: z.ZodType<T>, req: Request): T {
  if (req.body === undefined && req.method !== 'GET') {
    if ((req.headers['content-length'] ?? '0') !== '0' || req.headers['transfer-encoding']) {
      throw new ApiError('invalid_json', 'Send the body as JSON with "Content-Type: application/json".');
    }
  }
  const parsed = schema.safeParse(req.body ?? {});
  if (!parsed.success) throw new ApiError('invalid_input', 'The request body is invalid.', toValidationIssues(parsed.error.issues));
  return parsed.data;
}

export function parseQuery<T>(schema: z.ZodType<T>, req: Request): T {
  const parsed = schema.safeParse(req.query);
  if (!parsed.success) throw new ApiError('invalid_input', 'The query parameters are invalid.', toValidationIssues(parsed.error.issues));
  return parsed.data;
}

/** A path id of the wrong shape names nothing: 404, never a query with attacker-chosen text. */
export function pathId(req: Request, param: string, kind: IdKind, what: string): string {
  const value = req.params[param];
  if (typeof value !== 'string' || !isWellFormedId(kind, value)) throw new ApiError('not_found', `No such ${what}.`);
  return value;
}
