import { z } from 'zod';
import { defineAction } from '../toolkit/connector-definition.ts';

/**
 * SendGrid v3 actions (docs/upstreams/sendgrid.md). Inputs are camelCase like the rest of our API and
 * mapped to SendGrid's snake_case in `run`; outputs are a camelCase projection with null for what
 * SendGrid leaves out.
 */

// ---- sendEmail ------------------------------------------------------------------------------------

const emailAddress = z.email().max(320);
const address = z
  .union([emailAddress, z.object({ email: emailAddress, name: z.string().min(1).max(256).optional() }).strict()])
  .describe('"ada@example.com" or {"email":"ada@example.com","name":"Ada"}');
type Address = z.infer<typeof address>;

const customArgs = z
  .record(z.string().min(1).max(256), z.string().max(10_000))
  .describe('String values carried with the email into its event data (Event Webhook); at most 10,000 bytes in all');

const sendAt = z
  .number()
  .int()
  .positive()
  .describe('When to send, in Unix seconds; SendGrid accepts at most 72 hours ahead');

const MAX_RECIPIENTS = 1000; // to + cc + bcc over all personalizations (§2.1)

const personalization = z
  .object({
    to: z.array(address).min(1).max(MAX_RECIPIENTS),
    cc: z.array(address).max(MAX_RECIPIENTS).optional(),
    bcc: z.array(address).max(MAX_RECIPIENTS).optional(),
    subject: z
      .string()
      .min(1)
      .max(998)
      .optional()
      .describe("Overrides the top-level subject for this envelope's recipients"),
    dynamicTemplateData: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('Handlebars data for a dynamic template (templateId "d-…")'),
    customArgs: customArgs.optional(),
    sendAt: sendAt.optional(),
  })
  .strict()
  .describe('One envelope: who gets one copy of the message, with its own template data');

const sendEmailInput = z
  .object({
    personalizations: z
      .array(personalization)
      .min(1)
      .max(1000)
      .describe(`At most ${MAX_RECIPIENTS} recipients (to, cc and bcc) in all, each address once`),
    from: address.describe('A verified sender identity of the SendGrid account'),
    replyTo: address.optional(),
    subject: z
      .string()
      .min(1)
      .max(998)
      .optional()
      .describe('Required unless every personalization has one or templateId supplies it'),
    text: z.string().min(1).optional().describe('The text/plain body'),
    html: z.string().min(1).optional().describe('The text/html body'),
    templateId: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,100}$/, 'a SendGrid template id ("d-…" for a dynamic template)')
      .optional()
      .describe(
        'A SendGrid template ("d-…" is a dynamic template, filled from dynamicTemplateData); replaces text and html',
      ),
    categories: z
      .array(z.string().min(1).max(255))
      .max(10)
      .optional()
      .describe('Up to 10 distinct category names, for statistics'),
    customArgs: customArgs.optional(),
    sendAt: sendAt.optional(),
  })
  .strict()
  .superRefine((input, ctx) => {
    if (input.templateId === undefined) {
      if (input.text === undefined && input.html === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['text'],
          message: 'text or html is required unless templateId is given',
        });
      }
      if (input.subject === undefined && input.personalizations.some((p) => p.subject === undefined)) {
        ctx.addIssue({
          code: 'custom',
          path: ['subject'],
          message: 'subject is required unless every personalization has one or templateId is given',
        });
      }
    }
    // SendGrid refuses the whole request (400) when an address repeats or the recipients exceed 1000 (§2.1).
    const seen = new Set<string>();
    let count = 0;
    input.personalizations.forEach((p, i) => {
      for (const kind of ['to', 'cc', 'bcc'] as const) {
        (p[kind] ?? []).forEach((a, j) => {
          count++;
          const email = emailOf(a).toLowerCase();
          if (seen.has(email))
            ctx.addIssue({
              code: 'custom',
              path: ['personalizations', i, kind, j],
              message: `${emailOf(a)} appears more than once; each address may receive one copy`,
            });
          seen.add(email);
        });
      }
    });
    if (count > MAX_RECIPIENTS)
      ctx.addIssue({
        code: 'custom',
        path: ['personalizations'],
        message: `${count} recipients; at most ${MAX_RECIPIENTS} in all (to, cc and bcc)`,
      });
    if (input.categories && new Set(input.categories).size !== input.categories.length) {
      ctx.addIssue({ code: 'custom', path: ['categories'], message: 'categories must be distinct' });
    }
  });
type SendEmailInput = z.infer<typeof sendEmailInput>;

const sendEmailOutput = z.object({
  messageId: z
    .string()
    .nullable()
    .describe(
      "SendGrid's X-Message-Id, which the Event Webhook's sg_message_id starts with; null if SendGrid sent none",
    ),
});

function emailOf(a: Address): string {
  return typeof a === 'string' ? a : a.email;
}

function wireAddress(a: Address): { email: string; name?: string } {
  return typeof a === 'string' ? { email: a } : { email: a.email, name: a.name };
}

/** The Mail Send body (§2.1): snake_case, text/plain before text/html. Undefined fields are not sent. */
export function mailSendBody(input: SendEmailInput): Record<string, unknown> {
  const content = [
    ...(input.text !== undefined ? [{ type: 'text/plain', value: input.text }] : []),
    ...(input.html !== undefined ? [{ type: 'text/html', value: input.html }] : []),
  ];
  return {
    personalizations: input.personalizations.map((p) => ({
      to: p.to.map(wireAddress),
      cc: p.cc?.map(wireAddress),
      bcc: p.bcc?.map(wireAddress),
      subject: p.subject,
      dynamic_template_data: p.dynamicTemplateData,
      custom_args: p.customArgs,
      send_at: p.sendAt,
    })),
    from: wireAddress(input.from),
    reply_to: input.replyTo === undefined ? undefined : wireAddress(input.replyTo),
    subject: input.subject,
    content: content.length > 0 ? content : undefined,
    template_id: input.templateId,
    categories: input.categories,
    custom_args: input.customArgs,
    send_at: input.sendAt,
  };
}

/**
 * One email through `POST /v3/mail/send`. SendGrid answers 202 with an empty body and the message id
 * in `X-Message-Id`. It does not dedupe sends, so no `upstreamDedupes`: the engine retries a send
 * only when SendGrid provably refused it (a 429), and records one that may have run (a 5xx, a lost
 * answer) as failed rather than sending it twice.
 */
export const sendEmail = defineAction({
  id: 'sendEmail',
  displayName: 'Send email',
  description:
    'Send one email, to one or more envelopes (personalizations), with text/html content or a dynamic template. SendGrid does not dedupe sends: a send whose outcome is unknown is reported, never repeated.',
  sideEffects: 'write',
  input: sendEmailInput,
  output: sendEmailOutput,
  examples: [
    {
      summary: 'A text and HTML email to one recipient',
      input: {
        personalizations: [{ to: [{ email: 'ada@example.com', name: 'Ada' }] }],
        from: { email: 'orders@example.com', name: 'Example Shop' },
        subject: 'Your order has shipped',
        text: 'Your order #1001 is on its way.',
        html: '<p>Your order <b>#1001</b> is on its way.</p>',
        categories: ['shipping'],
      },
    },
    {
      summary: 'A dynamic template to two envelopes, each with its own data',
      input: {
        personalizations: [
          { to: ['ada@example.com'], dynamicTemplateData: { firstName: 'Ada', orderId: '1001' } },
          {
            to: ['grace@example.com'],
            cc: ['team@example.org'],
            dynamicTemplateData: { firstName: 'Grace', orderId: '1002' },
          },
        ],
        from: 'orders@example.com',
        replyTo: { email: 'help@example.com', name: 'Support' },
        templateId: 'd-5a6b7c8d9e0f41a2b3c4d5e6f7a8b9c0',
        customArgs: { campaign: 'order-confirmation' },
      },
    },
  ],
  async run(ctx, input) {
    const res = await ctx.http.request({ method: 'POST', path: '/v3/mail/send', json: mailSendBody(input) });
    const id = res.headers['x-message-id'];
    const messageId = Array.isArray(id) ? id[0] : id;
    return { messageId: messageId !== undefined && messageId !== '' ? messageId : null };
  },
});

// ---- listTemplates --------------------------------------------------------------------------------

const generation = z.enum(['dynamic', 'legacy']);

const listTemplatesInput = z
  .object({
    generations: z
      .array(generation)
      .min(1)
      .max(2)
      .default(['dynamic'])
      .describe(
        'Which templates to list: dynamic ("d-…", Handlebars), legacy, or both. Default: dynamic only (SendGrid itself defaults to legacy)',
      ),
    pageSize: z.number().int().min(1).max(200).default(50),
    cursor: z.string().min(1).max(2048).optional().describe('nextCursor of the previous page'),
  })
  .strict();

const templateVersion = z.object({
  id: z.string(),
  name: z.string().nullable(),
  subject: z.string().nullable(),
  active: z.boolean().describe('Whether this is the version SendGrid sends'),
  updatedAt: z.string().nullable().describe('As SendGrid gives it: "YYYY-MM-DD hh:mm:ss"'),
  editor: z.string().nullable().describe('"code" or "design"'),
  thumbnailUrl: z.string().nullable(),
});

const listTemplatesOutput = z.object({
  templates: z.array(
    z.object({
      id: z.string().describe('The templateId to send with ("d-…" for a dynamic template)'),
      name: z.string(),
      generation: z.string().describe('"dynamic" or "legacy"'),
      updatedAt: z.string().nullable().describe('As SendGrid gives it: "YYYY-MM-DD hh:mm:ss"'),
      versions: z.array(templateVersion).describe('A summary of each version, without its content'),
    }),
  ),
  nextCursor: z.string().nullable().describe('Pass as cursor for the next page; null on the last page'),
});

interface WireVersion {
  id: string;
  name?: string | null;
  subject?: string | null;
  active?: number | boolean | null;
  updated_at?: string | null;
  editor?: string | null;
  thumbnail_url?: string | null;
}

interface WireTemplate {
  id: string;
  name: string;
  generation: string;
  updated_at?: string | null;
  versions?: WireVersion[] | null;
}

interface WireTemplateList {
  result?: WireTemplate[];
  _metadata?: { next?: string | null };
}

const orNull = <T>(v: T | null | undefined): T | null => (v === undefined ? null : v);

/**
 * The page token of `_metadata.next` (a URL of the next page). Paging never follows the URL itself,
 * which would send the key wherever an answer points; it takes the token and asks the connection's
 * own base URL. A `next` without a `page_token` cannot be paged, and saying "last page" would hide
 * the rest: that is an error.
 */
export function pageTokenOf(next: string | null | undefined): string | null {
  if (next === undefined || next === null || next === '') return null;
  let token: string | null = null;
  try {
    token = new URL(next, 'https://api.sendgrid.com').searchParams.get('page_token');
  } catch {
    // not a URL: handled below
  }
  if (!token) throw new Error("SendGrid's _metadata.next has no page_token, so the next page cannot be asked for");
  return token;
}

/**
 * `GET /v3/templates`, one page. SendGrid lists legacy templates unless told otherwise; this action
 * lists dynamic ones by default, since those are what `sendEmail`'s templateId takes with data.
 */
export const listTemplates = defineAction({
  id: 'listTemplates',
  displayName: 'List templates',
  description:
    'List the transactional templates of the SendGrid account with a summary of their versions, one page at a time. Lists dynamic templates by default (SendGrid itself defaults to legacy ones); set generations to ["legacy"] or ["dynamic","legacy"] for others.',
  sideEffects: 'read',
  input: listTemplatesInput,
  output: listTemplatesOutput,
  examples: [
    { summary: 'The first ten dynamic templates', input: { pageSize: 10 } },
    { summary: 'Dynamic and legacy templates together', input: { generations: ['dynamic', 'legacy'], pageSize: 50 } },
  ],
  async run(ctx, input) {
    const generations = (['legacy', 'dynamic'] as const).filter((g) => input.generations.includes(g)).join(',');
    const res = await ctx.http.request<WireTemplateList>({
      method: 'GET',
      path: '/v3/templates',
      query: { generations, page_size: input.pageSize, page_token: input.cursor },
    });
    const templates = (res.body?.result ?? []).map((t) => ({
      id: t.id,
      name: t.name,
      generation: t.generation,
      updatedAt: orNull(t.updated_at),
      versions: (t.versions ?? []).map((v) => ({
        id: v.id,
        name: orNull(v.name),
        subject: orNull(v.subject),
        active: v.active === 1 || v.active === true,
        updatedAt: orNull(v.updated_at),
        editor: orNull(v.editor),
        thumbnailUrl: orNull(v.thumbnail_url),
      })),
    }));
    return { templates, nextCursor: pageTokenOf(res.body?._metadata?.next) };
  },
});
