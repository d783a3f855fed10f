/**
 * The load generator's HTTP client: node:http with one keep-alive pool, JSON in and out. Cheaper per
 * request than fetch or got, so the bench process takes as little CPU from the engine as it can.
 */
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 1024, keepAliveMsecs: 10_000 });

/** Closes the pool's sockets (later requests open new ones): what clients that went away leave behind. */
export function closeIdleConnections(): void {
  agent.destroy();
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

export function httpJson(
  method: string,
  url: string,
  options: { headers?: Record<string, string>; body?: unknown; timeoutMs?: number } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: {
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          ...options.headers,
        },
        timeout: options.timeoutMs ?? 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** Runs `task(i)` for i in [0, n) with at most `concurrency` in flight; returns when all are done. */
export async function runPool(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (next < n) {
      const i = next++;
      await task(i);
    }
  });
  await Promise.all(lanes);
}
