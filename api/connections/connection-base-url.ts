import { createEgressGuard, type EgressGuard } from '../../shared/egress/egress-guard.ts';
import { ApiError } from '../../shared/errors.ts';

/** The guard without any operator exception: tells which targets are public on their own. */
const publicOnly = createEgressGuard();

/**
 * A connection's own base URL is chosen by a tenant, and the workers call it with the connection's
 * credentials: like a webhook URL, it must pass the egress guard (no loopback, private, link-local,
 * metadata, ... addresses), or a tenant could probe them. Plain http is accepted only for a target
 * the operator excepted (EGRESS_ALLOW_HOSTS, local development): credentials never cross the
 * internet in clear text.
 */
export function assertPublicBaseUrl(field: string, value: string, guard: EgressGuard): void {
  const problem = publicUrlProblem(value, guard);
  if (problem)
    throw new ApiError('invalid_credentials_shape', `The credentials field ${field} ${problem}.`, [
      { path: `credentials.${field}`, message: problem },
    ]);
}

/** Why a tenant-chosen URL the engine will call is refused (its wording), or undefined when it may be used. */
export function publicUrlProblem(value: string, guard: EgressGuard): string | undefined {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  return !url || !/^https?:$/.test(url.protocol)
    ? 'must be an http(s) URL'
    : guard.checkUrl(url) !== null || (url.protocol !== 'https:' && publicOnly.checkUrl(url) === null)
      ? 'must be an https URL of a public host'
      : undefined;
}
