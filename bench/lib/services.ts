/**
 * Redis and Postgres for one bench run: local child processes with their data in a temp dir
 * (scripts/lib/local-services.ts), a fresh database, migrations applied.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ensureInstalled, type LocalService, startPostgres, startRedis } from '../../scripts/lib/local-services.ts';
import { migrateToLatest } from '../../shared/db/migrate.ts';

export interface BenchServices {
  tmpDir: string;
  redis: LocalService;
  postgres: LocalService;
  redisUrl: string;
  databaseUrl: string;
  stop(): Promise<void>;
}

export async function startServices(opts: { pgFast: boolean; redisPersistence: boolean }): Promise<BenchServices> {
  await ensureInstalled();
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'connector-bench-'));
  fs.chmodSync(tmpDir, 0o711); // the postgres OS user must traverse it when we run as root
  const [redisR, pgR] = await Promise.allSettled([
    startRedis({ dataDir: path.join(tmpDir, 'redis'), persistence: opts.redisPersistence }),
    startPostgres({
      dataDir: path.join(tmpDir, 'postgres'),
      fast: opts.pgFast,
      // api (20) + up to 4 workers (24 each) + the bench's own pools. pg_stat_statements and WAL
      // timing feed the diagnostics (statements per call, their server time, WAL flushes).
      settings: {
        max_connections: 200,
        shared_preload_libraries: 'pg_stat_statements',
        'pg_stat_statements.track_planning': 'on',
        track_wal_io_timing: 'on',
      },
    }),
  ]);
  const stopBoth = async () => {
    for (const r of [redisR, pgR]) if (r.status === 'fulfilled') await r.value.stop().catch(() => {});
    fs.rmSync(tmpDir, { recursive: true, force: true });
  };
  if (redisR.status === 'rejected' || pgR.status === 'rejected') {
    await stopBoth();
    throw redisR.status === 'rejected' ? redisR.reason : (pgR as PromiseRejectedResult).reason;
  }
  const redis = redisR.value;
  const postgres = pgR.value;
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  await admin.query('CREATE DATABASE bench');
  await admin.end();
  const u = new URL(postgres.url);
  u.pathname = '/bench';
  const databaseUrl = u.toString();
  await migrateToLatest(databaseUrl);
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await db.end();
  return { tmpDir, redis, postgres, redisUrl: redis.url, databaseUrl, stop: stopBoth };
}
