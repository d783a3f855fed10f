import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { slackInbound } from '../../connectors/slack/slack-inbound.ts';
import { twilioInbound } from '../../connectors/twilio/twilio-inbound.ts';
import { newStandardSecret } from '../../shared/crypto/standard-webhooks.ts';
import { freshSecrets, rotatedSecrets, signatureHeader } from '../../shared/webhooks-out/signing-secrets.ts';
import { slackHeaders, twilioSignature } from '../support/inbound-signers.ts';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const HOUR = 3600_000;

describe('webhook out signing secrets', () => {
  it('signs as the Standard Webhooks library does, with both secrets for 24 hours after a rotation', () => {
    const before = newStandardSecret();
    const after = newStandardSecret();
    const body = '{"id":"evt_1","type":"connection.broken"}';
    const ts = Math.floor(NOW / 1000);
    const own = (secret: string) => new Webhook(secret).sign('evt_1', new Date(ts * 1000), body);
    expect(signatureHeader(freshSecrets(before).secrets, 'evt_1', ts, body, NOW)).toBe(own(before));

    const rotated = rotatedSecrets(freshSecrets(before).secrets, after, NOW).secrets;
    expect(signatureHeader(rotated, 'evt_1', ts, body, NOW + 23 * HOUR)).toBe(`${own(after)} ${own(before)}`);
    expect(signatureHeader(rotated, 'evt_1', ts, body, NOW + 24 * HOUR + 1)).toBe(own(after));
  });

  it('keeps a secret made before Standard Webhooks as its raw key', () => {
    const legacy = `whsec_${randomBytes(32).toString('base64url')}`;
    const header = signatureHeader([{ secret: legacy, format: 'raw' }], 'evt_2', 1_700_000_000, 'x', NOW);
    expect(header).toBe(new Webhook(legacy, { format: 'raw' }).sign('evt_2', new Date(1_700_000_000_000), 'x'));
  });
});

describe('Slack inbound verification', () => {
  const secret = 'slack-signing-secret-for-tests-01';
  const body = JSON.stringify({ type: 'event_callback', event_id: 'Ev1', event: { type: 'message' } });
  const receive = (headers: Record<string, string>, raw = body) =>
    slackInbound.receive(
      { rawBody: Buffer.from(raw), headers, url: 'https://e.example/x' },
      { credentials: {}, signingSecret: secret, nowMs: NOW },
    );

  it('accepts within 5 minutes either way, and refuses beyond', () => {
    const at = (offsetS: number) => receive(slackHeaders(secret, body, Math.floor(NOW / 1000) + offsetS)).kind;
    expect([at(-299), at(299)]).toEqual(['event', 'event']);
    expect([at(-301), at(301)]).toEqual(['rejected', 'rejected']);
  });

  it('refuses everything when SLACK_SIGNING_SECRET is not set', () => {
    const verdict = slackInbound.receive(
      {
        rawBody: Buffer.from(body),
        headers: slackHeaders(secret, body, Math.floor(NOW / 1000)),
        url: 'https://e.example/x',
      },
      { credentials: {}, signingSecret: undefined, nowMs: NOW },
    );
    expect(verdict).toEqual({ kind: 'rejected', reason: 'SLACK_SIGNING_SECRET is not set' });
  });
});

describe('Twilio inbound verification', () => {
  const token = '0fa4e0000000000000000000a0717c0d';
  const receive = (url: string, raw: string, headers: Record<string, string>) =>
    twilioInbound.receive(
      { rawBody: Buffer.from(raw), headers, url },
      { credentials: { authToken: token }, signingSecret: undefined, nowMs: NOW },
    );

  it("accepts a signature over the URL with or without the default port, as Twilio's validator does", () => {
    const params = { MessageSid: 'SM1', MessageStatus: 'sent' };
    const raw = new URLSearchParams(params).toString();
    expect(
      receive('https://e.example/v1/inbound/twilio/c', raw, {
        'x-twilio-signature': twilioSignature(token, 'https://e.example:443/v1/inbound/twilio/c', params),
      }).kind,
    ).toBe('event');
    expect(
      receive('https://e.example:443/v1/inbound/twilio/c', raw, {
        'x-twilio-signature': twilioSignature(token, 'https://e.example/v1/inbound/twilio/c', params),
      }).kind,
    ).toBe('event');
  });

  it('signs a repeated parameter once per distinct value, sorted', () => {
    const raw = 'MediaUrl=b&MediaUrl=a&MediaUrl=b&MessageSid=SM2';
    const data = 'https://e.example/hMediaUrlaMediaUrlbMessageSidSM2';
    const signature = createHmac('sha1', token).update(data).digest('base64');
    const verdict = receive('https://e.example/h', raw, { 'x-twilio-signature': signature });
    expect(verdict).toMatchObject({ kind: 'event', payload: { MediaUrl: ['b', 'a', 'b'], MessageSid: 'SM2' } });
  });

  it('checks a JSON body through its bodySHA256 query parameter', () => {
    const raw = '{"MessageSid":"SM3","MessageStatus":"delivered"}';
    const url = `https://e.example/h?bodySHA256=${createHash('sha256').update(raw).digest('hex')}`;
    const signature = twilioSignature(token, url, {});
    expect(receive(url, raw, { 'x-twilio-signature': signature })).toMatchObject({
      kind: 'event',
      type: 'twilio.message.status',
    });
    expect(receive(url, raw.replace('delivered', 'failed'), { 'x-twilio-signature': signature }).kind).toBe('rejected');
  });
});
