/**
 * What can go wrong talking to an upstream, before any connector-specific interpretation.
 */
export class UpstreamHttpError extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string | string[] | undefined>,
    /** Parsed JSON when the body was JSON, else the text (bounded). */
    readonly body: unknown,
  ) {
    super(`upstream answered HTTP ${status}`);
    this.name = 'UpstreamHttpError';
  }
}

export class UpstreamNetworkError extends Error {
  constructor(
    readonly code: string,
    /** False only when the request provably never reached the upstream (refused, DNS, connect timeout). */
    readonly requestMayHaveBeenSent: boolean,
  ) {
    super(`upstream unreachable (${code})`);
    this.name = 'UpstreamNetworkError';
  }
}

/** The upstream's answer was larger than the engine reads (UPSTREAM_MAX_RESPONSE_BYTES, UPSTREAM_MAX_BINARY_BYTES). */
export class UpstreamResponseTooLarge extends Error {
  readonly code = 'response_too_large';
  constructor(
    readonly maxBytes: number,
    /** The status of the answer that was cut off, when it came that far. */
    readonly status?: number,
  ) {
    super(`the upstream's answer was larger than ${maxBytes} bytes, the most the engine reads`);
    this.name = 'UpstreamResponseTooLarge';
  }
}

/**
 * The engine's view of a failed upstream call (docs/design.md, decision 4). Only `auth_invalid` breaks a connection.
 */
export type FailureKind =
  | 'auth_invalid'
  /** A rotating access token expired: refresh it and try again; without a refresh token it is auth_invalid. */
  | 'auth_expired'
  | 'permission'
  | 'quota'
  | 'rate_limited'
  | 'transient'
  | 'invalid_request';

export interface ClassifiedFailure {
  kind: FailureKind;
  /** HTTP status of the upstream's answer; absent for network failures. */
  upstreamStatus?: number;
  /** The upstream's own error code, e.g. Resend's `name` or Slack's `error`. */
  upstreamCode?: string;
  message: string;
  /** From the upstream's Retry-After (or equivalent), when it gave one. */
  retryAfterMs?: number;
  /** Whether the upstream may have acted on the request; decides if a write can be retried. */
  requestMayHaveRun: boolean;
}

/** Parses Retry-After given in seconds (the only form our upstreams use) or as an HTTP date. */
export function retryAfterMs(headers: Record<string, string | string[] | undefined>): number | undefined {
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

export function classifyNetworkError(err: UpstreamNetworkError): ClassifiedFailure {
  // The egress guard refused the target: asking again cannot help, and nothing was sent.
  if (err.code === 'EGRESS_REFUSED')
    return {
      kind: 'invalid_request',
      upstreamCode: err.code,
      message: 'the target address is not allowed or could not be reached',
      requestMayHaveRun: false,
    };
  return {
    kind: 'transient',
    upstreamCode: err.code,
    message: err.message,
    requestMayHaveRun: err.requestMayHaveBeenSent,
  };
}
