import { createServer, Agent as HttpAgent, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { plainRequest } from '../../connectors/toolkit/plain-http.ts';
import { UpstreamClient } from '../../connectors/toolkit/upstream-client.ts';
import { UpstreamNetworkError, UpstreamResponseTooLarge } from '../../connectors/toolkit/upstream-errors.ts';

/** The built-in services' HTTP transport (connectors/toolkit/plain-http.ts) against a local server. */
describe('plain HTTP requests', () => {
  let server: Server;
  let base = '';
  const seen: Array<{ method?: string; url?: string; headers: IncomingMessage['headers']; body: string }> = [];
  const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
    '/echo': (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true }));
    },
    '/big': (_req, res) => res.end('x'.repeat(5_000)),
    '/endless': (_req, res) => {
      res.setHeader('content-type', 'text/plain');
      const more = () => res.write('y'.repeat(1_000), () => setTimeout(more, 1));
      more();
    },
    '/gzip': (_req, res) => {
      res.setHeader('content-encoding', 'gzip');
      res.setHeader('content-type', 'application/json');
      res.end(gzipSync(JSON.stringify({ zipped: 'yes' })));
    },
    '/slow': () => {},
    '/cut': (req, res) => {
      res.setHeader('content-length', '100');
      res.write('partial');
      setTimeout(() => req.socket.destroy(), 10);
    },
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        routes[new URL(req.url!, 'http://x').pathname]!(req, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    agents.http.destroy();
  });

  const get = (path: string, maxBytes = Number.POSITIVE_INFINITY, timeoutMs = 5_000) =>
    plainRequest({ url: new URL(path, base), method: 'GET', headers: {}, timeoutMs, maxBytes }, agents);
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => expect.fail('should have failed'),
      (err: unknown) => err,
    );

  it('sends the client’s method, query, headers and JSON body, and reads the answer', async () => {
    const client = new UpstreamClient({
      baseUrl: `${base}/`,
      authHeaders: { authorization: 'Bearer sk_test_secret_value' },
      authQuery: { api_key: 'k1' },
      timeoutMs: 5_000,
    });
    const answer = await client.request({
      method: 'POST',
      path: '/echo',
      query: { a: 1, b: true, c: undefined },
      json: { hi: 'there' },
    });
    expect(answer).toMatchObject({ status: 200, body: { ok: true } });
    const last = seen.at(-1)!;
    expect(last.method).toBe('POST');
    expect(last.url).toBe('/echo?a=1&b=true&api_key=k1');
    expect(last.headers).toMatchObject({
      authorization: 'Bearer sk_test_secret_value',
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength('{"hi":"there"}')),
    });
    expect(last.body).toBe('{"hi":"there"}');
  });

  it('sends a form body as x-www-form-urlencoded, a repeated key repeated', async () => {
    const client = new UpstreamClient({ baseUrl: base, authHeaders: {}, timeoutMs: 5_000 });
    await client.request({ method: 'POST', path: '/echo', form: { To: '+1555', MediaUrl: ['a', 'b'] } });
    expect(seen.at(-1)!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(seen.at(-1)!.body).toBe('To=%2B1555&MediaUrl=a&MediaUrl=b');
  });

  it('reads a compressed answer as the bytes it stands for', async () => {
    const answer = await get('/gzip');
    expect(JSON.parse(answer.body.toString())).toEqual({ zipped: 'yes' });
  });

  it('refuses an answer declared larger than the bound, with its status, before reading it', async () => {
    const err = await failure(get('/big', 1_000));
    expect(err).toBeInstanceOf(UpstreamResponseTooLarge);
    expect(err).toMatchObject({ maxBytes: 1_000, status: 200 });
  });

  it('cuts off an endless answer once it passes the bound', async () => {
    const err = await failure(get('/endless', 10_000));
    expect(err).toBeInstanceOf(UpstreamResponseTooLarge);
  });

  it('times out as a call that may have reached the upstream', async () => {
    const err = await failure(get('/slow', Number.POSITIVE_INFINITY, 200));
    expect(err).toBeInstanceOf(UpstreamNetworkError);
    expect(err).toMatchObject({ code: 'ETIMEDOUT', requestMayHaveBeenSent: true });
  });

  it('says a refused connection never reached the upstream, and a cut one may have', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const refused = await failure(
      plainRequest(
        { url: new URL(`http://127.0.0.1:${port}/`), method: 'GET', headers: {}, timeoutMs: 5_000, maxBytes: 1e6 },
        agents,
      ),
    );
    expect(refused).toMatchObject({ code: 'ECONNREFUSED', requestMayHaveBeenSent: false });
    const cut = await failure(get('/cut'));
    expect(cut).toBeInstanceOf(UpstreamNetworkError);
    expect(cut).toMatchObject({ requestMayHaveBeenSent: true });
  });
});
