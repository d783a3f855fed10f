import { z } from 'zod';
import { apiKeyAuth } from '../toolkit/auth.ts';
import { defineConnector } from '../toolkit/connector-definition.ts';
import { listTemplates, sendEmail } from './sendgrid-actions.ts';
import { sendGridErrors } from './sendgrid-errors.ts';

/**
 * Twilio SendGrid's v3 Web API: transactional email and its templates (docs/upstreams/sendgrid.md).
 * The key goes as `Authorization: Bearer <key>`. EU regional subusers point `SENDGRID_API_URL` at
 * https://api.eu.sendgrid.com.
 */
export const sendGridConnector = defineConnector({
  id: 'sendgrid',
  displayName: 'SendGrid',
  category: 'email',
  description: 'Transactional email through Twilio SendGrid, with dynamic templates.',
  baseUrl: 'https://api.sendgrid.com',
  auth: apiKeyAuth(),
  // The official SDK warns about keys that do not start with "SG." (@sendgrid/client); the rest of
  // the format (SG.<id>.<secret>) is only observed, so it is not enforced beyond the characters.
  credentials: z
    .object({ apiKey: z.string().regex(/^SG\.[A-Za-z0-9_.-]{10,200}$/, 'must be a SendGrid API key (SG.…)') })
    .strict(),
  // SendGrid publishes no numbers (its limits are per endpoint and per account); this is a ceiling,
  // and a 429 makes the engine wait for X-RateLimit-Reset.
  rateLimit: { requestsPerMinute: 600 },
  // The scopes of the key itself: an authenticated read that sends nothing. A 401 is a dead key.
  credentialTest: { method: 'GET', path: '/v3/scopes' },
  errors: sendGridErrors,
  actions: [sendEmail, listTemplates],
});
