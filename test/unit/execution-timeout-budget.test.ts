import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdmissionGate } from '../../api/execution/admission-gate.ts';
import type { ExecuteCommand } from '../../api/execution/execution-service.ts';
import { FairAdmission } from '../../api/execution/fair-admission.ts';
import { errorHandler } from '../../api/middleware/errors.ts';
import { executionRoutes } from '../../api/routes/executions.ts';
import { createLogger } from '../../shared/logger.ts';

/**
 * The HTTP transport's part of admission: it takes a place at the service's gate once the request
 * has authenticated and its body is read, hands the ticket (with the time waited) and the caller's
 * whole timeoutMs to the service, and takes no place for a call refused before (a bad key).
 * The route alone, with a recording service.
 */
describe('POST /v1/executions and the admission gate', () => {
  const commands: ExecuteCommand[] = [];
  const fair = new FairAdmission(1);
  let baseUrl = '';
  let close = () => {};

  beforeAll(async () => {
    const app = express();
    app.use(express.json());
    app.use(
      executionRoutes(
        {
          admission: new AdmissionGate(fair),
          execute: async (cmd) => {
            commands.push(cmd);
            cmd.ticket?.release({ served: true });
            return { kind: 'accepted', invocationId: 'inv_1', status: 'queued' };
          },
        },
        async (req) => {
          if (req.get('authorization') !== 'Bearer good') throw Object.assign(new Error('x'), { name: 'ApiError' });
          return { kind: 'project', workspaceId: 'ws_1', projectId: 'prj_1', keyId: 'key_1' };
        },
        async () => {}, // the body is parsed above
      ),
    );
    app.use(errorHandler(createLogger('api', 'silent')));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = () => server.close();
  });
  afterAll(() => close());

  const post = (query: string, key = 'good') =>
    fetch(`${baseUrl}/v1/executions${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ connectorId: 'resend', actionId: 'sendEmail', input: {} }),
    });

  it("hands the service the caller's timeoutMs and a ticket that did not wait", async () => {
    expect((await post('?timeoutMs=1000')).status).toBe(202);
    expect(commands.at(-1)!.timeoutMs).toBe(1000);
    expect(commands.at(-1)!.ticket!.waitedMs).toBeLessThan(50);
    expect((await post('')).status).toBe(202);
    expect(commands.at(-1)!.timeoutMs).toBe(30_000);
  });

  it('reports the wait at the gate on the ticket, so the service can spend it from timeoutMs', async () => {
    const holder = await fair.acquire('someone else');
    const pending = post('?timeoutMs=1000');
    await new Promise((r) => setTimeout(r, 250));
    holder();
    expect((await pending).status).toBe(202);
    expect(commands.at(-1)!.ticket!.waitedMs).toBeGreaterThanOrEqual(200);
  });

  it('holds no place for a call refused before the service runs (a bad key)', async () => {
    const before = commands.length;
    expect((await post('', 'made-up')).status).toBeGreaterThanOrEqual(400);
    expect(commands.length).toBe(before);
    expect(fair.active).toBe(0);
  });
});
