// Tiny HTTP toolkit shared by all local fakes (Resend now; Slack and ElevenLabs later).
// It records requests, and provides the switches tests need (latency, injected
// responses, dropped connections). What a response *says* is decided by each fake.
// node:http instead of express: we must control every header and body byte, and
// express adds its own (x-powered-by, etag, HTML error pages).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/emails/batch`. */
  path: string;
  /** First value of each query parameter. */
  query: Record<string, string>;
  /** The query string as received, without `?`: for parameters that repeat (`labelIds=A&labelIds=B`). */
  rawQuery: string;
  /** Lowercased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  rawBody: Buffer;
  /** Set when the content type is JSON and the body parses. */
  json?: unknown;
  /** Set when the content type is application/x-www-form-urlencoded. */
  form?: Record<string, string>;
  receivedAt: Date;
}

export interface FakeResponse {
  status: number;
  headers?: Record<string, string>;
  /** Buffer or string are sent as is; anything else is sent as JSON. */
  body?: unknown;
}

/** Return this from a handler to destroy the socket without answering. */
export const DROP_CONNECTION = Symbol('drop-connection');

export interface HandlerContext {
  /**
   * Waits the configured latency now. Call it where the "work" happens when the
   * fake must model a request that is still in flight (e.g. idempotency keys).
   * If the handler never calls it, the toolkit waits just before answering.
   */
  simulateLatency(): Promise<void>;
  /**
   * Dequeues the next response queued with `failNext`, if any. Each fake calls
   * this at the point of its pipeline where an upstream error would come from
   * (e.g. after the edge checks, so the injected error still gets the usual headers).
   */
  takeInjectedResponse(): FakeResponse | undefined;
}

export type FakeHandler = (
  req: RecordedRequest,
  ctx: HandlerContext,
) => FakeResponse | typeof DROP_CONNECTION | Promise<FakeResponse | typeof DROP_CONNECTION>;

export interface DropOptions {
  /**
   * false (default): drop before the handler runs, so nothing happens server side.
   * true: run the handler (e.g. the email IS sent), then drop: the client never
   * learns the outcome, which is the case idempotent retries exist for.
   */
  afterProcessing?: boolean;
}

export interface FakeServer {
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedRequest[];
  setLatency(ms: number): void;
  /**
   * A latency per request, overriding `setLatency` where it returns a number; `Infinity` means the
   * request is never answered (the socket stays open until the client gives up or the fake closes).
   */
  setLatencyOf(latencyOf: ((req: RecordedRequest) => number | undefined) | null): void;
  failNext(n: number, response: FakeResponse): void;
  dropNextConnections(n: number, options?: DropOptions): void;
  /** Clears recorded requests, queued failures/drops and latency. */
  reset(): void;
  close(): Promise<void>;
}

export interface StartOptions {
  port?: number;
  host?: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function startFakeServer(handler: FakeHandler, options: StartOptions = {}): Promise<FakeServer> {
  const host = options.host ?? '127.0.0.1';
  const requests: RecordedRequest[] = [];
  let latencyMs = 0;
  let latencyOf: ((req: RecordedRequest) => number | undefined) | null = null;
  let injected: FakeResponse[] = [];
  let drops: boolean[] = []; // one entry per pending drop: its afterProcessing flag

  const server = http.createServer(async (req, res) => {
    try {
      const recorded = await record(req);
      requests.push(recorded);

      const drop = drops.shift();
      if (drop === false) return void req.socket.destroy();

      let waited = false;
      const ctx: HandlerContext = {
        simulateLatency: async () => {
          if (waited) return;
          waited = true;
          const ms = latencyOf?.(recorded) ?? latencyMs;
          if (ms === Infinity) await new Promise<never>(() => {});
          if (ms > 0) await sleep(ms);
        },
        takeInjectedResponse: () => injected.shift(),
      };
      const result = await handler(recorded, ctx);
      await ctx.simulateLatency(); // no-op if the handler already waited
      if (result === DROP_CONNECTION || drop === true) return void req.socket.destroy();
      send(res, result);
    } catch (err) {
      console.error('fake server handler failed:', err);
      if (!res.headersSent) send(res, { status: 500, body: `fake server error: ${String(err)}` });
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://${host}:${port}`,
    port,
    requests,
    setLatency: (ms) => {
      latencyMs = ms;
    },
    setLatencyOf: (fn) => {
      latencyOf = fn;
    },
    failNext: (n, response) => {
      for (let i = 0; i < n; i++) injected.push(response);
    },
    dropNextConnections: (n, opts = {}) => {
      for (let i = 0; i < n; i++) drops.push(opts.afterProcessing ?? false);
    },
    reset: () => {
      requests.length = 0; // keep the same array: callers may hold a reference
      injected = [];
      drops = [];
      latencyMs = 0;
      latencyOf = null;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections(); // keep-alive sockets would hold close() open
      }),
  };
}

async function record(req: http.IncomingMessage): Promise<RecordedRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const rawBody = Buffer.concat(chunks);

  const url = new URL(req.url ?? '/', 'http://fake.local');
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) if (!(k in query)) query[k] = v;

  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }

  const recorded: RecordedRequest = {
    method: req.method ?? 'GET',
    path: url.pathname,
    query,
    rawQuery: url.search.replace(/^\?/, ''),
    headers,
    rawBody,
    receivedAt: new Date(),
  };
  const contentType = headers['content-type'] ?? '';
  if (contentType.includes('json') && rawBody.length > 0) {
    try {
      recorded.json = JSON.parse(rawBody.toString('utf8'));
    } catch {
      // leave json unset: the fake decides how to answer a malformed body
    }
  } else if (contentType.includes('application/x-www-form-urlencoded')) {
    recorded.form = Object.fromEntries(new URLSearchParams(rawBody.toString('utf8')));
  }
  return recorded;
}

function send(res: http.ServerResponse, response: FakeResponse): void {
  const headers: Record<string, string> = { ...response.headers };
  const hasType = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type');
  let payload: Buffer | string = '';
  if (Buffer.isBuffer(response.body) || typeof response.body === 'string') {
    payload = response.body;
    if (!hasType) headers['content-type'] = 'text/plain; charset=utf-8';
  } else if (response.body !== undefined) {
    payload = JSON.stringify(response.body);
    if (!hasType) headers['content-type'] = 'application/json; charset=utf-8';
  }
  headers['content-length'] = String(Buffer.byteLength(payload));
  res.writeHead(response.status, headers);
  res.end(payload);
}
