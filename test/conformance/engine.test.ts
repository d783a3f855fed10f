import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectors } from '../../connectors/registry.ts';
import { apiUrlSetting } from '../../connectors/toolkit/settings.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';
import { type ConformanceFake, loadConformanceFake } from './fake-contract.ts';

/**
 * Every registered connector, through the whole engine: the api reaches each fake by the
 * connector's derived `<ID>_API_URL` alone, a connection with the fake's credentials is active and
 * one with dead credentials broken, each action's examples run as POST /v1/executions with the
 * output the catalog's outputSchema describes, and the catalog publishes both schemas.
 */
describe('every connector through the engine', () => {
  const fakes = new Map<string, ConformanceFake>();
  let engine: Engine;
  let admin: ApiClient;

  beforeAll(async () => {
    for (const connector of connectors) {
      const start = await loadConformanceFake(connector.id);
      if (start) fakes.set(connector.id, await start());
    }
    const env = Object.fromEntries([...fakes].map(([id, fake]) => [apiUrlSetting({ id }), fake.apiUrl]));
    engine = await startEngine({ env });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
  }, 60_000);
  afterAll(async () => {
    await engine?.stop();
    await Promise.all([...fakes.values()].map((f) => f.close()));
  });

  describe.each(connectors.map((c) => [c.id, c] as const))('%s', (id, connector) => {
    it('is in the catalog with an input and an output schema for every action', async () => {
      const res = await apiClient(engine.baseUrl).get(`/v1/connectors/${id}`);
      expect(res.status).toBe(200);
      expect(res.body.actions.map((a: { id: string }) => a.id)).toEqual(connector.actions.map((a) => a.id));
      for (const action of res.body.actions) {
        expect(action.inputSchema, action.id).toMatchObject({ type: 'object' });
        expect(action.outputSchema, action.id).toMatchObject({ type: 'object' });
      }
    });

    it('runs every example through POST /v1/executions, with outputs that fit the output schema', async () => {
      const fake = fakes.get(id);
      expect(fake, `test/fakes/${id}/${id}-fake.ts`).toBeDefined();
      const { projectKey, connectionStatus } = await setUpProject(admin, {
        connectorId: id,
        credentials: fake!.credentials,
      });
      expect(connectionStatus).toBe('active');
      const project = apiClient(engine.baseUrl, projectKey);
      for (const action of connector.actions) {
        for (const example of action.examples) {
          const res = await project.post('/v1/executions', {
            connectorId: id,
            actionId: action.id,
            input: example.input,
          });
          expect(res.status, `${action.id} (${example.summary}): ${JSON.stringify(res.body)}`).toBe(200);
          const parsed = action.output.safeParse(res.body.output);
          expect(parsed.success, `${action.id}: ${JSON.stringify(res.body.output)}`).toBe(true);
          expect(parsed.data).toEqual(res.body.output);
        }
      }
    });

    it('marks a connection with dead credentials broken when it is created', async () => {
      const res = await admin.post('/v1/connections', {
        connectorId: id,
        displayName: 'dead',
        credentials: fakes.get(id)!.rejectedCredentials,
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ status: 'broken' });
    });
  });
});
