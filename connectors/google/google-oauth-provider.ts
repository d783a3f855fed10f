import { type OAuthProviderDefinition, standardCredentials, type TokenResponse } from '../toolkit/oauth-provider.ts';
import { googleTokenErrors } from './google-errors.ts';

/**
 * Google's OAuth 2.0 web-server flow (docs/upstreams/google.md §1), one client for every Google
 * connector (Gmail, Sheets): its settings are GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET,
 * GOOGLE_OAUTH_AUTHORIZE_URL and GOOGLE_OAUTH_TOKEN_URL.
 *
 * - `access_type=offline` makes the code exchange return a refresh token, and `prompt=consent`
 *   makes Google issue one again when the user has consented before (without it, a second
 *   authorization returns none).
 * - PKCE S256, as Google's own client library does.
 * - Client credentials go in the form body (`client_id`, `client_secret`), as Google's Node client
 *   sends them by default.
 * - Access tokens last an hour (`expires_in` 3599). A refresh answers no new refresh token: Google
 *   refresh tokens do not rotate, and the stored one is kept.
 */
export const googleOAuthProvider: OAuthProviderDefinition = {
  id: 'google',
  displayName: 'Google',
  authorizeUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
  tokenUrl: 'https://oauth2.googleapis.com/token',
  pkce: true,
  refreshTokenRotates: false,
  clientAuthentication: 'body',
  authorizeParams: { access_type: 'offline', prompt: 'consent' },
  errors: googleTokenErrors,
  credentialsFrom(token: TokenResponse, previous) {
    return standardCredentials(token, previous, 'accessToken');
  },
};
