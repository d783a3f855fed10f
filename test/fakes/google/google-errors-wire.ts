// The error bodies of the Google fake, in Google's envelope (docs/upstreams/google.md §2):
//   {"error":{"code":<HTTP status>,"message":"…","status":"<google.rpc.Code>",
//             "errors":[{"message","domain","reason"}]   (older APIs such as Gmail),
//             "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason","domain","metadata"}]}}
// The envelope and the canonical status names are CONFIRMED; which legacy reason and which
// ErrorInfo a given answer carries is OBSERVED at best, as noted at each builder.
import type { FakeResponse } from '../support/fake-server.ts';

export type GoogleApi = 'gmail' | 'sheets';

export interface GoogleErrorSpec {
  status: number;
  /** google.rpc.Code name: INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND, … */
  googleStatus: string;
  message: string;
  /** A legacy `errors[]` entry; Gmail sends one, Sheets none (OBSERVED). */
  legacy?: { reason: string; domain?: string; message?: string; location?: string; locationType?: string };
  /** An ErrorInfo detail (domain googleapis.com). */
  errorInfo?: { reason: string; metadata?: Record<string, string> };
  headers?: Record<string, string>;
}

const SERVICE: Record<GoogleApi, string> = { gmail: 'gmail.googleapis.com', sheets: 'sheets.googleapis.com' };

export function googleError(api: GoogleApi, spec: GoogleErrorSpec): FakeResponse {
  const error: Record<string, unknown> = { code: spec.status, message: spec.message };
  if (spec.legacy && api === 'gmail') {
    error.errors = [
      {
        message: spec.legacy.message ?? spec.message,
        domain: spec.legacy.domain ?? 'global',
        reason: spec.legacy.reason,
        ...(spec.legacy.location
          ? { location: spec.legacy.location, locationType: spec.legacy.locationType ?? 'header' }
          : {}),
      },
    ];
  }
  error.status = spec.googleStatus;
  if (spec.errorInfo) {
    error.details = [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: spec.errorInfo.reason,
        domain: 'googleapis.com',
        metadata: { service: SERVICE[api], ...spec.errorInfo.metadata },
      },
    ];
  }
  return {
    status: spec.status,
    headers: { 'content-type': 'application/json; charset=UTF-8', vary: 'Origin, X-Origin, Referer', ...spec.headers },
    body: { error },
  };
}

const INVALID_CREDENTIALS =
  'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
const WWW_AUTH_INVALID = { 'www-authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' };

/** An unknown or revoked access token: the body quoted from real Gmail traffic (OBSERVED), no ErrorInfo. */
export const invalidToken = (api: GoogleApi) =>
  googleError(api, {
    status: 401,
    googleStatus: 'UNAUTHENTICATED',
    message: INVALID_CREDENTIALS,
    legacy: { reason: 'authError', message: 'Invalid Credentials', location: 'Authorization' },
    headers: WWW_AUTH_INVALID,
  });

/** An expired access token: ErrorInfo ACCESS_TOKEN_EXPIRED (google/api/error_reason.proto); with Gmail's legacy entry (UNCONFIRMED combination). */
export const expiredToken = (api: GoogleApi) =>
  googleError(api, {
    status: 401,
    googleStatus: 'UNAUTHENTICATED',
    message: INVALID_CREDENTIALS,
    legacy: { reason: 'authError', message: 'Invalid Credentials', location: 'Authorization' },
    errorInfo: { reason: 'ACCESS_TOKEN_EXPIRED' },
    headers: WWW_AUTH_INVALID,
  });

/** The token's account is disabled or deleted: ErrorInfo ACCOUNT_STATE_INVALID (error_reason.proto); HTTP 401 is UNCONFIRMED. */
export const accountStateInvalid = (api: GoogleApi, email: string) =>
  googleError(api, {
    status: 401,
    googleStatus: 'UNAUTHENTICATED',
    message: INVALID_CREDENTIALS,
    legacy: { reason: 'authError', message: 'Invalid Credentials', location: 'Authorization' },
    errorInfo: { reason: 'ACCOUNT_STATE_INVALID', metadata: { email } },
    headers: WWW_AUTH_INVALID,
  });

/** No credentials at all (OBSERVED message and legacy reason; ErrorInfo CREDENTIALS_MISSING from error_reason.proto). */
export const credentialsMissing = (api: GoogleApi) =>
  googleError(api, {
    status: 401,
    googleStatus: 'UNAUTHENTICATED',
    message:
      'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
    legacy: { reason: 'required', message: 'Login Required.', location: 'Authorization' },
    errorInfo: { reason: 'CREDENTIALS_MISSING' },
  });

/** The token lacks every scope the method accepts (message OBSERVED; ErrorInfo from error_reason.proto). */
export const insufficientScope = (api: GoogleApi, accepted: readonly string[]) =>
  googleError(api, {
    status: 403,
    googleStatus: 'PERMISSION_DENIED',
    message: 'Request had insufficient authentication scopes.',
    legacy: { reason: 'insufficientPermissions', message: 'Insufficient Permission' },
    errorInfo: { reason: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT' },
    headers: {
      'www-authenticate': `Bearer realm="https://accounts.google.com/", error="insufficient_scope", scope="${accepted.join(' ')}"`,
    },
  });

/** A per-user rate limit as Gmail sends it: 429 RESOURCE_EXHAUSTED / rateLimitExceeded (OBSERVED body). */
export const rateLimited429 = (api: GoogleApi, retryAfterSeconds?: number) =>
  googleError(api, {
    status: 429,
    googleStatus: 'RESOURCE_EXHAUSTED',
    message:
      api === 'gmail'
        ? 'Resource has been exhausted (e.g. check quota).'
        : "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute per user' of service 'sheets.googleapis.com'.",
    legacy: { reason: 'rateLimitExceeded' },
    errorInfo:
      api === 'sheets'
        ? {
            reason: 'RATE_LIMIT_EXCEEDED',
            metadata: {
              quota_metric: 'sheets.googleapis.com/read_requests',
              quota_limit: 'ReadRequestsPerMinutePerUser',
            },
          }
        : undefined,
    headers: retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) },
  });

/** Gmail's other rate-limit shape: 403 with legacy domain usageLimits, reason rateLimitExceeded (OBSERVED). */
export const rateLimited403 = (api: GoogleApi) =>
  googleError(api, {
    status: 403,
    googleStatus: 'PERMISSION_DENIED',
    message:
      "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'gmail.googleapis.com' for consumer 'project_number:000000000000'.",
    legacy: { reason: 'rateLimitExceeded', domain: 'usageLimits' },
  });

export const internalError = (api: GoogleApi) =>
  googleError(api, {
    status: 500,
    googleStatus: 'INTERNAL',
    message: 'Internal error encountered.',
    legacy: { reason: 'backendError' },
  });

export const unavailable = (api: GoogleApi) =>
  googleError(api, {
    status: 503,
    googleStatus: 'UNAVAILABLE',
    message: 'The service is currently unavailable.',
    legacy: { reason: 'backendError' },
  });

export const invalidArgument = (api: GoogleApi, message: string, reason = 'invalidArgument') =>
  googleError(api, { status: 400, googleStatus: 'INVALID_ARGUMENT', message, legacy: { reason } });

export const failedPrecondition = (api: GoogleApi, message: string) =>
  googleError(api, {
    status: 400,
    googleStatus: 'FAILED_PRECONDITION',
    message,
    legacy: { reason: 'failedPrecondition' },
  });

export const notFound = (api: GoogleApi) =>
  googleError(api, {
    status: 404,
    googleStatus: 'NOT_FOUND',
    message: 'Requested entity was not found.',
    legacy: { reason: 'notFound' },
  });

export const permissionDenied = (api: GoogleApi, message: string) =>
  googleError(api, { status: 403, googleStatus: 'PERMISSION_DENIED', message, legacy: { reason: 'forbidden' } });

/** Google's front end answers an unknown path with an HTML page, not the JSON envelope (OBSERVED). */
export function unknownPath(path: string): FakeResponse {
  return {
    status: 404,
    headers: { 'content-type': 'text/html; charset=UTF-8' },
    body: `<!DOCTYPE html>\n<html lang=en><title>Error 404 (Not Found)!!1</title><p><b>404.</b> <ins>That’s an error.</ins><p>The requested URL <code>${path.replace(/[<>&]/g, '')}</code> was not found on this server.  <ins>That’s all we know.</ins>`,
  };
}
