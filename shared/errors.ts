/**
 * Errors the API answers with. Each has a stable snake_case code and HTTP status from docs/api.md;
 * the message is a human sentence and must never contain a secret.
 */
export type ErrorCode =
  | 'invalid_json'
  | 'invalid_input'
  | 'invalid_credentials_shape'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'unknown_connector'
  | 'unknown_action'
  | 'no_connection'
  | 'conflict'
  | 'connection_broken'
  | 'ambiguous_connection'
  | 'payload_too_large'
  | 'idempotency_key_reused'
  | 'rate_limited'
  | 'upstream_error'
  | 'upstream_unavailable'
  | 'unavailable'
  | 'timeout'
  /** A write whose worker died mid-call: it may or may not have taken effect (docs/design.md, decision 5). */
  | 'outcome_unknown'
  | 'internal_error';

export const statusByCode: Record<ErrorCode, number> = {
  invalid_json: 400,
  invalid_input: 400,
  invalid_credentials_shape: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  unknown_connector: 404,
  unknown_action: 404,
  no_connection: 404,
  conflict: 409,
  connection_broken: 409,
  ambiguous_connection: 409,
  payload_too_large: 413,
  idempotency_key_reused: 422,
  rate_limited: 429,
  upstream_error: 502,
  upstream_unavailable: 502,
  unavailable: 503,
  timeout: 504,
  outcome_unknown: 502,
  internal_error: 500,
};

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    /** Extra response headers, e.g. Retry-After. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = statusByCode[code];
  }
}

export interface ValidationIssue {
  path: string;
  message: string;
}

/** Turns zod issues into the `details` list of docs/api.md: `[{path, message}]`, path in dotted form. */
export function toValidationIssues(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
  prefix = '',
): ValidationIssue[] {
  return issues.map((i) => {
    const path = [prefix, ...i.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))]
      .filter(Boolean)
      .join('.')
      .replace(/\.\[/g, '[');
    return { path: path || '(root)', message: i.message };
  });
}

export const notFound = (what = 'resource') => new ApiError('not_found', `No such ${what}.`);

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(statusByCode, code);
}
