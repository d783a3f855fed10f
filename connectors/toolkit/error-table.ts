import { type ClassifiedFailure, type FailureKind, retryAfterMs, type UpstreamHttpError } from './upstream-errors.ts';

/**
 * Per-service error knowledge kept as data: the upstream's error code, or failing that its HTTP
 * status, → what it means to the engine. An entry may say the upstream provably did not act
 * (e.g. "another request with this key is in flight").
 */
export type ErrorTableEntry = FailureKind | { kind: FailureKind; requestMayHaveRun: boolean };

export interface ErrorTable {
  /** The upstream's error code in a parsed error body, if any. */
  codeOf(body: unknown): string | undefined;
  messageOf(body: unknown): string | undefined;
  byCode: Record<string, ErrorTableEntry>;
  /**
   * What a status means when the body carries no known code. 401 and 403 must be stated (the
   * conformance suite checks): services disagree on them (a revoked key, a missing scope, a spent
   * quota), so no default could be right. 429 defaults to rate_limited, 408 and 5xx to transient,
   * any other status to invalid_request.
   */
  byStatus: Partial<Record<number, ErrorTableEntry>> & { 401: ErrorTableEntry; 403: ErrorTableEntry };
  /**
   * How long the upstream asks us to wait, for services that say it other than with `Retry-After`
   * (e.g. a reset time in epoch seconds). Default: the `Retry-After` header, in seconds or as a date.
   */
  retryAfterOf?(headers: Record<string, string | string[] | undefined>): number | undefined;
}

function kindByStatus(status: number): FailureKind {
  if (status === 429) return 'rate_limited';
  if (status >= 500 || status === 408) return 'transient';
  return 'invalid_request';
}

/** An UpstreamHttpError as the engine's ClassifiedFailure, by the connector's table. */
export function classifyByTable(table: ErrorTable, err: UpstreamHttpError): ClassifiedFailure {
  const code = table.codeOf(err.body);
  const entry = (code !== undefined ? table.byCode[code] : undefined) ?? table.byStatus[err.status];
  const kind = entry === undefined ? kindByStatus(err.status) : typeof entry === 'string' ? entry : entry.kind;
  const failure: ClassifiedFailure = {
    kind,
    upstreamStatus: err.status,
    upstreamCode: code,
    message: table.messageOf(err.body) ?? `HTTP ${err.status}`,
    // A 4xx answer means the upstream refused before acting; a 5xx may have acted part-way.
    requestMayHaveRun: err.status >= 500,
  };
  if (typeof entry === 'object') failure.requestMayHaveRun = entry.requestMayHaveRun;
  if (kind === 'rate_limited') failure.requestMayHaveRun = false;
  const retryAfter = table.retryAfterOf ? table.retryAfterOf(err.headers) : retryAfterMs(err.headers);
  if (retryAfter !== undefined) failure.retryAfterMs = retryAfter;
  return failure;
}

/** Reads a string property of a JSON object body, or undefined. */
export function stringAt(body: unknown, ...path: string[]): string | undefined {
  let node: unknown = body;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return typeof node === 'string' ? node : undefined;
}
