import { ApiError } from '../../shared/errors.ts';
import { isForbiddenWebhookHost } from '../../shared/webhooks/target-guard.ts';

/**
 * A connection's own base URL is chosen by a tenant, and the workers call it with the connection's
 * credentials: like a webhook URL, it must be http(s) and must not name this network's own
 * addresses (loopback, private, link-local, metadata), or a tenant could probe them.
 */
export function assertPublicBaseUrl(field: string, value: string, allowPrivateTargets: boolean): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  const problem =
    !url || !/^https?:$/.test(url.protocol)
      ? 'must be an http(s) URL'
      : !allowPrivateTargets && (url.protocol !== 'https:' || isForbiddenWebhookHost(url.hostname))
        ? 'must be an https URL of a public host'
        : undefined;
  if (problem) throw new ApiError('invalid_credentials_shape', `The credentials field ${field} ${problem}.`, [{ path: `credentials.${field}`, message: problem }]);
}
