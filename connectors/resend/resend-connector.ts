import { z } from 'zod';
import { defineConnector } from '../toolkit/connector-definition.ts';
import { listDomains, sendBatch, sendEmail } from './resend-actions.ts';
import { classifyResendError } from './resend-error-classifier.ts';

export const resendConnector = defineConnector({
  id: 'resend',
  displayName: 'Resend',
  category: 'email',
  description: 'Transactional email delivery.',
  authType: 'api_key',
  authFields: [{ key: 'apiKey', label: 'API key', secret: true, required: true }],
  credentials: z.object({ apiKey: z.string().regex(/^re_[A-Za-z0-9_]+$/, 'must be a Resend API key (re_…)') }).strict(),
  // Resend's default is 5 requests/second per team (upstream-apis.md §1.0).
  rateLimit: { requestsPerMinute: 300 },
  baseUrlConfigKey: 'RESEND_API_URL',
  authHeaders: (c) => ({ authorization: `Bearer ${c.apiKey}` }),
  // Resend has no whoami; the cheapest authenticated read. A sending-only key answers 401
  // restricted_api_key, which the classifier files as "valid, limited".
  credentialTest: { method: 'GET', path: '/domains', query: { limit: 1 } },
  classifyHttpError: classifyResendError,
  actions: [sendEmail, sendBatch, listDomains],
});
