import { createHmac } from 'node:crypto';
import { constantTimeEqual, withinTolerance } from '../../shared/crypto/standard-webhooks.ts';
import type { InboundHook, InboundVerdict } from '../toolkit/inbound.ts';
import { parseJsonObject } from '../toolkit/inbound-body.ts';

/** Slack's replay window: a request whose X-Slack-Request-Timestamp is further than this from now is refused. */
const WINDOW_SECONDS = 5 * 60;

/**
 * Slack's Events API (docs/upstreams/slack.md, "Events"): `X-Slack-Signature: v0=<hex HMAC-SHA256
 * of "v0:<timestamp>:<raw body>">` keyed with the Slack app's signing secret (SLACK_SIGNING_SECRET),
 * and `X-Slack-Request-Timestamp` within 5 minutes. `url_verification` (sent when the Request URL is
 * set) is answered with its challenge; `event_callback` envelopes are events named
 * `slack.<event.type>`, deduped on `event_id`, which Slack keeps on its retries (X-Slack-Retry-Num).
 */
export const slackInbound: InboundHook = {
  signingSecret: {
    description:
      "Slack app signing secret (the app's Basic Information page): verifies the events Slack sends to connections' inboundUrl",
  },
  eventTypes: [
    'slack.message',
    'slack.app_mention',
    'slack.reaction_added',
    'slack.<any Events API event type>',
    'slack.app_rate_limited',
  ],
  receive(request, { signingSecret, nowMs }): InboundVerdict {
    if (!signingSecret) return { kind: 'rejected', reason: 'SLACK_SIGNING_SECRET is not set' };
    const timestamp = request.headers['x-slack-request-timestamp'];
    if (!withinTolerance(timestamp, WINDOW_SECONDS, nowMs))
      return { kind: 'rejected', reason: 'timestamp missing or outside the 5-minute window' };
    const expected = `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:`).update(request.rawBody).digest('hex')}`;
    if (!constantTimeEqual(request.headers['x-slack-signature'] ?? '', expected))
      return { kind: 'rejected', reason: 'signature does not match' };

    const body = parseJsonObject(request.rawBody);
    if (!body) return { kind: 'malformed', reason: 'not a JSON object' };
    if (body.type === 'url_verification' && typeof body.challenge === 'string') {
      return {
        kind: 'handshake',
        reply: { status: 200, contentType: 'application/json', body: JSON.stringify({ challenge: body.challenge }) },
      };
    }
    if (
      body.type === 'event_callback' &&
      typeof body.event_id === 'string' &&
      typeof (body.event as { type?: unknown } | undefined)?.type === 'string'
    ) {
      return {
        kind: 'event',
        eventId: body.event_id,
        type: `slack.${(body.event as { type: string }).type}`,
        payload: body,
      };
    }
    if (body.type === 'app_rate_limited') {
      // No event_id: one such notice per team and minute.
      return {
        kind: 'event',
        eventId: `app_rate_limited:${String(body.team_id)}:${String(body.minute_rate_limited)}`,
        type: 'slack.app_rate_limited',
        payload: body,
      };
    }
    return { kind: 'malformed', reason: `unknown envelope type ${JSON.stringify(String(body.type)).slice(0, 60)}` };
  },
};
