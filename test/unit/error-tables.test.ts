import { describe, expect, it } from 'vitest';
import { elevenLabsErrors } from '../../connectors/elevenlabs/elevenlabs-errors.ts';
import { resendErrors } from '../../connectors/resend/resend-errors.ts';
import { checkSlackResponse, slackErrors } from '../../connectors/slack/slack-errors.ts';
import { classifyByTable } from '../../connectors/toolkit/error-table.ts';
import { type FailureKind, UpstreamHttpError } from '../../connectors/toolkit/upstream-errors.ts';

const classifyResendError = (err: UpstreamHttpError) => classifyByTable(resendErrors, err);
const classifySlackError = (err: UpstreamHttpError) => classifyByTable(slackErrors, err);
const classifyElevenLabsError = (err: UpstreamHttpError) => classifyByTable(elevenLabsErrors, err);

/**
 * Each connector's error table, from the wire answers in docs/upstreams/. Only `auth_invalid`
 * breaks a connection; `auth_expired` triggers a token refresh.
 */
type Row = [status: number, body: unknown, kind: FailureKind, breaks: boolean];

const resendRows: Row[] = [
  [403, { statusCode: 403, name: 'invalid_api_key', message: 'API key is invalid' }, 'auth_invalid', true],
  [
    401,
    { statusCode: 401, name: 'missing_api_key', message: 'Missing API key in the authorization header.' },
    'auth_invalid',
    true,
  ],
  [
    401,
    { statusCode: 401, name: 'restricted_api_key', message: 'This API key is restricted to only send emails' },
    'permission',
    false,
  ],
  [403, { statusCode: 403, name: 'suspended_api_key', message: 'This API key is suspended' }, 'permission', false],
  [
    403,
    {
      statusCode: 403,
      name: 'validation_error',
      message: 'You can only send testing emails to your own email address',
    },
    'invalid_request',
    false,
  ],
  [
    429,
    { statusCode: 429, name: 'daily_quota_exceeded', message: 'You have reached your daily email sending quota.' },
    'quota',
    false,
  ],
  [
    429,
    { statusCode: 429, name: 'monthly_quota_exceeded', message: 'You have reached your monthly email sending quota.' },
    'quota',
    false,
  ],
  [429, { statusCode: 429, name: 'rate_limit_exceeded', message: 'Too many requests.' }, 'rate_limited', false],
  [
    409,
    { statusCode: 409, name: 'concurrent_idempotent_requests', message: 'Same idempotency key in progress' },
    'transient',
    false,
  ],
  [
    409,
    { statusCode: 409, name: 'invalid_idempotent_request', message: 'Same key, different payload' },
    'invalid_request',
    false,
  ],
  [422, { statusCode: 422, name: 'missing_required_field', message: 'Missing `to` field.' }, 'invalid_request', false],
  [500, { statusCode: 500, name: 'application_error', message: 'Internal server error' }, 'transient', false],
  [403, 'error code: 1010', 'invalid_request', false],
];

const slackRows: Row[] = [
  [200, { ok: false, error: 'invalid_auth' }, 'auth_invalid', true],
  [200, { ok: false, error: 'token_revoked' }, 'auth_invalid', true],
  [200, { ok: false, error: 'account_inactive' }, 'auth_invalid', true],
  [200, { ok: false, error: 'not_authed' }, 'auth_invalid', true],
  [200, { ok: false, error: 'token_expired' }, 'auth_expired', false],
  [200, { ok: false, error: 'missing_scope', needed: 'chat:write', provided: 'users:read' }, 'permission', false],
  [200, { ok: false, error: 'no_permission' }, 'permission', false],
  [200, { ok: false, error: 'not_in_channel' }, 'invalid_request', false],
  [200, { ok: false, error: 'channel_not_found' }, 'invalid_request', false],
  [429, { ok: false, error: 'ratelimited' }, 'rate_limited', false],
  [200, { ok: false, error: 'internal_error' }, 'transient', false],
  [503, 'Service Unavailable', 'transient', false],
];

const elevenLabsRows: Row[] = [
  [401, { detail: { status: 'invalid_api_key', message: 'Invalid API key' } }, 'auth_invalid', true],
  [
    401,
    {
      detail: {
        type: 'authentication_error',
        code: 'invalid_api_key',
        status: 'invalid_api_key',
        message: 'Invalid API key',
      },
    },
    'auth_invalid',
    true,
  ],
  [401, { detail: { status: 'quota_exceeded', message: 'This request exceeds your quota of 10000.' } }, 'quota', false],
  [
    401,
    {
      detail: {
        status: 'missing_permissions',
        message: 'The API key you used is missing the permission user_read to execute this operation.',
      },
    },
    'permission',
    false,
  ],
  [
    401,
    {
      detail: {
        type: 'authentication_error',
        code: 'unauthorized',
        status: 'missing_permissions',
        message: 'missing permission',
      },
    },
    'permission',
    false,
  ],
  [
    429,
    {
      detail: {
        type: 'rate_limit_error',
        code: 'concurrent_limit_exceeded',
        status: 'too_many_concurrent_requests',
        message: 'busy',
      },
    },
    'rate_limited',
    false,
  ],
  [429, { detail: { status: 'system_busy', message: 'busy' } }, 'rate_limited', false],
  [
    400,
    { detail: { status: 'voice_not_found', message: 'A voice with the voice_id x was not found.' } },
    'invalid_request',
    false,
  ],
  [
    422,
    { detail: [{ loc: ['body', 'text'], msg: 'field required', type: 'value_error.missing' }] },
    'invalid_request',
    false,
  ],
  [500, { detail: 'Internal error' }, 'transient', false],
];

describe.each([
  ['resend', classifyResendError, resendRows],
  ['slack', classifySlackError, slackRows],
  ['elevenlabs', classifyElevenLabsError, elevenLabsRows],
] as const)('%s error table', (_name, classify, rows) => {
  const cases = rows.map(([status, body, kind, breaks]) => ({
    status,
    label: JSON.stringify(body).slice(0, 70),
    body,
    kind,
    breaks,
  }));
  it.each(cases)('HTTP $status $label → $kind (breaks: $breaks)', ({ status, body, kind, breaks }) => {
    const failure = classify(new UpstreamHttpError(status, {}, body));
    expect(failure.kind).toBe(kind);
    expect(failure.kind === 'auth_invalid').toBe(breaks);
    expect(failure.upstreamStatus).toBe(status);
  });
});

describe('Slack response check', () => {
  it('turns HTTP 200 ok:false into an error and lets ok:true through', () => {
    expect(() => checkSlackResponse({ status: 200, headers: {}, body: { ok: false, error: 'invalid_auth' } })).toThrow(
      UpstreamHttpError,
    );
    expect(() => checkSlackResponse({ status: 200, headers: {}, body: { ok: true } })).not.toThrow();
  });
});

describe('retry hints', () => {
  it('reads Retry-After and knows a 429 never ran', () => {
    const failure = classifySlackError(
      new UpstreamHttpError(429, { 'retry-after': '7' }, { ok: false, error: 'ratelimited' }),
    );
    expect(failure).toMatchObject({ kind: 'rate_limited', retryAfterMs: 7_000, requestMayHaveRun: false });
    expect(classifyResendError(new UpstreamHttpError(500, {}, {})).requestMayHaveRun).toBe(true);
    expect(
      classifyResendError(new UpstreamHttpError(409, {}, { name: 'concurrent_idempotent_requests' })).requestMayHaveRun,
    ).toBe(false);
  });
});
