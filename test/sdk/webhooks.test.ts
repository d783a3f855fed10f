import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { type WebhookHeaders, WebhookVerificationError, webhooks } from '../../sdk/src/index.ts';

/**
 * `webhooks.verify` against deliveries signed by the Standard Webhooks reference library
 * (`standardwebhooks`), the independent side of the check; the engine's own deliveries are verified
 * in sdk-e2e.test.ts.
 */
describe('SDK webhooks.verify (Standard Webhooks)', () => {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const event = {
    id: 'evt_01',
    type: 'connection.broken',
    createdAt: '2026-11-29T10:00:00.000Z',
    data: { connection: { id: 'con_1', status: 'broken' } },
  };
  const payload = JSON.stringify(event);
  const at = new Date('2026-11-29T10:00:00Z');

  /** The headers a delivery carries, signed by the reference library with each secret given. */
  const signed = (secrets: { secret: string; raw?: boolean }[], body = payload, id = 'evt_01', when = at) => ({
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(when.getTime() / 1000)),
    'webhook-signature': secrets
      .map((s) => new Webhook(s.secret, s.raw ? { format: 'raw' } : undefined).sign(id, when, body))
      .join(' '),
  });
  const rejection = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return err as Error;
    }
    return expect.fail('expected verify to throw');
  };

  it('returns the parsed event of a delivery the reference library signed, from a string, bytes, or fetch Headers', () => {
    const headers = signed([{ secret }]);
    expect(webhooks.verify(payload, headers, secret, { now: at })).toEqual(event);
    expect(webhooks.verify(new TextEncoder().encode(payload), headers, secret, { now: at })).toEqual(event);
    expect(webhooks.verify(Buffer.from(payload), new Headers(headers), secret, { now: at })).toEqual(event);
    // Node's req.headers are lower case; a framework may hand them capitalised.
    expect(
      webhooks.verify(
        payload,
        {
          'Webhook-Id': headers['webhook-id'],
          'Webhook-Timestamp': headers['webhook-timestamp'],
          'Webhook-Signature': headers['webhook-signature'],
        },
        secret,
        { now: at },
      ),
    ).toEqual(event);
  });

  it('accepts any matching v1 entry of several (a rotation signs with the old and the new secret), and skips other versions', () => {
    const old = `whsec_${randomBytes(32).toString('base64')}`;
    const headers = signed([{ secret }, { secret: old }]);
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(webhooks.verify(payload, headers, secret, { now: at })).toEqual(event);
    expect(webhooks.verify(payload, headers, old, { now: at })).toEqual(event);
    const mixed = {
      ...headers,
      'webhook-signature': `v1a,${'A'.repeat(43)}= ${signed([{ secret }])['webhook-signature']}`,
    };
    expect(webhooks.verify(payload, mixed, secret, { now: at })).toEqual(event);
  });

  it('verifies a secret made before Standard Webhooks with { secretFormat: "raw" }, and says so when it is not base64', () => {
    const legacy = `whsec_${randomBytes(32).toString('base64url')}-_`;
    const headers = signed([{ secret: legacy, raw: true }]);
    expect(webhooks.verify(payload, headers, legacy, { now: at, secretFormat: 'raw' })).toEqual(event);
    const err = rejection(() => webhooks.verify(payload, headers, legacy, { now: at }));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toContain("secretFormat: 'raw'");
    expect(err.message).not.toContain(legacy);
  });

  it('rejects a changed body, another id, a wrong secret, a missing header and a bare signature list', () => {
    const headers = signed([{ secret }]);
    const cases: [string | Uint8Array, WebhookHeaders, string][] = [
      [payload.replace('broken', 'active'), headers, secret],
      [payload, { ...headers, 'webhook-id': 'evt_02' }, secret],
      [payload, headers, `whsec_${randomBytes(32).toString('base64')}`],
      [payload, { 'webhook-id': 'evt_01', 'webhook-signature': headers['webhook-signature'] }, secret],
      [payload, { ...headers, 'webhook-signature': headers['webhook-signature']!.slice(3) }, secret],
      [payload, { ...headers, 'webhook-signature': `${headers['webhook-signature']}x` }, secret],
    ];
    for (const [body, h, s] of cases) {
      const err = rejection(() => webhooks.verify(body, h, s, { now: at }));
      expect(err).toBeInstanceOf(WebhookVerificationError);
      expect(err).toMatchObject({ code: 'webhook_verification_failed' });
    }
  });

  it('holds the timestamp to 5 minutes either way by default (replays), like the reference library', () => {
    const headers = signed([{ secret }]);
    const fiveMinutes = 5 * 60_000;
    expect(webhooks.verify(payload, headers, secret, { now: at.getTime() + fiveMinutes })).toEqual(event);
    expect(webhooks.verify(payload, headers, secret, { now: at.getTime() - fiveMinutes })).toEqual(event);
    expect(
      rejection(() => webhooks.verify(payload, headers, secret, { now: at.getTime() + fiveMinutes + 1_000 })).message,
    ).toBe('Message timestamp too old.');
    expect(
      rejection(() => webhooks.verify(payload, headers, secret, { now: at.getTime() - fiveMinutes - 1_000 })).message,
    ).toBe('Message timestamp too new.');
    expect(
      webhooks.verify(payload, headers, secret, { now: at.getTime() + 3_600_000, toleranceSeconds: 3_601 }),
    ).toEqual(event);
    // The reference library agrees on the same delivery, now.
    const fresh = signed([{ secret }], payload, 'evt_01', new Date());
    expect(new Webhook(secret).verify(payload, fresh)).toEqual(webhooks.verify(payload, fresh, secret));
    expect(rejection(() => webhooks.verify(payload, { ...fresh, 'webhook-timestamp': 'soon' }, secret))).toBeInstanceOf(
      WebhookVerificationError,
    );
  });

  it('refuses parsed JSON in place of the raw body', () => {
    expect(rejection(() => webhooks.verify(event as never, signed([{ secret }]), secret, { now: at }))).toBeInstanceOf(
      TypeError,
    );
  });
});
