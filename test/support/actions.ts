import { expect } from 'vitest';
import { z } from 'zod';
import { type ApiClient, apiClient } from './http.ts';

/**
 * Running actions the way a client of the API does, shared by the connectors' end-to-end tests:
 * sync or async (202, then polling the invocation), and outputs checked against what the catalog
 * publishes (its JSON Schemas, not our own zod schemas).
 */
export type Mode = 'sync' | 'async';

/** Each action's published `outputSchema`, as a zod schema to check outputs with. */
export async function publishedOutputSchemas(baseUrl: string, connectorId: string): Promise<Map<string, z.ZodType>> {
  const catalog = await apiClient(baseUrl).get(`/v1/connectors/${connectorId}`);
  expect(catalog.status).toBe(200);
  return new Map(
    catalog.body.actions.map((a: { id: string; outputSchema: Parameters<typeof z.fromJSONSchema>[0] }) => [
      a.id,
      z.fromJSONSchema(a.outputSchema),
    ]),
  );
}

/** Asserts that an output fits the action's published schema. */
export function expectPublishedShape(schemas: Map<string, z.ZodType>, actionId: string, output: unknown): void {
  const parsed = schemas.get(actionId)!.safeParse(output);
  expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
}

/** Polls an invocation until it is terminal; its body. */
export async function waitForTerminal(client: ApiClient, invocationId: string): Promise<any> {
  for (let i = 0; i < 150; i++) {
    const inv = await client.get(`/v1/invocations/${invocationId}`);
    if (inv.body.status === 'succeeded' || inv.body.status === 'failed') return inv.body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('invocation did not finish');
}

/** Runs an action sync (200 with the output) or async (202, then the invocation); its output, or it throws. */
export async function runAction(
  client: ApiClient,
  mode: Mode,
  body: { connectorId: string; actionId: string; input: unknown },
): Promise<{ output: any; invocationId: string }> {
  if (mode === 'sync') {
    const res = await client.post('/v1/executions', body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return { output: res.body.output, invocationId: res.body.invocationId };
  }
  const accepted = await client.post('/v1/executions', body, { prefer: 'respond-async' });
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
  expect(accepted.headers.get('location')).toBe(`/v1/invocations/${accepted.body.invocationId}`);
  const inv = await waitForTerminal(client, accepted.body.invocationId);
  if (inv.status === 'failed') throw new Error(`invocation failed: ${JSON.stringify(inv)}`);
  return { output: inv.output, invocationId: inv.id };
}
