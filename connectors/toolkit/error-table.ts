import { httpFailure } from './classify.ts';
import { retryAfterMs, type ClassifiedFailure, type FailureKind, type UpstreamHttpError } from './upstream-errors.ts';

/**
 * Per-service error knowledge kept as data: the upstream's error code → what it means to the engine.
 * An entry may say the upstream provably did not act (e.g. "another request with this key is in flight").
 */
export type ErrorTableEntry = FailureKind | { kind: FailureKind; requestMayHaveRun: boolean };

export interface ErrorTable {
  /** The upstream's error code in a parsed error body, if any. */
  codeOf(body: unknown): string | undefined;
  messageOf(body: unknown): string | undefined;
  byCode: Record<string, ErrorTableEntry>;
}

/** The fallback when a code is unknown: never assume a credential problem from the status alone. */
function kindByStatus(status: number): FailureKind {
  if (status === 429) return 'rate_limited';
  if (status >= 500 || status === 408) return 'transient';
  return 'invalid_request';
}

export function classifierFromTable(table: ErrorTable): (err: UpstreamHttpError) => ClassifiedFailure {
  return (err) => {
    const code = table.codeOf(err.body);
    const entry = code !== undefined ? table.byCode[code] : undefined;
    const kind = entry === undefined ? kindByStatus(err.status) : typeof entry === 'string' ? entry : entry.kind;
    const message = table.messageOf(err.body) ?? `HTTP ${err.status}`;
    const extra: Partial<ClassifiedFailure> = {};
    if (typeof entry === 'object') extra.requestMayHaveRun = entry.requestMayHaveRun;
    if (kind === 'rate_limited') extra.requestMayHaveRun = false;
    const retryAfter = retryAfterMs(err.headers);
    if (retryAfter !== undefined) extra.retryAfterMs = retryAfter;
    return httpFailure(err, kind, code, message, extra);
  };
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
