import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESEND_FAKE_FULL_KEY, type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient } from '../support/http.ts';

/** Resend's public OpenAPI document, trimmed to emails and domains (see the fixture's header). */
const resendYaml = fs.readFileSync(new URL('../fixtures/openapi/resend.openapi.yaml', import.meta.url), 'utf8');

describe('POST /v1/connectors/import: an OpenAPI document → a draft definition', () => {
  let resend: ResendFake;
  let engine: Engine;
  let admin: ApiClient;

  beforeAll(async () => {
    resend = await startResendFake({ rateLimitPerSecond: 10_000 });
    engine = await startEngine();
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
  });
  afterAll(async () => {
    await engine?.stop();
    await resend?.close();
  });

  it("drafts Resend's emails/send and domains/list; the draft, posted unchanged, validates and sends through the Resend fake", async () => {
    // The only change is to the document: its server is the fake (as an operator points a test at one).
    const document = resendYaml.replace('https://api.resend.com', resend.url);
    const imported = await admin.post('/v1/connectors/import', {
      openapi: document,
      operations: ['emails/send', 'domains/list'],
    });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    const { definition, warnings } = imported.body;
    expect(definition).toMatchObject({
      id: 'custom-resend',
      displayName: 'Resend',
      baseUrl: resend.url,
      auth: { type: 'bearer' },
      credentialTest: { method: 'GET', path: '/domains' },
    });
    expect(
      definition.actions.map((a: { id: string; method: string; path: string; sideEffects: string }) => [
        a.id,
        a.method,
        a.path,
        a.sideEffects,
      ]),
    ).toEqual([
      ['emailsSend', 'POST', '/emails', 'write'],
      ['domainsList', 'GET', '/domains', 'read'],
    ]);
    // Resend's Idempotency-Key header parameter makes the send a write the upstream dedupes.
    expect(definition.actions[0]).toMatchObject({ idempotencyHeader: 'Idempotency-Key', body: { encoding: 'json' } });
    expect(definition.actions[0].inputSchema.required).toEqual(expect.arrayContaining(['from', 'to', 'subject']));
    expect(warnings.some((w: string) => w.includes('rateLimit'))).toBe(true);

    const created = await admin.post('/v1/connectors', { definition });
    expect(created.status, JSON.stringify(created.body)).toBe(201);

    const p = await admin.post('/v1/projects', { displayName: 'Imported' });
    const key = await admin.post(`/v1/projects/${p.body.id}/api-keys`, {});
    const conn = await admin.post('/v1/connections', {
      connectorId: 'custom-resend',
      displayName: 'Resend (imported)',
      credentials: { token: RESEND_FAKE_FULL_KEY },
      projectIds: [p.body.id],
    });
    expect(conn.body.status).toBe('active');
    const client = apiClient(engine.baseUrl, key.body.key);

    resend.reset();
    const sent = await client.post('/v1/executions', {
      connectorId: 'custom-resend',
      actionId: 'emailsSend',
      input: {
        from: 'Shop <orders@example.com>',
        to: ['ada@example.com'],
        subject: 'Imported',
        text: 'Sent through a custom connector',
      },
    });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
    expect(resend.sentEmails).toHaveLength(1);
    expect(sent.body.output).toEqual({ id: resend.sentEmails[0]!.id });
    expect(resend.requests[0]!.headers['idempotency-key']).toBe(sent.body.invocationId);

    const domains = await client.post('/v1/executions', {
      connectorId: 'custom-resend',
      actionId: 'domainsList',
      input: { limit: 5 },
    });
    expect(domains.status, JSON.stringify(domains.body)).toBe(200);
    expect(domains.body.output.data).toEqual(expect.any(Array));
    expect(resend.requests.at(-1)).toMatchObject({ method: 'GET', path: '/domains', query: { limit: '5' } });

    // The JSON Schema of the document validates input at the edge.
    const bad = await client.post('/v1/executions', {
      connectorId: 'custom-resend',
      actionId: 'emailsSend',
      input: { from: 'a@example.com' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: { path: string }) => d.path)).toEqual(
      expect.arrayContaining(['input.to', 'input.subject']),
    );
  });

  it('takes the document as JSON too, and names what it cannot import', async () => {
    const asJson = await admin.post('/v1/connectors/import', {
      openapi: {
        openapi: '3.0.3',
        info: { title: 'Tiny' },
        paths: { '/things': { get: { operationId: 'listThings', responses: {} } } },
      },
    });
    expect(asJson.status).toBe(200);
    expect(asJson.body.definition).toMatchObject({
      id: 'custom-tiny',
      baseUrl: 'https://api.example.com',
      actions: [{ id: 'listThings', method: 'GET', path: '/things' }],
    });
    expect(asJson.body.warnings.join(' ')).toContain('no absolute server URL');

    // OAuth 2 client credentials maps as it is: each connection brings its client id and secret.
    const machine = await admin.post('/v1/connectors/import', {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'Machine' },
        servers: [{ url: 'https://api.machine.example' }],
        components: {
          securitySchemes: {
            cc: {
              type: 'oauth2',
              flows: {
                clientCredentials: {
                  tokenUrl: 'https://auth.machine.example/token',
                  scopes: { 'things:read': 'Read things' },
                },
              },
            },
          },
        },
        paths: { '/things': { get: { operationId: 'listThings', responses: {} } } },
      },
    });
    expect(machine.body.definition.auth).toEqual({
      type: 'oauth2',
      grant: 'client_credentials',
      tokenUrl: 'https://auth.machine.example/token',
      scopes: ['things:read'],
    });
    expect(machine.body.warnings.join(' ')).not.toContain('OAuth 2');

    const unknownOp = await admin.post('/v1/connectors/import', { openapi: resendYaml, operations: ['emails/fly'] });
    expect(unknownOp.status).toBe(400);
    expect(unknownOp.body.error.details[0]).toMatchObject({ path: 'operations[0]' });
    const notOpenApi = await admin.post('/v1/connectors/import', { openapi: 'swagger: "2.0"\npaths: {}' });
    expect(notOpenApi.status).toBe(400);
    expect(notOpenApi.body.error.details[0].path).toBe('openapi.openapi');
    const notYaml = await admin.post('/v1/connectors/import', { openapi: '{ unclosed: [' });
    expect(notYaml.status).toBe(400);
  });
});
