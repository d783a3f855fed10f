import { createHmac } from 'node:crypto';

/**
 * Signers of the services that send inbound events, written in the tests from each provider's
 * documented algorithm (summarised in docs/security.md, "Inbound events: verified before read", and docs/upstreams/), independently of the
 * engine's verifiers. Resend's is the `svix` package itself.
 */

/** Slack: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<body>` with the app's signing secret. */
export function slackHeaders(
  signingSecret: string,
  body: string,
  timestampSeconds = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const signature = `v0=${createHmac('sha256', signingSecret).update(`v0:${timestampSeconds}:${body}`).digest('hex')}`;
  return {
    'content-type': 'application/json',
    'x-slack-request-timestamp': String(timestampSeconds),
    'x-slack-signature': signature,
  };
}

/** Twilio: base64 HMAC-SHA1 of the URL followed by each POST parameter's name and value, names sorted. */
export function twilioSignature(authToken: string, url: string, params: Record<string, string>): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, name) => acc + name + params[name], url);
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}
