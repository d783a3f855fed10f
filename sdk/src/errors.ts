/**
 * Typed errors. Every error the API answers with becomes a ConnectorEngineError subclass chosen by
 * its `code` (the stable part of the contract), falling back to the HTTP status for codes this SDK
 * version does not know. Catch a family with `instanceof`, or switch on `code`.
 */

export interface ValidationIssue {
  /** Dotted path, e.g. `input.text` or `input.to[0]`. */
  path: string;
  message: string;
}

export interface ErrorInit {
  code: string;
  /** HTTP status; 0 when no response arrived (network error, client-side timeout). */
  status: number;
  message: string;
  details?: unknown;
  invocationId?: string;
  /** Seconds, from Retry-After. */
  retryAfter?: number;
  requestId?: string;
}

export class ConnectorEngineError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: unknown;
  /** Set whenever the engine recorded an invocation for the failed call. */
  readonly invocationId: string | undefined;
  /** Seconds to wait before retrying, when the engine said so. */
  readonly retryAfter: number | undefined;
  /** X-Request-Id of the response: quote it when asking about a failure. */
  readonly requestId: string | undefined;

  constructor(init: ErrorInit) {
    super(init.message);
    this.name = new.target.name;
    this.code = init.code;
    this.status = init.status;
    this.details = init.details;
    this.invocationId = init.invocationId;
    this.retryAfter = init.retryAfter;
    this.requestId = init.requestId;
  }
}

/** 400 `invalid_input` / `invalid_json` / `invalid_credentials_shape`, 413 `payload_too_large`. */
export class ValidationError extends ConnectorEngineError {
  /** The `{path, message}` list of `invalid_input` (empty for other codes). */
  get issues(): ValidationIssue[] {
    return Array.isArray(this.details) ? (this.details as ValidationIssue[]) : [];
  }
}
/** 401 `unauthenticated`: missing, unknown or revoked API key. */
export class AuthenticationError extends ConnectorEngineError {}
/** 403 `forbidden`: e.g. a project key on a management route. */
export class PermissionError extends ConnectorEngineError {}
/** 404 `not_found`, `unknown_connector`, `unknown_action`, `no_connection`. */
export class NotFoundError extends ConnectorEngineError {}
/** 409 `conflict`, `ambiguous_connection`; 422 `idempotency_key_reused`. */
export class ConflictError extends ConnectorEngineError {}
/** 409 `connection_broken`: the upstream rejected the connection's credentials; fix them with `connections.update`. */
export class ConnectionBrokenError extends ConnectorEngineError {}
/** 429 `rate_limited`: the project is over its per-connector limit; see `retryAfter`, or call `executeAsync`. */
export class RateLimitedError extends ConnectorEngineError {}
/** 502 `upstream_error` (details: the upstream's `{status, code, message}`), `upstream_unavailable`, `outcome_unknown`. */
export class UpstreamError extends ConnectorEngineError {
  /** What the upstream answered, when it answered (absent for `upstream_unavailable`). */
  get upstream(): UpstreamDetails | undefined {
    const d = this.details as Partial<UpstreamDetails> | null | undefined;
    return typeof d?.message === 'string' ? (d as UpstreamDetails) : undefined;
  }
}

export interface UpstreamDetails {
  status: number | null;
  code: string | null;
  message: string;
}
/** 503 `unavailable`: the engine's Redis or Postgres is down; retry later. */
export class UnavailableError extends ConnectorEngineError {}
/**
 * The call did not finish in time; it may still complete. `timeout` (504): the engine stopped waiting
 * and `invocationId` names the invocation to poll. `request_timeout`: the SDK gave up on the HTTP
 * request. `wait_timeout`: `invocations.wait` gave up.
 */
export class TimeoutError extends ConnectorEngineError {}
/** `network_error`: no HTTP response (connection refused or reset). */
export class NetworkError extends ConnectorEngineError {}

type ErrorClass = new (init: ErrorInit) => ConnectorEngineError;

const byCode: Record<string, [ErrorClass, number]> = {
  invalid_json: [ValidationError, 400],
  invalid_input: [ValidationError, 400],
  invalid_credentials_shape: [ValidationError, 400],
  payload_too_large: [ValidationError, 413],
  unauthenticated: [AuthenticationError, 401],
  forbidden: [PermissionError, 403],
  not_found: [NotFoundError, 404],
  unknown_connector: [NotFoundError, 404],
  unknown_action: [NotFoundError, 404],
  no_connection: [NotFoundError, 404],
  conflict: [ConflictError, 409],
  ambiguous_connection: [ConflictError, 409],
  idempotency_key_reused: [ConflictError, 422],
  connection_broken: [ConnectionBrokenError, 409],
  rate_limited: [RateLimitedError, 429],
  upstream_error: [UpstreamError, 502],
  upstream_unavailable: [UpstreamError, 502],
  outcome_unknown: [UpstreamError, 502],
  unavailable: [UnavailableError, 503],
  timeout: [TimeoutError, 504],
  internal_error: [ConnectorEngineError, 500],
};

const byStatus: Record<number, ErrorClass> = {
  400: ValidationError,
  401: AuthenticationError,
  403: PermissionError,
  404: NotFoundError,
  409: ConflictError,
  413: ValidationError,
  422: ConflictError,
  429: RateLimitedError,
  502: UpstreamError,
  503: UnavailableError,
  504: TimeoutError,
};

/** The error for an API error code; `status` defaults to the code's status in docs/api.md. */
export function errorFromCode(init: Omit<ErrorInit, 'status'> & { status?: number }): ConnectorEngineError {
  const known = Object.hasOwn(byCode, init.code) ? byCode[init.code] : undefined;
  const status = init.status ?? known?.[1] ?? 500;
  const Class = known?.[0] ?? byStatus[status] ?? ConnectorEngineError;
  return new Class({ ...init, status });
}
