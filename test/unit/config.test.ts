import { describe, expect, it } from 'vitest';
import { assertPublicBaseUrl } from '../../api/connections/connection-base-url.ts';
import { connectors, findConnector } from '../../connectors/registry.ts';
import { authorizeUrlOf, baseUrlOf, tokenUrlOf } from '../../connectors/toolkit/settings.ts';
import { ConfigError, loadConfig } from '../../shared/config.ts';
import { createEgressGuard } from '../../shared/egress/egress-guard.ts';

const valid = {
  DATABASE_URL: 'postgres://u@localhost/db',
  REDIS_URL: 'redis://localhost:6379',
  CONNECTORS_ENCRYPTION_KEYS: 'k1:AAAA',
};

describe('configuration', () => {
  it('applies the documented defaults, upstream URLs from the connector definitions', () => {
    const config = loadConfig(valid);
    expect(config).toMatchObject({ PORT: 8080, RATE_LIMIT_PER_MINUTE: 1000, connectorSettings: {} });
    const base = (id: string) => baseUrlOf(findConnector(id)!, config.connectorSettings);
    expect(base('resend')).toBe('https://api.resend.com');
    expect(base('slack')).toBe('https://slack.com/api');
    expect(base('elevenlabs')).toBe('https://api.elevenlabs.io');
    const slack = findConnector('slack')!.auth;
    if (slack.type !== 'oauth2') throw new Error('slack is an OAuth connector');
    expect(authorizeUrlOf(slack.provider, config.connectorSettings)).toBe('https://slack.com/oauth/v2/authorize');
    expect(tokenUrlOf(slack.provider, config.connectorSettings)).toBe('https://slack.com/api/oauth.v2.access');
  });

  it('reads <ID>_API_URL for every connector, derived from its id; an OAuth token URL follows its API when asked to', () => {
    for (const connector of connectors) {
      const name = `${connector.id.toUpperCase()}_API_URL`;
      const config = loadConfig({ ...valid, [name]: 'http://127.0.0.1:4999/base/' });
      expect(baseUrlOf(connector, config.connectorSettings)).toBe('http://127.0.0.1:4999/base');
    }
    const slack = findConnector('slack')!.auth;
    if (slack.type !== 'oauth2') throw new Error('slack is an OAuth connector');
    const moved = loadConfig({ ...valid, SLACK_API_URL: 'http://127.0.0.1:4011/api' });
    expect(tokenUrlOf(slack.provider, moved.connectorSettings)).toBe('http://127.0.0.1:4011/api/oauth.v2.access');
    const explicit = loadConfig({
      ...valid,
      SLACK_API_URL: 'http://127.0.0.1:4011/api',
      SLACK_OAUTH_TOKEN_URL: 'http://127.0.0.1:5000/token',
    });
    expect(tokenUrlOf(slack.provider, explicit.connectorSettings)).toBe('http://127.0.0.1:5000/token');
  });

  it('reports every bad variable on its own line, by name, without its value', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ DATABASE_URL: 'mysql://secret-password@db', PORT: 'eighty', RESEND_API_URL: 'ftp://x' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const names = error!.problems.map((p) => p.split(':')[0]);
    expect(names).toEqual(
      expect.arrayContaining(['DATABASE_URL', 'REDIS_URL', 'CONNECTORS_ENCRYPTION_KEYS', 'PORT', 'RESEND_API_URL']),
    );
    expect(error!.message).not.toContain('secret-password');
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ ...valid, PORT: '', RESEND_API_URL: '' }).PORT).toBe(8080);
  });

  it('trusts no proxy by default, and only addresses, ranges and the named ranges when asked', () => {
    expect(loadConfig(valid)).toMatchObject({
      TRUST_PROXY: [],
      MAX_CONNECTIONS_PER_CLIENT: 64,
      AUTH_FAILURE_LIMIT: 20,
      HTTP_HEADERS_TIMEOUT_MS: 10_000,
    });
    expect(loadConfig({ ...valid, TRUST_PROXY: '10.0.0.0/8, loopback,2001:db8::1' }).TRUST_PROXY).toEqual([
      '10.0.0.0/8',
      'loopback',
      '2001:db8::1',
    ]);
    // `true` and hop counts would trust whatever X-Forwarded-For a client sends.
    for (const bad of ['true', '1', '10.0.0.0/33', 'proxy.example.com']) {
      expect(() => loadConfig({ ...valid, TRUST_PROXY: bad }), bad).toThrow(ConfigError);
    }
  });
});

describe("a connection's own base URL (connectionBaseUrlField)", () => {
  const selfHosted = { ...findConnector('resend')!, id: 'selfhosted', connectionBaseUrlField: 'baseUrl' };

  it('is used for that connection, before the operator setting and the default', () => {
    const settings = loadConfig({ ...valid, SELFHOSTED_API_URL: 'https://operator.example.com' }).connectorSettings;
    expect(baseUrlOf(selfHosted, settings, { baseUrl: 'https://acme.example.com/api/' })).toBe(
      'https://acme.example.com/api',
    );
    expect(baseUrlOf(selfHosted, settings, {})).toBe('https://operator.example.com');
    expect(baseUrlOf(selfHosted, {}, {})).toBe('https://api.resend.com');
  });

  it('must be an https URL of a public host, unless the operator allows private targets', () => {
    for (const bad of [
      'http://acme.example.com',
      'https://127.0.0.1',
      'https://169.254.169.254/latest',
      'https://localhost:8080',
      'https://[::1]/',
      'ftp://x.example.com',
      'not a url',
    ]) {
      expect(() => assertPublicBaseUrl('baseUrl', bad, createEgressGuard()), bad).toThrow(/baseUrl/);
    }
    expect(() => assertPublicBaseUrl('baseUrl', 'https://acme.example.com/api', createEgressGuard())).not.toThrow();
    expect(() =>
      assertPublicBaseUrl('baseUrl', 'http://127.0.0.1:4000', createEgressGuard({ allow: ['127.0.0.1'] })),
    ).not.toThrow();
    expect(() =>
      assertPublicBaseUrl('baseUrl', 'http://127.0.0.1:4000', createEgressGuard({ allowPrivate: true })),
    ).not.toThrow();
    // An exception for one host lets through that host, in clear text only there.
    expect(() =>
      assertPublicBaseUrl('baseUrl', 'http://10.0.0.8', createEgressGuard({ allow: ['127.0.0.1'] })),
    ).toThrow(/baseUrl/);
    expect(() => assertPublicBaseUrl('baseUrl', 'https://[64:ff9b::a00:8]/', createEgressGuard())).toThrow(/baseUrl/);
  });
});
