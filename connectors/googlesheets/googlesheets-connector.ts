import { googleAuth, googleCredentials } from '../google/google-auth.ts';
import { googleApiErrors } from '../google/google-errors.ts';
import { defineConnector } from '../toolkit/connector-definition.ts';
import { appendRows, getValues } from './googlesheets-actions.ts';

/**
 * The public sample spreadsheet of Google's own Sheets quickstart ("Class Data"), readable by any
 * signed-in Google user: Sheets has no "who am I", so reading one cell of it is the cheapest call
 * that proves a token authenticates (docs/upstreams/google.md §4).
 */
const QUICKSTART_SPREADSHEET = '1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms';

/**
 * Google Sheets (docs/upstreams/google.md §4), signed in with the shared Google OAuth client
 * (POST /v1/oauth/googlesheets/authorize), or given an access token directly.
 */
export const googleSheetsConnector = defineConnector({
  id: 'googlesheets',
  displayName: 'Google Sheets',
  category: 'productivity',
  description: 'Append rows to, and read ranges of, Google Sheets spreadsheets.',
  baseUrl: 'https://sheets.googleapis.com',
  auth: googleAuth,
  credentials: googleCredentials,
  // Sheets' per-user limit is 60 reads and 60 writes a minute per Cloud project (not in our
  // sources as a guarantee); 429 RESOURCE_EXHAUSTED slows us down further.
  rateLimit: { requestsPerMinute: 60 },
  credentialTest: {
    method: 'GET',
    path: `/v4/spreadsheets/${QUICKSTART_SPREADSHEET}/values/${encodeURIComponent('Class Data!A1:A1')}`,
  },
  errors: googleApiErrors,
  actions: [appendRows, getValues],
});
