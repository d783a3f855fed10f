import { type ErrorTable, type ErrorTableEntry, stringAt } from '../toolkit/error-table.ts';
import { oauthStandardErrors } from '../toolkit/oauth-provider.ts';

/**
 * Google's errors as data (docs/upstreams/google.md §1.3, §2), shared by every connector on a
 * googleapis.com JSON API (Gmail, Sheets) and, separately, by the OAuth token endpoint.
 *
 * An API error is one envelope: `{"error":{"code":<HTTP status>,"message","status":"<google.rpc.Code>",
 * "errors":[{reason,domain,message}] (older APIs such as Gmail), "details":[{"@type":"…ErrorInfo",reason,domain,metadata}]}}`.
 * The code the table reads is the most specific one it knows: an ErrorInfo `reason`, else a legacy
 * `errors[].reason`, else the canonical `status`. So a 403 `PERMISSION_DENIED` whose legacy reason
 * is `rateLimitExceeded` (Gmail's per-user limit) is a rate limit, not a missing permission.
 */

/** The ErrorInfo reasons, legacy reasons and canonical statuses in a Google error body, most specific first. */
export function googleErrorCodes(body: unknown): string[] {
  const error = body && typeof body === 'object' ? (body as { error?: unknown }).error : undefined;
  if (!error || typeof error !== 'object') return [];
  const { details, errors, status } = error as { details?: unknown; errors?: unknown; status?: unknown };
  const codes: string[] = [];
  if (Array.isArray(details)) {
    for (const d of details) {
      const reason = stringAt(d, 'reason');
      if (reason && String((d as Record<string, unknown>)['@type'] ?? '').endsWith('google.rpc.ErrorInfo'))
        codes.push(reason);
    }
  }
  if (Array.isArray(errors)) {
    for (const e of errors) {
      const reason = stringAt(e, 'reason');
      if (reason) codes.push(reason);
    }
  }
  if (typeof status === 'string') codes.push(status);
  return codes;
}

const googleApiCodes: Record<string, ErrorTableEntry> = {
  // 401s. Google says "expired" only through ErrorInfo ACCESS_TOKEN_EXPIRED, and Gmail's legacy
  // bodies (`authError`, "Invalid Credentials") read the same for an expired and a revoked token.
  // So a token problem is worth one refresh, and the refresh (invalid_grant or not) decides whether
  // the grant is dead; without a refresh token the engine counts it as dead
  // (worker/execute/attempt-failure.ts).
  UNAUTHENTICATED: 'auth_expired',
  ACCESS_TOKEN_EXPIRED: 'auth_expired',
  ACCESS_TOKEN_TYPE_UNSUPPORTED: 'auth_expired',
  CREDENTIALS_MISSING: 'auth_expired',
  // The account behind the token is disabled or deleted: no refresh brings it back.
  ACCOUNT_STATE_INVALID: 'auth_invalid',
  // Valid credentials that may not do this: a scope the grant lacks, an API the operator's Cloud
  // project has not enabled, a Workspace admin's block.
  PERMISSION_DENIED: 'permission',
  ACCESS_TOKEN_SCOPE_INSUFFICIENT: 'permission',
  insufficientPermissions: 'permission',
  SERVICE_DISABLED: 'permission',
  accessNotConfigured: 'permission',
  USER_BLOCKED_BY_ADMIN: 'permission',
  USER_PROJECT_DENIED: 'permission',
  CONSUMER_SUSPENDED: 'permission',
  BILLING_DISABLED: 'permission',
  // RESOURCE_EXHAUSTED is a per-minute limit unless a reason says it is a quota of the day.
  RESOURCE_EXHAUSTED: 'rate_limited',
  RATE_LIMIT_EXCEEDED: 'rate_limited',
  rateLimitExceeded: 'rate_limited',
  userRateLimitExceeded: 'rate_limited',
  RESOURCE_QUOTA_EXCEEDED: 'quota',
  quotaExceeded: 'quota',
  dailyLimitExceeded: 'quota',
  INVALID_ARGUMENT: 'invalid_request',
  FAILED_PRECONDITION: 'invalid_request',
  OUT_OF_RANGE: 'invalid_request',
  NOT_FOUND: 'invalid_request',
  ALREADY_EXISTS: 'invalid_request',
  // 5xx: Google may have acted part-way (the default for 5xx), so writes are not repeated. (Gmail's
  // legacy `backendError` says no more than the status, so the status is the code reported.)
  UNAVAILABLE: 'transient',
  INTERNAL: 'transient',
  DEADLINE_EXCEEDED: 'transient',
};

/** The API error table of Gmail and Sheets (and any googleapis.com JSON API). */
export const googleApiErrors: ErrorTable = {
  codeOf: (body) => {
    const codes = googleErrorCodes(body);
    return codes.find((c) => c in googleApiCodes) ?? codes.at(-1);
  },
  messageOf: (body) =>
    stringAt(body, 'error', 'message') ?? (typeof body === 'string' ? body.slice(0, 200) : undefined),
  byCode: googleApiCodes,
  byStatus: {
    // A 401 without a body we can read (a proxy, an edge): refresh and try once more, as for UNAUTHENTICATED.
    401: 'auth_expired',
    // A bare 403: Google's answer for what the grant may not do.
    403: 'permission',
    429: 'rate_limited',
  },
};

/**
 * The token endpoint's errors: RFC 6749 §5.2 `{"error","error_description"}`. `invalid_grant` on a
 * refresh (revoked, unused for six months, password changed, a Testing app's 7 days over) means the
 * user must connect again; the engine marks the connection broken.
 */
export const googleTokenErrors: ErrorTable = {
  codeOf: (body) => stringAt(body, 'error'),
  messageOf: (body) => {
    const code = stringAt(body, 'error');
    const description = stringAt(body, 'error_description');
    return code && description
      ? `${code}: ${description}`
      : (code ?? (typeof body === 'string' ? body.slice(0, 200) : undefined));
  },
  byCode: {
    ...oauthStandardErrors,
    // The callback's redirect URI is not the one the code was issued for: the operator's setup.
    redirect_uri_mismatch: 'invalid_request',
    // The client is disabled or deleted in the operator's Cloud project: not the user's grant.
    disabled_client: 'permission',
    org_internal: 'permission',
  },
  byStatus: { 401: 'permission', 403: 'permission' },
};
