import type { OAuthClientCredentials, OAuthSpec } from '../toolkit/connector-definition.ts';
import type { UpstreamClient } from '../toolkit/upstream-client.ts';

/**
 * Slack OAuth v2 (upstream-apis.md §2.7): install via the authorize page, exchange the code at
 * oauth.v2.access (form only, client credentials as HTTP Basic), and with token rotation refresh the
 * bot token before it expires; each refresh returns a new refresh token and revokes the old one.
 */
interface SlackTokenResponse {
  access_token: string;
  token_type?: string;
  scope?: string;
  bot_user_id?: string;
  app_id?: string;
  refresh_token?: string;
  expires_in?: number;
  team?: { id?: string; name?: string } | null;
}

function basicAuth(client: OAuthClientCredentials): string {
  return `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`;
}

/** The credentials we store: the bot token plus what rotation needs. All values are strings. */
function toCredentials(res: SlackTokenResponse, previous: Record<string, string> = {}): Record<string, string> {
  const creds: Record<string, string> = { ...previous, botToken: res.access_token };
  if (res.refresh_token) creds.refreshToken = res.refresh_token;
  if (res.expires_in) creds.expiresAt = String(Date.now() + res.expires_in * 1000);
  if (res.team?.id) creds.teamId = res.team.id;
  if (res.bot_user_id) creds.botUserId = res.bot_user_id;
  if (res.scope) creds.scope = res.scope;
  return creds;
}

async function tokenRequest(http: UpstreamClient, client: OAuthClientCredentials, form: Record<string, string>): Promise<SlackTokenResponse> {
  const res = await http.request<SlackTokenResponse>({
    method: 'POST',
    path: '/oauth.v2.access',
    form,
    headers: { authorization: basicAuth(client) },
  });
  return res.body;
}

export const slackOAuth: OAuthSpec = {
  authorizeUrlConfigKey: 'SLACK_OAUTH_AUTHORIZE_URL',
  clientIdConfigKey: 'SLACK_CLIENT_ID',
  clientSecretConfigKey: 'SLACK_CLIENT_SECRET',
  tokenBaseUrlConfigKey: 'SLACK_API_URL',
  // Bot scopes for every action in slack-actions.ts.
  scopes: ['chat:write', 'channels:read', 'groups:read', 'users:read', 'reactions:write', 'channels:history', 'groups:history'],
  scopeParam: 'scope',
  scopeSeparator: ',',
  async exchangeCode(http, { code, redirectUri, client }) {
    return toCredentials(await tokenRequest(http, client, { code, redirect_uri: redirectUri }));
  },
  async refresh(http, credentials, client) {
    const res = await tokenRequest(http, client, {
      grant_type: 'refresh_token',
      refresh_token: credentials.refreshToken ?? '',
      // Slack's SDK also sends them in the body; Basic alone is enough, both are accepted.
      client_id: client.clientId,
      client_secret: client.clientSecret,
    });
    return toCredentials(res, credentials);
  },
};
