import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Express } from 'express';
import type { Config } from '../../shared/config.ts';
import { capConnectionsPerClient } from './connection-cap.ts';

/**
 * The api's HTTP server, with limits on what a client can make it hold (red-team finding 4):
 * headers within HTTP_HEADERS_TIMEOUT_MS, the whole request within HTTP_REQUEST_TIMEOUT_MS (Node's
 * requestTimeout covers receiving the request only, so a sync call waiting for its result is not cut
 * short), idle keep-alive connections closed after HTTP_KEEP_ALIVE_TIMEOUT_MS, and at most
 * MAX_CONNECTIONS_PER_CLIENT open connections per client address. The body's idle timeout is set
 * where the body is read (api/middleware/json-body.ts).
 */
export function createHttpServer(app: Express, config: Config): http.Server {
  const headersTimeout = config.HTTP_HEADERS_TIMEOUT_MS;
  const server = http.createServer(
    {
      headersTimeout,
      requestTimeout: Math.max(config.HTTP_REQUEST_TIMEOUT_MS, headersTimeout),
      // How often Node looks for requests past those timeouts (its default, 30 s, would let them run late).
      connectionsCheckingInterval: Math.min(1_000, headersTimeout),
    },
    app,
  );
  server.keepAliveTimeout = config.HTTP_KEEP_ALIVE_TIMEOUT_MS;
  // Requests Node's HTTP parser rejects (bad header bytes, oversized request line, too slow) still
  // get the docs/api.md envelope and a request id, instead of a bare 400.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    socket.end(clientErrorResponse(err.code));
  });
  // Express compiles TRUST_PROXY into this function: a trusted proxy's connections carry many clients.
  const trusted = app.get('trust proxy fn') as (address: string, hop: number) => boolean;
  capConnectionsPerClient(server, config.MAX_CONNECTIONS_PER_CLIENT, (peer) => trusted(peer, 0));
  return server;
}

function clientErrorResponse(code: string | undefined): string {
  const [status, error] =
    code === 'HPE_HEADER_OVERFLOW'
      ? [
          '431 Request Header Fields Too Large',
          { code: 'payload_too_large', message: 'The request headers are too large.' },
        ]
      : code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['408 Request Timeout', { code: 'timeout', message: 'The request was not received in time.' }]
        : ['400 Bad Request', { code: 'invalid_json', message: 'The HTTP request is malformed.' }];
  const body = JSON.stringify({ error });
  return (
    `HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${randomUUID()}\r\nConnection: close\r\n\r\n${body}`
  );
}
