import type { Config } from '../../shared/config.ts';

/** An entry of OAUTH_REDIRECT_URIS without a path: any URL on that origin. */
const originOnly = /^https?:\/\/[^/?#\s]+\/?$/;

/**
 * Whether a finished OAuth consent may redirect the user to `uri` (with the new connection's id in
 * its query): only to a URL the operator registered (OAUTH_REDIRECT_URIS, exact URLs or whole
 * origins) or on this server's own origin (PUBLIC_URL). Anything else would make the engine an open
 * redirect that hands connection ids to any site.
 */
export function isRegisteredRedirect(uri: string, config: Pick<Config, 'OAUTH_REDIRECT_URIS' | 'PUBLIC_URL'>): boolean {
  let target: URL;
  try {
    target = new URL(uri);
  } catch {
    return false;
  }
  if (config.PUBLIC_URL && new URL(config.PUBLIC_URL).origin === target.origin) return true;
  return config.OAUTH_REDIRECT_URIS.some((entry) => {
    const registered = new URL(entry);
    return originOnly.test(entry) ? registered.origin === target.origin : registered.href === target.href;
  });
}

/** What the provider's `error` parameter may be shown as: an OAuth error code (RFC 6749 4.1.2.1), never free text. */
export function oauthErrorCode(error: string): string {
  return /^[a-z_]{1,64}$/.test(error) ? error : 'unknown_error';
}
