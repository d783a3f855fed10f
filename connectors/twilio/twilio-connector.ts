import { z } from 'zod';
import { basicAuth } from '../toolkit/auth.ts';
import { defineConnector } from '../toolkit/connector-definition.ts';
import { getMessage, listMessages, sendSms } from './twilio-actions.ts';
import { twilioErrors } from './twilio-errors.ts';
import { twilioInbound } from './twilio-inbound.ts';

/**
 * Twilio Programmable Messaging (REST API 2010-04-01, docs/upstreams/twilio.md). A connection is an
 * Account SID and its Auth Token, sent as HTTP Basic. The SID is not a secret: it names the account
 * in every path, so actions and the credential test read it from the connection's fields.
 */
export const twilioConnector = defineConnector({
  id: 'twilio',
  displayName: 'Twilio',
  category: 'messaging',
  description: 'Send SMS and MMS and read message history with Twilio Programmable Messaging.',
  baseUrl: 'https://api.twilio.com',
  auth: basicAuth({
    username: { key: 'accountSid', label: 'Account SID (AC…)', secret: false, required: true },
    password: { key: 'authToken', label: 'Auth Token', secret: true, required: true },
  }),
  credentials: z
    .object({
      accountSid: z
        .string()
        .regex(/^AC[0-9a-fA-F]{32}$/, 'must be a Twilio Account SID (AC followed by 32 hex digits)'),
      // Twilio's tokens are 32 hex digits; stray whitespace is a documented cause of 20003, so refuse it here.
      authToken: z
        .string()
        .regex(/^[A-Za-z0-9]{16,128}$/, 'must be the Auth Token of the account (letters and digits, no spaces)'),
    })
    .strict(),
  // Twilio limits concurrent requests per account (HTTP 429, error 20429), not requests per minute;
  // this is a ceiling, and sending itself is queued per sender by Twilio.
  rateLimit: { requestsPerMinute: 600 },
  // The account itself: cheap, and answers 401 20003 for a wrong SID/token pair. Its body echoes the
  // auth token, which the credential test discards.
  credentialTest: { method: 'GET', path: '/2010-04-01/Accounts/{accountSid}.json' },
  errors: twilioErrors,
  actions: [sendSms, listMessages, getMessage],
  inbound: twilioInbound,
});
