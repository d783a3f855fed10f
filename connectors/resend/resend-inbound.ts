import { standardSecretKey, verifyStandardSignature } from '../../shared/crypto/standard-webhooks.ts';
import type { InboundHook, InboundVerdict } from '../toolkit/inbound.ts';
import { parseJsonObject } from '../toolkit/inbound-body.ts';

/**
 * Resend webhooks, delivered by Svix (docs/upstreams/resend.md, "Webhooks"): `svix-id`,
 * `svix-timestamp` and `svix-signature` (`v1,<base64>` entries), the Standard Webhooks scheme keyed
 * with the connection's `webhookSecret` (`whsec_…`, from Resend's webhook page). `svix-id` is the
 * same on every retry: the dedupe key. Svix may send the same headers as `webhook-*`.
 */
export const resendInbound: InboundHook = {
  eventTypes: [
    'resend.email.sent',
    'resend.email.delivered',
    'resend.email.delivery_delayed',
    'resend.email.bounced',
    'resend.email.complained',
    'resend.email.opened',
    'resend.email.clicked',
    'resend.email.failed',
    'resend.contact.created',
    'resend.domain.updated',
  ],
  receive(request, { credentials, nowMs }): InboundVerdict {
    const secret = credentials.webhookSecret;
    if (!secret) return { kind: 'rejected', reason: 'the connection has no webhookSecret' };
    const h = request.headers;
    const id = h['svix-id'] ?? h['webhook-id'];
    const verified = verifyStandardSignature({
      key: standardSecretKey(secret),
      id,
      timestamp: h['svix-timestamp'] ?? h['webhook-timestamp'],
      signatures: h['svix-signature'] ?? h['webhook-signature'],
      rawBody: request.rawBody,
      nowMs,
    });
    if (!verified || !id) return { kind: 'rejected', reason: 'signature missing, stale or not matching' };
    const body = parseJsonObject(request.rawBody);
    if (!body || typeof body.type !== 'string') return { kind: 'malformed', reason: 'not a Resend event (no type)' };
    return { kind: 'event', eventId: id, type: `resend.${body.type}`, payload: body };
  },
};
