import { googleAuth, googleCredentials } from '../google/google-auth.ts';
import { googleApiErrors } from '../google/google-errors.ts';
import { defineConnector } from '../toolkit/connector-definition.ts';
import { getMessage, listMessages, sendEmail } from './gmail-actions.ts';

/**
 * Gmail (docs/upstreams/google.md §3), signed in with the shared Google OAuth client
 * (POST /v1/oauth/gmail/authorize), or given an access token directly, with the refresh token
 * when the caller has one. Its error table is the one of every googleapis.com API.
 */
export const gmailConnector = defineConnector({
  id: 'gmail',
  displayName: 'Gmail',
  category: 'email',
  description: 'Send email from, and search and read, a Gmail or Google Workspace mailbox.',
  baseUrl: 'https://gmail.googleapis.com',
  auth: googleAuth,
  credentials: googleCredentials,
  // Gmail meters per user in quota units (a send costs more than a read); the numbers are not in
  // our sources, so this is a ceiling, and 429s and 403 rateLimitExceeded slow us down further.
  rateLimit: { requestsPerMinute: 600 },
  // users.getProfile: allowed with gmail.readonly (which the actions ask for). A send-only token
  // answers 403 here, which the error table files as "valid, limited".
  credentialTest: { method: 'GET', path: '/gmail/v1/users/me/profile' },
  errors: googleApiErrors,
  actions: [sendEmail, listMessages, getMessage],
});
