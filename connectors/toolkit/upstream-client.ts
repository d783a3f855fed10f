import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import got, { CancelError, type Got, RequestError, type Response } from 'got';
import type { EgressGuard } from '../../shared/egress/egress-guard.ts';
import { redactSecrets } from '../../shared/json-safe.ts';
import { ATTR, inSpan, tracingOn } from '../../shared/tracing/tracing.ts';
import { NOT_SENT_CODES, plainRequest } from './plain-http.ts';
import { UpstreamHttpError, UpstreamNetworkError, UpstreamResponseTooLarge } from './upstream-errors.ts';

export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Relative to the connector's base URL, starting with '/'. */
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  json?: unknown;
  /** An `application/x-www-form-urlencoded` body; an array repeats the key (`MediaUrl=a&MediaUrl=b`). */
  form?: Record<string, string | readonly string[] | undefined>;
  headers?: Record<string, string>;
  /** Return the body as bytes (audio) instead of parsing JSON. */
  binary?: boolean;
}

export interface UpstreamResponse<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

export interface UpstreamClientOptions {
  baseUrl: string;
  /** Auth headers for this connection; never logged. */
  authHeaders: Record<string, string>;
  timeoutMs: number;
  userAgent?: string;
  /** Throws for a 2xx answer that is really an error (Slack's HTTP 200 `ok:false`). */
  checkResponse?: (res: UpstreamResponse) => void;
  /** Told of every request's outcome, for metrics. */
  observe?: (status: number | 'network_error', seconds: number) => void;
  /** Values (the connection's credentials) never to pass on, should an upstream quote them in an error. */
  secrets?: readonly string[];
  /** Auth query parameters for this connection (an API key sent as `?api_key=`); never logged. */
  authQuery?: Record<string, string>;
  /**
   * The largest answer read: parsed answers (`maxBytes`) and binary ones (`maxBinaryBytes`, audio).
   * Past it the request is cancelled and fails with UpstreamResponseTooLarge. Default: unbounded.
   */
  maxBytes?: number;
  maxBinaryBytes?: number;
  /**
   * For a service whose address a tenant chose (custom connectors): every request passes the egress
   * guard (resolved address checked where the socket opens), and redirects are followed, each
   * re-checked, without the auth headers once they leave the original origin.
   */
  egress?: Pick<EgressGuard, 'gotOptions'>;
}

/** A request with what both transports take from it: its query, form body, headers sent and byte bound. */
interface PreparedRequest {
  req: UpstreamRequest;
  searchParams: Record<string, string | number | boolean> | undefined;
  form: URLSearchParams | undefined;
  sent: Record<string, string>;
  maxBytes: number;
}

/** Redirects a guarded client follows at most. */
const MAX_REDIRECTS = 5;

// One keep-alive pool per process, shared by every connection: upstream TLS handshakes are the
// largest fixed cost of a call.
const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 256 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 256 }),
};

export const engineUserAgent = 'connector-engine/0.1 (+https://github.com/connector-engine)';

const MAX_ERROR_BODY = 64 * 1024;

// Guarded requests get sockets of their own: a keep-alive socket opened for a built-in connector
// (to an operator-set host the guard would refuse) is never handed to a tenant's request.
const guardedAgents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 256 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 256 }),
};

/**
 * A thin client over got, set up for one connection: base URL, auth, timeout, User-Agent.
 * It never retries (the worker owns retries, per side effect) and turns every failure into
 * an UpstreamHttpError or UpstreamNetworkError for the connector's classifier.
 */
// One got instance per process; per-connection settings go with each request. (Extending got for
// every call showed up as ~9% of worker CPU in the benchmark profile.)
const sharedGot: Got = got.extend({
  retry: { limit: 0 },
  throwHttpErrors: false,
  followRedirect: false,
  agent: agents,
});

export class UpstreamClient {
  private readonly prefixUrl: string;
  private readonly headers: Record<string, string>;
  // Short values (ids, flags) are not worth redacting and would mangle ordinary text.
  private readonly secrets: readonly string[];

  constructor(private readonly options: UpstreamClientOptions) {
    this.secrets = (options.secrets ?? []).filter((s) => s.length >= 8);
    this.prefixUrl = options.baseUrl.replace(/\/+$/, '');
    this.headers = { 'user-agent': options.userAgent ?? engineUserAgent, ...options.authHeaders };
  }

  private guardedOptions(egress: Pick<EgressGuard, 'gotOptions'>) {
    return guardedGotOptions(
      egress,
      Object.keys(this.options.authHeaders).map((h) => h.toLowerCase()),
    );
  }

  async request<T = unknown>(req: UpstreamRequest): Promise<UpstreamResponse<T>> {
    return tracingOn() ? this.tracedSend<T>(req) : this.send<T>(req);
  }

  /**
   * The request in a CLIENT span, with its W3C `traceparent` sent along (to every upstream: services
   * that do not take part in tracing ignore the header; docs/decisions/0014-tracing.md). The span
   * names the method, host and status only: never the path or query, which may carry ids or keys.
   */
  private tracedSend<T>(req: UpstreamRequest): Promise<UpstreamResponse<T>> {
    const url = new URL(this.prefixUrl);
    const attributes = {
      [ATTR.httpRequestMethod]: req.method,
      [ATTR.serverAddress]: url.hostname,
      [ATTR.serverPort]: Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
    };
    return inSpan('client', req.method, { attributes }, async (span) => {
      try {
        const response = await this.send<T>(req, span.traceparent());
        span.set({ [ATTR.httpResponseStatusCode]: response.status });
        return response;
      } catch (err) {
        if (err instanceof UpstreamHttpError) span.set({ [ATTR.httpResponseStatusCode]: err.status });
        throw err;
      }
    });
  }

  private async send<T>(req: UpstreamRequest, traceparent?: string): Promise<UpstreamResponse<T>> {
    const searchParams = req.query
      ? Object.fromEntries(
          Object.entries(req.query).filter((e): e is [string, string | number | boolean] => e[1] !== undefined),
        )
      : undefined;
    let form: URLSearchParams | undefined;
    if (req.form) {
      form = new URLSearchParams();
      for (const [key, value] of Object.entries(req.form)) {
        if (value === undefined) continue;
        for (const v of typeof value === 'string' ? [value] : value) form.append(key, v);
      }
    }
    const sent: Record<string, string> = form
      ? { 'content-type': 'application/x-www-form-urlencoded', ...this.headers, ...req.headers }
      : { ...this.headers, ...req.headers };
    if (traceparent) sent.traceparent = traceparent;
    const started = performance.now();
    const maxBytes = (req.binary ? this.options.maxBinaryBytes : this.options.maxBytes) ?? Infinity;
    let response: { statusCode: number; headers: Record<string, string | string[] | undefined>; body: Buffer };
    try {
      const prepared: PreparedRequest = { req, searchParams, form, sent, maxBytes };
      response = this.options.egress
        ? await this.sendGuarded(prepared, this.options.egress)
        : await this.sendPlain(prepared);
    } catch (err) {
      this.options.observe?.('network_error', (performance.now() - started) / 1000);
      throw err;
    }
    this.options.observe?.(response.statusCode, (performance.now() - started) / 1000);
    const { headers, body } = response;
    const ok = response.statusCode >= 200 && response.statusCode < 300;
    if (ok && req.binary) return { status: response.statusCode, headers, body: body as T };
    const parsed = parseBody(body, String(headers['content-type'] ?? ''), ok ? Infinity : MAX_ERROR_BODY);
    if (!ok) throw new UpstreamHttpError(response.statusCode, headers, redactSecrets(parsed, this.secrets));
    const result = { status: response.statusCode, headers, body: parsed as T };
    try {
      this.options.checkResponse?.(result);
    } catch (err) {
      if (err instanceof UpstreamHttpError)
        throw new UpstreamHttpError(err.status, err.headers, redactSecrets(err.body, this.secrets));
      throw err;
    }
    return result;
  }

  /** A built-in service's request: node:http (plain-http.ts). */
  private async sendPlain({ req, searchParams, form, sent, maxBytes }: PreparedRequest) {
    const url = new URL(`${this.prefixUrl}/${req.path.replace(/^\//, '')}`);
    for (const [key, value] of Object.entries({ ...searchParams, ...this.options.authQuery }))
      url.searchParams.set(key, String(value));
    let body = form?.toString();
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      if (!Object.keys(sent).some((h) => h.toLowerCase() === 'content-type')) sent['content-type'] = 'application/json';
    }
    const answer = await plainRequest(
      { url, method: req.method, headers: sent, body, timeoutMs: this.options.timeoutMs, maxBytes },
      agents,
    );
    return { statusCode: answer.status, headers: answer.headers, body: answer.body };
  }

  /** A request to an address a tenant chose: got, with the egress guard's checks and redirects. */
  private async sendGuarded(
    { req, searchParams, form, sent, maxBytes }: PreparedRequest,
    egress: Pick<EgressGuard, 'gotOptions'>,
  ) {
    let tooLarge = false;
    let answeredStatus: number | undefined;
    try {
      const pending = sharedGot(req.path.replace(/^\//, ''), {
        prefixUrl: this.prefixUrl,
        method: req.method,
        searchParams: this.options.authQuery ? { ...searchParams, ...this.options.authQuery } : searchParams,
        json: req.json,
        body: form?.toString(),
        headers: sent,
        timeout: { request: this.options.timeoutMs },
        responseType: 'buffer',
        ...this.guardedOptions(egress),
      });
      if (maxBytes !== Infinity) {
        pending.on('request', (request: { once(event: 'response', cb: (r: { statusCode?: number }) => void): void }) =>
          request.once('response', (r) => (answeredStatus = r.statusCode)),
        );
        // Checked as the bytes arrive (and against Content-Length up front): an endless answer never fills memory.
        pending.on('downloadProgress', (progress: { transferred: number; total?: number }) => {
          if (progress.transferred > maxBytes || (progress.total ?? 0) > maxBytes) {
            tooLarge = true;
            pending.cancel();
          }
        });
      }
      const response: Response<Buffer> = await pending;
      return { statusCode: response.statusCode, headers: response.headers, body: response.body };
    } catch (err) {
      if (tooLarge && err instanceof CancelError) throw new UpstreamResponseTooLarge(maxBytes, answeredStatus);
      throw toNetworkError(err);
    }
  }
}

/** got options of a guarded request: the guard's lookup and checks, redirects followed without auth across origins. */
function guardedGotOptions(egress: Pick<EgressGuard, 'gotOptions'>, authHeaderNames: readonly string[]) {
  const guard = egress.gotOptions();
  return {
    agent: guardedAgents,
    dnsLookup: guard.dnsLookup,
    followRedirect: true,
    maxRedirects: MAX_REDIRECTS,
    hooks: {
      beforeRequest: guard.hooks.beforeRequest,
      beforeRedirect: [
        (options: { url?: URL | string; headers: Record<string, unknown> }, response: { url: string }) => {
          const from = new URL(response.url).origin;
          const to = options.url ? new URL(String(options.url)).origin : from;
          if (from !== to) for (const name of authHeaderNames) delete options.headers[name];
        },
      ],
    },
  };
}

function parseBody(body: Buffer, contentType: string, maxBytes: number): unknown {
  const text = body.subarray(0, Math.min(body.length, maxBytes)).toString('utf8');
  if (text.length === 0) return undefined;
  if (contentType.includes('json') || /^\s*[[{]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      // fall through: some upstream edges (CDNs) answer text with a JSON-ish start
    }
  }
  return text;
}

function toNetworkError(err: unknown): UpstreamNetworkError {
  if (err instanceof RequestError) {
    const code = err.code ?? 'ERR_UPSTREAM';
    // A timeout before the socket connected means nothing was sent.
    const timedOutBeforeSending =
      code === 'ETIMEDOUT' && (err as { event?: string }).event !== 'request' && !err.request?.socket?.bytesWritten;
    return new UpstreamNetworkError(code, !(NOT_SENT_CODES.has(code) || timedOutBeforeSending));
  }
  return new UpstreamNetworkError('ERR_UPSTREAM', true);
}
