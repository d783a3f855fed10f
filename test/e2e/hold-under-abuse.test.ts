import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine, waitForLog } from '../support/engine.ts';
import { apiClient, setUpProject } from '../support/http.ts';

/**
 * Red-team issue 14, "Hold under abuse": what a client without a valid key, or with too many
 * connections or failed keys, can make the api hold (findings 3, 4, 8), and what the api logs for
 * an expected 5xx (finding 11).
 */

const MiB = 1024 * 1024;
const madeUpKey = (n: number | string) => `ck_pr_madeUp${String(n).padEnd(37, 'x')}`;

/** The api process's resident memory, in MiB. */
function rssMiB(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
  return Number(kb) / 1024;
}

/** Samples the api's RSS until stopped; returns the peak. */
function sampleRss(pid: number): { stop(): number } {
  let peak = rssMiB(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 50);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssMiB(pid));
    },
  };
}

/**
 * A fetch that failed because the api closed the connection while the body was still being sent
 * (refused unread): 'reset'. Any other failure is rethrown.
 */
function resetWhileSending(err: unknown): 'reset' {
  const code = (err as { cause?: { code?: string } }).cause?.code;
  if (code === 'EPIPE' || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'reset';
  throw err;
}

interface RawSocket {
  socket: net.Socket;
  /** Everything the server sent. */
  received(): string;
  /** Resolves when the server closed the connection (or it failed), with the time since open. */
  closed: Promise<number>;
}

/** A raw TCP connection to the api, from `localAddress` (any 127.x.y.z on Linux: one client each). */
async function rawSocket(port: number, localAddress = '127.0.0.1'): Promise<RawSocket> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  const opened = Date.now();
  let data = '';
  socket.on('data', (d) => (data += String(d)));
  const closed = new Promise<number>((resolve) => {
    socket.once('close', () => resolve(Date.now() - opened));
    socket.on('error', () => {}); // EPIPE / ECONNRESET once the server has answered and closed
  });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return { socket, received: () => data, closed };
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return condition();
}

const postHeaders = (key: string, length: number, path = '/v1/executions') =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

/** A request over its own connection from `localAddress` (fetch cannot choose its source address). */
function requestFrom(
  localAddress: string,
  port: number,
  options: { method?: string; path: string; key?: string; body?: string; timeoutMs?: number },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        localAddress,
        agent: false,
        method: options.method ?? 'GET',
        path: options.path,
        timeout: options.timeoutMs ?? 30_000,
        headers: {
          ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
          ...(options.body !== undefined
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(options.body) }
            : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += String(d)));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode!, headers: res.headers, body });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

const email = { from: 'orders@example.com', to: 'ada@example.com', subject: 'Big' };
/** An execution body of about `bytes` bytes, real content (not whitespace), so parsing it costs what it weighs. */
const bigExecution = (bytes: number) =>
  JSON.stringify({ connectorId: 'resend', actionId: 'sendEmail', input: { ...email, text: 'x'.repeat(bytes - 200) } });

/** An engine with these settings, the Resend fake, and a project key bound to a Resend connection. */
async function startAbusedEngine(mode: 'processes' | 'in-process', env: Record<string, string>) {
  const fake = await startResendFake({ rateLimitPerSecond: 100_000 });
  const engine = await startEngine({ mode, env: { RESEND_API_URL: fake.url, ...env } });
  await waitForLog(engine, /worker ready/);
  const admin = apiClient(engine.baseUrl, engine.workspaceKey);
  const { projectKey } = await setUpProject(admin, {
    connectorId: 'resend',
    credentials: { apiKey: RESEND_FAKE_FULL_KEY },
  });
  return { fake, engine, port: Number(new URL(engine.baseUrl).port), projectKey };
}

describe('the api under abuse: processes, short timeouts', () => {
  let fake: ResendFake;
  let engine: Engine;
  let port: number;
  let pid: number;
  let projectKey: string;

  beforeAll(async () => {
    ({ fake, engine, port, projectKey } = await startAbusedEngine('processes', {
      HTTP_HEADERS_TIMEOUT_MS: '2000',
      HTTP_REQUEST_TIMEOUT_MS: '8000',
      HTTP_BODY_IDLE_TIMEOUT_MS: '1500',
    }));
    pid = engine.processes.api!.pid!;
  }, 90_000);

  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
  });

  it.each(['/v1/executions', '/v1/mcp', '/v1/projects'])(
    'answers a bad key on %s with 401 before the client has sent its 1 MiB body',
    async (path) => {
      const raw = await rawSocket(port);
      raw.socket.write(`${postHeaders(madeUpKey('early'), MiB, path)}{"connectorId":"resend","input":{"text":"`);
      // The rest of the body is never sent: the answer must not wait for it.
      expect(
        await until(() => raw.received().includes('\r\n\r\n{'), 5_000),
        `answered before the body was sent; got ${JSON.stringify(raw.received())}`,
      ).toBe(true);
      expect(raw.received()).toMatch(/^HTTP\/1\.1 401 /);
      expect(raw.received()).toMatch(/\r\nconnection: close\r\n/i);
      expect(raw.received()).toContain('"code":"unauthenticated"');
      // And the connection is closed rather than left to read the rest.
      expect(await Promise.race([raw.closed, new Promise((r) => setTimeout(() => r('open'), 5_000))])).not.toBe('open');
    },
  );

  it('holds 100 stalled sockets with made-up keys without buffering their bodies, and closes every stalled socket in time', async () => {
    // Warm up, then measure.
    for (let i = 0; i < 5; i++)
      await fetch(`${engine.baseUrl}/v1/invocations`, { headers: { authorization: `Bearer ${madeUpKey(i)}` } });
    const before = rssMiB(pid);
    const peak = sampleRss(pid);
    const body = Buffer.alloc(MiB - 1, 'x'); // all of a 1 MiB body but its last byte
    const sockets = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const raw = await rawSocket(port);
        raw.socket.write(postHeaders(madeUpKey(i), MiB));
        raw.socket.write(body);
        return raw;
      }),
    );
    // And a few whose headers never end.
    const headerStalls = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const raw = await rawSocket(port);
        raw.socket.write(
          `POST /v1/executions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${madeUpKey('h')}\r\n`,
        );
        return raw;
      }),
    );
    const closedIn = await Promise.all(
      [...sockets, ...headerStalls].map((s) =>
        Promise.race([s.closed, new Promise<number>((r) => setTimeout(() => r(Infinity), 15_000))]),
      ),
    );
    const grownMiB = peak.stop() - before;
    console.log(
      `[abuse] 100 stalled 1 MiB bodies with made-up keys: api RSS ${before.toFixed(0)} MiB before, +${grownMiB.toFixed(1)} MiB at peak, ${rssMiB(pid).toFixed(0)} MiB after`,
    );

    // Every body socket was answered 401 and closed; none waited for the request timeout (8 s).
    for (const raw of sockets) expect(raw.received()).toMatch(/^HTTP\/1\.1 401 /);
    expect(Math.max(...closedIn.slice(0, 100))).toBeLessThan(8_000);
    // Headers that never end: closed after HTTP_HEADERS_TIMEOUT_MS (2 s; Node checks every second).
    for (const ms of closedIn.slice(100)) expect(ms).toBeLessThan(8_000);
    for (const raw of headerStalls) expect(raw.received()).toMatch(/^HTTP\/1\.1 408 [\s\S]*"code":"timeout"/);
    expect(grownMiB).toBeLessThan(30);
  }, 60_000);

  it('closes a connection whose body stops arriving, even with a valid key', async () => {
    const raw = await rawSocket(port);
    raw.socket.write(`${postHeaders(projectKey, 1000)}{"connectorId":`);
    const closedIn = await Promise.race([
      raw.closed,
      new Promise<number>((r) => setTimeout(() => r(Infinity), 15_000)),
    ]);
    // HTTP_BODY_IDLE_TIMEOUT_MS is 1.5 s; the whole-request timeout (8 s) would come later.
    expect(closedIn).toBeLessThan(6_000);
  }, 20_000);

  it('logs an upstream_error 502 without a stack, on a request line with one request id', async () => {
    fake.failNext(1, {
      status: 403,
      name: 'validation_error',
      message: 'You can only send testing emails to your own email address',
    });
    const res = await fetch(`${engine.baseUrl}/v1/executions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${projectKey}`,
        'content-type': 'application/json',
        'x-request-id': 'req-abuse-502',
      },
      body: JSON.stringify({ connectorId: 'resend', actionId: 'sendEmail', input: { ...email, text: 'hi' } }),
    });
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_error');
    await waitForLog(engine, /"service":"api"[^\n]*req-abuse-502/);
    const lines = engine
      .logs()
      .split('\n')
      .filter((l) => l.includes('"service":"api"') && l.includes('req-abuse-502'));
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!);
    expect(lines[0]!.match(/req-abuse-502/g)).toHaveLength(1);
    expect(line).toMatchObject({
      reqId: 'req-abuse-502',
      res: { statusCode: 502 },
      errorCode: 'upstream_error',
      level: 40,
    });
    expect(line.req).toEqual({ method: 'POST', path: '/v1/executions' });
    expect(lines[0]).not.toMatch(/stack|"err"/);
    // An ordinary request line has its id once too.
    await fetch(`${engine.baseUrl}/v1/connectors`, { headers: { 'x-request-id': 'req-abuse-200' } });
    await waitForLog(engine, /"service":"api"[^\n]*req-abuse-200/);
    const ok = engine
      .logs()
      .split('\n')
      .find((l) => l.includes('req-abuse-200'))!;
    expect(ok.match(/req-abuse-200/g)).toHaveLength(1);
  });

  it('measures 200 concurrent 1 MiB authenticated executions: bounded by the in-flight body budget', async () => {
    // A 1 s upstream keeps the calls in flight together, as a slow upstream would.
    fake.setLatency(1_000);
    const before = rssMiB(pid);
    const peak = sampleRss(pid);
    const body = bigExecution(MiB - 64);
    let statuses: Array<number | 'reset'>;
    let during: number;
    try {
      statuses = await Promise.all(
        Array.from({ length: 200 }, () =>
          fetch(`${engine.baseUrl}/v1/executions?timeoutMs=60000`, {
            method: 'POST',
            headers: { authorization: `Bearer ${projectKey}`, 'content-type': 'application/json' },
            body,
          }).then(async (r) => {
            await r.arrayBuffer();
            return r.status;
          }, resetWhileSending),
        ),
      );
    } finally {
      during = peak.stop();
      fake.setLatency(0);
    }
    await new Promise((r) => setTimeout(r, 2_000));
    const after = rssMiB(pid);
    const count = (s: number | 'reset') => statuses.filter((x) => x === s).length;
    console.log(
      `[abuse] 200 concurrent 1 MiB sync executions: api RSS ${before.toFixed(0)} MiB before, ${during.toFixed(0)} MiB peak, ${after.toFixed(0)} MiB 2 s after; ` +
        `${count(200)} × 200, ${count(503)} × 503 unavailable, ${count('reset')} × closed while sending, others ${statuses.filter((s) => s !== 200 && s !== 503 && s !== 'reset').join(',') || 'none'}`,
    );
    // Only 200s and budget refusals: the default budget (32 MiB) holds 32 of these bodies at once.
    // A refusal closes the connection unread (Connection: close), so a client still sending its body
    // may fail to write before it reads the 503: that call was refused too.
    expect(count(200) + count(503) + count('reset')).toBe(200);
    expect(count(200)).toBeGreaterThan(0);
    expect(count(503) + count('reset')).toBeGreaterThan(0);
    // Measured: +100 to +107 MiB, 32 served, 168 refused. Before the budget every body was held at
    // once: 141 → 519 MiB here, all 200 served (108 → 642 MiB in red-team finding 3). RSS also holds
    // V8's not yet collected copies of each body (raw chunks, the decoded text, the job's JSON):
    // Node 24's collector lets more of them pile up (+203 MiB seen in CI), still far from unbounded.
    expect(during - before).toBeLessThan(260);
  }, 180_000);
});

describe('per-address limits: connections, failed keys, body budget (in-process)', () => {
  let fake: ResendFake;
  let engine: Engine;
  let port: number;
  let projectKey: string;

  beforeAll(async () => {
    ({ fake, engine, port, projectKey } = await startAbusedEngine('in-process', {
      MAX_CONNECTIONS_PER_CLIENT: '8',
      AUTH_FAILURE_LIMIT: '5',
      AUTH_FAILURE_WINDOW_MS: '3000',
      MAX_INFLIGHT_BODY_BYTES: String(3 * MiB),
    }));
  }, 90_000);

  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
  });

  it('caps the connections one address holds open; other addresses are not affected', async () => {
    const held = await Promise.all(Array.from({ length: 8 }, () => rawSocket(port, '127.0.0.2')));
    for (const raw of held) raw.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(await until(() => held.every((r) => r.received().startsWith('HTTP/1.1 200')), 5_000)).toBe(true);

    // The ninth, still kept open by nothing but the client: 429 and closed.
    const ninth = await rawSocket(port, '127.0.0.2');
    ninth.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(await Promise.race([ninth.closed, new Promise((r) => setTimeout(() => r('open'), 5_000))])).not.toBe('open');
    expect(ninth.received()).toMatch(/^HTTP\/1\.1 429 [\s\S]*retry-after: 1\r\n[\s\S]*"code":"rate_limited"/i);

    // Another address is served.
    expect((await requestFrom('127.0.0.3', port, { path: '/healthz' })).status).toBe(200);

    // A closed connection frees its place.
    held[0]!.socket.destroy();
    await held[0]!.closed;
    await new Promise((r) => setTimeout(r, 200)); // for the api to see the close
    expect((await requestFrom('127.0.0.2', port, { path: '/healthz' })).status).toBe(200);
    for (const raw of held) raw.socket.destroy();
  });

  it('throttles an address after 5 failed keys: 429 with Retry-After and no database lookup, until the window passes', async () => {
    const from = '127.0.0.4';
    for (let i = 0; i < 5; i++) {
      expect((await requestFrom(from, port, { path: '/v1/invocations', key: madeUpKey(`t${i}`) })).status).toBe(401);
    }
    // Lock api_keys: any key lookup now waits. A throttled request answering at once made none.
    const locker = new pg.Client({ connectionString: engine.database.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE');
      const control = requestFrom('127.0.0.5', port, { path: '/v1/invocations', key: madeUpKey('control') });
      const throttled = await requestFrom(from, port, {
        path: '/v1/invocations',
        key: madeUpKey('t5'),
        timeoutMs: 2_500,
      });
      expect(throttled.status).toBe(429);
      expect(throttled.body.error.code).toBe('rate_limited');
      expect(Number(throttled.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(Number(throttled.headers['retry-after'])).toBeLessThanOrEqual(3);
      // A valid key from the throttled address waits out the window too (telling it apart needs the lookup).
      expect(
        (await requestFrom(from, port, { path: '/v1/invocations', key: projectKey, timeoutMs: 2_500 })).status,
      ).toBe(429);
      // The control, from an address that is not throttled, is stuck behind the lock: lookups do wait.
      expect(
        await Promise.race([control.then(() => 'answered'), new Promise((r) => setTimeout(() => r('waiting'), 300))]),
      ).toBe('waiting');
      await locker.query('ROLLBACK');
      expect((await control).status).toBe(401);
    } finally {
      await locker.end();
    }
    // A key with no chance of existing (too short) is refused without a lookup, and counts.
    expect((await requestFrom('127.0.0.6', port, { path: '/v1/invocations', key: 'short' })).status).toBe(401);
    // No key at all: 401, never throttled.
    expect((await requestFrom(from, port, { path: '/v1/invocations' })).status).toBe(401);

    // Once the window has passed, the valid key works again.
    await new Promise((r) => setTimeout(r, 3_100));
    expect((await requestFrom(from, port, { path: '/v1/invocations', key: projectKey })).status).toBe(200);
  }, 30_000);

  it('refuses bodies beyond the in-flight budget with 503 and Retry-After, without reading them', async () => {
    // Each sync call holds its ~1 MiB body until the upstream answers (2 s): 3 MiB fit 3 of them.
    fake.setLatency(2_000);
    try {
      const body = bigExecution(MiB - 64);
      const calls = Array.from({ length: 5 }, (_, i) =>
        requestFrom('127.0.0.7', port, { method: 'POST', path: '/v1/executions', key: projectKey, body }).then((r) => ({
          i,
          ...r,
        })),
      );
      await new Promise((r) => setTimeout(r, 500));
      // While they are in flight, a declared 1 MiB body is refused before any of it is sent.
      const raw = await rawSocket(port, '127.0.0.8');
      raw.socket.write(postHeaders(projectKey, MiB - 64));
      expect(await until(() => raw.received().includes('\r\n\r\n{'), 5_000)).toBe(true);
      expect(raw.received()).toMatch(/^HTTP\/1\.1 503 [\s\S]*retry-after: 1\r\n[\s\S]*"code":"unavailable"/i);
      raw.socket.destroy();

      const results = await Promise.all(calls);
      const ok = results.filter((r) => r.status === 200);
      const refused = results.filter((r) => r.status === 503);
      expect(ok.length + refused.length).toBe(5);
      expect(ok.length).toBeGreaterThanOrEqual(1);
      expect(ok.length).toBeLessThanOrEqual(3);
      for (const r of refused) {
        expect(r.body.error.code).toBe('unavailable');
        expect(r.headers['retry-after']).toBe('1');
      }
    } finally {
      fake.setLatency(0);
    }
    // Released when the responses are done: a new call fits again.
    const again = await requestFrom('127.0.0.7', port, {
      method: 'POST',
      path: '/v1/executions',
      key: projectKey,
      body: bigExecution(MiB - 64),
    });
    expect(again.status).toBe(200);
  }, 60_000);
});
