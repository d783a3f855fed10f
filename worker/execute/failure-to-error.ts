import type { ConnectorDefinition } from '../../connectors/toolkit/connector-definition.ts';
import type { ClassifiedFailure } from '../../connectors/toolkit/upstream-errors.ts';
import type { InvocationFailure } from '../../shared/invocations/invocation-store.ts';

/** How a classified upstream failure is reported on the invocation and to the caller (docs/api.md). */
export function failureToInvocationError(
  connector: ConnectorDefinition,
  failure: ClassifiedFailure,
): InvocationFailure {
  if (failure.kind === 'auth_invalid') {
    return {
      code: 'connection_broken',
      message: `${connector.displayName} rejected the connection's credentials: ${failure.message}`,
      details: { status: failure.upstreamStatus ?? null, code: failure.upstreamCode ?? null, message: failure.message },
    };
  }
  if (failure.upstreamStatus === undefined) {
    return {
      code: 'upstream_unavailable',
      message: `${connector.displayName} could not be reached (${failure.upstreamCode ?? 'network error'}).`,
    };
  }
  return {
    code: 'upstream_error',
    message: `${connector.displayName} answered HTTP ${failure.upstreamStatus}: ${failure.message}`,
    details: { status: failure.upstreamStatus, code: failure.upstreamCode ?? null, message: failure.message },
  };
}
