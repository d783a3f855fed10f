import { classifyUpstreamError } from '../../connectors/toolkit/classify.ts';
import type { ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import {
  type ClassifiedFailure,
  UpstreamHttpError,
  UpstreamNetworkError,
} from '../../connectors/toolkit/upstream-errors.ts';
import { RefreshRejected, RefreshUnavailable } from '../../shared/connections/credential-refresher.ts';
import type { InvocationFailure } from '../../shared/invocations/invocation-store.ts';
import { failureToInvocationError } from './failure-to-error.ts';

/**
 * What an attempt's error means: a failure to classify further (retry, cooldown, break), or a
 * final one to record as it is. Pure, so every branch is unit-tested (test/unit/attempt-failure.test.ts).
 */
export type AttemptFailure =
  | { kind: 'classified'; failure: ClassifiedFailure }
  | { kind: 'final'; failure: InvocationFailure; bug?: true };

export function attemptFailure(connector: ConnectorDefinition, err: unknown): AttemptFailure {
  if (err instanceof RefreshRejected) {
    // The refresher already broke the connection (and told the webhooks).
    return { kind: 'final', failure: failureToInvocationError(connector, { ...err.failure, kind: 'auth_invalid' }) };
  }
  if (err instanceof RefreshUnavailable) return { kind: 'classified', failure: err.failure };
  if (!(err instanceof UpstreamHttpError || err instanceof UpstreamNetworkError)) {
    return {
      kind: 'final',
      failure: { code: 'internal_error', message: 'The action failed inside the engine.' },
      bug: true,
    };
  }
  const classified = classifyUpstreamError(connector, err);
  // An expired token we cannot refresh is as dead as a revoked one.
  return {
    kind: 'classified',
    failure: classified.kind === 'auth_expired' ? { ...classified, kind: 'auth_invalid' } : classified,
  };
}
