/**
 * The engine's Resend sendEmail request, made by hand: the same body, headers and got settings as
 * the worker's (connectors/resend/resend-actions.ts through connectors/toolkit/upstream-client.ts).
 * Shared by the bench's baselines that call the upstream fake without the engine: the direct got
 * call (section 1) and the essential-work worker (section 2, bench/essential-worker.ts).
 */
import { Agent as HttpAgent } from 'node:http';
import got, { type Got } from 'got';
import { engineUserAgent } from '../../connectors/toolkit/upstream-client.ts';

/** The input of every benchmark call of resend.sendEmail. */
export const email = {
  from: 'Bench <bench@example.com>',
  to: 'ada@example.com',
  subject: 'Benchmark',
  text: 'Hello from the benchmark.',
};
/** What the worker sends for `email` (connectors/resend/resend-actions.ts toWire; undefined fields vanish in JSON). */
export const wireEmail = { from: email.from, to: email.to, subject: email.subject, text: email.text };

/** A got instance configured like connectors/toolkit/upstream-client.ts: same agent settings, headers, options. */
export function resendClient(fakeUrl: string, resendKey: string): Got {
  return got.extend({
    prefixUrl: fakeUrl,
    headers: { 'user-agent': engineUserAgent, authorization: `Bearer ${resendKey}` },
    timeout: { request: 30_000 },
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    agent: { http: new HttpAgent({ keepAlive: true, maxSockets: 256 }) },
  });
}

/** POST /emails as the engine's sendEmail sends it (the engine's Idempotency-Key is the invocation id); returns Resend's id. */
export async function sendEmail(client: Got, idempotencyKey: string): Promise<string> {
  const res = await client('emails', {
    method: 'POST',
    json: wireEmail,
    headers: { 'idempotency-key': idempotencyKey },
    responseType: 'buffer',
  });
  const body = JSON.parse(res.body.toString('utf8')) as { id?: string };
  if (res.statusCode !== 200 || !body.id) throw new Error(`POST /emails: ${res.statusCode} ${res.body.toString()}`);
  return body.id;
}
