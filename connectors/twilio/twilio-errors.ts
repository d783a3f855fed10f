import type { ErrorTable } from '../toolkit/error-table.ts';

/**
 * Twilio's REST errors (docs/upstreams/twilio.md §1.5). Every non-2xx answer carries
 * `{code, message, more_info, status}` with a numeric `code`, which is what this table keys on
 * (as a string). Twilio reuses HTTP 400 for most of its codes, so the code decides: 20003 means the
 * SID and token no longer authenticate (the connection is broken), 21211 and the other 21xxx codes
 * are the caller's input, and 20429 is its concurrency limit, answered before anything is processed.
 */
export const twilioErrors: ErrorTable = {
  codeOf(body) {
    const code = (body as { code?: unknown } | null | undefined)?.code;
    if (typeof code === 'number' && Number.isInteger(code)) return String(code);
    return typeof code === 'string' && code !== '' ? code : undefined;
  },
  messageOf(body) {
    const message = (body as { message?: unknown } | null | undefined)?.message;
    if (typeof message === 'string' && message !== '') return message;
    return typeof body === 'string' && body.trim() !== '' ? body.slice(0, 200) : undefined;
  },
  byCode: {
    // "Authenticate" / Permission Denied: wrong SID and token pair, a deleted or rotated token, a
    // closed account. These credentials will not work again.
    '20003': 'auth_invalid',
    // The account is suspended or closed ("lacks permission to access the Twilio API"). Support can
    // restore it, so it is not proof that the credentials are wrong.
    '20403': 'permission',
    // Authorization Failed: e.g. a restricted API key without the permission for this resource.
    '70051': 'permission',
    // Too many concurrent requests: never processed, always safe to retry after backing off.
    '20429': 'rate_limited',
    // Sending not enabled for the destination's country in the account's Geo Permissions: the
    // account may not do this until its owner changes the setting.
    '21408': 'permission',
    // 'To' unverified on a trial account: a limit of the account, not of the request.
    '21608': 'permission',
    // The sender's queue of outgoing messages is full: refused, not queued. Waiting seconds (a
    // retry) would not drain it, so it is reported, like a spent allowance.
    '21611': 'quota',
    // The caller's input: invalid 'To', 'To' missing, invalid 'From', 'From' not usable, recipient
    // opted out, not routable, not a mobile number, a landline.
    '21211': 'invalid_request',
    '21604': 'invalid_request',
    '21212': 'invalid_request',
    '21606': 'invalid_request',
    '21610': 'invalid_request',
    '21612': 'invalid_request',
    '21614': 'invalid_request',
    '21635': 'invalid_request',
  },
  byStatus: {
    // Twilio's 401 is authentication failure (error 20003); every one it sends carries that code.
    401: 'auth_invalid',
    // Authenticated, but this account or key may not do this (20403, 70051 and the like).
    403: 'permission',
  },
};
