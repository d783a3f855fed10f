import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, TEMPLATE_DATABASE, type TestDatabase, testRedisDb, testRedisUrl } from './services.ts';

describe('test services', () => {
  let db: TestDatabase;
  let redis: Redis;

  beforeAll(async () => {
    db = await createTestDatabase();
    redis = new Redis(await testRedisUrl());
  });

  afterAll(async () => {
    redis?.disconnect();
    await db?.drop();
  });

  it('gives a fresh database cloned from the template', async () => {
    expect(db.name).toMatch(/^test_[0-9a-f]{12}$/);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string; one: number }>('SELECT current_database() AS db, 1 AS one');
      expect(rows[0]).toEqual({ db: db.name, one: 1 });
      await client.query('CREATE TABLE scratch (id int)'); // private to this database
    } finally {
      await client.end();
    }
  });

  it('drops the database (idempotently)', async () => {
    const other = await createTestDatabase();
    await other.drop();
    await other.drop();
    const admin = new pg.Client({ connectionString: inject('cePostgresAdminUrl') });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ datname: string; datistemplate: boolean }>(
        'SELECT datname, datistemplate FROM pg_database WHERE datname = ANY($1)',
        [[other.name, TEMPLATE_DATABASE]],
      );
      expect(rows).toEqual([{ datname: TEMPLATE_DATABASE, datistemplate: true }]);
    } finally {
      await admin.end();
    }
  });

  it('gives this file its own, flushed Redis db', async () => {
    const url = await testRedisUrl();
    expect(await testRedisUrl()).toBe(url); // same for the whole file
    expect(new URL(url).pathname).toBe(`/${testRedisDb()}`);
    expect(testRedisDb()).toBeGreaterThanOrEqual(1);
    expect(testRedisDb()).toBeLessThanOrEqual(15);
    expect(await redis.ping()).toBe('PONG');
    expect(await redis.dbsize()).toBe(0);
    await redis.set('k', 'v');
    expect(await redis.get('k')).toBe('v');
  });
});
