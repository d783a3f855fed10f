import { type OAuthProviderDefinition, standardCredentials, type TokenResponse } from '../toolkit/oauth-provider.ts';
import { checkSlackResponse, slackTokenErrors } from './slack-errors.ts';

/**
 * Slack OAuth v2 (docs/upstreams/slack.md): install via the authorize page, exchange the code at
 * oauth.v2.access (client credentials as HTTP Basic), and with token rotation refresh the bot token
 * before it expires; each refresh returns a new refresh token and revokes the old one. Scopes are
 * the bot scopes of the actions (`scope`, comma-separated).
 */
export const slackOAuthProvider: OAuthProviderDefinition = {
  id: 'slack',
  displayName: 'Slack',
  authorizeUrl: 'https://slack.com/oauth/v2/authorize',
  tokenUrl: 'https://slack.com/api/oauth.v2.access',
  // oauth.v2.access is a Web API method: it moves with SLACK_API_URL.
  tokenUrlFollowsApiOf: { connectorId: 'slack', path: '/oauth.v2.access' },
  pkce: false,
  refreshTokenRotates: true,
  clientAuthentication: 'basic',
  scopeSeparator: ',',
  checkTokenResponse: checkSlackResponse,
  errors: slackTokenErrors,
  credentialsFrom(token: TokenResponse, previous) {
    const creds = standardCredentials(token, previous, 'botToken');
    const team = token.team as { id?: string } | null | undefined;
    if (team?.id) creds.teamId = team.id;
    if (typeof token.bot_user_id === 'string') creds.botUserId = token.bot_user_id;
    return creds;
  },
};
