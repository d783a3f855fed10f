import { describe, expect, it } from 'vitest';
import { googleApiErrors, googleTokenErrors } from '../../connectors/google/google-errors.ts';
import { classifyByTable } from '../../connectors/toolkit/error-table.ts';
import { type FailureKind, UpstreamHttpError } from '../../connectors/toolkit/upstream-errors.ts';

/**
 * Google's error tables, from the wire answers in docs/upstreams/google.md §1.3 and §2: the code
 * read is the first known of ErrorInfo reason, legacy reason and status. Only `auth_invalid` breaks
 * a connection; `auth_expired` triggers a refresh and one more try.
 */
type Row = [what: string, status: number, body: unknown, kind: FailureKind, code: string | undefined];

const envelope = (code: number, status: string, message: string, extra: { reason?: string; info?: string } = {}) => ({
  error: {
    code,
    message,
    ...(extra.reason
      ? {
          errors: [
            {
              message,
              domain: extra.reason === 'rateLimitExceeded' && code === 403 ? 'usageLimits' : 'global',
              reason: extra.reason,
            },
          ],
        }
      : {}),
    status,
    ...(extra.info
      ? {
          details: [
            {
              '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
              reason: extra.info,
              domain: 'googleapis.com',
              metadata: {},
            },
          ],
        }
      : {}),
  },
});

const apiRows: Row[] = [
  [
    'a revoked or unknown token (Gmail, no ErrorInfo)',
    401,
    envelope(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.', { reason: 'authError' }),
    'auth_expired',
    'UNAUTHENTICATED',
  ],
  [
    'an expired token',
    401,
    envelope(401, 'UNAUTHENTICATED', 'x', { reason: 'authError', info: 'ACCESS_TOKEN_EXPIRED' }),
    'auth_expired',
    'ACCESS_TOKEN_EXPIRED',
  ],
  [
    'a deleted account',
    401,
    envelope(401, 'UNAUTHENTICATED', 'x', { info: 'ACCOUNT_STATE_INVALID' }),
    'auth_invalid',
    'ACCOUNT_STATE_INVALID',
  ],
  [
    'no credentials',
    401,
    envelope(401, 'UNAUTHENTICATED', 'x', { reason: 'required', info: 'CREDENTIALS_MISSING' }),
    'auth_expired',
    'CREDENTIALS_MISSING',
  ],
  [
    'a missing scope',
    403,
    envelope(403, 'PERMISSION_DENIED', 'Request had insufficient authentication scopes.', {
      reason: 'insufficientPermissions',
      info: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT',
    }),
    'permission',
    'ACCESS_TOKEN_SCOPE_INSUFFICIENT',
  ],
  [
    "someone else's spreadsheet",
    403,
    envelope(403, 'PERMISSION_DENIED', 'The caller does not have permission'),
    'permission',
    'PERMISSION_DENIED',
  ],
  [
    'the API not enabled in the Cloud project',
    403,
    envelope(403, 'PERMISSION_DENIED', 'Gmail API has not been used in project 1 before or it is disabled.', {
      reason: 'accessNotConfigured',
      info: 'SERVICE_DISABLED',
    }),
    'permission',
    'SERVICE_DISABLED',
  ],
  [
    "Gmail's per-user limit as a 403",
    403,
    envelope(403, 'PERMISSION_DENIED', "Quota exceeded for quota metric 'Queries'", { reason: 'rateLimitExceeded' }),
    'rate_limited',
    'rateLimitExceeded',
  ],
  [
    'a 429',
    429,
    envelope(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).', {
      reason: 'rateLimitExceeded',
    }),
    'rate_limited',
    'rateLimitExceeded',
  ],
  [
    'a 429 without a reason',
    429,
    envelope(429, 'RESOURCE_EXHAUSTED', 'Too many requests'),
    'rate_limited',
    'RESOURCE_EXHAUSTED',
  ],
  [
    'a daily quota',
    403,
    envelope(403, 'RESOURCE_EXHAUSTED', 'Daily Limit Exceeded', { reason: 'dailyLimitExceeded' }),
    'quota',
    'dailyLimitExceeded',
  ],
  [
    'a resource quota',
    429,
    envelope(429, 'RESOURCE_EXHAUSTED', 'x', { info: 'RESOURCE_QUOTA_EXCEEDED' }),
    'quota',
    'RESOURCE_QUOTA_EXCEEDED',
  ],
  [
    'a range Sheets cannot parse',
    400,
    envelope(400, 'INVALID_ARGUMENT', 'Unable to parse range: Nope!A1'),
    'invalid_request',
    'INVALID_ARGUMENT',
  ],
  [
    'an unknown message',
    404,
    envelope(404, 'NOT_FOUND', 'Requested entity was not found.', { reason: 'notFound' }),
    'invalid_request',
    'NOT_FOUND',
  ],
  [
    'a legacy body without a status',
    400,
    {
      error: {
        errors: [{ domain: 'global', reason: 'failedPrecondition', message: 'Mail service not enabled' }],
        code: 400,
        message: 'Mail service not enabled',
      },
    },
    'invalid_request',
    'failedPrecondition',
  ],
  [
    'an outage',
    503,
    envelope(503, 'UNAVAILABLE', 'The service is currently unavailable.', { reason: 'backendError' }),
    'transient',
    'UNAVAILABLE',
  ],
  [
    'an internal error',
    500,
    envelope(500, 'INTERNAL', 'Internal error encountered.', { reason: 'backendError' }),
    'transient',
    'INTERNAL',
  ],
  ["a proxy's bare 401", 401, 'Unauthorized', 'auth_expired', undefined],
  ["a proxy's bare 403", 403, '<html>Forbidden</html>', 'permission', undefined],
  ['a bare 502', 502, '<html>Bad Gateway</html>', 'transient', undefined],
];

describe('Google API error table', () => {
  it.each(apiRows)('%s → %s', (_what, status, body, kind, code) => {
    const failure = classifyByTable(googleApiErrors, new UpstreamHttpError(status, {}, body));
    expect(failure.kind).toBe(kind);
    expect(failure.upstreamCode).toBe(code);
  });

  it('reads error.message as the message, and a 5xx as possibly run (writes are not repeated)', () => {
    const failure = classifyByTable(
      googleApiErrors,
      new UpstreamHttpError(503, {}, envelope(503, 'UNAVAILABLE', 'The service is currently unavailable.')),
    );
    expect(failure).toMatchObject({ message: 'The service is currently unavailable.', requestMayHaveRun: true });
    const limited = classifyByTable(
      googleApiErrors,
      new UpstreamHttpError(429, { 'retry-after': '7' }, envelope(429, 'RESOURCE_EXHAUSTED', 'x')),
    );
    expect(limited).toMatchObject({ requestMayHaveRun: false, retryAfterMs: 7000 });
  });
});

describe('Google token endpoint error table', () => {
  const rows: [string, number, unknown, FailureKind][] = [
    [
      'a revoked refresh token',
      400,
      { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' },
      'auth_invalid',
    ],
    [
      'a refresh token of another client',
      401,
      { error: 'unauthorized_client', error_description: 'Unauthorized' },
      'permission',
    ],
    ['a wrong client secret', 401, { error: 'invalid_client', error_description: 'Unauthorized' }, 'permission'],
    [
      'a redirect URI mismatch',
      400,
      { error: 'redirect_uri_mismatch', error_description: 'Bad Request' },
      'invalid_request',
    ],
    ['an outage', 503, 'Service Unavailable', 'transient'],
  ];
  it.each(rows)('%s → %s', (_what, status, body, kind) => {
    expect(classifyByTable(googleTokenErrors, new UpstreamHttpError(status, {}, body)).kind).toBe(kind);
  });

  it('says the code and the description', () => {
    expect(
      classifyByTable(
        googleTokenErrors,
        new UpstreamHttpError(
          400,
          {},
          { error: 'invalid_grant', error_description: 'Token has been expired or revoked.' },
        ),
      ).message,
    ).toBe('invalid_grant: Token has been expired or revoked.');
  });
});
