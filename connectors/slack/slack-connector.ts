import { z } from 'zod';
import { oauth2Auth } from '../toolkit/auth.ts';
import { defineConnector } from '../toolkit/connector-definition.ts';
import { getThread, listChannels, listUsers, postMessage, reactToMessage } from './slack-actions.ts';
import { checkSlackResponse, slackErrors } from './slack-errors.ts';
import { slackInbound } from './slack-inbound.ts';
import { slackOAuthProvider } from './slack-oauth-provider.ts';

export const slackConnector = defineConnector({
  id: 'slack',
  displayName: 'Slack',
  category: 'messaging',
  description: 'Post messages, react, and read channels, users and threads in a Slack workspace.',
  baseUrl: 'https://slack.com/api',
  // Connect with OAuth (POST /v1/oauth/slack/authorize), or give a bot token directly.
  auth: oauth2Auth({
    provider: slackOAuthProvider,
    tokenField: { key: 'botToken', label: 'Bot token (xoxb-…)', secret: true, required: true },
  }),
  credentials: z
    .object({ botToken: z.string().regex(/^(xoxe\.)?xox[abpe]-[A-Za-z0-9-]{8,}$/, 'must be a Slack token (xoxb-…)') })
    .strict(),
  // Slack limits per method and workspace (Tier 2: 20+/min, Tier 3: 50+/min, postMessage ~1/s per channel).
  rateLimit: { requestsPerMinute: 600 },
  credentialTest: { method: 'POST', path: '/auth.test' },
  errors: slackErrors,
  checkResponse: checkSlackResponse,
  actions: [postMessage, listChannels, listUsers, reactToMessage, getThread],
  inbound: slackInbound,
});
