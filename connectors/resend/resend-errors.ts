import { type ErrorTable, stringAt } from '../toolkit/error-table.ts';

/**
 * Resend's error names (docs/upstreams/resend.md). Note the surprises: an invalid or revoked key is
 * 403, while 401 `restricted_api_key` means a valid sending-only key; quota 429s share the status of
 * the rate limit and are told apart by `name`.
 */
export const resendErrors: ErrorTable = {
  codeOf: (body) => stringAt(body, 'name'),
  messageOf: (body) => stringAt(body, 'message') ?? (typeof body === 'string' ? body.slice(0, 200) : undefined),
  byCode: {
    invalid_api_key: 'auth_invalid',
    missing_api_key: 'auth_invalid',
    restricted_api_key: 'permission',
    invalid_permission: 'permission',
    // A suspended key may be reinstated by Resend; it is not proof the credentials are wrong.
    suspended_api_key: 'permission',
    daily_quota_exceeded: 'quota',
    monthly_quota_exceeded: 'quota',
    email_above_quota: 'quota',
    rate_limit_exceeded: 'rate_limited',
    // The original request with this Idempotency-Key is still running: a later retry gets its answer.
    concurrent_idempotent_requests: { kind: 'transient', requestMayHaveRun: false },
    resource_locked: { kind: 'transient', requestMayHaveRun: false },
    invalid_idempotent_request: 'invalid_request',
    application_error: 'transient',
    internal_server_error: 'transient',
    service_unavailable: 'transient',
  },
  byStatus: {
    // Every authentication failure Resend sends carries a name; a bare 401 is not proof of a dead key.
    401: 'permission',
    // A bare 403 comes from Resend's edge (e.g. Cloudflare's "error code: 1010"), about the request.
    403: 'invalid_request',
  },
};
