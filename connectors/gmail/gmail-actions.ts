import { z } from 'zod';
import { defineAction } from '../toolkit/connector-definition.ts';
import {
  buildMessage,
  decodeHeaderValue,
  headerOf,
  joinedHeader,
  type Mailbox,
  parseMailbox,
  textBodies,
  type WirePart,
} from './gmail-mime.ts';

/**
 * Gmail API v1 actions on the signed-in user's mailbox (`users/me`), docs/upstreams/google.md §3.
 * Scopes are the narrowest that allow each method, so a Gmail connection asks for exactly
 * gmail.send and gmail.readonly. Gmail has no idempotency key: a send that may have run is never repeated.
 */

const SEND_SCOPE = 'https://www.googleapis.com/auth/gmail.send';
const READ_SCOPE = 'https://www.googleapis.com/auth/gmail.readonly';

const mailbox = z
  .string()
  .min(3)
  .max(320)
  .refine((v) => parseMailbox(v) !== undefined, {
    message: 'must be "name@example.com" or "Name <name@example.com>", with an ASCII address',
  })
  .describe('"name@example.com" or "Name <name@example.com>"; the name may be any text');
const mailboxes = z.union([mailbox, z.array(mailbox).min(1).max(100)]);
const messageIdHeader = z
  .string()
  .max(998)
  .regex(/^<[\x21-\x3b\x3d\x3f-\x7e]+>$/, 'a Message-ID in angle brackets, e.g. "<CAF1x2y3@mail.gmail.com>"');
const gmailId = z.string().regex(/^[A-Za-z0-9_-]{1,256}$/, 'a Gmail id such as "18c1f2a3b4c5d6e7"');
const labelId = z.string().regex(/^[A-Za-z0-9_-]{1,225}$/, 'a label id such as "INBOX" or "Label_12"');
const nextCursor = z.string().nullable().describe('Pass as cursor for the next page; null on the last page');

const list = (v: string | string[] | undefined): Mailbox[] =>
  v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((a) => parseMailbox(a)!);

/** Sends as the connected account; the whole RFC 5322 message is built here, since Gmail sends `raw` as given. */
export const sendEmail = defineAction({
  id: 'sendEmail',
  displayName: 'Send an email',
  description:
    'Send an email from the connected Gmail account (users.messages.send). Text, HTML or both (sent as multipart/alternative); ' +
    'to reply in a thread, give threadId with inReplyTo and the same subject.',
  sideEffects: 'write',
  scopes: [SEND_SCOPE],
  input: z
    .object({
      from: mailbox
        .optional()
        .describe(
          "Default: the account's own address. Gmail only sends as the account or one of its verified send-as aliases",
        ),
      to: mailboxes.optional().describe('Up to 100 recipients'),
      cc: mailboxes.optional(),
      bcc: mailboxes.optional(),
      replyTo: mailboxes.optional(),
      subject: z
        .string()
        .max(998)
        .refine((s) => !/[\r\n]/.test(s), { message: 'must be one line' }),
      text: z.string().max(1_000_000).optional().describe('The plain-text body'),
      html: z.string().max(1_000_000).optional().describe('The HTML body'),
      threadId: gmailId.optional().describe('Add the message to this thread (with inReplyTo and a matching subject)'),
      inReplyTo: messageIdHeader.optional().describe('Message-ID of the message answered'),
      references: z
        .array(messageIdHeader)
        .max(100)
        .optional()
        .describe('Message-IDs of the thread; default: inReplyTo'),
    })
    .strict()
    .superRefine((m, ctx) => {
      if (m.to === undefined && m.cc === undefined && m.bcc === undefined) {
        ctx.addIssue({ code: 'custom', path: ['to'], message: 'at least one recipient is required (to, cc or bcc)' });
      }
      if (m.text === undefined && m.html === undefined)
        ctx.addIssue({ code: 'custom', path: ['text'], message: 'one of text or html is required' });
      if (m.references !== undefined && m.inReplyTo === undefined)
        ctx.addIssue({ code: 'custom', path: ['inReplyTo'], message: 'references needs inReplyTo' });
    }),
  output: z.object({
    id: z.string().describe('Gmail id of the sent message'),
    threadId: z.string(),
    labelIds: z.array(z.string()).describe('e.g. ["SENT"]'),
  }),
  examples: [
    {
      summary: 'A plain-text and HTML email',
      input: {
        to: 'Grace Hopper <grace@example.com>',
        subject: 'Deploy finished',
        text: 'The deploy of v2.4 finished at 14:02.',
        html: '<p>The deploy of <b>v2.4</b> finished at 14:02.</p>',
      },
    },
  ],
  async run(ctx, input) {
    const raw = buildMessage({
      from: input.from === undefined ? undefined : parseMailbox(input.from),
      to: list(input.to),
      cc: list(input.cc),
      bcc: list(input.bcc),
      replyTo: list(input.replyTo),
      subject: input.subject,
      text: input.text,
      html: input.html,
      inReplyTo: input.inReplyTo,
      references: input.references ?? (input.inReplyTo ? [input.inReplyTo] : []),
    });
    const res = await ctx.http.request<{ id: string; threadId?: string; labelIds?: string[] }>({
      method: 'POST',
      path: '/gmail/v1/users/me/messages/send',
      json: { raw: Buffer.from(raw, 'utf8').toString('base64url'), threadId: input.threadId },
    });
    return { id: res.body.id, threadId: res.body.threadId ?? res.body.id, labelIds: res.body.labelIds ?? [] };
  },
});

/** Search and paging; Gmail lists ids only, so a caller reads each message with getMessage. */
export const listMessages = defineAction({
  id: 'listMessages',
  displayName: 'List messages',
  description:
    'Ids of the messages matching a Gmail search (users.messages.list), newest first, a page at a time. ' +
    'Get a message for its headers and body.',
  sideEffects: 'read',
  scopes: [READ_SCOPE],
  input: z
    .object({
      query: z
        .string()
        .min(1)
        .max(2000)
        .optional()
        .describe('Gmail search syntax, e.g. "from:grace@example.com is:unread newer_than:7d"'),
      labelIds: z.array(labelId).min(1).max(20).optional().describe('Only messages with all of these labels'),
      includeSpamTrash: z.boolean().optional(),
      limit: z.number().int().min(1).max(500).optional().describe('Default 100'),
      cursor: z.string().min(1).max(1000).optional().describe('nextCursor of the previous page'),
    })
    .strict(),
  output: z.object({
    messages: z.array(z.object({ id: z.string(), threadId: z.string() })),
    nextCursor,
    resultSizeEstimate: z.number().int().describe("Gmail's estimate of the total number of matches"),
  }),
  examples: [
    { summary: 'Unread messages in the inbox', input: { query: 'is:unread', labelIds: ['INBOX'], limit: 20 } },
  ],
  async run(ctx, input) {
    // labelIds repeats its key, which the client's `query` cannot say: the query string goes on the path.
    const query = new URLSearchParams();
    if (input.query !== undefined) query.set('q', input.query);
    for (const id of input.labelIds ?? []) query.append('labelIds', id);
    if (input.includeSpamTrash !== undefined) query.set('includeSpamTrash', String(input.includeSpamTrash));
    query.set('maxResults', String(input.limit ?? 100));
    if (input.cursor !== undefined) query.set('pageToken', input.cursor);
    const res = await ctx.http.request<{
      messages?: { id: string; threadId: string }[];
      nextPageToken?: string;
      resultSizeEstimate?: number;
    }>({
      method: 'GET',
      path: `/gmail/v1/users/me/messages?${query.toString()}`,
    });
    const messages = (res.body.messages ?? []).map((m) => ({ id: m.id, threadId: m.threadId }));
    return {
      messages,
      nextCursor: res.body.nextPageToken || null,
      resultSizeEstimate: res.body.resultSizeEstimate ?? messages.length,
    };
  },
});

interface WireMessage {
  id: string;
  threadId?: string;
  labelIds?: string[];
  snippet?: string;
  historyId?: string;
  internalDate?: string;
  sizeEstimate?: number;
  payload?: WirePart;
}

const header = z.string().nullable();

/** One message with what a caller needs (decoded headers and bodies), not Gmail's MIME tree. */
export const getMessage = defineAction({
  id: 'getMessage',
  displayName: 'Get a message',
  description:
    'One message (users.messages.get, format=full): its headers decoded, its labels and snippet, and its text and HTML bodies.',
  sideEffects: 'read',
  scopes: [READ_SCOPE],
  input: z.object({ id: gmailId.describe('A message id from listMessages') }).strict(),
  output: z.object({
    id: z.string(),
    threadId: z.string(),
    labelIds: z.array(z.string()),
    snippet: z.string(),
    historyId: z.string().nullable(),
    internalDate: z.string().nullable().describe('When Gmail received the message, ISO 8601'),
    sizeEstimate: z.number().int().nullable(),
    headers: z.object({
      from: header,
      to: header,
      cc: header,
      replyTo: header,
      subject: header,
      date: header.describe('The Date header as written by the sender'),
      messageId: header.describe('Message-ID, for inReplyTo when replying'),
    }),
    text: z.string().nullable().describe('The text/plain body, decoded; null when there is none'),
    html: z.string().nullable().describe('The text/html body, decoded; null when there is none'),
  }),
  examples: [{ summary: 'A message by id', input: { id: '18c0f00dfeed0001' } }],
  async run(ctx, input) {
    const res = await ctx.http.request<WireMessage>({
      method: 'GET',
      path: `/gmail/v1/users/me/messages/${encodeURIComponent(input.id)}`,
      query: { format: 'full' },
    });
    const m = res.body;
    const payload = m.payload;
    const single = (name: string) => {
      const value = headerOf(payload, name);
      return value === undefined ? null : decodeHeaderValue(value).trim();
    };
    const internalMs = Number(m.internalDate);
    return {
      id: m.id,
      threadId: m.threadId ?? m.id,
      labelIds: m.labelIds ?? [],
      snippet: m.snippet ?? '',
      historyId: m.historyId ?? null,
      internalDate: m.internalDate && Number.isFinite(internalMs) ? new Date(internalMs).toISOString() : null,
      sizeEstimate: m.sizeEstimate ?? null,
      headers: {
        from: joinedHeader(payload, 'From'),
        to: joinedHeader(payload, 'To'),
        cc: joinedHeader(payload, 'Cc'),
        replyTo: joinedHeader(payload, 'Reply-To'),
        subject: single('Subject'),
        date: single('Date'),
        messageId: single('Message-ID'),
      },
      ...textBodies(payload),
    };
  },
});
