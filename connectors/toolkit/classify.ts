import type { ErrorTable } from './error-table.ts';
import { classifyByTable } from './error-table.ts';
import {
  type ClassifiedFailure,
  classifyNetworkError,
  UpstreamHttpError,
  UpstreamNetworkError,
  UpstreamResponseTooLarge,
} from './upstream-errors.ts';

/**
 * Any error thrown while calling an upstream, as the engine's ClassifiedFailure, by the error table
 * of whoever answered: a connector's API (`connector.errors`) or an OAuth provider's token endpoint.
 */
export function classifyUpstreamError(source: { errors: ErrorTable }, err: unknown): ClassifiedFailure {
  if (err instanceof UpstreamHttpError) return classifyByTable(source.errors, err);
  if (err instanceof UpstreamNetworkError) return classifyNetworkError(err);
  // The upstream acted and answered; reading more of it again would fail the same way.
  if (err instanceof UpstreamResponseTooLarge)
    return {
      kind: 'invalid_request',
      upstreamStatus: err.status,
      upstreamCode: err.code,
      message: err.message,
      requestMayHaveRun: true,
    };
  throw err; // a bug in a handler, not an upstream failure
}

/** The upstream could not be asked (down, 5xx, throttled): no verdict on the credentials. */
export class UpstreamVerdictUnavailable extends Error {
  constructor(readonly failure: ClassifiedFailure) {
    super(`the upstream could not be reached for a verdict: ${failure.message}`);
    this.name = 'UpstreamVerdictUnavailable';
  }
}
