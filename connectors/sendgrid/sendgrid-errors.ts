import type { ErrorTable } from '../toolkit/error-table.ts';
import { retryAfterMs } from '../toolkit/upstream-errors.ts';

/**
 * SendGrid's errors (docs/upstreams/sendgrid.md §2.0). SendGrid has no error codes: every error is
 * `{"errors":[{"message","field","help"}]}` and the HTTP status says what happened, so the table
 * decides by status. The message keeps each error's `field`, because a 400 is only useful to the
 * caller with the field it names ("from.email: …").
 */

interface WireError {
  message?: unknown;
  field?: unknown;
  error_id?: unknown;
}

function errorsOf(body: unknown): WireError[] {
  const errors = (body as { errors?: unknown } | null | undefined)?.errors;
  return Array.isArray(errors) ? errors.filter((e): e is WireError => e !== null && typeof e === 'object') : [];
}

/** `field` is JSON null in real answers, but SendGrid's own OpenAPI examples write the string "null". */
function fieldOf(error: WireError): string | undefined {
  return typeof error.field === 'string' && error.field !== '' && error.field !== 'null' ? error.field : undefined;
}

const MAX_MESSAGE = 500;

function messageOf(body: unknown): string | undefined {
  const parts = errorsOf(body)
    .map((e) => {
      const message = typeof e.message === 'string' && e.message !== '' ? e.message : undefined;
      const field = fieldOf(e);
      if (message === undefined) return field;
      return field === undefined ? message : `${field}: ${message}`;
    })
    .filter((p): p is string => p !== undefined);
  if (parts.length > 0) return parts.join('; ').slice(0, MAX_MESSAGE);
  // Not SendGrid's envelope (an edge proxy's page): a bounded excerpt of the text.
  return typeof body === 'string' && body.trim() !== '' ? body.trim().slice(0, 200) : undefined;
}

/** Only the templates API's 400 carries an id (`errors[].error_id`); it is reported, not branched on. */
function codeOf(body: unknown): string | undefined {
  const id = errorsOf(body)[0]?.error_id;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/** A reset already past (clock skew) would make the retry hit the spent window again at once. */
const MIN_WAIT_MS = 1_000;

/**
 * SendGrid says when to come back with `X-RateLimit-Reset`, the end of the window in Unix epoch
 * seconds (a `Retry-After` is not documented). It sends the rate-limit headers on every answer, so
 * the reset is a wait only when the window is spent (`X-RateLimit-Remaining: 0`, as on a 429):
 * otherwise a 5xx of a read would wait out a window that has nothing to do with it.
 */
export function sendGridRetryAfterMs(
  headers: Record<string, string | string[] | undefined>,
  now = Date.now(),
): number | undefined {
  const remaining = first(headers['x-ratelimit-remaining']);
  const reset = Number(first(headers['x-ratelimit-reset']));
  const spent = remaining === undefined || Number(remaining) <= 0;
  if (spent && Number.isFinite(reset) && reset > 0) return Math.max(MIN_WAIT_MS, Math.round(reset * 1000 - now));
  return retryAfterMs(headers);
}

/** The SendGrid error table: decided by status, as SendGrid has no error codes. */
export const sendGridErrors: ErrorTable = {
  codeOf,
  messageOf,
  byCode: {},
  byStatus: {
    // 400 names the offending field in `errors[].field`; the message carries it.
    400: 'invalid_request',
    // An invalid, expired or revoked key ("The provided authorization grant is invalid, expired, or revoked").
    401: 'auth_invalid',
    // A key that authenticates but may not do this (a scope it lacks, an unverified sender identity):
    // the connection is fine.
    403: 'permission',
    413: 'invalid_request',
    429: 'rate_limited',
  },
  retryAfterOf: (headers) => sendGridRetryAfterMs(headers),
};
