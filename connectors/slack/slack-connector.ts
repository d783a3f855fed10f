import { z } from 'zod';
import { defineConnector } from '../toolkit/connector-definition.ts';
import { getThread, listChannels, listUsers, postMessage, reactToMessage } from './slack-actions.ts';
import { checkSlackResponse, classifySlackError } from './slack-error-classifier.ts';
import { slackOAuth } from './slack-oauth.ts';

export const slackConnector = defineConnector({
  id: 'slack',
  displayName: 'Slack',
  category: 'messaging',
  description: 'Post messages, react, and read channels, users and threads in a Slack workspace.',
  authType: 'oauth2',
  // Connect with OAuth (POST /v1/oauth/slack/authorize), or give a bot token directly.
  authFields: [{ key: 'botToken', label: 'Bot token (xoxb-…)', secret: true, required: true }],
  credentials: z.object({ botToken: z.string().regex(/^(xoxe\.)?xox[abpe]-[A-Za-z0-9-]{8,}$/, 'must be a Slack token (xoxb-…)') }).strict(),
  // Slack limits per method and workspace (Tier 2: 20+/min, Tier 3: 50+/min, postMessage ~1/s per channel).
  rateLimit: { requestsPerMinute: 600 },
  baseUrlConfigKey: 'SLACK_API_URL',
  authHeaders: (c) => ({ authorization: `Bearer ${c.botToken}` }),
  credentialTest: { method: 'POST', path: '/auth.test' },
  classifyHttpError: classifySlackError,
  checkResponse: checkSlackResponse,
  oauth: slackOAuth,
  actions: [postMessage, listChannels, listUsers, reactToMessage, getThread],
});
