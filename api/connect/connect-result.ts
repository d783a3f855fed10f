/**
 * Why a connect page's OAuth flow did not finish. The result page (`/connect/done?error=…`) maps
 * each to a fixed sentence: the URL carries a code, never text, so nobody can make our page say
 * something of their choosing by sending a link.
 */
export type ConnectFailure =
  | 'other_browser'
  | 'session_closed'
  | 'denied'
  | 'refused'
  | 'unavailable'
  | 'invalid_state';

/** Where the callback sends the browser of a connect-page flow when the session has no redirectUri (or on failure). */
export function connectResultPath(
  result: { connectionId: string; connector: string } | { error: ConnectFailure },
): string {
  return `/connect/done?${new URLSearchParams(result).toString()}`;
}
