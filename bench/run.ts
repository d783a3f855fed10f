/**
 * `npm run bench`: the engine's throughput, latency, fairness, limiter accuracy and memory, next to
 * baselines measured in the same run (a direct call of the same upstream fake with got; a raw
 * BullMQ no-op round trip and no-op throughput; the essential work of an async call done by hand
 * without the engine). Prints one table; see docs/benchmarks.md.
 *
 * Everything is local: redis-server and Postgres as child processes in a temp dir, the api and
 * N workers as separate OS processes (compiled to dist/ and started as `npm run api|worker` runs them), the
 * Resend fake with a fixed latency in its own process. All traffic is 127.0.0.1; every child is killed at the end,
 * also on error (and by the local-services guardian if this process is killed).
 *
 * env:
 *   BENCH_QUICK=1                 smaller counts, skips the limiter section (> 1 min): about 2 min
 *   BENCH_WORKERS=2               worker processes for sections 1-5
 *   BENCH_WORKER_CONCURRENCY=16   WORKER_CONCURRENCY of every engine worker (and of the no-op baseline)
 *   BENCH_PG_FAST=1               Postgres with fsync/synchronous_commit off (default: durable commits)
 *   BENCH_LOG_LEVEL=warn          LOG_LEVEL of the api and workers
 *   BENCH_SECTIONS=sync,tput,fair,limit,scale,memory,inbound   run only these sections (default: all)
 *   BENCH_OUT=path                also write the report (table + diagnostics) to this file
 *   BENCH_PROFILE=1               run the api and workers with --cpu-prof and summarize where their CPU
 *                                 goes (profiling slows them: use for the analysis, not for the numbers)
 *   BENCH_RUNTIME=tsx             run the api and workers through `node --import tsx` instead of dist/
 *   BENCH_NODE_FLAGS="<flags>"    node flags of the api and workers instead of the npm scripts' flags
 *   BENCH_TSX_CLI=1               start processes through tsx's cli wrapper instead of `node --import tsx`
 */

import { execSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, QueueEvents } from 'bullmq';
import type { Got } from 'got';
import pg from 'pg';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { findFreePort } from '../scripts/lib/local-services.ts';
import { createDb, type Db } from '../shared/db/database.ts';
import { newId } from '../shared/ids.ts';
import { queuePriority, SlidingWindowLimiter } from '../shared/limiter/sliding-window-limiter.ts';
import { EXECUTE_QUEUE, executeJobOptions } from '../shared/queue/execute-job.ts';
import { createRedis } from '../shared/queue/redis.ts';
import { closeIdleConnections, httpJson, runPool } from './lib/http.ts';
import {
  cpuMs,
  killAllNow,
  measureForeignLoad,
  type NodeProc,
  processTree,
  RssSampler,
  repoRoot,
  rssKb,
  spawnTsx,
  syscalls,
} from './lib/procs.ts';
import { formatProfile, summarizeProfiles } from './lib/profile.ts';
import { email, resendClient, sendEmail } from './lib/resend-call.ts';
import { type BenchServices, startServices } from './lib/services.ts';
import { fmt, maxInWindow, median, percentile, type Summary, summarize } from './lib/stats.ts';
import { type Row, renderTable } from './lib/table.ts';

// ---------------------------------------------------------------------------------------------
// Settings

const QUICK = process.env.BENCH_QUICK === '1';
const WORKERS = Number(process.env.BENCH_WORKERS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 16);
const PG_FAST = process.env.BENCH_PG_FAST === '1';
const PROFILE = process.env.BENCH_PROFILE === '1';
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'warn';
const UPSTREAM_LATENCY_MS = 20;
const CLIENT_CONCURRENCY = 64; // in-flight requests of the load generator for async floods
const SECTIONS = new Set(
  (process.env.BENCH_SECTIONS ?? 'sync,tput,fair,limit,scale,memory,inbound').split(',').map((s) => s.trim()),
);
if (QUICK) SECTIONS.delete('limit');
const HARD_LIMIT_MS = (QUICK ? 8 : 25) * 60_000; // a stuck run kills itself

const N = QUICK
  ? {
      syncC1: 150,
      syncC64: 1_200,
      directC1: 150,
      directC64: 1_200,
      bullC1: 300,
      bullC64: 2_000,
      tput: 2_000,
      bullTput: 8_000,
      fairB: 150,
      flood: 5_000,
      scaleTput: 1_500,
      scaleBull: 5_000,
    }
  : {
      syncC1: 400,
      syncC64: 3_000,
      directC1: 400,
      directC64: 3_000,
      bullC1: 1_000,
      bullC64: 5_000,
      tput: 5_000,
      bullTput: 20_000,
      fairB: 400,
      flood: 20_000,
      scaleTput: 3_000,
      scaleBull: 12_000,
    };

const LIMIT_PER_MIN = 600;
const HIGH_LIMIT = 1_000_000; // "no limit" for the latency and throughput projects
const FLOOD_LIMIT = 100_000;

const now = () => performance.timeOrigin + performance.now(); // epoch ms, sub-ms resolution
const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// ---------------------------------------------------------------------------------------------
// State shared by the sections

interface Project {
  name: string;
  id: string;
  key: string;
  resendKey: string;
}

let services: BenchServices | undefined;
let upstream: NodeProc | undefined;
let api: NodeProc | undefined;
let workers: NodeProc[] = [];
let noopWorkers: NodeProc[] = [];
let essentialWorkers: NodeProc[] = [];
let engineEnv: NodeJS.ProcessEnv = {};
/** --cpu-prof is refused in NODE_OPTIONS, so profiled processes get it on their command line. */
const engineNodeArgs = () => (PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir()}`] : []);
let baseUrl = '';
let fakeUrl = '';
let controlUrl = '';
let workspaceKey = '';
let benchDb: Db | undefined;
let pool: pg.Pool | undefined;
let executeQueue: Queue | undefined;
let noopQueue: Queue | undefined;
let noopEvents: QueueEvents | undefined;
let essentialQueue: Queue | undefined;
/** The essential-work baseline's producer connections: as many as the api has (api/server.ts). */
let essentialPool: pg.Pool | undefined;
const redisClients: ReturnType<typeof createRedis>[] = [];
/** A Redis connection of the bench's own (BullMQ does not close connections it was given). */
function benchRedis(): ReturnType<typeof createRedis> {
  const r = createRedis(services!.redisUrl, 'worker');
  r.on('error', () => {});
  redisClients.push(r);
  return r;
}
const wholeRunRss = new RssSampler(() => [
  { name: 'api', pid: api?.realPid() },
  ...workers.map((w) => ({ name: 'worker', pid: w.realPid() })),
]);

const rows: Row[] = [];
const diagnostics: string[] = [];
const notes: string[] = [];
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

// ---------------------------------------------------------------------------------------------
// Processes

function baseEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production' };
}

async function startEngineWorkers(count: number): Promise<void> {
  const before = await executeQueue!.getWorkersCount();
  for (let i = 0; i < count; i++)
    workers.push(spawnTsx(`worker${workers.length + 1}`, 'worker/main.ts', engineEnv, engineNodeArgs()));
  const deadline = Date.now() + 60_000;
  while ((await executeQueue!.getWorkersCount()) < before + count) {
    for (const w of workers) if (!w.isRunning()) throw new Error(`${w.name} exited during start-up:\n${w.tail()}`);
    if (Date.now() > deadline)
      throw new Error(`workers not ready within 60 s:\n${workers.map((w) => w.tail()).join('\n')}`);
    await sleep(100);
  }
}

async function stopEngineWorkers(): Promise<void> {
  rememberRoles();
  await Promise.all(workers.map((w) => w.stop()));
  workers = [];
  const deadline = Date.now() + 15_000;
  while ((await executeQueue!.getWorkersCount()) > 0 && Date.now() < deadline) await sleep(100);
}

async function setNoopWorkers(count: number): Promise<void> {
  if (noopWorkers.length === count) return;
  await Promise.all(noopWorkers.map((w) => w.stop()));
  noopWorkers = [];
  const env = {
    ...baseEnv(),
    REDIS_URL: services!.redisUrl,
    BENCH_QUEUE: 'bench-noop',
    WORKER_CONCURRENCY: String(CONCURRENCY),
  };
  for (let i = 0; i < count; i++) noopWorkers.push(spawnTsx(`noop${i + 1}`, 'bench/noop-worker.ts', env));
  await Promise.all(noopWorkers.map((w) => w.waitForLine(/^READY$/, 60_000)));
}

/** Started for their measurement only, so they neither idle on Redis nor hold memory during the others. */
async function setEssentialWorkers(count: number): Promise<void> {
  await Promise.all(essentialWorkers.map((w) => w.stop()));
  essentialWorkers = [];
  const env = {
    ...baseEnv(),
    REDIS_URL: services!.redisUrl,
    DATABASE_URL: services!.databaseUrl,
    BENCH_QUEUE: ESSENTIAL_QUEUE,
    WORKER_CONCURRENCY: String(CONCURRENCY),
    BENCH_UPSTREAM_URL: fakeUrl,
    BENCH_RESEND_KEY: resendKeyFor(ESSENTIAL_KEY_NAME),
  };
  for (let i = 0; i < count; i++)
    essentialWorkers.push(spawnTsx(`essential${i + 1}`, 'bench/essential-worker.ts', env));
  await Promise.all(essentialWorkers.map((w) => w.waitForLine(/^READY$/, 60_000)));
}

// ---------------------------------------------------------------------------------------------
// Engine calls

async function apiCall(method: string, path: string, key: string, body?: unknown): Promise<any> {
  const r = await httpJson(method, `${baseUrl}${path}`, { headers: { authorization: `Bearer ${key}` }, body });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function createProject(name: string, limit: number | null): Promise<Project> {
  const project = await apiCall('POST', '/v1/projects', workspaceKey, { displayName: `bench ${name}` });
  if (limit !== null)
    await apiCall('PATCH', `/v1/projects/${project.id}`, workspaceKey, { rateLimits: { resend: limit } });
  const { key } = await apiCall('POST', `/v1/projects/${project.id}/api-keys`, workspaceKey, { name: 'bench' });
  const resendKey = resendKeyFor(name);
  const conn = await apiCall('POST', '/v1/connections', workspaceKey, {
    connectorId: 'resend',
    displayName: `bench ${name}`,
    credentials: { apiKey: resendKey },
    projectIds: [project.id],
  });
  if (conn.status !== 'active') throw new Error(`connection for ${name} is ${conn.status}: ${JSON.stringify(conn)}`);
  return { name, id: project.id, key, resendKey };
}
const resendKeyFor = (name: string) => `re_bench_${name}_0123456789abcdef`;
const PROJECT_NAMES = [
  'sync',
  'tput1',
  'tput2',
  'tput4',
  'floodA',
  'defaultA',
  'mcpA',
  'slowA',
  'fairB',
  'limitSteady',
  'limitBurst',
  'warm',
];

interface SyncSample {
  ms: number;
  t0: number;
  t1: number;
  invocationId: string;
}

async function engineSync(p: Project): Promise<SyncSample> {
  const t0 = now();
  const r = await httpJson('POST', `${baseUrl}/v1/executions`, {
    headers: { authorization: `Bearer ${p.key}` },
    body: { connectorId: 'resend', actionId: 'sendEmail', input: email },
  });
  const t1 = now();
  if (r.status !== 200) throw new Error(`sync execute: ${r.status} ${JSON.stringify(r.body)}`);
  return { ms: t1 - t0, t0, t1, invocationId: r.body.invocationId };
}

async function engineAsync(p: Project): Promise<string> {
  const r = await httpJson('POST', `${baseUrl}/v1/executions`, {
    headers: { authorization: `Bearer ${p.key}`, prefer: 'respond-async' },
    body: { connectorId: 'resend', actionId: 'sendEmail', input: email },
  });
  if (r.status !== 202) throw new Error(`async execute: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.invocationId as string;
}

let mcpRequestId = 0;
/** One MCP tools/call (revision 2026-07-28, the wire an MCP client sends) of resend.sendEmail; waits for its result. */
async function engineMcpCall(p: Project): Promise<void> {
  const r = await httpJson('POST', `${baseUrl}/v1/mcp`, {
    headers: {
      authorization: `Bearer ${p.key}`,
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/call',
      'mcp-name': 'resend_sendEmail',
    },
    body: {
      jsonrpc: '2.0',
      id: ++mcpRequestId,
      method: 'tools/call',
      params: {
        name: 'resend_sendEmail',
        arguments: email,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    },
  });
  if (r.status !== 200 || r.body?.error || r.body?.result?.isError)
    throw new Error(`mcp tools/call: ${r.status} ${JSON.stringify(r.body).slice(0, 500)}`);
}

async function countByStatus(projectId: string): Promise<{ succeeded: number; failed: number; other: number }> {
  const { rows: r } = await pool!.query<{ status: string; n: string }>(
    'select status, count(*) as n from invocations where project_id = $1 group by status',
    [projectId],
  );
  const get = (s: string) => Number(r.find((x) => x.status === s)?.n ?? 0);
  const total = r.reduce((a, x) => a + Number(x.n), 0);
  return { succeeded: get('succeeded'), failed: get('failed'), other: total - get('succeeded') - get('failed') };
}

/** Polls Postgres until `expected` invocations of the project are terminal; returns when the last finished (epoch ms). */
async function waitAllTerminal(
  projectId: string,
  expected: number,
  timeoutMs: number,
): Promise<{ lastFinishedAt: number; failed: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = await countByStatus(projectId);
    if (c.succeeded + c.failed >= expected) {
      const { rows: r } = await pool!.query<{ t: number }>(
        'select extract(epoch from max(finished_at)) * 1000 as t from invocations where project_id = $1',
        [projectId],
      );
      return { lastFinishedAt: Number(r[0]!.t), failed: c.failed };
    }
    if (Date.now() > deadline)
      throw new Error(
        `only ${c.succeeded + c.failed} of ${expected} invocations finished within ${timeoutMs / 1000} s`,
      );
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// Baselines

let directClient: Got | undefined;
async function directCall(resendKey: string): Promise<number> {
  directClient ??= resendClient(fakeUrl, resendKey);
  const t0 = now();
  await sendEmail(directClient, `inv_${randomUUID()}`);
  return now() - t0;
}

/** Job data shaped like the engine's ExecuteJobData (same size on the wire). */
function noopJobData(id: string) {
  return {
    invocationId: id,
    workspaceId: 'ws_01k0000000000000000000000',
    projectId: 'prj_01k0000000000000000000000',
    connectionId: 'conn_01k000000000000000000000',
    connectorId: 'resend',
    actionId: 'sendEmail',
    input: email,
    replyTo: null,
    limitPerMinute: 1000,
  };
}

let noopSeq = 0;
/** Jobs whose BullMQ `completed` event (QueueEvents) someone waits for, by job id. */
const completionWaiters = new Map<string, () => void>();
/**
 * Runs `enqueue`, which adds job `id` (to a queue `listenForCompletions` listens to), and returns the
 * ms from its start until the job's `completed` event arrives.
 */
async function timeUntilCompleted(id: string, enqueue: () => Promise<unknown>): Promise<number> {
  const t0 = now();
  const done = new Promise<void>((resolve) =>
    completionWaiters.set(id, () => {
      completionWaiters.delete(id);
      resolve();
    }),
  );
  await enqueue();
  await done;
  return now() - t0;
}

/** Resolves the waiters of `events`' queue's jobs as they complete. */
async function listenForCompletions(events: QueueEvents): Promise<void> {
  events.on('completed', ({ jobId }) => completionWaiters.get(jobId)?.());
  await events.waitUntilReady();
}

function bullRoundTrip(): Promise<number> {
  const id = `rtt_${noopSeq++}_${randomBytes(4).toString('hex')}`;
  return timeUntilCompleted(id, () => noopQueue!.add('noop', noopJobData(id), { ...executeJobOptions, jobId: id }));
}

/** Raw BullMQ throughput: `n` no-op jobs added one by one (64 in flight) until all completed. */
async function bullThroughput(n: number, priority: boolean): Promise<{ perSec: number; cpu: Record<string, number> }> {
  const counts = noopWorkers.map(() => ({ n: 0, at: 0 }));
  noopWorkers.forEach((w, i) => {
    w.onLine((line) => {
      const m = /^DONE (\d+) (\d+)/.exec(line);
      if (m) counts[i] = { n: Number(m[1]), at: Number(m[2]) };
    });
  });
  await sleep(250); // let the current counts arrive
  const start = counts.map((c) => c.n);
  const cpu0 = cpuSnapshot(noopWorkers);
  const t0 = now();
  const batch = `tp_${noopSeq++}_${randomBytes(3).toString('hex')}`;
  await runPool(n, CLIENT_CONCURRENCY, async (i) => {
    const id = `${batch}_${i}`;
    await noopQueue!.add('noop', noopJobData(id), {
      ...executeJobOptions,
      jobId: id,
      ...(priority ? { priority: i + 1 } : {}),
    });
  });
  const deadline = Date.now() + 120_000;
  while (counts.reduce((a, c, i) => a + c.n - start[i]!, 0) < n) {
    if (Date.now() > deadline) throw new Error('raw BullMQ throughput: jobs did not complete within 120 s');
    await sleep(50);
  }
  const end = Math.max(...counts.map((c) => c.at));
  const cpu = cpuDelta(cpu0, cpuSnapshot(noopWorkers), n);
  return { perSec: (n / (end - t0)) * 1000, cpu };
}

// The essential-work baseline: the unavoidable work of an async call (a durable row, a job, the
// upstream request, the row's two updates), hand-written without the engine (bench/essential-worker.ts).
// Its rows go to the engine's own invocations table, so they pay the same columns, indexes and
// time-ordered ids (index appends, not random page splits), under a workspace and project of their own.
const ESSENTIAL_QUEUE = 'bench-essential';
const ESSENTIAL_KEY_NAME = 'essential';
const benchId = (prefix: string, name: string) => `${prefix}_${name.padEnd(26, '0')}`; // shaped like the engine's ids
const ESSENTIAL = {
  workspaceId: benchId('ws', 'essential'),
  connectionId: benchId('conn', 'essential'),
  projectId: benchId('prj', 'essential'),
  warmProjectId: benchId('prj', 'essentialwarm'),
};
// Named, as the api's statements are (shared/db/prepared-statement-pool.ts). The request hash is
// as wide as the api's sha256 hex; computing it (for Idempotency-Key replays) is not essential work.
const essentialInsert = {
  name: 'essential_insert',
  text: `insert into invocations (id, workspace_id, project_id, connection_id, connector_id, action_id, idempotency_key, request_hash, status)
         values ($1, $2, $3, $4, 'resend', 'sendEmail', null, $5, 'queued')`,
};
const ESSENTIAL_REQUEST_HASH = 'e'.repeat(64);
const ESSENTIAL_CPU_KEYS = ['workers', 'postgres', 'redis', 'upstream', 'bench'];

/**
 * One call of the essential work, accepted as a hand-written producer would: its queued row INSERTed
 * (one commit), then its job added. The engine's job: its name, data and options, and the priority
 * the api gives a project's call of rank `rank` in the window (queuePriority); prioritized jobs cost
 * Redis more.
 */
async function essentialEnqueue(id: string, projectId: string, rank: number): Promise<void> {
  await essentialPool!.query({
    ...essentialInsert,
    values: [id, ESSENTIAL.workspaceId, projectId, ESSENTIAL.connectionId, ESSENTIAL_REQUEST_HASH],
  });
  const data = {
    ...noopJobData(id),
    workspaceId: ESSENTIAL.workspaceId,
    projectId,
    connectionId: ESSENTIAL.connectionId,
  };
  await essentialQueue!.add('resend.sendEmail', data, {
    ...executeJobOptions,
    jobId: id,
    priority: queuePriority(rank),
  });
}

/**
 * One sync call of the essential work (section 1, decision 0021): the same call written by hand
 * through the same stack. Accepted as above, run by bench/essential-worker.ts (claim UPDATE, the
 * fake's POST /emails, completion UPDATE), and waited for the way BullMQ offers, its `completed`
 * event (QueueEvents). Timed from before the INSERT until that event arrives.
 */
function essentialSync(projectId: string, rank: number): Promise<number> {
  const id = newId('invocation');
  return timeUntilCompleted(id, () => essentialEnqueue(id, projectId, rank));
}

/**
 * Essential-work throughput: `n` calls, 64 in flight as in the engine flood, each an INSERT of its
 * row then a queue.add straight from this process (no api); timed like the engine's, from the
 * first call until the last row is succeeded.
 */
async function essentialThroughput(
  projectId: string,
  n: number,
): Promise<{ perSec: number; cpu: Record<string, number>; failed: number; cores: number }> {
  const cpu0 = cpuSnapshot(essentialWorkers);
  const t0 = now();
  await runPool(n, CLIENT_CONCURRENCY, (i) => essentialEnqueue(newId('invocation'), projectId, i));
  const { lastFinishedAt, failed } = await waitAllTerminal(projectId, n, 300_000);
  // Without the api, which idles meanwhile: it is no part of this pipeline.
  const all = cpuDelta(cpu0, cpuSnapshot(essentialWorkers), n);
  const cpu = Object.fromEntries(ESSENTIAL_CPU_KEYS.map((k) => [k, all[k]!]));
  const cores = (ESSENTIAL_CPU_KEYS.reduce((a, k) => a + cpu[k]!, 0) * n) / (lastFinishedAt - t0);
  return { perSec: (n / (lastFinishedAt - t0)) * 1000, cpu, failed, cores };
}

// ---------------------------------------------------------------------------------------------
// CPU accounting: ms of CPU per call, per component

type CpuSnap = Record<string, number>;
/** read/write-class syscalls per component (each is a socket round-trip leg here). */
function syscallSnapshot(workerProcs: NodeProc[]): CpuSnap {
  return {
    api: api ? syscalls(processTree(api.pid)) : 0,
    workers: workerProcs.reduce((a, w) => a + syscalls(processTree(w.pid)), 0),
    redis: syscalls([services!.redis.pid]),
  };
}
function cpuSnapshot(workerProcs: NodeProc[]): CpuSnap {
  const snap: CpuSnap = {
    api: api ? cpuMs(processTree(api.pid)) : 0,
    workers: workerProcs.reduce((a, w) => a + cpuMs(processTree(w.pid)), 0),
    redis: cpuMs([services!.redis.pid]),
    postgres: cpuMs(processTree(services!.postgres.pid)),
    upstream: upstream ? cpuMs(processTree(upstream.pid)) : 0,
  };
  const u = process.cpuUsage();
  snap.bench = (u.user + u.system) / 1000;
  return snap;
}
function cpuDelta(a: CpuSnap, b: CpuSnap, calls: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(a)) out[k] = (b[k]! - a[k]!) / calls;
  return out;
}
const cpuLine = (c: Record<string, number>, keys: string[]) =>
  keys.map((k) => `${k} ${fmt(c[k]!, 2)}`).join(', ') +
  `; total ${fmt(
    keys.reduce((a, k) => a + c[k]!, 0),
    2,
  )} ms`;
/** a - b per component (keys missing from b count as 0), for "what the engine adds" lines. */
const cpuMinus = (a: Record<string, number>, b: Record<string, number>, keys: string[]) =>
  Object.fromEntries(keys.map((k) => [k, a[k]! - (b[k] ?? 0)]));

// ---------------------------------------------------------------------------------------------
// Measurement helpers

async function measure(n: number, concurrency: number, fn: () => Promise<number>): Promise<Summary> {
  const samples: number[] = [];
  await runPool(n, concurrency, async () => void samples.push(await fn()));
  return summarize(samples);
}

const latencyRow = (label: string, s: Summary, extra = '', target = '', result = ''): string[] => [
  label,
  fmt(s.p50),
  fmt(s.p95),
  fmt(s.p99),
  extra,
  target,
  result,
];

async function engineThroughput(
  p: Project,
  n: number,
  sampler?: RssSampler,
): Promise<{
  perSec: number;
  acceptPerSec: number;
  cpu: Record<string, number>;
  failed: number;
  cores: number;
  sys: Record<string, number>;
}> {
  const cpu0 = cpuSnapshot(workers);
  const sys0 = syscallSnapshot(workers);
  sampler?.start();
  const t0 = now();
  await runPool(n, CLIENT_CONCURRENCY, async () => void (await engineAsync(p)));
  const accepted = now();
  const { lastFinishedAt, failed } = await waitAllTerminal(p.id, n, 300_000);
  sampler?.stop();
  const cpu = cpuDelta(cpu0, cpuSnapshot(workers), n);
  const sys = cpuDelta(sys0, syscallSnapshot(workers), n);
  const cores = (Object.values(cpu).reduce((a, b) => a + b, 0) * n) / (lastFinishedAt - t0);
  return {
    perSec: (n / (lastFinishedAt - t0)) * 1000,
    acceptPerSec: (n / (accepted - t0)) * 1000,
    cpu,
    failed,
    cores,
    sys,
  };
}

async function arrivals(resendKey: string): Promise<number[]> {
  const r = await httpJson('GET', `${controlUrl}/arrivals?key=${encodeURIComponent(resendKey)}&path=/emails`);
  return r.body as number[];
}
const clearUpstream = () => httpJson('POST', `${controlUrl}/clear`);

/** Removes every waiting and delayed execute job (a flood's leftovers), so later sections start clean. */
async function drainExecuteQueue(): Promise<void> {
  await executeQueue!.drain(true);
}

// ---------------------------------------------------------------------------------------------
// Sections

const projects = new Map<string, Project>();
const P = (name: string) => projects.get(name)!;

async function warmUp(): Promise<void> {
  log('warm-up');
  const w = P('warm');
  await runPool(300, 16, async () => void (await engineSync(w)));
  await runPool(50, 1, async () => void (await engineSync(w)));
  await runPool(500, CLIENT_CONCURRENCY, async () => void (await engineAsync(w)));
  await waitAllTerminal(w.id, 850, 120_000);
  await runPool(300, 16, async () => void (await directCall(w.resendKey)));
  await runPool(500, 16, async () => void (await bullRoundTrip()));
}

async function sectionSync(): Promise<void> {
  const p = P('sync');
  rows.push({ section: `1. Sync execute latency, resend.sendEmail, upstream fixed ${UPSTREAM_LATENCY_MS} ms (ms)` });

  log(`sync c=1: engine ${N.syncC1}`);
  const c1: SyncSample[] = [];
  await runPool(N.syncC1, 1, async () => void c1.push(await engineSync(p)));
  await breakdown('project alone, c=1', c1);
  const e1 = summarize(c1.map((s) => s.ms));
  log(`sync c=1: direct ${N.directC1}, bullmq ${N.bullC1}`);
  const d1 = await measure(N.directC1, 1, () => directCall(p.resendKey));
  const b1 = await measure(N.bullC1, 1, bullRoundTrip);
  log(`sync c=1: the same call written by hand through the same stack ${N.syncC1}`);
  const h1 = await handWrittenSyncC1(N.syncC1);

  log(`sync c=64: engine ${N.syncC64}, direct ${N.directC64}, bullmq ${N.bullC64}`);
  const e64 = await measure(N.syncC64, 64, async () => (await engineSync(p)).ms);
  const d64 = await measure(N.directC64, 64, () => directCall(p.resendKey));
  const b64 = await measure(N.bullC64, 64, bullRoundTrip);

  const ratio1 = e1.p50 / (d1.p50 + b1.p50);
  const ratio64 = e64.p50 / (d64.p50 + b64.p50);
  rows.push(
    latencyRow('  engine, c=1', e1, `n=${e1.n}`),
    latencyRow('  direct got call of the fake, c=1', d1, `n=${d1.n}`),
    latencyRow('  raw BullMQ no-op round trip, c=1', b1, `n=${b1.n}`),
    [
      '  ratio engine p50 / (direct p50 + BullMQ p50), c=1',
      '',
      '',
      '',
      `${fmt(ratio1, 2)}x`,
      // Issue 21's target: within 15 % of the minimum a hand-written call through the same stack takes.
      '<= 1.15x',
      verdict(ratio1 <= 1.15),
    ],
    latencyRow('  the same call written by hand through the same stack, c=1', h1, `n=${h1.n}`),
    // Decision 0021: the ratio to a hand-written call measured in one series, under a c=1 call's conditions.
    ['  ratio engine p50 / written by hand p50, c=1', '', '', '', `${fmt(e1.p50 / h1.p50, 2)}x`, '(info)', ''],
    latencyRow('  engine, c=64', e64, `n=${e64.n}, ~${fmt((64 / e64.mean) * 1000, 0)} calls/s`),
    latencyRow('  direct got call of the fake, c=64', d64, `n=${d64.n}`),
    latencyRow('  raw BullMQ no-op round trip, c=64', b64, `n=${b64.n}`),
    ['  ratio engine p50 / (direct p50 + BullMQ p50), c=64', '', '', '', `${fmt(ratio64, 2)}x`, '(info)', ''],
  );
  await primitives(p);
}

/**
 * The essential work of a sync call at c=1 (essentialSync), on its own worker processes (as many as
 * the engine's), warmed up as the engine is before section 1. Decision 0021: the target's baseline
 * adds a direct call measured at c=1 to a BullMQ round trip measured back to back, whose processes
 * never go idle; inside a c=1 call every hop follows the upstream's idle wait.
 */
async function handWrittenSyncC1(n: number): Promise<Summary> {
  await setEssentialWorkers(WORKERS);
  // Listening only now: section 2's essential-work flood must not pay for reading its events.
  const events = new QueueEvents(ESSENTIAL_QUEUE, { connection: benchRedis() });
  await listenForCompletions(events);
  let rank = 0;
  const call = (projectId: string) => essentialSync(projectId, rank++);
  let s: Summary;
  try {
    await runPool(300, 16, async () => void (await call(ESSENTIAL.warmProjectId)));
    await runPool(50, 1, async () => void (await call(ESSENTIAL.warmProjectId)));
    s = await measure(n, 1, () => call(ESSENTIAL.projectId));
  } finally {
    await events.close();
  }
  await setEssentialWorkers(0);
  notes.push(
    `The same call written by hand through the same stack (section 1, decision 0021): the bench process INSERTs the queued row (one commit) and queue.adds the engine's job, ${WORKERS} workers of bench/essential-worker.ts (the essential work of section 2) UPDATE it to running, POST /emails to the fake, UPDATE it to succeeded, ` +
      "and the bench waits for BullMQ's completed event (QueueEvents), timed from before the INSERT. No api: the HTTP hop, auth, validation, lookups and limiter are the engine's own.",
  );
  return s;
}

/**
 * Where one sync call's time goes (c=1), from the invocation row's timestamps. (Completed jobs leave
 * Redis at once, so BullMQ's own timestamps are gone by the time this runs.)
 */
async function breakdown(label: string, samples: SyncSample[]): Promise<void> {
  const ids = samples.map((s) => s.invocationId);
  const { rows: inv } = await pool!.query<{ id: string; c: number; s: number; f: number; d: number }>(
    `select id, extract(epoch from created_at) * 1000 as c, extract(epoch from started_at) * 1000 as s,
            extract(epoch from finished_at) * 1000 as f, duration_ms as d
       from invocations where id = any($1)`,
    [ids],
  );
  const byId = new Map(inv.map((r) => [r.id, { c: Number(r.c), s: Number(r.s), f: Number(r.f), d: Number(r.d) }]));
  const parts: Record<string, number[]> = {};
  const add = (k: string, v: number) => {
    parts[k] ??= [];
    parts[k].push(v);
  };
  for (const s of samples) {
    const r = byId.get(s.invocationId);
    if (!r?.s || !r.f) continue;
    add('a. api before its INSERT: HTTP, auth, validation, lookups, limiter (t0 -> row created_at)', r.c - s.t0);
    add(
      'b. INSERT commit, queue.add, pick-up by a worker, lease and limiter, until its claim UPDATE (created_at -> started_at)',
      r.s - r.c,
    );
    add(
      'e. worker around the upstream call: claim commit, decrypt, client (started_at -> finished_at, minus f)',
      r.f - r.s - r.d,
    );
    add('f. upstream call through got, fake latency included (row duration_ms)', r.d);
    add('g. completion UPDATE + commit, publish, api reply, HTTP out (row finished_at -> t1)', s.t1 - r.f);
    add('   total as seen by the client', s.ms);
  }
  const p95 = (v: number[]) =>
    percentile(
      [...v].sort((a, b) => a - b),
      95,
    );
  const lines = Object.entries(parts).map(
    ([k, v]) => `  ${fmt(median(v), 2).padStart(7)}  ${fmt(p95(v), 2).padStart(7)}  ${k}`,
  );
  diagnostics.push(
    `Where the time of a sync call goes: ${label} (${parts['   total as seen by the client']?.length ?? 0} of ${samples.length} calls; ` +
      'row timestamps are Postgres now() at statement start). p50 and p95 in ms:',
    ...lines,
  );
}

/** The building blocks' own cost at c=1 from the bench process, to read the breakdown against. */
async function primitives(p: Project): Promise<void> {
  const iterations = QUICK ? 200 : 500;
  const time = async (fn: () => Promise<unknown>) => {
    for (let i = 0; i < 50; i++) await fn();
    const xs: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const t0 = now();
      await fn();
      xs.push(now() - t0);
    }
    return median(xs);
  };
  const redis = benchRedis();
  const limiter = new SlidingWindowLimiter(redis, 'bench-limits');
  const { rows: anyInv } = await pool!.query<{ id: string }>(
    'select id from invocations where project_id = $1 limit 1',
    [p.id],
  );
  const invId = anyInv[0]!.id;
  const keyHash = Buffer.alloc(32, 7);
  let seq = 0;
  const results: Array<[string, number]> = [
    [
      'HTTP GET /healthz on the api (express + pino-http, no I/O)',
      await time(() => httpJson('GET', `${baseUrl}/healthz`)),
    ],
    [
      'Postgres SELECT by unique key (pg, raw)',
      await time(() =>
        pool!.query(
          'select id, workspace_id, project_id, kind, key_hash from api_keys where key_hash = $1 and revoked_at is null',
          [keyHash],
        ),
      ),
    ],
    [
      'Postgres same SELECT through kysely',
      await time(() =>
        benchDb!
          .selectFrom('api_keys')
          .select(['id', 'workspace_id', 'project_id', 'kind', 'key_hash'])
          .where('key_hash', '=', keyHash)
          .where('revoked_at', 'is', null)
          .executeTakeFirst(),
      ),
    ],
    [
      `Postgres UPDATE one row, autocommit (commit${PG_FAST ? ', fsync off)' : ' + WAL flush)'}`,
      await time(() => pool!.query('update invocations set attempts = attempts where id = $1', [invId])),
    ],
    ['Redis PING', await time(() => redis.ping())],
    [
      'limiter reserve (Lua script)',
      await time(() => limiter.reserve({ key: 'bench', limitPerMinute: 1_000_000, member: `m${seq++}` })),
    ],
    [
      'BullMQ queue.add (no wait)',
      await time(() =>
        noopQueue!.add('noop', noopJobData(`pa_${seq++}`), { ...executeJobOptions, jobId: `pa_${seq}` }),
      ),
    ],
  ];
  diagnostics.push(
    `Building blocks, median of ${iterations} sequential calls from the bench process:`,
    ...results.map(([k, v]) => `  ${fmt(v, 3).padStart(7)} ms  ${k}`),
  );
}

/** Statements the engine ran per invocation during the throughput run, and their server-side time. */
async function postgresDiagnostics(calls: number): Promise<void> {
  const { rows: st } = await pool!.query<{ calls: string; total: number; mean: number; plan: number; q: string }>(
    `select calls, total_exec_time as total, mean_exec_time as mean, total_plan_time as plan, left(regexp_replace(query, '\\s+', ' ', 'g'), 120) as q
       from pg_stat_statements
      where dbid = (select oid from pg_database where datname = current_database()) and query not like '%pg_stat%'
      order by total_exec_time desc`,
  );
  const engine = st.filter((r) => !/count\(\*\) as n|max\(finished_at\)/.test(r.q)); // not the bench's own polling
  const perCall = (x: number) => fmt(x / calls, 2);
  const totalStatements = engine.reduce((a, r) => a + Number(r.calls), 0);
  const totalMs = engine.reduce((a, r) => a + Number(r.total), 0);
  const planMs = engine.reduce((a, r) => a + Number(r.plan), 0);
  const { rows: wal } = await pool!.query<{
    wal_records: string;
    wal_bytes: string;
    wal_write: string;
    wal_sync: string;
    wal_sync_time: number;
    wal_write_time: number;
  }>('select wal_records, wal_bytes, wal_write, wal_sync, wal_write_time, wal_sync_time from pg_stat_wal');
  const w = wal[0]!;
  diagnostics.push(
    `Postgres during the engine throughput run (pg_stat_statements): ${perCall(totalStatements)} statements per invocation, ` +
      `${perCall(totalMs)} ms of execution + ${perCall(planMs)} ms of planning per invocation (server side; parse, protocol, commit and network are not in it); ` +
      `WAL: ${perCall(Number(w.wal_records))} records, ${fmt(Number(w.wal_bytes) / calls, 0)} bytes, ${perCall(Number(w.wal_sync))} flushes (fsync) ` +
      `taking ${perCall(Number(w.wal_sync_time))} ms per invocation. Top statements (calls per invocation, mean ms, total ms per invocation):`,
    ...engine
      .slice(0, 10)
      .map(
        (r) =>
          `  ${perCall(Number(r.calls)).padStart(5)}  ${fmt(Number(r.mean), 3).padStart(7)}  ${perCall(Number(r.total)).padStart(6)}  ${r.q}`,
      ),
    '  (Postgres CPU per invocation from /proc, in the CPU line, is several times execution + planning: per-statement protocol work,',
    '   commits, and loopback TCP; one backend process per connection wakes up for every statement)',
  );
}

let mainRss: Map<string, number> | undefined;
/** The engine throughput run of section 2, for BENCH_PROFILE (CLOCK_MONOTONIC µs). */
let profileWindow: { fromUs: number; toUs: number; calls: number } | undefined;

async function sectionThroughput(): Promise<void> {
  rows.push({
    section: `2. Async throughput, ${WORKERS} workers x concurrency ${CONCURRENCY} (accepted -> succeeded with its row durable)`,
  });
  log(`throughput: engine ${N.tput} async calls`);
  const sampler = new RssSampler(() => [
    { name: 'api', pid: api?.realPid() },
    ...workers.map((w) => ({ name: 'worker', pid: w.realPid() })),
  ]);
  await pool!.query('select pg_stat_statements_reset()');
  await pool!.query("select pg_stat_reset_shared('wal')");
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const e = await engineThroughput(P('tput2'), N.tput, sampler);
  await postgresDiagnostics(N.tput);
  profileWindow = { fromUs, toUs: Number(process.hrtime.bigint() / 1000n), calls: N.tput };
  mainRss = new Map(sampler.stop());
  log(`throughput: raw BullMQ ${N.bullTput} no-op jobs`);
  const b = await bullThroughput(N.bullTput, false);
  log(`throughput: raw BullMQ ${N.bullTput} no-op jobs with priorities`);
  const bp = await bullThroughput(N.bullTput, true);
  log(`throughput: essential work without the engine, ${N.tput} calls`);
  await setEssentialWorkers(WORKERS);
  await essentialThroughput(ESSENTIAL.warmProjectId, 500); // JIT, pools and prepared statements, as the engine's warm-up
  const s = await essentialThroughput(ESSENTIAL.projectId, N.tput);
  await setEssentialWorkers(0);
  const ratio = e.perSec / b.perSec;
  const keys = ['api', 'workers', 'postgres', 'redis', 'upstream', 'bench'];
  const cpuTotal = keys.reduce((sum, k) => sum + e.cpu[k]!, 0);
  rows.push(
    [
      '  engine',
      '',
      '',
      '',
      `${fmt(e.perSec, 0)}/s (accept ${fmt(e.acceptPerSec, 0)}/s, n=${N.tput}${e.failed ? `, ${e.failed} failed` : ''})`,
      '',
      '',
    ],
    ['  raw BullMQ no-op, same workers and concurrency', '', '', '', `${fmt(b.perSec, 0)}/s (n=${N.bullTput})`, '', ''],
    ['  raw BullMQ no-op with priority (as the engine adds)', '', '', '', `${fmt(bp.perSec, 0)}/s (info)`, '', ''],
    // Decision 0004: the raw BullMQ ratio is information; the target is against the essential work.
    ['  ratio engine / raw BullMQ', '', '', '', `${fmt(ratio, 2)}x`, '(info)', ''],
    [
      '  essential work without the engine, same workers and concurrency',
      '',
      '',
      '',
      `${fmt(s.perSec, 0)}/s (n=${N.tput}${s.failed ? `, ${s.failed} failed` : ''}; producer INSERTs + enqueues directly, no api)`,
      '(info)',
      '',
    ],
    [
      "  ratio engine / essential (the api's HTTP hop is part of the job)",
      '',
      '',
      '',
      `${fmt(e.perSec / s.perSec, 2)}x`,
      '>= 1.0x',
      verdict(e.perSec / s.perSec >= 1.0),
    ],
    [
      '  CPU per call, all processes (api, workers, Postgres, Redis, upstream fake, load generator)',
      '',
      '',
      '',
      `${fmt(cpuTotal, 2)} ms`,
      '<= 2.5 ms',
      verdict(cpuTotal <= 2.5),
    ],
  );
  notes.push(
    `Essential work without the engine (section 2): the unavoidable work of the engine's async calls, hand-written with the same ${WORKERS} worker processes x concurrency ${CONCURRENCY}. ` +
      `The bench process INSERTs a queued row into the engine's invocations table (own project; pg, one commit per row) and queue.adds a job with the engine's name, data, options and priorities, ${CLIENT_CONCURRENCY} in flight as in the engine run; ` +
      "the workers (bench/essential-worker.ts: BullMQ, pg Pool, got) UPDATE the row to running, POST /emails to the same fake as the engine's sendEmail, UPDATE it to succeeded with the output. " +
      "Timed from the first INSERT until the last row succeeded. It skips the api: the HTTP request in (and auth, validation, lookups, limiter, idempotency) is part of the engine's job and not in this baseline, " +
      "nor are the worker's limiter admission, credentials and checks; the engine, for its part, shares commits between concurrent inserts and completions (group commit), which this does not.",
  );
  diagnostics.push(
    `CPU per call during the engine throughput run (ms of CPU per invocation, ${WORKERS} workers; 2 cores = 2000 ms/s available):`,
    `  ${cpuLine(e.cpu, keys)}; these processes used ${fmt(e.cores, 2)} of the 2 cores (the rest: other load on the machine, or idle)`,
    `read/write system calls per invocation (/proc/<pid>/io; node and redis use read/writev on sockets, postgres send/recv, which this does not count): ` +
      ['api', 'workers', 'redis'].map((k) => `${k} ${fmt(e.sys[k]!, 1)}`).join(', '),
    `CPU per job during the raw BullMQ no-op run: ${cpuLine(b.cpu, ['workers', 'redis', 'bench'])}`,
    `CPU per job during the raw BullMQ run with priorities: ${cpuLine(bp.cpu, ['workers', 'redis', 'bench'])}`,
    `CPU per call during the essential-work run (bench = the producer's INSERT + queue.add; the api idles): ${cpuLine(s.cpu, ESSENTIAL_CPU_KEYS)}; ` +
      `these processes used ${fmt(s.cores, 2)} of the 2 cores`,
    `  what the engine adds per call (engine run - essential-work run): ${cpuLine(cpuMinus(e.cpu, s.cpu, keys), keys)}`,
  );

  rows.push({ section: '5. Peak RSS under load (VmRSS every 200 ms during the throughput run)' });
  const apiMb = (mainRss.get('api') ?? 0) / 1024;
  const workerMb = (mainRss.get('worker') ?? 0) / 1024;
  rows.push(
    ['  api', '', '', '', `${fmt(apiMb, 0)} MB`, '< 200 MB', verdict(apiMb < 200)],
    ['  worker (largest of the workers)', '', '', '', `${fmt(workerMb, 0)} MB`, '< 200 MB', verdict(workerMb < 200)],
  );
}

/** Project `p`'s sync calls, one after another, from now until `stop()` (at most 5 minutes); their samples. */
function callWhile(p: Project): { stop(): Promise<SyncSample[]> } {
  const samples: SyncSample[] = [];
  let running = true;
  const loop = (async () => {
    const stopAt = Date.now() + 300_000;
    while (running && Date.now() < stopAt) samples.push(await engineSync(p));
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

async function sectionFairness(): Promise<void> {
  rows.push({ section: '3. Fairness: project B sync latency (c=1) while project A floods async calls (ms)' });
  const b = P('fairB');
  log(`fairness: B unloaded, ${N.fairB} sync calls`);
  const unloaded = await measure(N.fairB, 1, async () => (await engineSync(b)).ms);
  rows.push(latencyRow('  B alone', unloaded, `n=${unloaded.n}`));

  for (const [name, label] of [
    ['floodA', `A's limit ${FLOOD_LIMIT}/min`],
    ['defaultA', "A's default limit (300/min)"],
  ] as const) {
    const a = P(name);
    log(`fairness: A floods ${N.flood} async calls (${label}) while B calls`);
    const bCalls = callWhile(b);
    const t0 = Date.now();
    const cpu0 = cpuSnapshot(workers);
    await runPool(N.flood, CLIENT_CONCURRENCY, async () => void (await engineAsync(a)));
    const acceptedMs = Date.now() - t0;
    const cpuAccept = cpuDelta(cpu0, cpuSnapshot(workers), 1);
    let aDone = '';
    if (name === 'floodA') {
      const { lastFinishedAt } = await waitAllTerminal(a.id, N.flood, 300_000);
      aDone = `, all A done in ${fmt((lastFinishedAt - t0) / 1000, 1)} s`;
    } else {
      // Only the first slots of the window run now; the rest wait in the delayed set for an hour.
      await sleep(10_000);
      const c = await countByStatus(a.id);
      aDone = `, ${c.succeeded} of A ran`;
    }
    const bSamples = await bCalls.stop();
    await breakdown(`project B during A's flood, ${label}`, bSamples);
    const s = summarize(bSamples.map((x) => x.ms));
    const ratio = s.p99 / unloaded.p99;
    rows.push(
      latencyRow(
        `  B during A's flood of ${N.flood}, ${label}`,
        s,
        `n=${s.n}, p99 ${fmt(ratio, 2)}x alone`,
        '<= 1.5x',
        verdict(ratio <= 1.5),
      ),
    );
    const cores = Object.entries(cpuAccept)
      .map(([k, v]) => `${k} ${fmt(v / acceptedMs, 2)}`)
      .join(', ');
    notes.push(
      `Fairness, ${label}: A's ${N.flood} calls accepted in ${fmt(acceptedMs / 1000, 1)} s${aDone}; cores used while A submitted: ${cores}.`,
    );
    if (name === 'defaultA') await drainExecuteQueue();
  }

  // The same flood from an AI agent: MCP tools/call requests, each waiting for its result, as many in
  // flight as the HTTP flood. A tool call is synchronous, so beside it runs the same flood of sync
  // HTTP executions: the two should leave B alike (they pass the same admission gate).
  const n = Math.round(N.flood / 4);
  for (const [label, call] of [
    ['sync HTTP executions', (p: Project) => engineSync(p).then(() => undefined)],
    ['MCP tool calls', engineMcpCall],
  ] as const) {
    const a = P('mcpA');
    log(`fairness: A floods ${n} ${label} (${CLIENT_CONCURRENCY} in flight) while B calls`);
    const bCalls = callWhile(b);
    const t0 = Date.now();
    const cpu0 = cpuSnapshot(workers);
    await runPool(n, CLIENT_CONCURRENCY, async () => call(a));
    const doneMs = Date.now() - t0;
    // Per call of A's (B's few calls included): what one call of this transport costs each process.
    const perCall = cpuDelta(cpu0, cpuSnapshot(workers), n);
    const bSamples = await bCalls.stop();
    const s = summarize(bSamples.map((x) => x.ms));
    const ratio = s.p99 / unloaded.p99;
    rows.push(
      latencyRow(
        `  B during A's flood of ${n} ${label}, A's limit ${FLOOD_LIMIT}/min`,
        s,
        `n=${s.n}, p99 ${fmt(ratio, 2)}x alone`,
        '<= 1.5x',
        verdict(ratio <= 1.5),
      ),
    );
    notes.push(
      `Fairness, ${label}: A's ${n} calls answered in ${fmt(doneMs / 1000, 1)} s (${fmt(n / (doneMs / 1000), 0)}/s); ` +
        `CPU per call of A's: ${cpuLine(perCall, Object.keys(perCall))}.`,
    );
  }

  // A's upstream is slow (2 s), then never answers: A's calls hold places for seconds, not
  // milliseconds; they may hold their share of the workers' places, never B's (decision 0007).
  // (A hanging call ends at UPSTREAM_TIMEOUT_MS, 30 s: fewer of them.)
  let sentToSlowA = 0;
  for (const [latency, label, calls] of [
    ['2000', 'answering in 2 s', 200],
    ['hang', 'never answering', 42],
  ] as const) {
    const a = P('slowA');
    await httpJson('POST', `${controlUrl}/latency?key=${encodeURIComponent(a.resendKey)}&ms=${latency}`);
    sentToSlowA += calls;
    log(`fairness: A sends ${calls} async calls to an upstream ${label} while B calls`);
    const t0 = Date.now();
    await runPool(calls, CLIENT_CONCURRENCY, async () => void (await engineAsync(a)));
    await sleep(1_000); // A's calls now hold every place they may
    const bCalls = callWhile(b);
    await sleep(10_000);
    const bSamples = await bCalls.stop();
    const s = summarize(bSamples.map((x) => x.ms));
    const ratio = s.p99 / unloaded.p99;
    rows.push(
      latencyRow(
        `  B while A's ${calls} calls wait on an upstream ${label}`,
        s,
        `n=${s.n}, p99 ${fmt(ratio, 2)}x alone`,
        '<= 1.5x',
        verdict(ratio <= 1.5),
      ),
    );
    const { lastFinishedAt, failed } = await waitAllTerminal(a.id, sentToSlowA, 600_000);
    notes.push(
      `Fairness, A's upstream ${label}: A's ${calls} calls all ended ${fmt((lastFinishedAt - t0) / 1000, 1)} s after they were sent (${failed} failed so far in all).`,
    );
    await httpJson('POST', `${controlUrl}/latency?key=${encodeURIComponent(a.resendKey)}&ms=0`);
    await drainExecuteQueue();
  }
}

/**
 * 200 concurrent sync calls with a body of about 1 MiB each: the api's RSS and Redis's used memory
 * before, at their peak, and after. Redis should hold no input once its call has ended.
 */
async function sectionMemory(): Promise<void> {
  rows.push({ section: '7. Memory: 200 concurrent sync calls of ~1 MiB each (api VmRSS, Redis used_memory)' });
  const p = P('tput1');
  const redis = benchRedis();
  const redisMb = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0) / 2 ** 20;
  const apiMb = () => rssKb(api!.realPid() ?? 0) / 1024;
  // What the api's heap holds (its /metrics): RSS lags, since V8 keeps freed pages for a while.
  const heapMb = async () =>
    Number(
      /^nodejs_heap_size_used_bytes (\S+)$/m.exec(
        String((await httpJson('GET', `${baseUrl}/metrics`)).body ?? ''),
      )?.[1] ?? 0,
    ) /
    2 ** 20;
  const input = { ...email, html: `<p>${'x'.repeat(1_000_000)}</p>` };
  const call = async () => {
    const r = await httpJson('POST', `${baseUrl}/v1/executions`, {
      headers: { authorization: `Bearer ${p.key}` },
      body: { connectorId: 'resend', actionId: 'sendEmail', input },
    });
    return r.status;
  };
  await call(); // warm the path for large bodies
  await sleep(2_000);
  const before = { api: apiMb(), heap: await heapMb(), redis: await redisMb() };
  const peak = { ...before };
  const sampler = setInterval(() => {
    peak.api = Math.max(peak.api, apiMb());
    void redisMb().then((mb) => {
      peak.redis = Math.max(peak.redis, mb);
    });
    void heapMb().then((mb) => {
      peak.heap = Math.max(peak.heap, mb);
    });
  }, 100);
  const statuses = await Promise.all(Array.from({ length: 200 }, call));
  clearInterval(sampler);
  await sleep(10_000);
  const after = { api: apiMb(), heap: await heapMb(), redis: await redisMb() };
  // The callers go away and others keep calling: the sockets the burst came on are closed, and 300
  // small calls give the api's garbage collector work to run.
  closeIdleConnections();
  for (let i = 0; i < 300; i++) await engineSync(p);
  const settled = { api: apiMb(), heap: await heapMb(), redis: await redisMb() };
  const byStatus = Object.entries(
    statuses.reduce<Record<number, number>>((m, x) => {
      m[x] = (m[x] ?? 0) + 1;
      return m;
    }, {}),
  )
    .map(([k, v]) => `${v}× ${k}`)
    .join(', ');
  for (const [label, k] of [
    ['api RSS', 'api'],
    ['api heap used (its /metrics)', 'heap'],
    ['Redis used_memory', 'redis'],
  ] as const) {
    const values = [before, peak, after, settled].map((v) => fmt(v[k], 0)).join(' / ');
    rows.push([`  ${label}: before / peak / 10 s after / then (MB)`, '', '', '', values, '(info)', '']);
  }
  notes.push(
    'Memory: "then" is after the burst\'s connections were closed and 300 small sync calls ran (the garbage collector had work to do).',
  );
  notes.push(`Memory: the 200 calls of ~1 MiB were answered ${byStatus}.`);
  await clearUpstream();
}

async function sectionLimiter(): Promise<void> {
  rows.push({
    section: `4. Rate limiter accuracy: limit ${LIMIT_PER_MIN}/min, async calls, arrivals counted at the fake`,
  });
  await clearUpstream();

  // Steady demand at twice the limit for 70 s.
  {
    const p = P('limitSteady');
    const perSec = (2 * LIMIT_PER_MIN) / 60;
    const total = Math.round(perSec * 70);
    log(`limiter: steady ${perSec}/s for 70 s (${total} calls)`);
    const t0 = Date.now();
    const inflight: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      const at = t0 + (i * 1000) / perSec;
      if (at > Date.now()) await sleep(at - Date.now());
      inflight.push(engineAsync(p).catch((err: Error) => log(`limiter call failed: ${err.message}`)));
    }
    await Promise.all(inflight);
    await sleep(Math.max(0, t0 + 72_000 - Date.now()));
    limiterRows('steady demand 2x the limit for 70 s', await arrivals(p.resendKey));
  }
  await drainExecuteQueue();

  // A burst of 1.5x the limit at once, then nothing.
  {
    const p = P('limitBurst');
    const total = Math.round(LIMIT_PER_MIN * 1.5);
    log(`limiter: burst of ${total} calls at once, observed for 66 s`);
    const t0 = Date.now();
    await runPool(total, CLIENT_CONCURRENCY, async () => void (await engineAsync(p)));
    while (Date.now() < t0 + 66_000) await sleep(500);
    limiterRows(`burst of ${total} at once`, await arrivals(p.resendKey));
  }
  await drainExecuteQueue();
  await clearUpstream();
}

function limiterRows(label: string, times: number[]): void {
  const sorted = [...times].sort((a, b) => a - b);
  const first = sorted[0] ?? 0;
  const worst = maxInWindow(sorted, 60_000);
  const firstWindow = sorted.filter((t) => t < first + 60_000).length;
  const util = firstWindow / LIMIT_PER_MIN;
  rows.push(
    [
      `  ${label}: most calls in any 60 s window`,
      '',
      '',
      '',
      `${worst.count} (of ${sorted.length} seen)`,
      `<= ${LIMIT_PER_MIN}`,
      verdict(worst.count <= LIMIT_PER_MIN),
    ],
    [`  ${label}: used in the first window`, '', '', '', `${fmt(util * 100, 1)}%`, '>= 98%', verdict(util >= 0.98)],
  );
  // Where the worst window sits, to explain a failure.
  const perSecond = new Map<number, number>();
  for (const t of sorted)
    perSecond.set(Math.floor((t - first) / 1000), (perSecond.get(Math.floor((t - first) / 1000)) ?? 0) + 1);
  const busy = [...perSecond.entries()].filter(([, n]) => n > 0).map(([s, n]) => `${s}s:${n}`);
  diagnostics.push(
    `Limiter, ${label}: worst window starts ${fmt((worst.startAt - first) / 1000, 2)} s after the first arrival; arrivals per second (second:count): ${busy.join(' ')}`,
  );
}

async function sectionScale(): Promise<void> {
  rows.push({ section: `6. Async throughput by worker processes (concurrency ${CONCURRENCY} each)` });
  const results: Array<[number, number, number, number]> = [];
  for (const count of [1, 2, 4]) {
    let apiMb = 0;
    let workerMb = 0;
    const project = P(`tput${count}`);
    if (workers.length !== count) {
      log(`scale: restarting with ${count} worker process(es)`);
      await stopEngineWorkers();
      await startEngineWorkers(count);
      await runPool(300, CLIENT_CONCURRENCY, async () => void (await engineAsync(P('warm'))));
      const c = await countByStatus(P('warm').id);
      await waitAllTerminal(P('warm').id, c.succeeded + c.failed + c.other, 60_000);
    }
    log(`scale: ${count} worker(s), engine ${N.scaleTput} async calls`);
    const sampler = new RssSampler(() => [
      { name: 'api', pid: api?.realPid() },
      ...workers.map((w) => ({ name: 'worker', pid: w.realPid() })),
    ]);
    const e = await engineThroughput(project, N.scaleTput, sampler);
    const peaks = sampler.stop();
    apiMb = (peaks.get('api') ?? 0) / 1024;
    workerMb = (peaks.get('worker') ?? 0) / 1024;
    const perSec = e.perSec;
    log(`scale: ${count} no-op worker(s), raw BullMQ ${N.scaleBull} jobs`);
    await setNoopWorkers(count);
    const b = await bullThroughput(N.scaleBull, false);
    results.push([count, perSec, b.perSec, workerMb]);
    rows.push([
      `  ${count} worker${count > 1 ? 's' : ''}`,
      '',
      '',
      '',
      `${fmt(perSec, 0)}/s; raw BullMQ ${fmt(b.perSec, 0)}/s (${fmt(perSec / b.perSec, 2)}x); RSS worker ${fmt(workerMb, 0)}, api ${fmt(apiMb, 0)} MB`,
      '(info)',
      '',
    ]);
    diagnostics.push(
      `CPU per call with ${count} worker(s): ${cpuLine(e.cpu, ['api', 'workers', 'postgres', 'redis', 'upstream', 'bench'])}; ${fmt(e.cores, 2)} cores used`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Main

function machine(): string[] {
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  const memGb = os.totalmem() / 1024 ** 3;
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: repoRoot, encoding: 'utf8' }).trim();
    const dirty = execSync('git status --porcelain --untracked-files=no', { cwd: repoRoot, encoding: 'utf8' }).trim();
    if (dirty) commit += ` + uncommitted changes in ${dirty.split('\n').length} file(s)`;
  } catch {
    // not a git checkout
  }
  return [
    `machine: ${os.cpus().length} cpus (nproc ${os.availableParallelism()}), ${fmt(memGb, 1)} GiB, ${cpu}, node ${process.version}, ${os.type()} ${os.release()}`,
    `code: ${commit}; load average at start ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
    `setup: api x1, workers x${WORKERS} (WORKER_CONCURRENCY=${CONCURRENCY}), LOG_LEVEL=${LOG_LEVEL}, upstream = Resend fake (test/fakes) with fixed ${UPSTREAM_LATENCY_MS} ms latency in its own process; ` +
      `Postgres 15 ${PG_FAST ? 'FAST mode (fsync, synchronous_commit, full_page_writes off)' : 'durable (fsync on, synchronous_commit on)'}; redis-server with AOF everysec; all on 127.0.0.1${QUICK ? '; BENCH_QUICK=1 (smaller counts, no limiter section)' : ''}`,
  ];
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  const header = machine();
  for (const l of header) log(l);

  log('starting redis and postgres');
  services = await startServices({ pgFast: PG_FAST, redisPersistence: true });
  pool = new pg.Pool({ connectionString: services.databaseUrl, max: 4 });
  essentialPool = new pg.Pool({ connectionString: services.databaseUrl, max: 20 });
  benchDb = createDb(services.databaseUrl, { max: 2 });

  upstream = spawnTsx('upstream', 'bench/upstream.ts', {
    ...baseEnv(),
    BENCH_UPSTREAM_LATENCY_MS: String(UPSTREAM_LATENCY_MS),
    BENCH_RESEND_KEYS: [...PROJECT_NAMES, ESSENTIAL_KEY_NAME].map(resendKeyFor).join(','),
  });
  const ready = await upstream.waitForLine(/^READY (\S+) (\S+)/, 60_000);
  fakeUrl = ready[1]!;
  controlUrl = ready[2]!;

  const port = await findFreePort();
  baseUrl = `http://127.0.0.1:${port}`;
  workspaceKey = `ck_ws_${randomBytes(32).toString('base64url')}`;
  engineEnv = {
    ...baseEnv(),
    PORT: String(port),
    DATABASE_URL: services.databaseUrl,
    REDIS_URL: services.redisUrl,
    CONNECTORS_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
    BOOTSTRAP_WORKSPACE_KEY: workspaceKey,
    RESEND_API_URL: fakeUrl,
    LOG_LEVEL,
    WORKER_CONCURRENCY: String(CONCURRENCY),
    HEALTH_CHECK_INTERVAL_MS: '0', // no background credential checks hitting the fake mid-measurement
    // Projects' own limits (up to HIGH_LIMIT) are capped by Resend's ceiling and the operator's
    // maximum: both raised here. The default stays Resend's 300/min, as `defaultA` measures.
    RESEND_RATE_LIMIT_PER_MINUTE: String(HIGH_LIMIT),
    RATE_LIMIT_MAX_PER_MINUTE: String(HIGH_LIMIT),
    RATE_LIMIT_PER_MINUTE: '300',
    WORKER_METRICS_PORT: '0', // several workers on one machine: each its own free port
    MAX_CONNECTIONS_PER_CLIENT: '100000', // the load generator is one address with every caller's connections
    EGRESS_ALLOW_HOSTS: '127.0.0.1', // section 8's webhook receiver listens on loopback
    // Experiments: settings of the api and workers, e.g. BENCH_ENGINE_ENV="EXECUTION_RESERVE_SLOTS=0".
    ...Object.fromEntries(
      (process.env.BENCH_ENGINE_ENV ?? '')
        .split(/\s+/)
        .filter(Boolean)
        .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
    ),
  };
  executeQueue = new Queue(EXECUTE_QUEUE, { connection: benchRedis() });
  noopQueue = new Queue('bench-noop', { connection: benchRedis() });
  essentialQueue = new Queue(ESSENTIAL_QUEUE, { connection: benchRedis() });
  noopEvents = new QueueEvents('bench-noop', { connection: benchRedis() });
  await listenForCompletions(noopEvents);

  log('starting the api and workers');
  api = spawnTsx('api', 'api/main.ts', engineEnv, engineNodeArgs());
  await startEngineWorkers(WORKERS);
  const readyDeadline = Date.now() + 60_000;
  for (;;) {
    if (!api.isRunning()) throw new Error(`api exited during start-up:\n${api.tail()}`);
    const ok = await httpJson('GET', `${baseUrl}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > readyDeadline) throw new Error(`api not ready within 60 s:\n${api.tail()}`);
    await sleep(100);
  }
  await setNoopWorkers(WORKERS);
  await sleep(1_000);
  const idle = [api, ...workers].map((p) => `${p.name} ${fmt(rssKb(p.realPid() ?? 0) / 1024, 0)} MB`);
  notes.push(`RSS after start-up, before any call: ${idle.join(', ')}.`);
  wholeRunRss.start();

  log('creating projects, keys and connections');
  const limits: Record<string, number | null> = {
    sync: HIGH_LIMIT,
    tput1: HIGH_LIMIT,
    tput2: HIGH_LIMIT,
    tput4: HIGH_LIMIT,
    warm: HIGH_LIMIT,
    fairB: HIGH_LIMIT,
    floodA: FLOOD_LIMIT,
    defaultA: null,
    mcpA: FLOOD_LIMIT,
    slowA: null,
    limitSteady: LIMIT_PER_MIN,
    limitBurst: LIMIT_PER_MIN,
  };
  for (const name of PROJECT_NAMES) projects.set(name, await createProject(name, limits[name]!));

  await warmUp();
  const loads: string[] = [];
  const section = async (key: string, label: string, fn: () => Promise<void>) => {
    if (!SECTIONS.has(key)) return;
    await clearUpstream();
    const { foreignCores, stealCores, wallMs } = await measureForeignLoad(fn);
    loads.push(
      `${label} ${fmt(wallMs / 1000, 0)} s, others ${fmt(foreignCores, 2)} cores${stealCores >= 0.01 ? ` (steal ${fmt(stealCores, 2)})` : ''}`,
    );
  };
  await section('sync', '1', sectionSync);
  await section('tput', '2+5', sectionThroughput);
  await section('fair', '3', sectionFairness);
  await section('limit', '4', sectionLimiter);
  if (!SECTIONS.has('limit'))
    rows.push({ section: '4. Rate limiter accuracy: skipped (BENCH_QUICK=1 or BENCH_SECTIONS)' });
  await section('scale', '6', sectionScale);
  await section('memory', '7', sectionMemory);
  await section('inbound', '8', sectionInbound);
  notes.push(
    `Section durations and CPU used by other processes on the machine meanwhile (2 cores in all): ${loads.join('; ')}.`,
  );

  const whole = wholeRunRss.stop();
  if (PROFILE) await profileReport();
  notes.push(
    `Peak RSS over the whole run: api ${fmt((whole.get('api') ?? 0) / 1024, 0)} MB, largest worker ${fmt((whole.get('worker') ?? 0) / 1024, 0)} MB ` +
      `(each one node process, started as \`npm run api|worker\` starts it${process.env.BENCH_RUNTIME === 'tsx' ? ', but through tsx (BENCH_RUNTIME=tsx)' : ''}${process.env.BENCH_NODE_FLAGS ? `, node flags "${process.env.BENCH_NODE_FLAGS}"` : ''}).`,
    `Run took ${fmt((Date.now() - startedAt) / 1000, 0)} s; load average at the end ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}.`,
  );

  // Sections in the order of the brief.
  const ordered = orderSections(rows);
  const table = renderTable(['measurement', 'p50', 'p95', 'p99', 'value', 'target', 'result'], ordered, [1, 2, 3]);
  const report = [...header, '', table, '', ...notes.map((n) => `note: ${n}`), '', 'Diagnostics', ...diagnostics].join(
    '\n',
  );
  process.stdout.write(`\n${report}\n`);
  if (process.env.BENCH_OUT) fs.writeFileSync(process.env.BENCH_OUT, `${report}\n`);
}

const profileDir = () => path.join(services!.tmpDir, 'profiles');
const rolesByPid = new Map<number, string>();
function rememberRoles(): void {
  if (api?.realPid()) rolesByPid.set(api.realPid()!, 'api');
  for (const w of workers) if (w.realPid()) rolesByPid.set(w.realPid()!, 'worker');
}

/** Stops the api and workers (so they write their profiles) and summarizes them per role. */
async function profileReport(): Promise<void> {
  rememberRoles();
  await Promise.all([...workers, api!].map((p) => p.stop(30_000)));
  workers = [];
  const { rows: r } = await pool!.query<{ n: string }>(
    "select count(*) as n from invocations where status in ('succeeded', 'failed')",
  );
  const calls = profileWindow?.calls ?? Number(r[0]!.n);
  const files = fs.existsSync(profileDir())
    ? fs.readdirSync(profileDir()).filter((f) => f.endsWith('.cpuprofile'))
    : [];
  for (const role of ['api', 'worker']) {
    const mine = files
      .filter((f) => rolesByPid.get(Number(/^CPU\.\d+\.\d+\.(\d+)\./.exec(f)?.[1])) === role)
      .map((f) => path.join(profileDir(), f));
    if (mine.length === 0) {
      diagnostics.push(`no CPU profile found for the ${role}`);
      continue;
    }
    diagnostics.push(
      ...formatProfile(
        `${role}${role === 'worker' ? 's (all together)' : ''}`,
        summarizeProfiles(mine, repoRoot, profileWindow),
        calls,
      ),
    );
  }
  diagnostics.push(
    profileWindow
      ? `(profiles restricted to the engine throughput run of section 2: ${profileWindow.calls} calls)`
      : '(profiles cover the whole run, start-up included)',
  );
  notes.push(
    'BENCH_PROFILE=1: the api and workers ran with --cpu-prof, which slows them; the table is not comparable with a normal run.',
  );
}

function orderSections(input: Row[]): Row[] {
  const groups: Array<{ key: number; rows: Row[] }> = [];
  for (const r of input) {
    if (!Array.isArray(r) && r !== 'rule')
      groups.push({ key: Number(/^(\d+)\./.exec(r.section)?.[1] ?? 99), rows: [r] });
    else groups[groups.length - 1]?.rows.push(r);
  }
  return groups.sort((a, b) => a.key - b.key).flatMap((g) => g.rows);
}

// ---------------------------------------------------------------------------------------------
// 8. Inbound events

const INBOUND_EVENTS = 2_000;

/**
 * A flood of signed Resend (Svix) events at POST /v1/inbound/resend/{connectionId}, CLIENT_CONCURRENCY
 * in flight: the route must answer each within Slack's 3 s (p99), and every accepted event must be
 * stored once and delivered to a subscribed webhook out, whose signature the Standard Webhooks
 * library accepts.
 */
async function sectionInbound(): Promise<void> {
  rows.push({
    section: `8. Inbound events: a flood of ${INBOUND_EVENTS} signed Resend events, stored, fanned out and delivered (ms)`,
  });
  const signingSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const delivered = new Map<string, boolean>();
  let webhookSecret = '';
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers = {
        'webhook-id': String(req.headers['webhook-id']),
        'webhook-timestamp': String(req.headers['webhook-timestamp']),
        'webhook-signature': String(req.headers['webhook-signature']),
      };
      let valid = true;
      try {
        new StandardWebhook(webhookSecret).verify(Buffer.concat(chunks).toString('utf8'), headers);
      } catch {
        valid = false;
      }
      delivered.set(headers['webhook-id'], (delivered.get(headers['webhook-id']) ?? true) && valid);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  try {
    const hook = await apiCall('POST', '/v1/webhooks', workspaceKey, {
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`,
      events: ['resend.email.delivered'],
    });
    webhookSecret = hook.secret;
    const conn = await apiCall('POST', '/v1/connections', workspaceKey, {
      connectorId: 'resend',
      displayName: 'bench inbound',
      credentials: { apiKey: resendKeyFor('warm'), webhookSecret: signingSecret },
    });
    const svix = new SvixWebhook(signingSecret);
    const latencies: number[] = [];
    let refused = 0;
    log(`inbound: ${INBOUND_EVENTS} signed events, ${CLIENT_CONCURRENCY} in flight`);
    const t0 = Date.now();
    await runPool(INBOUND_EVENTS, CLIENT_CONCURRENCY, async (i) => {
      const body = {
        type: 'email.delivered',
        created_at: new Date().toISOString(),
        data: {
          email_id: randomUUID(),
          from: 'Acme <onboarding@resend.dev>',
          to: [`user${i}@example.com`],
          subject: 'Hello',
        },
      };
      const msgId = `msg_bench_${i}`;
      const at = new Date();
      const start = now();
      const r = await httpJson('POST', `${baseUrl}/v1/inbound/resend/${conn.id}`, {
        headers: {
          'svix-id': msgId,
          'svix-timestamp': String(Math.floor(at.getTime() / 1000)),
          'svix-signature': svix.sign(msgId, at, JSON.stringify(body)),
        },
        body,
      });
      latencies.push(now() - start);
      if (r.status !== 200) refused++;
    });
    const acceptedMs = Date.now() - t0;
    const deadline = Date.now() + 300_000;
    while (delivered.size < INBOUND_EVENTS - refused && Date.now() < deadline) await sleep(200);
    const allDeliveredMs = Date.now() - t0;
    const stored = Number(
      (await pool!.query('select count(*)::int as n from inbound_events where connection_id = $1', [conn.id])).rows[0]
        .n,
    );
    const verified = [...delivered.values()].filter(Boolean).length;
    const s = summarize(latencies);
    rows.push(
      latencyRow(
        '  POST /v1/inbound answer',
        s,
        `n=${s.n}, ${refused} refused`,
        'p99 < 3000',
        verdict(s.p99 < 3000 && refused === 0),
      ),
    );
    const lost = INBOUND_EVENTS - refused - Math.min(stored, verified);
    rows.push([
      '  accepted → stored → delivered (verified by standardwebhooks)',
      '',
      '',
      '',
      `${INBOUND_EVENTS - refused} → ${stored} → ${verified}`,
      'none lost',
      verdict(lost === 0 && stored === INBOUND_EVENTS - refused),
    ]);
    notes.push(
      `Inbound: ${INBOUND_EVENTS} events answered in ${fmt(acceptedMs / 1000, 1)} s, all delivered ${fmt(allDeliveredMs / 1000, 1)} s after the first was sent.`,
    );
  } finally {
    receiver.closeAllConnections();
    await new Promise<void>((r) => receiver.close(() => r()));
  }
}

let cleaningUp: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaningUp ??= (async () => {
    wholeRunRss.stop();
    const closeQuietly = async (c: { close(): Promise<unknown> } | undefined) => {
      await Promise.race([c?.close().catch(() => {}), sleep(5_000)]);
    };
    await Promise.all([
      closeQuietly(noopEvents),
      closeQuietly(noopQueue),
      closeQuietly(essentialQueue),
      closeQuietly(executeQueue),
    ]);
    await Promise.all(
      [...workers, ...noopWorkers, ...essentialWorkers, ...(api ? [api] : []), ...(upstream ? [upstream] : [])].map(
        (p) => p.stop(10_000),
      ),
    );
    killAllNow();
    for (const r of redisClients) r.disconnect();
    await pool?.end().catch(() => {});
    await essentialPool?.end().catch(() => {});
    await benchDb?.destroy().catch(() => {});
    await services?.stop().catch(() => {});
  })();
  return cleaningUp;
}

const watchdog = setTimeout(() => {
  log(`hard limit of ${HARD_LIMIT_MS / 60_000} min reached: stopping everything`);
  killAllNow();
  void cleanup().finally(() => process.exit(2));
}, HARD_LIMIT_MS);
watchdog.unref();

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping everything`);
    void cleanup().finally(() => process.exit(130));
  });
}

let exitCode = 0;
try {
  await main();
} catch (err) {
  exitCode = 1;
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  for (const p of [api, ...workers].filter((x): x is NodeProc => !!x))
    log(`--- ${p.name} output tail ---\n${p.tail()}`);
} finally {
  await cleanup();
}
process.exit(exitCode);
