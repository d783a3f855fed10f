import { ConnectorEngineError, errorFromCode, NetworkError, TimeoutError } from './errors.ts';
import { SDK_VERSION } from './version.ts';

export interface TransportOptions {
  apiKey: string;
  baseUrl: string;
  timeoutMs: number;
  maxRetries: number;
  maxRetryDelayMs: number;
  fetch: typeof globalThis.fetch;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | Date | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /** Per-request HTTP timeout, overriding the client's. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface RawResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * Safe to send twice: the HTTP method is idempotent, or the request carries an Idempotency-Key the
 * engine dedupes on. Only these are retried after a network error or a 503, since the first attempt
 * may have done its work before the answer was lost.
 */
function isReplaySafe(method: string, headers: Record<string, string>): boolean {
  return (
    ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH'].includes(method) ||
    Object.keys(headers).some((h) => h.toLowerCase() === 'idempotency-key')
  );
}

/** Retry-After is seconds or an HTTP date. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

/** Exponential backoff with jitter, for retries the server gave no Retry-After for. */
const backoffMs = (attempt: number) => Math.min(8_000, 500 * 2 ** attempt) * (0.5 + Math.random() * 0.5);

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** JSON over fetch, with the error envelope mapped to typed errors and bounded, safe retries. */
export class Transport {
  constructor(private readonly options: TransportOptions) {}

  url(path: string, query?: RequestOptions['query']): string {
    const url = new URL(path.replace(/^\/+/, ''), this.options.baseUrl.replace(/\/*$/, '/'));
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value instanceof Date ? value.toISOString() : String(value));
    }
    return url.toString();
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<RawResponse<T>> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.options.apiKey}`,
      accept: 'application/json',
      'user-agent': `connector-engine-sdk/${SDK_VERSION} node/${globalThis.process?.version ?? 'unknown'}`,
      // One id for every attempt of this call, so the engine's logs tie the retries together.
      'x-request-id': globalThis.crypto.randomUUID(),
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    };
    const url = this.url(path, options.query);
    const replaySafe = isReplaySafe(method, headers);
    for (let attempt = 0; ; attempt++) {
      const canRetry = attempt < this.options.maxRetries;
      let response: Response;
      try {
        response = await this.send(method, url, headers, options);
      } catch (err) {
        // The caller's own abort is not ours to wrap or retry.
        if (options.signal?.aborted) throw options.signal.reason;
        if (canRetry && replaySafe) {
          await sleep(backoffMs(attempt), options.signal);
          continue;
        }
        throw this.networkError(err, headers['x-request-id'], options);
      }
      if (response.ok)
        return { status: response.status, headers: response.headers, body: await this.jsonBody<T>(response) };
      const error = await this.errorFrom(response);
      // 429 is refused before anything is recorded or run, so it is always safe to repeat; 503 may
      // come after the work started, so only replay-safe requests are repeated on it.
      if (canRetry && (response.status === 429 || (response.status === 503 && replaySafe))) {
        const delay = error.retryAfter !== undefined ? error.retryAfter * 1000 : backoffMs(attempt);
        // A wait longer than the cap goes back to the caller, who may prefer executeAsync over blocking.
        if (delay <= this.options.maxRetryDelayMs) {
          await sleep(delay, options.signal);
          continue;
        }
      }
      throw error;
    }
  }

  /** Downloads a binary body (artifacts). */
  async download(path: string, options: RequestOptions = {}): Promise<{ contentType: string; data: Uint8Array }> {
    const headers = { authorization: `Bearer ${this.options.apiKey}`, accept: '*/*', ...options.headers };
    let response: Response;
    try {
      response = await this.send('GET', this.url(path), headers, options);
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw this.networkError(err, undefined, options);
    }
    if (!response.ok) throw await this.errorFrom(response);
    return {
      contentType: response.headers.get('content-type') ?? 'application/octet-stream',
      data: new Uint8Array(await response.arrayBuffer()),
    };
  }

  private send(
    method: string,
    url: string,
    headers: Record<string, string>,
    options: RequestOptions,
  ): Promise<Response> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.options.timeoutMs);
    return this.options.fetch(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
    });
  }

  private async jsonBody<T>(response: Response): Promise<T> {
    const text = await response.text();
    try {
      return (text ? JSON.parse(text) : undefined) as T;
    } catch {
      const requestId = response.headers.get('x-request-id') ?? undefined;
      throw new ConnectorEngineError({
        code: 'invalid_response',
        status: response.status,
        message: 'The response is not JSON; is baseUrl the connector engine?',
        requestId,
      });
    }
  }

  private networkError(err: unknown, requestId: string | undefined, options: RequestOptions): ConnectorEngineError {
    if (err instanceof Error && err.name === 'TimeoutError') {
      const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
      return new TimeoutError({
        code: 'request_timeout',
        status: 0,
        message: `No response within ${timeoutMs} ms.`,
        requestId,
      });
    }
    const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
    return new NetworkError({
      code: 'network_error',
      status: 0,
      message: `Could not reach the connector engine: ${cause}`,
      requestId,
    });
  }

  private async errorFrom(response: Response): Promise<ConnectorEngineError> {
    const text = await response.text().catch(() => '');
    let envelope:
      | { error?: { code?: unknown; message?: unknown; details?: unknown }; invocationId?: unknown }
      | undefined;
    try {
      envelope = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: a proxy's error page, say
    }
    const e = envelope?.error;
    return errorFromCode({
      code: typeof e?.code === 'string' ? e.code : `http_${response.status}`,
      status: response.status,
      message: typeof e?.message === 'string' ? e.message : `HTTP ${response.status} ${response.statusText}`.trim(),
      details: e?.details,
      invocationId: typeof envelope?.invocationId === 'string' ? envelope.invocationId : undefined,
      retryAfter: parseRetryAfter(response.headers.get('retry-after')),
      requestId: response.headers.get('x-request-id') ?? undefined,
    });
  }
}
