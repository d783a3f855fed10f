import { CONNECTOR_SETTING_SUFFIXES } from '../../shared/config.ts';
import type { ConnectorDefinition } from './connector-definition.ts';
import type { OAuthProviderDefinition } from './oauth-provider.ts';

/**
 * The operator settings a connector or OAuth provider brings, named from its id so that a new
 * connector brings its own: `<ID>_API_URL` for a connector's base URL, `<ID>_RATE_LIMIT_PER_MINUTE`
 * for its ceiling, and for a provider
 * `<ID>_CLIENT_ID`, `<ID>_CLIENT_SECRET`, `<ID>_OAUTH_AUTHORIZE_URL`, `<ID>_OAUTH_TOKEN_URL`.
 * shared/config.ts reads every variable of these shapes (`Config.connectorSettings`); the defaults
 * live in the definitions, so nothing outside a connector's folder lists its values.
 */
export type ConnectorSettings = Readonly<Record<string, string>>;

export const settingPrefix = (id: string): string => id.toUpperCase().replace(/[^A-Z0-9]+/g, '_');

export const apiUrlSetting = (connector: Pick<ConnectorDefinition, 'id'>): string =>
  `${settingPrefix(connector.id)}_API_URL`;

/** `<ID>_RATE_LIMIT_PER_MINUTE`: the operator's ceiling for the connector (e.g. an upstream plan above the definition's). */
export const rateLimitSetting = (connector: Pick<ConnectorDefinition, 'id'>): string =>
  `${settingPrefix(connector.id)}_RATE_LIMIT_PER_MINUTE`;

/** The connector's ceiling of calls per minute per project: the operator's setting, else the definition's. */
export function rateLimitCeilingOf(
  connector: Pick<ConnectorDefinition, 'id' | 'rateLimit' | 'origin'>,
  settings: ConnectorSettings,
): number {
  const set = connector.origin ? undefined : settings[rateLimitSetting(connector)];
  return set ? Number(set) : connector.rateLimit.requestsPerMinute;
}

/** `<ID>_SIGNING_SECRET`: the app-level secret a connector's inbound hook verifies events with (Slack's signing secret). */
export const signingSecretSetting = (connector: Pick<ConnectorDefinition, 'id'>): string =>
  `${settingPrefix(connector.id)}_SIGNING_SECRET`;

export function providerSettings(provider: Pick<OAuthProviderDefinition, 'id'>) {
  const p = settingPrefix(provider.id);
  return {
    clientId: `${p}_CLIENT_ID`,
    clientSecret: `${p}_CLIENT_SECRET`,
    authorizeUrl: `${p}_OAUTH_AUTHORIZE_URL`,
    tokenUrl: `${p}_OAUTH_TOKEN_URL`,
  };
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/**
 * Where a connection's requests go: its own base URL field when the connector has one and the
 * connection sets it, else the operator's `<ID>_API_URL`, else the definition's default.
 */
export function baseUrlOf(
  connector: ConnectorDefinition,
  settings: ConnectorSettings,
  credentials: Record<string, string> = {},
): string {
  const own = connector.connectionBaseUrlField ? credentials[connector.connectionBaseUrlField] : undefined;
  // A custom connector's id is a tenant's choice: the operator's settings never redirect it.
  const operator = connector.origin ? undefined : settings[apiUrlSetting(connector)];
  return trimSlash(own || operator || connector.baseUrl);
}

/**
 * A provider that brings its own client, or whose connections are each their own client (client
 * credentials), is a custom connector's, i.e. a tenant's: no operator setting applies to it.
 */
const tenantsProvider = (provider: OAuthProviderDefinition): boolean =>
  provider.client !== undefined || provider.grant === 'client_credentials';

export function authorizeUrlOf(provider: OAuthProviderDefinition, settings: ConnectorSettings): string {
  if (tenantsProvider(provider)) return provider.authorizeUrl;
  return settings[providerSettings(provider).authorizeUrl] ?? provider.authorizeUrl;
}

/**
 * The token endpoint: the operator's `<ID>_OAUTH_TOKEN_URL`; else, for a provider whose token
 * endpoint is a method of a service's API, that path under the service's (possibly overridden) base URL.
 */
export function tokenUrlOf(provider: OAuthProviderDefinition, settings: ConnectorSettings): string {
  if (tenantsProvider(provider)) return provider.tokenUrl;
  const explicit = settings[providerSettings(provider).tokenUrl];
  if (explicit) return explicit;
  const follows = provider.tokenUrlFollowsApiOf;
  const apiBase = follows && settings[apiUrlSetting({ id: follows.connectorId })];
  return apiBase ? `${trimSlash(apiBase)}${follows.path}` : provider.tokenUrl;
}

/** The provider's client credentials, or undefined when the operator has not configured them. */
export function oauthClientOf(
  provider: OAuthProviderDefinition,
  settings: ConnectorSettings,
): { clientId: string; clientSecret: string } | undefined {
  // Client credentials: each connection is its own client (connectionClientOf), there is no app's.
  if (tenantsProvider(provider)) return provider.client;
  const names = providerSettings(provider);
  const clientId = settings[names.clientId];
  const clientSecret = settings[names.clientSecret];
  return clientId && clientSecret ? { clientId, clientSecret } : undefined;
}

/** One operator setting, for docs, docker-compose and start-up warnings. */
export interface SettingDescription {
  name: string;
  /** The value used when it is unset; absent for settings without one (client credentials). */
  default?: string;
  description: string;
  secret: boolean;
}

/** Every setting the given connectors and their OAuth providers read, in a stable order. */
export function settingsOf(connectors: readonly ConnectorDefinition[]): SettingDescription[] {
  const out: SettingDescription[] = [];
  const providers = new Map<string, OAuthProviderDefinition>();
  for (const c of connectors) {
    out.push({
      name: apiUrlSetting(c),
      default: c.baseUrl,
      description: `${c.displayName} API base URL`,
      secret: false,
    });
    out.push({
      name: rateLimitSetting(c),
      default: String(c.rateLimit.requestsPerMinute),
      description: `${c.displayName} calls per minute per project at most: caps RATE_LIMIT_PER_MINUTE and projects' own rateLimits`,
      secret: false,
    });
    if (c.inbound?.signingSecret)
      out.push({ name: signingSecretSetting(c), description: c.inbound.signingSecret.description, secret: true });
    if (c.auth.type === 'oauth2') providers.set(c.auth.provider.id, c.auth.provider);
  }
  for (const p of providers.values()) {
    const names = providerSettings(p);
    out.push(
      { name: names.clientId, description: `${p.displayName} OAuth client id`, secret: false },
      { name: names.clientSecret, description: `${p.displayName} OAuth client secret`, secret: true },
      {
        name: names.authorizeUrl,
        default: p.authorizeUrl,
        description: `${p.displayName} OAuth authorization page`,
        secret: false,
      },
      {
        name: names.tokenUrl,
        default: p.tokenUrl,
        description: `${p.displayName} OAuth token endpoint${p.tokenUrlFollowsApiOf ? `; when unset, it follows ${apiUrlSetting({ id: p.tokenUrlFollowsApiOf.connectorId })}` : ''}`,
        secret: false,
      },
    );
  }
  for (const s of out) {
    if (!CONNECTOR_SETTING_SUFFIXES.some((suffix) => s.name.endsWith(suffix)))
      throw new Error(`setting ${s.name} has no suffix shared/config.ts reads`);
  }
  return out;
}
