import { z } from 'zod';
import { oauth2Auth } from '../toolkit/auth.ts';
import { googleOAuthProvider } from './google-oauth-provider.ts';

/**
 * How every Google API connector authenticates: the shared Google OAuth client (sign in with
 * POST /v1/oauth/<connector>/authorize), or an access token given directly, with the refresh token
 * when the caller has one. One definition, so Gmail and Sheets cannot drift apart.
 */
export const googleAuth = oauth2Auth({
  provider: googleOAuthProvider,
  tokenField: { key: 'accessToken', label: 'Access token (ya29.…)', secret: true, required: true },
  extraFields: [
    {
      key: 'refreshToken',
      label: 'Refresh token (1//…), to renew the access token every hour',
      secret: true,
      required: false,
    },
  ],
});

const token = (what: string, example: string) =>
  z.string().regex(/^[\x21-\x7e]{20,4096}$/, `must be a Google OAuth ${what} (${example})`);

/** The credentials a caller may give directly (the sign-in stores more: expiry, scope). */
export const googleCredentials = z
  .object({ accessToken: token('access token', 'ya29.…'), refreshToken: token('refresh token', '1//…').optional() })
  .strict();
