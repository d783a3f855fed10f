import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecuteCommand } from '../../api/execution/execution-service.ts';
import { executionRoutes } from '../../api/routes/executions.ts';

/**
 * A sync call's timeoutMs counts from its arrival: whatever it waited at the admission gate is
 * taken off the time it then waits for its result. The route alone, with a recording service.
 */
describe('POST /v1/executions timeout budget', () => {
  const commands: ExecuteCommand[] = [];
  let baseUrl = '';
  let close = () => {};

  beforeAll(async () => {
    const app = express();
    app.use(express.json());
    app.use((req, res, next) => {
      req.principal = { kind: 'project', workspaceId: 'ws_1', projectId: 'prj_1', keyId: 'key_1' };
      const waited = req.get('x-test-admission-wait-ms');
      if (waited !== undefined) res.locals.admissionWaitMs = Number(waited);
      next();
    });
    app.use(
      executionRoutes({
        execute: async (cmd) => {
          commands.push(cmd);
          return { kind: 'accepted', invocationId: 'inv_1', status: 'queued' };
        },
      }),
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(() => close());

  async function timeoutSeen(query: string, waitedMs?: number): Promise<number> {
    const res = await fetch(`${baseUrl}/v1/executions${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(waitedMs === undefined ? {} : { 'x-test-admission-wait-ms': String(waitedMs) }) },
      body: JSON.stringify({ connectorId: 'resend', actionId: 'sendEmail', input: {} }),
    });
    expect(res.status).toBe(202);
    return commands.at(-1)!.timeoutMs;
  }

  it('waits the whole timeoutMs when the call did not wait to be admitted', async () => {
    expect(await timeoutSeen('?timeoutMs=1000')).toBe(1000);
    expect(await timeoutSeen('')).toBe(30_000);
  });

  it('takes the admission wait off timeoutMs', async () => {
    expect(await timeoutSeen('?timeoutMs=1000', 250.4)).toBe(749);
    expect(await timeoutSeen('', 1_000)).toBe(29_000);
  });

  it('leaves at least 1 ms when the wait used up the whole budget (the call still runs; the caller polls it)', async () => {
    expect(await timeoutSeen('?timeoutMs=1000', 5_000)).toBe(1);
  });
});
