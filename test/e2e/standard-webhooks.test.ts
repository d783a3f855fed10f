import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKeyring } from '../../shared/crypto/keyring.ts';
import { Vault } from '../../shared/crypto/vault.ts';
import { newId } from '../../shared/ids.ts';
import { type ResendFake, startResendFake } from '../fakes/resend/resend-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient } from '../support/http.ts';
import {
  breakAConnection,
  eventually,
  type RecordedDelivery,
  standardHeaders,
  startRecordingReceiver,
} from '../support/webhooks.ts';

/**
 * Webhooks out by the Standard Webhooks specification, checked with its reference library
 * (`standardwebhooks`) as the receiver: a webhook created before the change keeps its secret and is
 * verified with it (docs/decisions/0011-standard-webhooks.md), and a rotation signs with both
 * secrets.
 */
describe('Standard Webhooks signatures on webhooks out', () => {
  let fake: ResendFake;
  let receiver: Awaited<ReturnType<typeof startRecordingReceiver>>;
  let engine: Engine;
  let admin: ApiClient;

  beforeAll(async () => {
    fake = await startResendFake({ rateLimitPerSecond: 10_000 });
    receiver = await startRecordingReceiver();
    engine = await startEngine({ env: { RESEND_API_URL: fake.url } });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
  });
  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
    await receiver?.close();
  });

  /** The connection.broken delivery of a freshly broken connection (each test has one webhook at a time). */
  const nextBrokenDelivery = async (): Promise<RecordedDelivery> => {
    const connectionId = await breakAConnection(admin, fake);
    return eventually(() =>
      receiver.received.find((d) => d.body.type === 'connection.broken' && d.body.data.connection.id === connectionId),
    );
  };

  it('keeps delivering to a webhook created before the change, verifiable with its existing secret', async () => {
    // What POST /v1/webhooks stored before Standard Webhooks: the secret string alone, sealed, whose
    // HMAC key was the string's UTF-8 bytes.
    const legacySecret = `whsec_${randomBytes(32).toString('base64url')}`;
    const vault = new Vault(parseKeyring(engine.env.CONNECTORS_ENCRYPTION_KEYS!));
    const client = new pg.Client({ connectionString: engine.database.url });
    await client.connect();
    const id = newId('webhook');
    const sealed = vault.seal(legacySecret, id);
    const { rows } = await client.query<{ workspace_id: string }>('select workspace_id from api_keys limit 1');
    await client.query(
      'insert into webhooks (id, workspace_id, url, events, secret_key_id, secret_iv, secret_tag, secret_ciphertext) values ($1, $2, $3, $4, $5, $6, $7, $8)',
      [
        id,
        rows[0]!.workspace_id,
        receiver.url,
        JSON.stringify(['connection.broken']),
        sealed.keyId,
        sealed.iv,
        sealed.tag,
        sealed.ciphertext,
      ],
    );
    await client.end();

    const delivery = await nextBrokenDelivery();
    const headers = standardHeaders(delivery);
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    // The receiver keeps its secret: given as the raw key, or re-encoded as whsec_<base64 of the secret>.
    expect(new Webhook(legacySecret, { format: 'raw' }).verify(delivery.raw, headers)).toEqual(delivery.body);
    expect(new Webhook(`whsec_${Buffer.from(legacySecret).toString('base64')}`).verify(delivery.raw, headers)).toEqual(
      delivery.body,
    );

    // The documented way to a standard secret: rotate. For 24 hours both verify.
    const rotated = await admin.post(`/v1/webhooks/${id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const after = await nextBrokenDelivery();
    const afterHeaders = standardHeaders(after);
    expect(afterHeaders['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(rotated.body.secret).verify(after.raw, afterHeaders)).toEqual(after.body);
    expect(new Webhook(legacySecret, { format: 'raw' }).verify(after.raw, afterHeaders)).toEqual(after.body);
    await admin.delete(`/v1/webhooks/${id}`);
  }, 60_000);

  it('rotates a secret: both signatures for 24 hours, each verified by the library; the secret is shown once', async () => {
    const created = await admin.post('/v1/webhooks', { url: `${receiver.url}`, events: ['connection.broken'] });
    const first = await nextBrokenDelivery();
    expect(new Webhook(created.body.secret).verify(first.raw, standardHeaders(first))).toEqual(first.body);
    expect(standardHeaders(first)['webhook-signature'].split(' ')).toHaveLength(1);

    const rotated = await admin.post(`/v1/webhooks/${created.body.id}/rotate-secret`);
    expect(rotated.body.secret).not.toBe(created.body.secret);
    const second = await nextBrokenDelivery();
    const headers = standardHeaders(second);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(created.body.secret).verify(second.raw, headers)).toEqual(second.body);
    expect(new Webhook(rotated.body.secret).verify(second.raw, headers)).toEqual(second.body);
    expect(() => new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(second.raw, headers)).toThrow();

    const listed = JSON.stringify((await admin.get('/v1/webhooks')).body);
    expect(listed).not.toContain(rotated.body.secret);
    expect((await admin.post('/v1/webhooks/whk_01jzzzzzzzzzzzzzzzzzzzzzzz/rotate-secret')).status).toBe(404);
    await admin.delete(`/v1/webhooks/${created.body.id}`);
  }, 60_000);
});
