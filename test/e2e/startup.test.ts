import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../shared/db/database.ts';
import { createTestDatabase, type TestDatabase, testRedisUrl } from '../support/services.ts';

const run = promisify(execFile);
/** Each entry runs as one OS process (no tsx wrapper), so a signal reaches the service itself. */
const tsxLoader = ['--import', 'tsx'];

async function startProcess(entry: string, env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, [...tsxLoader, entry], {
      env: { PATH: process.env.PATH ?? '', ...env },
      timeout: 20_000,
    });
    return { code: 0, stderr: '' };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

describe('start-up checks', () => {
  let database: TestDatabase;
  let redisUrl: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    redisUrl = await testRedisUrl();
  });
  afterAll(async () => database?.drop());

  it.each(['api/main.ts', 'worker/main.ts'])(
    '%s stops on bad configuration with one line per variable, echoing no value',
    async (entry) => {
      const { code, stderr } = await startProcess(entry, { DATABASE_URL: 'mysql://user:hunter2@db', PORT: 'abc' });
      expect(code).toBe(78);
      const lines = stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('config error:'));
      expect(lines.map((l) => l.split(':')[1]!.trim()).sort()).toEqual([
        'CONNECTORS_ENCRYPTION_KEYS',
        'DATABASE_URL',
        'PORT',
        'REDIS_URL',
      ]);
      expect(stderr).not.toContain('hunter2');
      expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    },
  );

  it('refuses to start when stored credentials use a key id missing from the keyring', async () => {
    const db = createDb(database.url, { max: 1 });
    await db.insertInto('workspaces').values({ id: 'ws_01jaaaaaaaaaaaaaaaaaaaaaaa', name: 'w' }).execute();
    await db
      .insertInto('connections')
      .values({
        id: 'conn_01jaaaaaaaaaaaaaaaaaaaaaaa',
        workspace_id: 'ws_01jaaaaaaaaaaaaaaaaaaaaaaa',
        connector_id: 'resend',
        display_name: 'old',
        status: 'active',
        credentials_key_id: 'retired',
        credentials_iv: randomBytes(12),
        credentials_tag: randomBytes(16),
        credentials_ciphertext: randomBytes(20),
        credentials_hint: '{}',
      })
      .execute();
    await db.destroy();
    const { code, stderr } = await startProcess('worker/main.ts', {
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
      CONNECTORS_ENCRYPTION_KEYS: `current:${randomBytes(32).toString('base64')}`,
    });
    expect(code).toBe(78);
    expect(stderr).toMatch(/CONNECTORS_ENCRYPTION_KEYS: .*retired/);
  });
});
