import { type ErrorTable, stringAt } from '../toolkit/error-table.ts';
import type { UpstreamResponse } from '../toolkit/upstream-client.ts';
import { UpstreamHttpError } from '../toolkit/upstream-errors.ts';

/**
 * Slack answers every application error with HTTP 200 and `{"ok":false,"error":"<code>"}`
 * (docs/upstreams/slack.md); only rate limits (429) and outages (5xx) use the status. The check turns
 * `ok:false` into an UpstreamHttpError so it is classified like any other failure.
 */
export function checkSlackResponse(res: UpstreamResponse): void {
  const body = res.body as { ok?: unknown } | undefined;
  if (body && typeof body === 'object' && body.ok === false) throw new UpstreamHttpError(res.status, res.headers, body);
}

const codeOf = (body: unknown) => stringAt(body, 'error');

function messageOf(body: unknown): string | undefined {
  const code = stringAt(body, 'error');
  const needed = stringAt(body, 'needed');
  return code && needed ? `${code} (needs ${needed})` : code;
}

export const slackErrors: ErrorTable = {
  codeOf,
  messageOf,
  byCode: {
    // Definitive: these credentials will never work again.
    invalid_auth: 'auth_invalid',
    not_authed: 'auth_invalid',
    token_revoked: 'auth_invalid',
    account_inactive: 'auth_invalid',
    token_expired: 'auth_expired',
    // Valid credentials that may not do this.
    missing_scope: 'permission',
    no_permission: 'permission',
    not_allowed_token_type: 'permission',
    ekm_access_denied: 'permission',
    access_denied: 'permission',
    accesslimited: 'permission',
    enterprise_is_restricted: 'permission',
    org_login_required: 'permission',
    two_factor_setup_required: 'permission',
    team_added_to_org: 'permission',
    app_access_restricted: 'permission',
    is_bot: 'permission',
    ratelimited: 'rate_limited',
    // chat.postMessage's own "posted too many messages": refused, so nothing was posted.
    rate_limited: 'rate_limited',
    message_limit_exceeded: 'quota',
    // "It's possible some aspect of the operation succeeded" (Slack's method docs): a write must not be repeated.
    internal_error: { kind: 'transient', requestMayHaveRun: true },
    fatal_error: { kind: 'transient', requestMayHaveRun: true },
    service_unavailable: { kind: 'transient', requestMayHaveRun: true },
    request_timeout: { kind: 'transient', requestMayHaveRun: true },
  },
  byStatus: {
    // Slack reports credentials in the body of an HTTP 200; a bare 401 or 403 comes from an edge or proxy.
    401: 'permission',
    403: 'permission',
  },
};

/** oauth.v2.access's errors (HTTP 200 `ok:false` too): a refused code or refresh token is final. */
export const slackTokenErrors: ErrorTable = {
  codeOf,
  messageOf,
  byCode: {
    invalid_refresh_token: 'auth_invalid',
    invalid_grant_type: 'invalid_request',
    invalid_code: 'invalid_request',
    code_already_used: 'invalid_request',
    code_expired: 'invalid_request',
    bad_redirect_uri: 'invalid_request',
    bad_client_secret: 'permission',
    invalid_client_id: 'permission',
    token_revoked: 'auth_invalid',
    invalid_auth: 'auth_invalid',
    ratelimited: 'rate_limited',
    internal_error: 'transient',
    fatal_error: 'transient',
    service_unavailable: 'transient',
  },
  byStatus: { 401: 'permission', 403: 'permission' },
};
