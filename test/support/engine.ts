import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { Writable } from 'node:stream';
import { type RunningApi, startApi } from '../../api/server.ts';
import { nodeCommand } from '../../scripts/build.mjs';
import { findFreePort } from '../../scripts/lib/local-services.ts';
import { loadConfig } from '../../shared/config.ts';
import { parseKeyring } from '../../shared/crypto/keyring.ts';
import { Vault } from '../../shared/crypto/vault.ts';
import { createLogger } from '../../shared/logger.ts';
import { type RunningWorker, startWorker } from '../../worker/worker-runner.ts';
import { createTestDatabase, type TestDatabase, testRedisUrl } from './services.ts';

/**
 * The engine under test, on a fresh database and this file's own Redis db: either as real OS
 * processes (the compiled dist/ entries with the node flags of `npm run api` / `npm run worker`, as
 * production runs them; global-setup.ts builds dist/ once per test run) or in this process (faster,
 * same code). Every log line is captured so tests can search them for secrets.
 */
export interface EngineOptions {
  mode?: 'processes' | 'in-process';
  workers?: number;
  env?: Record<string, string>;
}

export interface Engine {
  baseUrl: string;
  workspaceKey: string;
  env: Record<string, string>;
  database: TestDatabase;
  redisUrl: string;
  /** Everything the api and workers logged so far. */
  logs(): string;
  /** In process mode, the OS processes (for crash tests); empty in-process. */
  processes: { api?: ChildProcess; workers: ChildProcess[] };
  stop(): Promise<void>;
}

export async function startEngine(options: EngineOptions = {}): Promise<Engine> {
  const database = await createTestDatabase();
  const redisUrl = await testRedisUrl();
  const port = await findFreePort();
  const workspaceKey = `ck_ws_${randomBytes(32).toString('base64url')}`;
  const env: Record<string, string> = {
    PORT: String(port),
    DATABASE_URL: database.url,
    REDIS_URL: redisUrl,
    CONNECTORS_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    BOOTSTRAP_WORKSPACE_KEY: workspaceKey,
    LOG_LEVEL: 'debug',
    WORKER_CONCURRENCY: '8',
    // Several workers on one machine: each picks a free metrics port.
    WORKER_METRICS_PORT: '0',
    // Test webhook receivers and fakes listen on loopback: the egress guard's operator exceptions.
    EGRESS_ALLOW_HOSTS: '127.0.0.1,localhost,::1',
    // Every test client is 127.0.0.1: the per-address limits would count the whole suite as one
    // client (tenancy and fuzz tests send wrong keys by the hundred, floods open 100 connections).
    // test/e2e/hold-under-abuse.test.ts sets them low to test them.
    MAX_CONNECTIONS_PER_CLIENT: '100000',
    AUTH_FAILURE_LIMIT: '100000',
    ...options.env,
  };
  const captured: string[] = [];
  const baseUrl = `http://127.0.0.1:${port}`;
  const processes: Engine['processes'] = { workers: [] };
  const stopAll =
    options.mode === 'processes'
      ? await startProcesses(env, options.workers ?? 1, captured, processes)
      : await startInProcess(env, options.workers ?? 1, captured);
  try {
    await waitForReady(baseUrl, captured);
  } catch (err) {
    // Never leave processes behind a failed start.
    await stopAll();
    await database.drop();
    throw err;
  }
  return {
    baseUrl,
    workspaceKey,
    env,
    database,
    redisUrl,
    logs: () => captured.join(''),
    processes,
    async stop() {
      await stopAll();
      await database.drop();
    },
  };
}

async function startInProcess(
  env: Record<string, string>,
  workers: number,
  captured: string[],
): Promise<() => Promise<void>> {
  const config = loadConfig({ ...env });
  const vault = new Vault(parseKeyring(config.CONNECTORS_ENCRYPTION_KEYS));
  const sink = new Writable({
    write(chunk, _enc, done) {
      captured.push(String(chunk));
      done();
    },
  });
  const running: Array<RunningApi | RunningWorker> = [];
  for (let i = 0; i < workers; i++)
    running.push(await startWorker(config, vault, createLogger('worker', config.LOG_LEVEL, sink)));
  running.push(await startApi(config, vault, createLogger('api', config.LOG_LEVEL, sink)));
  return async () => {
    for (const r of running.reverse()) await r.stop();
  };
}

async function startProcesses(
  env: Record<string, string>,
  workers: number,
  captured: string[],
  processes: Engine['processes'],
): Promise<() => Promise<void>> {
  const children: ChildProcess[] = [];
  // Each entry runs as one OS process (plain node, no wrapper), so a signal reaches the service itself.
  const spawnEntry = (entry: string) => {
    const { nodeArgs, file } = nodeCommand(entry);
    if (!fs.existsSync(file))
      throw new Error(`${file} is missing: test/support/global-setup.ts builds it (or run \`npm run build\`)`);
    const child = spawn(process.execPath, [...nodeArgs, file], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d) => captured.push(String(d)));
    child.stderr!.on('data', (d) => captured.push(String(d)));
    children.push(child);
    return child;
  };
  for (let i = 0; i < workers; i++) processes.workers.push(spawnEntry('worker/main.ts'));
  processes.api = spawnEntry('api/main.ts');
  const kill = () => {
    for (const c of children) c.kill('SIGKILL');
  };
  process.once('exit', kill);
  return async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
            c.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
    process.removeListener('exit', kill);
  };
}

async function waitForReady(baseUrl: string, captured: string[], timeoutMs = 75_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${baseUrl}/readyz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`engine did not become ready; logs:\n${captured.join('').slice(-4000)}`);
}

/** Waits until every worker process has said it is ready (process mode starts them in parallel). */
export async function waitForLog(engine: Engine, pattern: RegExp, count = 1, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((engine.logs().match(new RegExp(pattern.source, 'g')) ?? []).length >= count) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`log pattern ${pattern} not seen ${count}x`);
}
