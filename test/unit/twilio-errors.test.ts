import { describe, expect, it } from 'vitest';
import { classifyByTable } from '../../connectors/toolkit/error-table.ts';
import { type FailureKind, UpstreamHttpError } from '../../connectors/toolkit/upstream-errors.ts';
import { twilioErrors } from '../../connectors/twilio/twilio-errors.ts';

/** Twilio's error table, row by row from docs/upstreams/twilio.md §1.5. Only `auth_invalid` breaks a connection. */
const envelope = (status: number, code: number, message: string) => ({
  code,
  message,
  more_info: `https://www.twilio.com/docs/errors/${code}`,
  status,
});

const rows: Array<[status: number, body: unknown, kind: FailureKind, mayHaveRun: boolean]> = [
  [401, envelope(401, 20003, 'Authenticate'), 'auth_invalid', false],
  [401, undefined, 'auth_invalid', false],
  [403, envelope(403, 20008, 'Resource not accessible with Test Account Credentials'), 'permission', false],
  [403, envelope(403, 20403, '403 Forbidden'), 'permission', false],
  [403, envelope(403, 70051, 'Authorization Failed'), 'permission', false],
  [429, envelope(429, 20429, 'Too Many Requests'), 'rate_limited', false],
  [400, envelope(400, 21211, "The 'To' number 5551234567 is not a valid phone number."), 'invalid_request', false],
  [400, envelope(400, 21408, 'Permission to send an SMS has not been enabled for the region'), 'permission', false],
  [400, envelope(400, 21610, 'Attempt to send to unsubscribed recipient'), 'invalid_request', false],
  [400, envelope(400, 21614, "'To' number is not a valid mobile number"), 'invalid_request', false],
  [400, envelope(400, 21635, "'To' number cannot be a landline"), 'invalid_request', false],
  [400, envelope(400, 21608, 'The number is unverified'), 'permission', false],
  [400, envelope(400, 21611, "This 'From' number has exceeded the maximum number of queued messages"), 'quota', false],
  [400, envelope(400, 21212, "The 'From' number is not a valid phone number"), 'invalid_request', false],
  [404, envelope(404, 20404, 'The requested resource was not found'), 'invalid_request', false],
  [500, envelope(500, 20500, 'Internal Server Error'), 'transient', true],
  [503, 'Service Unavailable', 'transient', true],
];

describe('Twilio error table', () => {
  it.each(rows)('HTTP %i %j is %s', (status, body, kind, mayHaveRun) => {
    const failure = classifyByTable(twilioErrors, new UpstreamHttpError(status, {}, body));
    expect(failure.kind).toBe(kind);
    expect(failure.requestMayHaveRun).toBe(mayHaveRun);
  });

  it('reads the numeric code as a string and the message as is', () => {
    const failure = classifyByTable(
      twilioErrors,
      new UpstreamHttpError(400, {}, envelope(400, 21211, "The 'To' number 123 is not a valid phone number.")),
    );
    expect(failure).toMatchObject({
      upstreamCode: '21211',
      message: "The 'To' number 123 is not a valid phone number.",
      upstreamStatus: 400,
    });
  });
});
