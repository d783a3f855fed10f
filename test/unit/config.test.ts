import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../shared/config.ts';

const valid = {
  DATABASE_URL: 'postgres://u@localhost/db',
  REDIS_URL: 'redis://localhost:6379',
  CONNECTORS_ENCRYPTION_KEYS: 'k1:AAAA',
};

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(valid);
    expect(config).toMatchObject({
      PORT: 8080,
      RATE_LIMIT_PER_MINUTE: 1000,
      RESEND_API_URL: 'https://api.resend.com',
      SLACK_API_URL: 'https://slack.com/api',
      SLACK_OAUTH_AUTHORIZE_URL: 'https://slack.com/oauth/v2/authorize',
      ELEVENLABS_API_URL: 'https://api.elevenlabs.io',
    });
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
    expect(names).toEqual(expect.arrayContaining(['DATABASE_URL', 'REDIS_URL', 'CONNECTORS_ENCRYPTION_KEYS', 'PORT', 'RESEND_API_URL']));
    expect(error!.message).not.toContain('secret-password');
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ ...valid, PORT: '', RESEND_API_URL: '' }).PORT).toBe(8080);
  });
});
