import { UpstreamVerdictUnavailable } from '../../connectors/toolkit/classify.ts';
import type { ConnectorDefinition, CredentialVerdict } from '../../connectors/toolkit/connector-definition.ts';
import { testCredentials } from '../../connectors/toolkit/credential-test.ts';
import type { Config } from '../../shared/config.ts';
import {
  awaitsToken,
  RefreshRejected,
  RefreshUnavailable,
  renewCredentials,
} from '../../shared/connections/credential-refresher.ts';
import { upstreamClientFor } from '../../shared/connections/upstream-for.ts';
import { ApiError } from '../../shared/errors.ts';

/** A verdict on credentials, and the credentials to store: as given, plus the first access token of a client-credentials connection. */
export interface CheckedCredentials {
  verdict: CredentialVerdict;
  credentials: Record<string, string>;
}

/**
 * Tests credentials against the upstream before anything is stored. A client-credentials
 * connection first gets a token for its client (a refusal is the verdict), and the test runs with
 * it. No verdict (network error, 5xx, throttling) is a 502 and the caller's change is not applied.
 */
export async function checkCredentials(
  config: Config,
  connector: ConnectorDefinition,
  given: Record<string, string>,
): Promise<CheckedCredentials> {
  try {
    let credentials = given;
    if (awaitsToken(connector, given)) {
      try {
        credentials = await renewCredentials(connector, config, given);
      } catch (err) {
        if (err instanceof RefreshRejected)
          return {
            verdict: { valid: false, reason: `the token endpoint refused the client: ${err.failure.message}` },
            credentials: given,
          };
        if (err instanceof RefreshUnavailable) throw new UpstreamVerdictUnavailable(err.failure);
        throw err;
      }
    }
    return {
      verdict: await testCredentials(connector, upstreamClientFor(connector, credentials, config), credentials),
      credentials,
    };
  } catch (err) {
    if (err instanceof UpstreamVerdictUnavailable) {
      const f = err.failure;
      throw new ApiError(
        'upstream_unavailable',
        `${connector.displayName} could not check the credentials; nothing was changed. Retry later.`,
        {
          status: f.upstreamStatus ?? null,
          code: f.upstreamCode ?? null,
          message: f.message,
        },
      );
    }
    throw err;
  }
}

/** The status columns a verdict leads to; status_changed_at moves only on a real change. */
export function statusFromVerdict(verdict: CredentialVerdict) {
  return verdict.valid
    ? { status: 'active' as const, status_reason: null }
    : { status: 'broken' as const, status_reason: `Credentials rejected: ${verdict.reason}` };
}
