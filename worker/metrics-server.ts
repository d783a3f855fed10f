import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../shared/logger.ts';
import { metricsText } from '../shared/metrics.ts';

/**
 * A worker's own /metrics (and /healthz) on a small HTTP port. A port already in use is logged,
 * not fatal: losing metrics must never stop a worker from draining its queue.
 */
export async function startMetricsServer(
  port: number,
  logger: Logger,
): Promise<{ port: number | null; stop(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.url === '/metrics') {
      metricsText().then(
        ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    } else if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else {
      res.writeHead(404).end();
    }
  });
  const bound = await new Promise<number | null>((resolve) => {
    server.once('error', (err) => {
      logger.warn({ port, err: err.message }, 'worker metrics server not started');
      resolve(null);
    });
    server.listen(port, () => resolve((server.address() as AddressInfo).port));
  });
  if (bound !== null) logger.info({ port: bound }, `worker metrics on http://127.0.0.1:${bound}/metrics`);
  return {
    port: bound,
    stop: () => new Promise<void>((resolve) => (bound === null ? resolve() : server.close(() => resolve()))),
  };
}
