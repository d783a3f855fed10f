import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../scripts/lib/local-services.ts';
import { type StartProcess, spawnStart } from '../support/start-process.ts';

const run = promisify(execFile);
const mode = (p: string) => fs.statSync(p).mode & 0o777;
/** Every path under `dir` (not following symlinks). */
const walk = (dir: string): string[] =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? [p, ...walk(p)] : [p];
  });

/**
 * `npm start`'s own Redis and Postgres (START_SERVICES_ONLY, as `npm start` starts them): their data
 * is owner-only and nothing around the checkout is opened up (red-team finding 7), Redis has a memory
 * cap BullMQ can live with (finding 3), and the CLI finds them without exports (finding 11).
 */
describe('npm start: local data and services', () => {
  let parent: string;
  let dataDir: string;
  let start: StartProcess;
  let redis: Redis;

  beforeAll(async () => {
    // A parent only its owner may enter, like a clone under /root.
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-start-'));
    dataDir = path.join(parent, 'data');
    const [redisPort, pgPort] = [await findFreePort(), await findFreePort()];
    start = spawnStart([process.execPath, '--import', 'tsx', 'scripts/start.ts'], {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      START_SERVICES_ONLY: '1',
      START_DATA_DIR: dataDir,
      REDIS_PORT: String(redisPort),
      PG_PORT: String(pgPort),
    });
    await start.waitFor('Redis and Postgres are running', 110_000);
    redis = new Redis(`redis://127.0.0.1:${redisPort}`);
  }, 120_000);

  afterAll(async () => {
    redis?.disconnect();
    if (start && start.child.exitCode === null) {
      start.child.kill('SIGTERM');
      await start.exited;
    }
    const pgData = path.join(dataDir, 'postgres');
    // As root, Postgres's data lives under the postgres user's home; the link names it.
    if (fs.lstatSync(pgData, { throwIfNoEntry: false })?.isSymbolicLink())
      fs.rmSync(fs.realpathSync(pgData), { recursive: true, force: true });
    fs.rmSync(parent, { recursive: true, force: true });
  }, 90_000);

  it('keeps the data owner-only and opens up no directory around it', () => {
    expect(mode(parent)).toBe(0o700);
    expect(mode(dataDir)).toBe(0o700);
    expect(mode(path.join(dataDir, 'redis'))).toBe(0o700);
    const redisFiles = walk(path.join(dataDir, 'redis'));
    expect(redisFiles.some((f) => f.includes('appendonly'))).toBe(true);
    for (const f of [...redisFiles, path.join(dataDir, 'redis.log'), path.join(dataDir, 'services.json')])
      expect(mode(f) & 0o077, f).toBe(0);
    expect(mode(fs.realpathSync(path.join(dataDir, 'postgres')))).toBe(0o700);
    expect(start.output()).not.toContain('chmod');
  });

  it("caps Redis's memory without ever evicting a job", async () => {
    expect(await redis.config('GET', 'maxmemory')).toEqual(['maxmemory', String(512 * 1024 * 1024)]);
    expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
  });

  it('lets the CLI create a workspace with nothing exported', async () => {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'scripts/cli.ts', 'workspace:create', 'Next door'],
      {
        env: { PATH: process.env.PATH ?? '', START_DATA_DIR: dataDir },
        timeout: 60_000,
      },
    );
    expect(stdout.trim().split('\n').at(-1)).toMatch(/^ck_ws_/);
    expect(stderr).toContain('DATABASE_URL');
  }, 70_000);

  it('writes the RDB owner-only on shutdown, and forgets the URLs', async () => {
    redis.disconnect();
    start.child.kill('SIGTERM');
    await start.exited;
    const rdb = path.join(dataDir, 'redis', 'dump.rdb');
    expect(fs.existsSync(rdb)).toBe(true);
    expect(mode(rdb) & 0o077).toBe(0);
    expect(fs.existsSync(path.join(dataDir, 'services.json'))).toBe(false);
  }, 90_000);
});
