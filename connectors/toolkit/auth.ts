import type { AuthField, AuthScheme } from './connector-definition.ts';
import type { OAuthProviderDefinition } from './oauth-provider.ts';

/**
 * Builders for the three auth schemes a connector can declare. Each returns the catalog's fields and
 * the request headers; the engine injects them server-side, and no handler ever sees a secret.
 */

/**
 * A key sent in a header: `Authorization: Bearer <key>` by default, or a header of its own
 * (`xi-api-key`). `extraFields` are further credentials the connection keeps but never sends (a
 * webhook signing secret its inbound hook checks events with).
 */
export function apiKeyAuth(
  options: { field?: AuthField; header?: string; scheme?: string; extraFields?: AuthField[] } = {},
): AuthScheme {
  const field = options.field ?? { key: 'apiKey', label: 'API key', secret: true, required: true };
  const header = options.header ?? 'authorization';
  const scheme = options.scheme ?? (header === 'authorization' ? 'Bearer' : undefined);
  return {
    type: 'api_key',
    fields: [field, ...(options.extraFields ?? [])],
    headers: (c) => ({ [header]: scheme ? `${scheme} ${c[field.key] ?? ''}` : (c[field.key] ?? '') }),
  };
}

/** HTTP Basic from two fields, e.g. an account id (not secret) and its token (secret). */
export function basicAuth(options: { username: AuthField; password: AuthField }): AuthScheme {
  return {
    type: 'basic',
    fields: [options.username, options.password],
    headers: (c) => ({
      authorization: basicAuthorization(c[options.username.key] ?? '', c[options.password.key] ?? ''),
    }),
  };
}

/**
 * Tokens from an OAuth provider, sent as `Authorization: Bearer <token>`. `tokenField` is also what a
 * caller may give directly (a Slack bot token) instead of going through the authorization flow;
 * `extraFields` are further credentials a caller may give with it (a refresh token).
 */
export function oauth2Auth(options: {
  provider: OAuthProviderDefinition;
  tokenField: AuthField;
  extraFields?: AuthField[];
}): AuthScheme {
  const key = options.tokenField.key;
  return {
    type: 'oauth2',
    provider: options.provider,
    fields: [options.tokenField, ...(options.extraFields ?? [])],
    headers: (c) => ({ authorization: `Bearer ${c[key] ?? ''}` }),
  };
}

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** The non-secret fields of a connection's credentials: what actions and request templates may read. */
export function publicFields(scheme: AuthScheme, credentials: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of scheme.fields) if (!f.secret && credentials[f.key] !== undefined) out[f.key] = credentials[f.key]!;
  return out;
}

/**
 * Every stored credential value except the non-secret fields: what an upstream client must never
 * pass on, should a service quote it in an error. Stored credentials hold more than the declared
 * fields (a refresh token, an expiry), so this is "all but the public ones", not "the secret ones".
 */
export function secretValues(scheme: AuthScheme, credentials: Record<string, string>): string[] {
  return Object.entries(credentials)
    .filter(([key]) => !scheme.fields.some((f) => f.key === key && !f.secret))
    .map(([, value]) => value);
}

/**
 * Fills `{field}` placeholders of a path from non-secret fields (URL-encoded). A placeholder naming
 * a secret or missing field is an error in the definition, not something to send half-filled.
 */
export function expandPath(path: string, fields: Readonly<Record<string, string>>): string {
  return path.replace(/\{([A-Za-z0-9_]+)\}/g, (_, key: string) => {
    const value = fields[key];
    if (value === undefined)
      throw new Error(`path ${path} names {${key}}, which is not a non-secret field of this connection`);
    return encodeURIComponent(value);
  });
}
