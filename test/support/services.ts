/**
 * Real Redis and Postgres for the test suite (docs/design.md, "Testing"). No mocks.
 *
 * Where they come from, decided once per `vitest run` by test/support/global-setup.ts:
 *   1. `REDIS_URL` / `DATABASE_URL` when set (each independently). They must point at disposable
 *      servers: tests FLUSHDB Redis logical dbs 1..15, and the Postgres role needs CREATEDB.
 *   2. else testcontainers (redis:7-alpine, postgres:15-alpine) when a container runtime answers;
 *   3. else local redis-server / postgres binaries on random ports, data in a temp dir, fsync off
 *      (scripts/lib/local-services.ts).
 *   `TEST_SERVICES=local` or `TEST_SERVICES=testcontainers` skips the detection in 2./3.
 *
 * In test files:
 *   const db = await createTestDatabase();   // fresh database cloned from `ce_template` (migrated)
 *   const redisUrl = await testRedisUrl();   // this file's own Redis logical db, flushed
 *   ...
 *   await db.drop();
 *
 * Redis isolation: each test file gets its own logical database number (1..15), chosen from vitest's
 * VITEST_POOL_ID, which is unique among the workers running at the same moment; the db is flushed on
 * the file's first testRedisUrl() call, so leftovers of an earlier file on the same worker slot never
 * leak in. Product code therefore needs no key prefix: pass the URL (with its /<db>) to ioredis/BullMQ.
 * Caveat: Redis pub/sub channels are server-wide, not per db; use unique channel names (as the api's
 * per-instance reply channel does). More than 15 parallel workers would share dbs.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
// Only types at the top: this module is also loaded by global-setup.ts in vitest's main process,
// where importing 'vitest' itself throws. Test-file helpers import it lazily.
import type {} from 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Redis server URL (db 0; tests use testRedisUrl() instead). */
    ceRedisUrl: string;
    /** A URL on the test Postgres server with CREATEDB rights (maintenance connection). */
    cePostgresAdminUrl: string;
    /** Where the services came from, for messages. */
    ceServicesSource: string;
  }
}

/** Migrated template every test database is cloned from. */
export const TEMPLATE_DATABASE = 'ce_template';

export type ServiceSource = 'env' | 'testcontainers' | 'local';

export interface TestServices {
  redisUrl: string;
  postgresAdminUrl: string;
  redisSource: ServiceSource;
  postgresSource: ServiceSource;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// URL helpers

/** The same server as `url`, database `name`. */
export function databaseUrl(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(name)}`;
  return u.toString();
}

/** The same Redis server as `url`, logical database `db`. */
export function redisDbUrl(url: string, db: number): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// For test files

export interface TestDatabase {
  name: string;
  url: string;
  /** DROP DATABASE … WITH (FORCE): closes whatever connections are still open. */
  drop(): Promise<void>;
}

/** A new database `test_<random>` cloned from the migrated template (~0.1 s); `template0` gives an empty one. */
export async function createTestDatabase(template = TEMPLATE_DATABASE): Promise<TestDatabase> {
  const { inject } = await import('vitest');
  const adminUrl = inject('cePostgresAdminUrl');
  const name = `test_${randomBytes(6).toString('hex')}`;
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)}`));
  let dropped: Promise<void> | undefined;
  return {
    name,
    url: databaseUrl(adminUrl, name),
    drop: () =>
      (dropped ??= withClient(adminUrl, async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      })),
  };
}

/** This worker's Redis logical database number, 1..15 (see the header comment). */
export function testRedisDb(): number {
  const poolId = Number(process.env.VITEST_POOL_ID ?? '1') || 1;
  return ((poolId - 1) % 15) + 1;
}

const flushedFor = new Map<string, Promise<string>>();

/**
 * redis://host:port/<db> for this test file: a logical db no concurrently running test file uses,
 * flushed on the first call in each file. Give it to ioredis / BullMQ as is.
 */
export async function testRedisUrl(): Promise<string> {
  const { expect, inject } = await import('vitest');
  const file = expect.getState().testPath ?? '';
  let pending = flushedFor.get(file);
  if (!pending) {
    const url = redisDbUrl(inject('ceRedisUrl'), testRedisDb());
    pending = (async () => {
      const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await client.connect();
        await client.flushdb();
      } finally {
        client.disconnect();
      }
      return url;
    })();
    pending.catch(() => flushedFor.delete(file));
    flushedFor.set(file, pending);
  }
  return pending;
}

// ---------------------------------------------------------------------------------------------
// For global-setup.ts (runs once per `vitest run`, in the main process)

async function containerRuntimeAvailable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false; // no Docker/Podman: fails in milliseconds
  }
}

interface Started {
  url: string;
  stop(): Promise<void>;
}

async function startRedisContainer(): Promise<Started> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('redis:7-alpine')
    .withCommand(['redis-server', '--save', '', '--appendonly', 'no'])
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
    .start();
  return {
    url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
    stop: async () => {
      await container.stop();
    },
  };
}

async function startPostgresContainer(): Promise<Started> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('postgres:15-alpine')
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
    .withCommand([
      'postgres',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=200',
    ])
    .withTmpFs({ '/var/lib/postgresql/data': 'rw' })
    .withExposedPorts(5432)
    // The image's entrypoint starts a temporary server for initialisation first, then the real one.
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start();
  return {
    url: `postgres://postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`,
    stop: async () => {
      await container.stop();
    },
  };
}

/** Removes temp dirs of earlier runs whose owner process is gone (e.g. a killed vitest). */
function removeStaleTempDirs(): void {
  for (const entry of fs.readdirSync(os.tmpdir())) {
    if (!entry.startsWith('ce-test-')) continue;
    const dir = path.join(os.tmpdir(), entry);
    try {
      const pid = Number(fs.readFileSync(path.join(dir, 'owner.pid'), 'utf8'));
      try {
        process.kill(pid, 0);
      } catch {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    } catch {
      // not ours or unreadable
    }
  }
}

async function startLocal(which: {
  redis: boolean;
  postgres: boolean;
}): Promise<{ redis?: Started; postgres?: Started }> {
  const local = await import('../../scripts/lib/local-services.ts');
  await local.ensureInstalled({ ...which, install: false });
  removeStaleTempDirs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-test-'));
  // Throwaway test data: as root, the postgres OS user reaches its data dir in here directly (else
  // local-services would keep it under that user's home, which this run's cleanup does not remove).
  fs.chmodSync(dir, 0o711);
  fs.writeFileSync(path.join(dir, 'owner.pid'), String(process.pid));
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    const [redis, postgres] = await Promise.all([
      which.redis ? local.startRedis({ dataDir: path.join(dir, 'redis'), persistence: false }) : undefined,
      which.postgres
        ? local.startPostgres({ dataDir: path.join(dir, 'postgres'), fast: true, settings: { max_connections: 200 } })
        : undefined,
    ]);
    let remaining = (redis ? 1 : 0) + (postgres ? 1 : 0);
    const stopped = () => {
      if (--remaining === 0) cleanup();
    };
    return {
      redis: redis && { url: redis.url, stop: () => redis.stop().finally(stopped) },
      postgres: postgres && { url: postgres.url, stop: () => postgres.stop().finally(stopped) },
    };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** Starts (or finds) Redis and Postgres for one test run. */
export async function startTestServices(env: NodeJS.ProcessEnv = process.env): Promise<TestServices> {
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    const results = await Promise.allSettled(stops.splice(0).map((stop) => stop()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };
  try {
    let redisUrl = env.REDIS_URL || undefined;
    let postgresAdminUrl = env.DATABASE_URL || undefined;
    let runtime: boolean | undefined;
    const fallback = async (): Promise<ServiceSource> => {
      if (env.TEST_SERVICES === 'local' || env.TEST_SERVICES === 'testcontainers') return env.TEST_SERVICES;
      runtime ??= await containerRuntimeAvailable();
      return runtime ? 'testcontainers' : 'local';
    };
    const redisSource: ServiceSource = redisUrl ? 'env' : await fallback();
    const postgresSource: ServiceSource = postgresAdminUrl ? 'env' : await fallback();

    if (redisSource === 'testcontainers' || postgresSource === 'testcontainers') {
      const [r, p] = await Promise.all([
        redisSource === 'testcontainers' ? startRedisContainer() : undefined,
        postgresSource === 'testcontainers' ? startPostgresContainer() : undefined,
      ]);
      for (const s of [r, p]) if (s) stops.push(s.stop);
      redisUrl ??= r?.url;
      postgresAdminUrl ??= p?.url;
    }
    if (redisSource === 'local' || postgresSource === 'local') {
      const { redis, postgres } = await startLocal({
        redis: redisSource === 'local',
        postgres: postgresSource === 'local',
      });
      for (const s of [redis, postgres]) if (s) stops.push(s.stop);
      redisUrl ??= redis?.url;
      postgresAdminUrl ??= postgres?.url;
    }
    if (!redisUrl || !postgresAdminUrl) throw new Error('test services: no Redis or Postgres URL');
    return { redisUrl, postgresAdminUrl, redisSource, postgresSource, stop: stopAll };
  } catch (err) {
    await stopAll().catch(() => {});
    throw err;
  }
}

/**
 * (Re)creates TEMPLATE_DATABASE on the server of `adminUrl` with `migrate` applied, then marks it
 * as a template that accepts no connections, so CREATE DATABASE … TEMPLATE never finds it busy.
 */
export async function prepareTemplateDatabase(
  adminUrl: string,
  migrate: (databaseUrl: string) => Promise<unknown>,
): Promise<void> {
  const t = quoteIdent(TEMPLATE_DATABASE);
  const terminate = (c: pg.Client) =>
    c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [
      TEMPLATE_DATABASE,
    ]);
  await withClient(adminUrl, async (c) => {
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [TEMPLATE_DATABASE]);
    if (rowCount) {
      await c.query(`ALTER DATABASE ${t} WITH IS_TEMPLATE false`);
      await c.query(`DROP DATABASE ${t} WITH (FORCE)`);
    }
    await c.query(`CREATE DATABASE ${t}`);
  });
  await migrate(databaseUrl(adminUrl, TEMPLATE_DATABASE));
  await withClient(adminUrl, async (c) => {
    await c.query(`ALTER DATABASE ${t} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
    await terminate(c); // a pool the migration left open would block every CREATE DATABASE
  });
}
