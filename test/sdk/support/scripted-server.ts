import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny HTTP server that answers from a script, for deterministic retry tests: each request takes
 * the next step (a response, a dropped connection, or no answer at all); when the script is empty
 * it answers 200 `{}`.
 */
export type Step = { status: number; headers?: Record<string, string>; body?: unknown } | 'drop' | 'hang';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
  at: number;
}

export interface ScriptedServer {
  url: string;
  requests: SeenRequest[];
  script(...steps: Step[]): void;
  close(): Promise<void>;
}

export async function startScriptedServer(): Promise<ScriptedServer> {
  const steps: Step[] = [];
  const requests: SeenRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    requests.push({
      method: req.method!,
      url: req.url!,
      headers: req.headers,
      body: text ? JSON.parse(text) : undefined,
      at: Date.now(),
    });
    const step = steps.shift() ?? { status: 200, body: {} };
    if (step === 'drop') return req.socket.destroy();
    if (step === 'hang') return;
    const body = step.body === undefined ? '' : typeof step.body === 'string' ? step.body : JSON.stringify(step.body);
    res.writeHead(step.status, {
      ...(typeof step.body === 'string' ? {} : { 'content-type': 'application/json' }),
      ...step.headers,
    });
    res.end(body);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    script: (...more) => {
      steps.length = 0;
      requests.length = 0;
      steps.push(...more);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
