import { type ActionDefinition, safeToRepeat } from '../../connectors/toolkit/connector-definition.ts';
import type { ClassifiedFailure } from '../../connectors/toolkit/upstream-errors.ts';

/**
 * Retries follow side effects (docs/design.md, decision 5): reads retry any transient or rate-limited failure;
 * writes only when the upstream provably did not act, or dedupes the request by our idempotency key.
 */
export function isRetryable(failure: ClassifiedFailure, action: ActionDefinition): boolean {
  if (failure.kind !== 'transient' && failure.kind !== 'rate_limited') return false;
  if (failure.retryAfterMs !== undefined && failure.retryAfterMs > MAX_RETRY_AFTER_MS) return false;
  return !failure.requestMayHaveRun || safeToRepeat(action);
}

/** An upstream asking us to wait longer than this gets the failure reported instead of a parked job. */
export const MAX_RETRY_AFTER_MS = 60_000;
const BASE_DELAY_MS = 500;
const MAX_BACKOFF_MS = 30_000;

/** Exponential backoff with full jitter, or the upstream's Retry-After when it gave one. */
export function retryDelayMs(attempt: number, failure: ClassifiedFailure, random: () => number = Math.random): number {
  if (failure.retryAfterMs !== undefined) return failure.retryAfterMs + Math.floor(random() * 250);
  const ceiling = Math.min(MAX_BACKOFF_MS, BASE_DELAY_MS * 2 ** Math.max(0, attempt - 1));
  return Math.floor(ceiling / 2 + random() * (ceiling / 2));
}

/** Thrown to BullMQ to schedule the next attempt; the backoff strategy reads the delay from it. */
export class RetryScheduled extends Error {
  constructor(
    readonly delayMs: number,
    failure: ClassifiedFailure,
  ) {
    super(`retrying after ${failure.kind} failure: ${failure.message}`);
    this.name = 'RetryScheduled';
  }
}
