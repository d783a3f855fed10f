import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  ORDER_CONFIRMATION_TEMPLATE_ID,
  SENDGRID_FAKE_KEY,
  SENDGRID_FAKE_READ_ONLY_KEY,
  type SendGridFake,
  startSendGridFake,
} from '../fakes/sendgrid/sendgrid-fake.ts';
import { expectPublishedShape, publishedOutputSchemas, waitForTerminal } from '../support/actions.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';

/**
 * Both SendGrid actions through HTTP → queue → worker → fake, sync and async, with what the fake
 * received; and the error table: a 401 breaks the connection, a 403 does not, a 429 waits for
 * X-RateLimit-Reset and is retried (even a send: it did not run), a send that may have run (5xx,
 * lost answer) is never repeated.
 */
describe('SendGrid connector end to end', () => {
  let fake: SendGridFake;
  let engine: Engine;
  let admin: ApiClient;
  let client: ApiClient;
  let connectionId: string;
  let outputSchemas: Map<string, z.ZodType>;

  beforeAll(async () => {
    fake = await startSendGridFake();
    engine = await startEngine({ env: { SENDGRID_API_URL: fake.url } });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    const setup = await setUpProject(admin, { connectorId: 'sendgrid', credentials: { apiKey: SENDGRID_FAKE_KEY } });
    expect(setup.connectionStatus).toBe('active');
    connectionId = setup.connectionId;
    client = apiClient(engine.baseUrl, setup.projectKey);
    // Outputs are checked against what the catalog publishes, not against our own zod schemas.
    outputSchemas = await publishedOutputSchemas(engine.baseUrl, 'sendgrid');
  });
  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
  });
  beforeEach(() => fake.reset());

  const execute = (actionId: string, input: unknown, c = client) =>
    c.post('/v1/executions', { connectorId: 'sendgrid', actionId, input });
  const executeAsync = (actionId: string, input: unknown) =>
    client.post('/v1/executions', { connectorId: 'sendgrid', actionId, input }, { prefer: 'respond-async' });
  const sends = () => fake.requests.filter((r) => r.path === '/v3/mail/send');
  const templateReads = () => fake.requests.filter((r) => r.path === '/v3/templates');
  const fitsPublishedSchema = (actionId: string, output: unknown) =>
    expectPublishedShape(outputSchemas, actionId, output);

  const plainEmail = {
    personalizations: [{ to: ['ada@example.com'] }],
    from: 'orders@example.com',
    subject: 'Receipt',
    text: 'Thanks',
  };

  it('sendEmail (sync) posts the documented JSON with the key as a Bearer token, and returns X-Message-Id', async () => {
    const sendAt = Math.floor(Date.now() / 1000) + 3600;
    const res = await execute('sendEmail', {
      personalizations: [
        {
          to: ['ada@example.com', { email: 'alan@example.com', name: 'Alan' }],
          cc: [{ email: 'grace@example.com' }],
          bcc: ['audit@example.org'],
          subject: 'Your order 1001',
          customArgs: { orderId: '1001' },
          sendAt,
        },
        { to: [{ email: 'linus@example.com', name: 'Linus' }] },
      ],
      from: { email: 'orders@example.com', name: 'Example Shop' },
      replyTo: 'help@example.com',
      subject: 'Your order',
      text: 'On its way.',
      html: '<p>On its way.</p>',
      categories: ['orders', 'shipping'],
      customArgs: { source: 'e2e' },
      sendAt,
    });
    expect(res.status).toBe(200);
    expect(sends()).toHaveLength(1);
    const req = sends()[0]!;
    expect(req.method).toBe('POST');
    expect(req.headers.authorization).toBe(`Bearer ${SENDGRID_FAKE_KEY}`);
    expect(req.headers['content-type']).toMatch(/^application\/json/);
    expect(req.query).toEqual({});
    expect(req.json).toEqual({
      personalizations: [
        {
          to: [{ email: 'ada@example.com' }, { email: 'alan@example.com', name: 'Alan' }],
          cc: [{ email: 'grace@example.com' }],
          bcc: [{ email: 'audit@example.org' }],
          subject: 'Your order 1001',
          custom_args: { orderId: '1001' },
          send_at: sendAt,
        },
        { to: [{ email: 'linus@example.com', name: 'Linus' }] },
      ],
      from: { email: 'orders@example.com', name: 'Example Shop' },
      reply_to: { email: 'help@example.com' },
      subject: 'Your order',
      content: [
        { type: 'text/plain', value: 'On its way.' },
        { type: 'text/html', value: '<p>On its way.</p>' },
      ],
      categories: ['orders', 'shipping'],
      custom_args: { source: 'e2e' },
      send_at: sendAt,
    });
    expect(res.body.output).toEqual({ messageId: fake.sentMessages[0]!.messageId });
    fitsPublishedSchema('sendEmail', res.body.output);
    expect((await client.get(`/v1/invocations/${res.body.invocationId}`)).body).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      output: res.body.output,
    });
  });

  it('sendEmail (async) sends a dynamic template with per-envelope data and no content', async () => {
    const accepted = await executeAsync('sendEmail', {
      personalizations: [
        { to: ['ada@example.com'], dynamicTemplateData: { firstName: 'Ada', items: [{ name: 'Book', qty: 1 }] } },
        { to: ['grace@example.com'], dynamicTemplateData: { firstName: 'Grace', items: [] } },
      ],
      from: 'orders@example.com',
      templateId: ORDER_CONFIRMATION_TEMPLATE_ID,
    });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toEqual({ invocationId: expect.stringMatching(/^inv_/), status: 'queued' });
    const inv = await waitForTerminal(client, accepted.body.invocationId);
    expect(inv).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(sends()).toHaveLength(1);
    expect(sends()[0]!.headers.authorization).toBe(`Bearer ${SENDGRID_FAKE_KEY}`);
    expect(sends()[0]!.json).toEqual({
      personalizations: [
        {
          to: [{ email: 'ada@example.com' }],
          dynamic_template_data: { firstName: 'Ada', items: [{ name: 'Book', qty: 1 }] },
        },
        { to: [{ email: 'grace@example.com' }], dynamic_template_data: { firstName: 'Grace', items: [] } },
      ],
      from: { email: 'orders@example.com' },
      template_id: ORDER_CONFIRMATION_TEMPLATE_ID,
    });
    expect(inv.output).toEqual({ messageId: fake.sentMessages[0]!.messageId });
    fitsPublishedSchema('sendEmail', inv.output);
  });

  it('listTemplates (sync) reads dynamic templates with GET and pages with page_size and page_token', async () => {
    const first = await execute('listTemplates', { pageSize: 2 });
    expect(first.status).toBe(200);
    const req = templateReads()[0]!;
    expect(req.method).toBe('GET');
    expect(req.headers.authorization).toBe(`Bearer ${SENDGRID_FAKE_KEY}`);
    expect(req.rawBody.length).toBe(0);
    expect(req.query).toEqual({ generations: 'dynamic', page_size: '2' });
    const wire = fake.templates[0]!;
    expect(first.body.output.templates[0]).toEqual({
      id: wire.id,
      name: wire.name,
      generation: 'dynamic',
      updatedAt: wire.updated_at,
      versions: [
        {
          id: wire.versions[0]!.id,
          name: 'First draft',
          subject: wire.versions[0]!.subject,
          active: false,
          updatedAt: wire.versions[0]!.updated_at,
          editor: 'design',
          thumbnailUrl: 'https://thumbnails.example.com/order-v1.png',
        },
        {
          id: wire.versions[1]!.id,
          name: 'Version 2',
          subject: wire.versions[1]!.subject,
          active: true,
          updatedAt: wire.versions[1]!.updated_at,
          editor: 'code',
          thumbnailUrl: null,
        },
      ],
    });
    expect(first.body.output.nextCursor).toEqual(expect.any(String));
    fitsPublishedSchema('listTemplates', first.body.output);

    const seen: string[] = first.body.output.templates.map((t: { id: string }) => t.id);
    let cursor: string | null = first.body.output.nextCursor;
    while (cursor) {
      const page = await execute('listTemplates', { pageSize: 2, cursor });
      expect(page.status).toBe(200);
      expect(templateReads().at(-1)!.query).toEqual({ generations: 'dynamic', page_size: '2', page_token: cursor });
      fitsPublishedSchema('listTemplates', page.body.output);
      seen.push(...page.body.output.templates.map((t: { id: string }) => t.id));
      cursor = page.body.output.nextCursor;
    }
    expect(cursor).toBeNull();
    expect(templateReads()).toHaveLength(3);
    expect(seen).toEqual(fake.templates.filter((t) => t.generation === 'dynamic').map((t) => t.id));
  });

  it('listTemplates (async) lists both generations on one last page', async () => {
    const accepted = await executeAsync('listTemplates', { generations: ['legacy', 'dynamic'] });
    expect(accepted.status).toBe(202);
    const inv = await waitForTerminal(client, accepted.body.invocationId);
    expect(inv.status).toBe('succeeded');
    expect(templateReads()[0]!.query).toEqual({ generations: 'legacy,dynamic', page_size: '50' });
    expect(inv.output.templates.map((t: { id: string }) => t.id)).toEqual(fake.templates.map((t) => t.id));
    expect(inv.output.templates.at(-1)).toEqual({
      id: fake.templates.at(-1)!.id,
      name: 'Legacy receipt',
      generation: 'legacy',
      updatedAt: '2021-04-28 13:12:46',
      versions: [],
    });
    expect(inv.output.nextCursor).toBeNull();
    fitsPublishedSchema('listTemplates', inv.output);
  });

  it('rejects invalid input with the failing paths, before anything reaches SendGrid', async () => {
    const res = await execute('sendEmail', {
      personalizations: [{ to: ['ada@example.com'] }, { to: ['ADA@example.com'] }],
      from: 'orders@example.com',
      subject: 'Hi',
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_input');
    expect(res.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'input.personalizations[1].to[0]',
      'input.text',
    ]);
    const from = await execute('sendEmail', { ...plainEmail, from: 'not an address' });
    expect(from.status).toBe(400);
    expect(from.body.error.details.map((d: { path: string }) => d.path)).toEqual(['input.from']);
    const pageSize = await execute('listTemplates', { pageSize: 201 });
    expect(pageSize.status).toBe(400);
    expect(fake.requests).toHaveLength(0);
  });

  it('a 401 breaks the connection: 409 connection_broken, and later calls fail fast', async () => {
    const key = 'SG.soonRevoked00000000001.soonRevokedSecret00000000000000000000000000';
    fake.addKey(key);
    const setup = await setUpProject(admin, { connectorId: 'sendgrid', credentials: { apiKey: key } });
    expect(setup.connectionStatus).toBe('active');
    const project = apiClient(engine.baseUrl, setup.projectKey);
    fake.revokeKey(key);

    const res = await execute('sendEmail', plainEmail, project);
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('connection_broken');
    expect(sends()).toHaveLength(1);
    expect(fake.sentMessages).toHaveLength(0);
    expect((await admin.get(`/v1/connections/${setup.connectionId}`)).body).toMatchObject({
      status: 'broken',
      statusReason: expect.stringContaining('authorization grant is invalid'),
    });

    const again = await execute('listTemplates', {}, project);
    expect(again.status).toBe(409);
    expect(templateReads()).toHaveLength(0);
  });

  it('a 403 (a key without mail.send) is 502 upstream_error and leaves the connection active', async () => {
    const setup = await setUpProject(admin, {
      connectorId: 'sendgrid',
      credentials: { apiKey: SENDGRID_FAKE_READ_ONLY_KEY },
    });
    expect(setup.connectionStatus).toBe('active');
    const project = apiClient(engine.baseUrl, setup.projectKey);
    const res = await execute('sendEmail', plainEmail, project);
    expect(res.status).toBe(502);
    expect(res.body.error).toMatchObject({
      code: 'upstream_error',
      details: { status: 403, message: 'access forbidden' },
    });
    expect((await project.get(`/v1/invocations/${res.body.invocationId}`)).body).toMatchObject({
      status: 'failed',
      attempts: 1,
    });
    expect((await admin.get(`/v1/connections/${setup.connectionId}`)).body.status).toBe('active');
    // The same key may still read templates.
    expect((await execute('listTemplates', {}, project)).status).toBe(200);
  });

  it('an unverified sender (403, field "from") is reported with the field and does not break anything', async () => {
    const res = await execute('sendEmail', { ...plainEmail, from: 'someone@unverified.example.net' });
    expect(res.status).toBe(502);
    expect(res.body.error.details).toMatchObject({
      status: 403,
      message: expect.stringMatching(/^from: The from address does not match a verified Sender Identity/),
    });
    expect((await admin.get(`/v1/connections/${connectionId}`)).body.status).toBe('active');
  });

  it('a 400 names the field in the error, and is not retried', async () => {
    const res = await execute('sendEmail', { ...plainEmail, sendAt: Math.floor(Date.now() / 1000) + 73 * 3600 });
    expect(res.status).toBe(502);
    expect(res.body.error).toMatchObject({
      code: 'upstream_error',
      details: { status: 400, message: expect.stringMatching(/^send_at: /) },
    });
    expect(res.body.error.message).toContain('send_at');
    expect(sends()).toHaveLength(1);
    expect((await client.get(`/v1/invocations/${res.body.invocationId}`)).body).toMatchObject({
      status: 'failed',
      attempts: 1,
    });
  });

  it('a 429 on listTemplates is retried after X-RateLimit-Reset', async () => {
    const setup = await setUpProject(admin, { connectorId: 'sendgrid', credentials: { apiKey: SENDGRID_FAKE_KEY } });
    const project = apiClient(engine.baseUrl, setup.projectKey);
    const { resetAt } = fake.rateLimitNext(1, { resetInSeconds: 2 });
    const res = await execute('listTemplates', { pageSize: 10 }, project);
    expect(res.status).toBe(200);
    const reads = templateReads();
    expect(reads).toHaveLength(2);
    expect(reads[1]!.receivedAt.getTime()).toBeGreaterThanOrEqual(resetAt * 1000);
    expect((await project.get(`/v1/invocations/${res.body.invocationId}`)).body).toMatchObject({
      status: 'succeeded',
      attempts: 2,
    });
  });

  it('a 429 on sendEmail is retried too (SendGrid refused it), and the email is sent once', async () => {
    const setup = await setUpProject(admin, { connectorId: 'sendgrid', credentials: { apiKey: SENDGRID_FAKE_KEY } });
    const project = apiClient(engine.baseUrl, setup.projectKey);
    const { resetAt } = fake.rateLimitNext(1, { resetInSeconds: 1 });
    const res = await execute('sendEmail', plainEmail, project);
    expect(res.status).toBe(200);
    expect(sends()).toHaveLength(2);
    expect(sends()[1]!.receivedAt.getTime()).toBeGreaterThanOrEqual(resetAt * 1000);
    expect(fake.sentMessages).toHaveLength(1);
    expect(res.body.output).toEqual({ messageId: fake.sentMessages[0]!.messageId });
    expect((await project.get(`/v1/invocations/${res.body.invocationId}`)).body).toMatchObject({
      status: 'succeeded',
      attempts: 2,
    });
  });

  it("a 5xx on listTemplates is retried with backoff, not after the rate-limit window's reset", async () => {
    // The 500 carries X-RateLimit-Reset (up to 60 s away) with requests remaining: no reason to wait for it.
    fake.failNext(1, { status: 500 });
    const started = Date.now();
    const res = await execute('listTemplates', {});
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(templateReads()).toHaveLength(2);
    expect((await client.get(`/v1/invocations/${res.body.invocationId}`)).body).toMatchObject({
      status: 'succeeded',
      attempts: 2,
    });
  });

  it('a 5xx on sendEmail is not retried: SendGrid does not dedupe, so the send may have run', async () => {
    fake.failNext(1, { status: 500 });
    const res = await execute('sendEmail', plainEmail);
    expect(res.status).toBe(502);
    expect(res.body.error).toMatchObject({
      code: 'upstream_error',
      details: { status: 500, message: 'internal server error' },
    });
    await new Promise((r) => setTimeout(r, 1_500));
    expect(sends()).toHaveLength(1);
    expect((await client.get(`/v1/invocations/${res.body.invocationId}`)).body).toMatchObject({
      status: 'failed',
      errorCode: 'upstream_error',
      attempts: 1,
    });
  });

  it('a send whose answer is lost is recorded as failed, never repeated', async () => {
    fake.dropNextConnections(1, { afterProcessing: true });
    const res = await execute('sendEmail', plainEmail);
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('upstream_unavailable');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(sends()).toHaveLength(1);
    expect(fake.sentMessages).toHaveLength(1); // it did go out
    expect((await client.get(`/v1/invocations/${res.body.invocationId}`)).body).toMatchObject({
      status: 'failed',
      attempts: 1,
    });
  });
});
