import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  Client,
  type ClientOptions,
  ConflictError,
  ConnectionBrokenError,
  ConnectorEngineError,
  NetworkError,
  NotFoundError,
  PermissionError,
  RateLimitedError,
  TimeoutError,
  UnavailableError,
  UpstreamError,
  ValidationError,
} from '../../sdk/src/index.ts';
import { type ScriptedServer, startScriptedServer } from './support/scripted-server.ts';

/**
 * The SDK's transport against a scripted server: which answers are retried, how long it waits,
 * what is never repeated, and how error envelopes become typed errors.
 */
describe('SDK retries and errors (scripted server)', () => {
  let server: ScriptedServer;
  const client = (options: ClientOptions = {}) => new Client({ apiKey: 'ck_pr_test', baseUrl: server.url, ...options });
  const post = { connectorId: 'slack', actionId: 'postMessage', input: { channel: 'C1', text: 'hi' } } as const;
  const ok = {
    status: 200,
    body: { invocationId: 'inv_1', output: { channel: 'C1', ts: '1.2', message: null }, durationMs: 5 },
  };
  const envelope = (code: string, extra: Record<string, unknown> = {}) => ({
    error: { code, message: `${code} happened`, ...extra },
  });
  const caught = async (promise: Promise<unknown>) =>
    promise.then(
      () => expect.fail('expected a rejection'),
      (err: unknown) => err as ConnectorEngineError,
    );

  beforeAll(async () => {
    server = await startScriptedServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('retries a 429 after its Retry-After, with the same request id', async () => {
    server.script({ status: 429, headers: { 'retry-after': '1' }, body: envelope('rate_limited') }, ok);
    const started = Date.now();
    const result = await client().connectors.execute(post);
    expect(result).toEqual({ output: ok.body.output, durationMs: 5, invocationId: 'inv_1' });
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]!.at - server.requests[0]!.at).toBeGreaterThanOrEqual(950);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(server.requests[1]!.headers['x-request-id']).toBe(server.requests[0]!.headers['x-request-id']);
    // The SDK's own Idempotency-Key, the same on the retry.
    expect(server.requests[0]!.headers['idempotency-key']).toMatch(/^sdk-/);
    expect(server.requests[1]!.headers['idempotency-key']).toBe(server.requests[0]!.headers['idempotency-key']);
  });

  it('gives up after maxRetries and throws the last error', async () => {
    const unavailable = {
      status: 503,
      headers: { 'retry-after': '0', 'x-request-id': 'req-503' },
      body: envelope('unavailable'),
    };
    server.script(unavailable, unavailable, unavailable, ok);
    const err = await caught(client({ maxRetries: 2 }).invocations.get('inv_1'));
    expect(err).toBeInstanceOf(UnavailableError);
    expect(err).toMatchObject({ code: 'unavailable', status: 503, retryAfter: 0, requestId: 'req-503' });
    expect(server.requests).toHaveLength(3);
  });

  it('backs off without a Retry-After', async () => {
    server.script({ status: 503, body: envelope('unavailable') }, { status: 200, body: { id: 'inv_1' } });
    await client().invocations.get('inv_1');
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]!.at - server.requests[0]!.at).toBeGreaterThanOrEqual(240);
  });

  it('does not retry with maxRetries: 0, and exposes retryAfter, details and the request id', async () => {
    server.script({
      status: 429,
      headers: { 'retry-after': '7', 'x-request-id': 'req-429' },
      body: envelope('rate_limited', { details: { limitPerMinute: 1 } }),
    });
    const err = await caught(client({ maxRetries: 0 }).connectors.execute(post));
    expect(err).toBeInstanceOf(RateLimitedError);
    expect(err).toMatchObject({
      code: 'rate_limited',
      status: 429,
      retryAfter: 7,
      requestId: 'req-429',
      details: { limitPerMinute: 1 },
      message: 'rate_limited happened',
    });
    expect(server.requests).toHaveLength(1);
  });

  it('does not wait out a Retry-After longer than maxRetryDelayMs', async () => {
    server.script({ status: 429, headers: { 'retry-after': '60' }, body: envelope('rate_limited') }, ok);
    const started = Date.now();
    const err = await caught(client({ maxRetryDelayMs: 10_000 }).connectors.execute(post));
    expect(err).toMatchObject({ code: 'rate_limited', retryAfter: 60 });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(server.requests).toHaveLength(1);
  });

  it('gives an execution without a caller key an Idempotency-Key of its own, so it is repeated safely after a 503 or a lost connection', async () => {
    server.script({ status: 503, headers: { 'retry-after': '0' }, body: envelope('unavailable') }, 'drop', ok);
    expect((await client().connectors.execute(post)).invocationId).toBe('inv_1');
    const keys = server.requests.map((r) => r.headers['idempotency-key']);
    expect(keys).toHaveLength(3);
    expect(keys[0]).toMatch(/^sdk-[0-9a-f-]{36}$/);
    expect(new Set(keys).size).toBe(1);

    // A new call is a new intent: a new key.
    server.script(ok);
    await client().connectors.execute(post);
    expect(server.requests[0]!.headers['idempotency-key']).toMatch(/^sdk-/);
    expect(server.requests[0]!.headers['idempotency-key']).not.toBe(keys[0]);

    server.script('drop', { status: 202, body: { invocationId: 'inv_2', status: 'queued' } });
    expect(await client().connectors.executeAsync(post)).toEqual({ invocationId: 'inv_2', status: 'queued' });
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]!.headers['idempotency-key']).toBe(server.requests[0]!.headers['idempotency-key']);
  });

  it('still never repeats an execution with maxRetries: 0', async () => {
    server.script('drop', ok);
    const err = await caught(client({ maxRetries: 0 }).connectors.execute(post));
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({ code: 'network_error', status: 0 });
    expect(server.requests).toHaveLength(1);
  });

  it('repeats an execution with an Idempotency-Key, sending the same key', async () => {
    server.script('drop', { status: 503, headers: { 'retry-after': '0' }, body: envelope('unavailable') }, ok);
    const result = await client().connectors.execute({ ...post, idempotencyKey: 'order-1001' });
    expect(result.invocationId).toBe('inv_1');
    expect(server.requests.map((r) => r.headers['idempotency-key'])).toEqual([
      'order-1001',
      'order-1001',
      'order-1001',
    ]);
    expect(server.requests.map((r) => r.body)).toEqual(
      Array(3).fill({ connectorId: 'slack', actionId: 'postMessage', input: { channel: 'C1', text: 'hi' } }),
    );
  });

  it('retries a GET after a lost connection', async () => {
    server.script('drop', { status: 200, body: { id: 'inv_1' } });
    expect(await client().invocations.get('inv_1')).toEqual({ id: 'inv_1' });
    expect(server.requests).toHaveLength(2);
  });

  it('times out a request that gets no answer', async () => {
    server.script('hang');
    const err = await caught(client({ timeoutMs: 200, maxRetries: 0 }).invocations.get('inv_1'));
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'request_timeout', status: 0 });
  });

  it('leaves the caller’s own abort alone', async () => {
    server.script('hang');
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop')), 100);
    await expect(client().request('GET', '/v1/invocations', { signal: controller.signal })).rejects.toThrow('stop');
  });

  it('maps every error code to its class, and unknown codes by status', async () => {
    const cases: Array<[number, string, new (...args: never[]) => ConnectorEngineError]> = [
      [400, 'invalid_input', ValidationError],
      [400, 'invalid_json', ValidationError],
      [401, 'unauthenticated', AuthenticationError],
      [403, 'forbidden', PermissionError],
      [404, 'no_connection', NotFoundError],
      [409, 'ambiguous_connection', ConflictError],
      [409, 'connection_broken', ConnectionBrokenError],
      [422, 'idempotency_key_reused', ConflictError],
      [502, 'upstream_error', UpstreamError],
      [504, 'timeout', TimeoutError],
      [404, 'brand_new_code', NotFoundError],
      [500, 'internal_error', ConnectorEngineError],
    ];
    for (const [status, code, Class] of cases) {
      server.script({
        status,
        body: { ...envelope(code, { details: [{ path: 'input.text', message: 'required' }] }), invocationId: 'inv_9' },
      });
      const err = await caught(client().connectors.execute(post));
      expect(err, code).toBeInstanceOf(Class);
      expect(err, code).toMatchObject({ code, status, invocationId: 'inv_9', name: Class.name });
    }
    server.script({
      status: 400,
      body: envelope('invalid_input', { details: [{ path: 'input.text', message: 'required' }] }),
    });
    expect(((await caught(client().connectors.execute(post))) as ValidationError).issues).toEqual([
      { path: 'input.text', message: 'required' },
    ]);

    server.script({ status: 502, body: '<html>Bad gateway</html>' });
    const proxy = await caught(client().invocations.get('inv_1'));
    expect(proxy).toBeInstanceOf(UpstreamError);
    expect(proxy).toMatchObject({ code: 'http_502', status: 502 });

    server.script({ status: 200, body: '<html>Some other server</html>' });
    expect(await caught(client().invocations.list())).toMatchObject({ code: 'invalid_response', status: 200 });
  });

  it('sends executeAsync with Prefer: respond-async, and reads an idempotent replay of a finished call', async () => {
    server.script(
      {
        status: 202,
        headers: { location: '/v1/invocations/inv_2' },
        body: { invocationId: 'inv_2', status: 'queued' },
      },
      ok,
    );
    expect(await client().connectors.executeAsync(post)).toEqual({ invocationId: 'inv_2', status: 'queued' });
    expect(server.requests[0]!.headers.prefer).toBe('respond-async');
    expect(await client().connectors.executeAsync({ ...post, idempotencyKey: 'k' })).toEqual({
      invocationId: 'inv_1',
      status: 'succeeded',
    });
  });

  it('passes timeoutMs, connectionId and projectId where the API wants them', async () => {
    server.script(ok);
    await client().connectors.execute({ ...post, timeoutMs: 5_000, connectionId: 'conn_1', projectId: 'prj_1' });
    const [request] = server.requests;
    expect(request!.url).toBe('/v1/executions?timeoutMs=5000');
    expect(request!.body).toEqual({ ...post, connectionId: 'conn_1', projectId: 'prj_1' });
    expect(request!.headers.authorization).toBe('Bearer ck_pr_test');
  });

  it('waits by polling, and throws a failed invocation as its typed error', async () => {
    const inv = (status: string, extra: Record<string, unknown> = {}) => ({
      status: 200,
      body: { id: 'inv_3', connectorId: 'slack', actionId: 'postMessage', status, ...extra },
    });
    server.script(inv('queued'), inv('running'), inv('succeeded', { output: { ts: '1.2' } }));
    expect(await client().invocations.wait('inv_3', { pollIntervalMs: 10 })).toMatchObject({
      status: 'succeeded',
      output: { ts: '1.2' },
    });
    expect(server.requests.map((r) => r.url)).toEqual(Array(3).fill('/v1/invocations/inv_3'));

    const failed = inv('failed', {
      errorCode: 'upstream_error',
      errorMessage: 'Slack said no',
      errorDetails: { status: 200, code: 'not_in_channel', message: 'not_in_channel' },
    });
    server.script(failed);
    const err = await caught(client().invocations.wait('inv_3'));
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ code: 'upstream_error', status: 502, invocationId: 'inv_3', message: 'Slack said no' });
    expect((err as UpstreamError).upstream).toEqual({ status: 200, code: 'not_in_channel', message: 'not_in_channel' });
    server.script(failed);
    expect(await client().invocations.wait('inv_3', { throwOnFailure: false })).toMatchObject({
      status: 'failed',
      errorCode: 'upstream_error',
    });

    server.script(inv('running'), inv('running'), inv('running'), inv('running'));
    const late = await caught(client().invocations.wait('inv_3', { timeoutMs: 50, pollIntervalMs: 20 }));
    expect(late).toBeInstanceOf(TimeoutError);
    expect(late).toMatchObject({ code: 'wait_timeout', invocationId: 'inv_3' });
  });

  it('needs an API key, and downloads artifacts only from engine paths', () => {
    const saved = process.env.CONNECTORS_API_KEY;
    delete process.env.CONNECTORS_API_KEY;
    try {
      expect(() => new Client({ baseUrl: server.url })).toThrow(/CONNECTORS_API_KEY/);
    } finally {
      if (saved !== undefined) process.env.CONNECTORS_API_KEY = saved;
    }
    expect(() => client().invocations.downloadArtifact('https://evil.example/steal')).toThrow(/not an artifact path/);
  });
});
