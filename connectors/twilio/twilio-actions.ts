import { z } from 'zod';
import { type ActionContext, defineAction } from '../toolkit/connector-definition.ts';

/**
 * Twilio Programmable Messaging actions (docs/upstreams/twilio.md). Every path sits under the
 * connection's own account, `/2010-04-01/Accounts/{AccountSid}/…`, with the Account SID read from
 * the connection's non-secret field. Inputs are camelCase and mapped to Twilio's PascalCase form
 * and query parameters; outputs are a camelCase projection of Twilio's snake_case Message resource,
 * with RFC 2822 dates turned into ISO 8601 and string counters into numbers.
 */

const API = '/2010-04-01';

// E.164 ("+14155552671") or a channel address ("whatsapp:+14155552671", "messenger:…", "rcs:…").
const recipientPattern = /^(\+[1-9]\d{1,14}|[a-z]+:\S{1,200})$/;
// The above, or a short code (digits) or an alphanumeric sender ID (up to 11 letters, digits and
// spaces): Twilio itself tells the two apart and refuses a sender the account cannot use (21212, 21606).
const senderPattern = /^(\+[1-9]\d{1,14}|[a-z]+:\S{1,200}|[A-Za-z0-9][A-Za-z0-9 ]{0,10})$/;
const ymd = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

const recipient = z
  .string()
  .regex(
    recipientPattern,
    'must be an E.164 phone number such as "+14155552671" or a channel address such as "whatsapp:+14155552671"',
  )
  .describe('The recipient: E.164 ("+14155552671") or a channel address ("whatsapp:+14155552671")');
const sender = z
  .string()
  .regex(
    senderPattern,
    'must be a Twilio phone number in E.164 ("+14155552345"), a short code, an alphanumeric sender ID or a channel address',
  );
const messagingServiceSid = z
  .string()
  .regex(/^MG[0-9a-fA-F]{32}$/, 'must be a Messaging Service SID (MG followed by 32 hex digits)');
const messageSid = z
  .string()
  .regex(/^(SM|MM)[0-9a-fA-F]{32}$/, 'must be a Message SID (SM or MM followed by 32 hex digits)');
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048);
const day = z
  .string()
  .regex(ymd, 'must be a date as YYYY-MM-DD')
  // Runs even when the pattern failed, so it must not throw on any string.
  .refine((v) => !ymd.test(v) || new Date(`${v}T00:00:00Z`).toISOString().startsWith(v), 'is not a calendar date');

/** A Message resource as Twilio sends it (T-OAS `api.v2010.account.message`); almost every field is nullable. */
interface WireMessage {
  sid?: string | null;
  account_sid?: string | null;
  messaging_service_sid?: string | null;
  status?: string | null;
  direction?: string | null;
  to?: string | null;
  from?: string | null;
  body?: string | null;
  num_segments?: string | number | null;
  num_media?: string | number | null;
  price?: string | null;
  price_unit?: string | null;
  error_code?: number | string | null;
  error_message?: string | null;
  date_created?: string | null;
  date_sent?: string | null;
  date_updated?: string | null;
}

interface WireMessagePage {
  messages?: WireMessage[];
  next_page_uri?: string | null;
}

const message = z.object({
  sid: z.string().describe('The Message SID: SM… for SMS, MM… for MMS'),
  accountSid: z.string().nullable(),
  messagingServiceSid: z.string().nullable(),
  status: z
    .string()
    .describe(
      'queued, accepted, scheduled, sending, sent, delivered, undelivered, failed, receiving, received, read, partially_delivered or canceled. A send answers "queued" (or "accepted" while a Messaging Service picks the sender); delivery failures show later as "failed"/"undelivered" with errorCode',
    ),
  direction: z.string().nullable().describe('inbound, outbound-api, outbound-call or outbound-reply'),
  to: z.string().nullable(),
  from: z.string().nullable().describe('null while a Messaging Service has not picked the sender yet'),
  body: z.string().nullable(),
  numSegments: z
    .number()
    .int()
    .nullable()
    .describe('SMS segments billed; 0 until a Messaging Service has picked the sender'),
  numMedia: z.number().int().nullable(),
  price: z
    .string()
    .nullable()
    .describe('Decimal string in priceUnit, e.g. "-0.00790"; null until Twilio has priced the message'),
  priceUnit: z.string().nullable(),
  errorCode: z
    .number()
    .int()
    .nullable()
    .describe('Twilio error code of a failed or undelivered message (30xxx), else null'),
  errorMessage: z.string().nullable(),
  dateCreated: z.string().nullable().describe('ISO 8601'),
  dateSent: z.string().nullable().describe('ISO 8601'),
  dateUpdated: z.string().nullable().describe('ISO 8601'),
});
type Message = z.infer<typeof message>;

const intOrNull = (value: string | number | null | undefined): number | null => {
  if (value === null || value === undefined || value === '') return null;
  const n = Number(value);
  return Number.isInteger(n) ? n : null;
};

/** Twilio prints dates as RFC 2822 ("Thu, 24 Aug 2023 05:01:45 +0000"); we promise ISO 8601. */
function isoDate(value: string | null | undefined): string | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}

function presentMessage(m: WireMessage): Message {
  return {
    sid: m.sid ?? '',
    accountSid: m.account_sid ?? null,
    messagingServiceSid: m.messaging_service_sid ?? null,
    status: m.status ?? 'unknown',
    direction: m.direction ?? null,
    to: m.to ?? null,
    from: m.from ?? null,
    body: m.body ?? null,
    numSegments: intOrNull(m.num_segments),
    numMedia: intOrNull(m.num_media),
    price: m.price ?? null,
    priceUnit: m.price_unit ?? null,
    errorCode: intOrNull(m.error_code),
    errorMessage: m.error_message ?? null,
    dateCreated: isoDate(m.date_created),
    dateSent: isoDate(m.date_sent),
    dateUpdated: isoDate(m.date_updated),
  };
}

/** `/2010-04-01/Accounts/{AccountSid}` of this connection; the SID is its non-secret auth field. */
function accountPath(ctx: ActionContext): string {
  const sid = ctx.fields.accountSid;
  if (!sid) throw new Error('the connection has no accountSid');
  return `${API}/Accounts/${encodeURIComponent(sid)}`;
}

// ---- paging -------------------------------------------------------------------------

/**
 * Twilio pages by following `next_page_uri` (reference §1.3): the next page's query repeats the
 * filters and PageSize and adds Page and an opaque PageToken. Our cursor is that query string,
 * base64url-encoded, and the next call sends it verbatim to the same account's Messages.json, so it
 * is exactly Twilio's next page and cannot point anywhere else.
 */
const cursorParams = ['To', 'From', 'DateSent', 'DateSent<', 'DateSent>', 'PageSize', 'Page', 'PageToken'] as const;

function cursorOf(nextPageUri: string | null | undefined): string | null {
  if (!nextPageUri) return null;
  const query = nextPageUri.includes('?') ? nextPageUri.slice(nextPageUri.indexOf('?') + 1) : '';
  return query ? Buffer.from(query, 'utf8').toString('base64url') : null;
}

/** The query a cursor stands for, or undefined when it is not one of ours. */
function decodeCursor(cursor: string): URLSearchParams | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  const params = new URLSearchParams(Buffer.from(cursor, 'base64url').toString('utf8'));
  const keys = [...params.keys()];
  if (!params.get('PageToken') || keys.some((k) => !(cursorParams as readonly string[]).includes(k))) return undefined;
  if (new Set(keys).size !== keys.length) return undefined;
  return params;
}

const listInputFields = {
  to: recipient.optional().describe('Only messages sent to this number or address'),
  from: sender.optional().describe('Only messages sent from this number, short code or sender ID'),
  dateSent: day.optional().describe('Only messages sent on this day (GMT), YYYY-MM-DD'),
  dateSentOnOrBefore: day.optional().describe('Only messages sent on or before this day (GMT), YYYY-MM-DD'),
  dateSentOnOrAfter: day.optional().describe('Only messages sent on or after this day (GMT), YYYY-MM-DD'),
  limit: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe('Messages per page, 1 to 1000 (Twilio PageSize; default 50)'),
  cursor: z
    .string()
    .min(1)
    .max(4000)
    .optional()
    .describe(
      "nextCursor of the previous page. It carries that listing's filters and page size: omit them, or give the same values",
    ),
};
type ListInput = { [K in keyof typeof listInputFields]?: z.infer<(typeof listInputFields)[K]> };

/** Our input fields → Twilio's query parameters (`DateSent<` reads "on or before", T-OAS). */
const wireNames = {
  to: 'To',
  from: 'From',
  dateSent: 'DateSent',
  dateSentOnOrBefore: 'DateSent<',
  dateSentOnOrAfter: 'DateSent>',
  limit: 'PageSize',
} as const satisfies Partial<Record<keyof ListInput, (typeof cursorParams)[number]>>;

/** Our input's filters and page size as Twilio's query, by wire name. */
function filterQuery(
  input: ListInput,
): Array<[field: keyof typeof wireNames, wire: string, value: string | undefined]> {
  return (Object.keys(wireNames) as Array<keyof typeof wireNames>).map((field) => {
    const value = input[field];
    return [field, wireNames[field], value === undefined ? undefined : String(value)];
  });
}

const listMessagesInput = z
  .object(listInputFields)
  .strict()
  .superRefine((input, ctx) => {
    if (
      input.dateSent !== undefined &&
      (input.dateSentOnOrBefore !== undefined || input.dateSentOnOrAfter !== undefined)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['dateSent'],
        message: 'dateSent cannot be combined with dateSentOnOrBefore or dateSentOnOrAfter',
      });
    }
    if (
      input.dateSentOnOrBefore !== undefined &&
      input.dateSentOnOrAfter !== undefined &&
      input.dateSentOnOrAfter > input.dateSentOnOrBefore
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['dateSentOnOrAfter'],
        message: 'dateSentOnOrAfter is later than dateSentOnOrBefore',
      });
    }
    if (typeof input.cursor !== 'string') return;
    const params = decodeCursor(input.cursor);
    if (!params) {
      ctx.addIssue({
        code: 'custom',
        path: ['cursor'],
        message: 'is not a cursor this action returned (pass nextCursor unchanged)',
      });
      return;
    }
    for (const [field, wire, value] of filterQuery(input)) {
      if (value !== undefined && params.get(wire) !== value) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: 'differs from the listing the cursor continues; give the same value or omit it',
        });
      }
    }
  });

// ---- actions ----------------------------------------------------------------------

const sendSmsInput = z
  .object({
    to: recipient,
    from: sender
      .optional()
      .describe(
        'A sender of the account: E.164 number, short code, alphanumeric sender ID or channel address. Give from or messagingServiceSid',
      ),
    messagingServiceSid: messagingServiceSid
      .optional()
      .describe('Send through a Messaging Service (MG…), which picks the sender. Give from or messagingServiceSid'),
    body: z
      .string()
      .min(1)
      .max(1600)
      .describe(
        'The text, up to 1600 characters; over 160 GSM-7 (or 70 UCS-2) characters it is sent and billed as several segments',
      ),
    mediaUrl: z.array(httpUrl).min(1).max(10).optional().describe('Up to 10 public URLs of media to send as MMS'),
    statusCallback: httpUrl
      .refine(
        (u) => !URL.canParse(u) || !new URL(u).hostname.includes('_'),
        'a hostname with underscores is not allowed',
      )
      .optional()
      .describe("A URL Twilio POSTs the message's status changes to"),
  })
  .strict()
  .superRefine((input, ctx) => {
    if ((input.from === undefined) === (input.messagingServiceSid === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['from'], message: 'give exactly one of from and messagingServiceSid' });
    }
  });

/**
 * Sends one message. A write without upstreamDedupes: Twilio has no idempotency key, so the
 * worker never repeats a send that may have reached it (a 5xx, a lost answer), only a 429.
 */
export const sendSms = defineAction({
  id: 'sendSms',
  displayName: 'Send an SMS',
  description:
    'Send an SMS (or MMS with mediaUrl) from a number of the account or through a Messaging Service. Twilio answers once the message is queued; delivery is reported later in status.',
  // Twilio has no idempotency key for sends (reference §1.0): a send that may have reached Twilio
  // is never repeated. Its 429 (20429) is answered before anything is processed, so that is retried.
  sideEffects: 'write',
  input: sendSmsInput,
  output: message,
  examples: [
    {
      summary: 'A text from a number of the account',
      input: { to: '+14155552671', from: '+15005550006', body: 'Your order #1001 has shipped.' },
    },
  ],
  async run(ctx, input) {
    const res = await ctx.http.request<WireMessage>({
      method: 'POST',
      path: `${accountPath(ctx)}/Messages.json`,
      form: {
        To: input.to,
        From: input.from,
        MessagingServiceSid: input.messagingServiceSid,
        Body: input.body,
        MediaUrl: input.mediaUrl,
        StatusCallback: input.statusCallback,
      },
    });
    return presentMessage(res.body);
  },
});

/** One page of the account's messages; the cursor is Twilio's own next page (see cursorOf). */
export const listMessages = defineAction({
  id: 'listMessages',
  displayName: 'List messages',
  description:
    "List the account's messages, sent and received, newest first, filtered by recipient, sender and the day sent (GMT).",
  sideEffects: 'read',
  input: listMessagesInput,
  output: z.object({
    messages: z.array(message),
    nextCursor: z.string().nullable().describe('Pass as cursor for the next page; null on the last page'),
  }),
  examples: [{ summary: 'The latest ten messages sent to one number', input: { to: '+14155552671', limit: 10 } }],
  async run(ctx, input) {
    const query: Record<string, string | undefined> = input.cursor
      ? Object.fromEntries(decodeCursor(input.cursor) ?? [])
      : {
          ...Object.fromEntries(filterQuery(input).map(([, wire, value]) => [wire, value])),
          PageSize: String(input.limit ?? 50),
        };
    const res = await ctx.http.request<WireMessagePage>({
      method: 'GET',
      path: `${accountPath(ctx)}/Messages.json`,
      query,
    });
    return { messages: (res.body.messages ?? []).map(presentMessage), nextCursor: cursorOf(res.body.next_page_uri) };
  },
});

/** One message by SID: how a caller learns the delivery outcome a send could not report yet. */
export const getMessage = defineAction({
  id: 'getMessage',
  displayName: 'Get a message',
  description: 'One message by its SID, with its current delivery status, price and error code.',
  sideEffects: 'read',
  input: z.object({ sid: messageSid.describe('The Message SID (SM… or MM…), e.g. the sid sendSms returned') }).strict(),
  output: message,
  examples: [{ summary: 'A message the account sent', input: { sid: 'SM00010000000000000000000000000000' } }],
  async run(ctx, input) {
    const res = await ctx.http.request<WireMessage>({
      method: 'GET',
      path: `${accountPath(ctx)}/Messages/${encodeURIComponent(input.sid)}.json`,
    });
    return presentMessage(res.body);
  },
});
