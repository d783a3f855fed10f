import { z } from 'zod';
import { apiKeyAuth } from '../toolkit/auth.ts';
import { defineConnector } from '../toolkit/connector-definition.ts';
import { listDomains, sendBatch, sendEmail } from './resend-actions.ts';
import { resendErrors } from './resend-errors.ts';
import { resendInbound } from './resend-inbound.ts';

export const resendConnector = defineConnector({
  id: 'resend',
  displayName: 'Resend',
  category: 'email',
  description: 'Transactional email delivery.',
  baseUrl: 'https://api.resend.com',
  // webhookSecret: the signing secret of a Resend webhook pointed at the connection's inboundUrl.
  auth: apiKeyAuth({
    extraFields: [
      {
        key: 'webhookSecret',
        label: 'Webhook signing secret (whsec_…), to receive events',
        secret: true,
        required: false,
      },
    ],
  }),
  credentials: z
    .object({
      apiKey: z.string().regex(/^re_[A-Za-z0-9_]+$/, 'must be a Resend API key (re_…)'),
      webhookSecret: z
        .string()
        .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'must be a Resend webhook signing secret (whsec_…)')
        .optional(),
    })
    .strict(),
  // Resend's default is 5 requests/second per team (docs/upstreams/resend.md).
  rateLimit: { requestsPerMinute: 300 },
  // Resend has no whoami; the cheapest authenticated read. A sending-only key answers 401
  // restricted_api_key, which the error table files as "valid, limited".
  credentialTest: { method: 'GET', path: '/domains', query: { limit: 1 } },
  errors: resendErrors,
  actions: [sendEmail, sendBatch, listDomains],
  inbound: resendInbound,
});
