import type { ConnectorDefinition } from './connector-definition.ts';
import { classifyNetworkError, UpstreamHttpError, UpstreamNetworkError, type ClassifiedFailure } from './upstream-errors.ts';

/** Any error thrown while calling an upstream, as the engine's ClassifiedFailure. */
export function classifyUpstreamError(connector: ConnectorDefinition<any>, err: unknown): ClassifiedFailure {
  if (err instanceof UpstreamHttpError) return connector.classifyHttpError(err);
  if (err instanceof UpstreamNetworkError) return classifyNetworkError(err);
  throw err; // a bug in a handler, not an upstream failure
}

/** The upstream could not be asked (down, 5xx, throttled): no verdict on the credentials. */
export class UpstreamVerdictUnavailable extends Error {
  constructor(readonly failure: ClassifiedFailure) {
    super(`the upstream could not be reached for a verdict: ${failure.message}`);
    this.name = 'UpstreamVerdictUnavailable';
  }
}

/** Builds the common shape of a failure from an HTTP error; connectors fill in kind and code. */
export function httpFailure(
  err: UpstreamHttpError,
  kind: ClassifiedFailure['kind'],
  upstreamCode: string | undefined,
  message: string,
  extra: Partial<ClassifiedFailure> = {},
): ClassifiedFailure {
  return {
    kind,
    upstreamStatus: err.status,
    upstreamCode,
    message,
    // A 4xx answer means the upstream refused before acting; a 5xx may have acted part-way.
    requestMayHaveRun: err.status >= 500,
    ...extra,
  };
}
