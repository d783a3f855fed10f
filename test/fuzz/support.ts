import http from 'node:http';
import net from 'node:net';
import { expect } from 'vitest';
import { statusByCode } from '../../shared/errors.ts';
import { type ElevenLabsFake, startElevenLabsFake } from '../fakes/elevenlabs/elevenlabs-fake.ts';
import { type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import {
  SLACK_FAKE_CLIENT_ID,
  SLACK_FAKE_CLIENT_SECRET,
  type SlackFake,
  startSlackFake,
} from '../fakes/slack/slack-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';

/**
 * Raw HTTP for hostile-input tests: exact paths (no URL normalisation), any header, any bytes.
 * And the invariants every answer must keep, whatever was sent.
 */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  json: any;
}

export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
}

export function raw(baseUrl: string, req: RawRequest): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const r = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: req.method ?? 'GET',
        path: req.path,
        // Chunked when asked for (no Content-Length), else the body's exact length.
        headers: {
          ...(req.body !== undefined && !req.headers?.['transfer-encoding']
            ? { 'content-length': String(Buffer.byteLength(req.body)) }
            : {}),
          ...req.headers,
        },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    if (req.body !== undefined) r.write(req.body);
    r.end();
  });
}

/** Bytes straight onto a socket, for requests Node's HTTP client refuses to send (NUL in a header...). */
export function rawSocket(
  baseUrl: string,
  bytes: string | Buffer,
  timeoutMs = 5_000,
): Promise<{ statusLine: string; text: string }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: url.hostname, port: Number(url.port) }, () => socket.end(bytes));
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error('socket timeout')));
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ statusLine: text.split('\r\n')[0] ?? '', text });
    });
  });
}

/** Codes a client may see (docs/api.md plus docs/api-notes.md); `internal_error` is a bug by definition. */
export const publicCodes = new Set(Object.keys(statusByCode).filter((c) => c !== 'internal_error'));

/** 5xx that are not our fault: the upstream's answer, relayed (only on routes that call one). */
const upstreamCodes = new Set(['upstream_error', 'upstream_unavailable', 'outcome_unknown', 'timeout']);

export interface InvariantOptions {
  /**
   * The route calls an upstream (credential tests, executions): 502 upstream_* is then a fair
   * answer, and so is 504 timeout (a sync execution whose own timeoutMs ran out).
   */
  upstream?: boolean;
  /** X-Request-Id the client sent, expected back when it is sane. */
  sentRequestId?: string;
}

/**
 * What every response must be, whatever the request: never a 5xx of ours; an error is the docs/api.md
 * envelope with a known code whose status it matches; X-Request-Id is always there.
 */
export function assertInvariants(res: RawResponse, label: string, options: InvariantOptions = {}): void {
  const where = `${label} → ${res.status} ${res.text.slice(0, 300)}`;
  expect(res.headers['x-request-id'], where).toMatch(/^[\x21-\x7e]{1,128}$/);
  if (options.sentRequestId !== undefined && /^[\x21-\x7e]{1,128}$/.test(options.sentRequestId)) {
    expect(res.headers['x-request-id'], where).toBe(options.sentRequestId);
  }
  if (res.status >= 500) {
    expect(
      options.upstream && res.json?.error && upstreamCodes.has(res.json.error.code),
      `no 5xx of ours: ${where}`,
    ).toBe(true);
  }
  if (res.status >= 400) {
    expect(res.headers['content-type'], where).toMatch(/^application\/json/);
    const body = res.json;
    expect(body && typeof body === 'object' && !Array.isArray(body), where).toBe(true);
    const keys = Object.keys(body).sort();
    if (label.includes('/v1/mcp') && body.jsonrpc === '2.0') {
      // The MCP endpoint speaks JSON-RPC: its protocol errors are JSON-RPC error objects (MCP spec),
      // with an integer code and a message; its authentication errors are the API envelope.
      expect(
        keys.every((k) => ['jsonrpc', 'id', 'error'].includes(k)),
        where,
      ).toBe(true);
      expect(
        Number.isInteger(body.error?.code) && typeof body.error?.message === 'string' && body.error.message.length > 0,
        where,
      ).toBe(true);
      expect(
        Object.keys(body.error).every((k) => ['code', 'message', 'data'].includes(k)),
        where,
      ).toBe(true);
      return;
    }
    expect(
      keys.filter((k) => k !== 'invocationId'),
      where,
    ).toEqual(['error']);
    const error = body.error;
    expect(
      Object.keys(error).every((k) => ['code', 'message', 'details'].includes(k)),
      where,
    ).toBe(true);
    expect(typeof error.code, where).toBe('string');
    expect(publicCodes.has(error.code), `known code: ${where}`).toBe(true);
    expect(statusByCode[error.code as keyof typeof statusByCode], `status matches code: ${where}`).toBe(res.status);
    expect(typeof error.message === 'string' && error.message.length > 0, where).toBe(true);
    if (error.code === 'invalid_input' && error.details !== undefined) {
      expect(Array.isArray(error.details), where).toBe(true);
      for (const d of error.details)
        expect(typeof d.path === 'string' && typeof d.message === 'string', where).toBe(true);
    }
  }
}

/** Runs fn over items, n at a time. */
export async function inParallel<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * The engine in-process, wired to all three upstream fakes and the fake Slack OAuth app: the set-up
 * both hostile-input suites run against.
 */
export async function startEngineWithAllFakes(env: Record<string, string>): Promise<{
  engine: Engine;
  resend: ResendFake;
  slack: SlackFake;
  eleven: ElevenLabsFake;
}> {
  const resend = await startResendFake({ rateLimitPerSecond: 10_000 });
  const slack = await startSlackFake();
  const eleven = await startElevenLabsFake();
  const engine = await startEngine({
    env: {
      RESEND_API_URL: resend.url,
      SLACK_API_URL: `${slack.url}/api`,
      ELEVENLABS_API_URL: eleven.url,
      SLACK_CLIENT_ID: SLACK_FAKE_CLIENT_ID,
      SLACK_CLIENT_SECRET: SLACK_FAKE_CLIENT_SECRET,
      LOG_LEVEL: 'warn',
      ...env,
    },
  });
  return { engine, resend, slack, eleven };
}
