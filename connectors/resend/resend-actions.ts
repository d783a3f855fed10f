import { z } from 'zod';
import { defineAction } from '../toolkit/connector-definition.ts';

/**
 * Resend actions. Inputs are camelCase like the rest of our API and mapped to Resend's snake_case.
 * Writes send an Idempotency-Key derived from the invocation id, so a retry can never send twice.
 */
const address = z.string().min(3).max(320).describe('"sender@example.com" or "Name <sender@example.com>"');
const addresses = (max: number) => z.union([address, z.array(address).min(1).max(max)]);
const tagPart = z.string().regex(/^[A-Za-z0-9_-]{1,256}$/, 'only ASCII letters, digits, _ and -');

const emailFields = {
  from: address,
  to: addresses(50).describe('Up to 50 recipients'),
  subject: z.string().min(1).max(998),
  html: z.string().optional(),
  text: z.string().optional(),
  cc: addresses(50).optional(),
  bcc: addresses(50).optional(),
  replyTo: addresses(50).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  tags: z
    .array(z.object({ name: tagPart, value: tagPart }).strict())
    .max(50)
    .optional(),
  template: z
    .object({ id: z.string().min(1), variables: z.record(z.string(), z.union([z.string(), z.number()])).optional() })
    .strict()
    .optional()
    .describe('A published Resend template; do not combine with html or text'),
};

const attachment = z
  .object({
    filename: z.string().min(1).max(255).optional(),
    content: z.string().optional().describe('Base64-encoded file content'),
    path: z.url().optional().describe('A URL Resend fetches the file from'),
    contentType: z.string().optional(),
    contentId: z.string().optional(),
  })
  .strict()
  .refine((a) => a.content !== undefined || a.path !== undefined, { message: 'needs content or path' });

type EmailBody = z.infer<z.ZodObject<typeof emailFields>> & {
  scheduledAt?: string;
  attachments?: z.infer<typeof attachment>[];
};

function requireBody(e: { html?: string; text?: string; template?: unknown }, ctx: z.RefinementCtx): void {
  if (e.template !== undefined && (e.html !== undefined || e.text !== undefined)) {
    ctx.addIssue({ code: 'custom', path: ['template'], message: 'template cannot be combined with html or text' });
  } else if (e.template === undefined && e.html === undefined && e.text === undefined) {
    ctx.addIssue({ code: 'custom', path: ['html'], message: 'one of html, text or template is required' });
  }
}

const sendEmailInput = z
  .object({
    ...emailFields,
    scheduledAt: z.string().min(1).optional().describe('ISO 8601 time or natural language such as "in 1 hour"'),
    attachments: z.array(attachment).max(100).optional(),
  })
  .strict()
  .superRefine(requireBody);

// Resend's batch endpoint does not support attachments or scheduled sending.
const batchEmail = z.object(emailFields).strict().superRefine(requireBody);

const sendBatchInput = z
  .object({
    emails: z.array(batchEmail).min(1).max(100),
    validation: z
      .enum(['strict', 'permissive'])
      .default('strict')
      .describe(
        'strict: one invalid email rejects the batch; permissive: valid emails are sent, invalid ones reported',
      ),
  })
  .strict();

const listDomainsInput = z
  .object({
    limit: z.number().int().min(1).max(100).optional(),
    cursor: z.string().min(1).optional().describe('nextCursor of the previous page'),
  })
  .strict();

const sentEmail = z.object({ id: z.string().describe("Resend's email id") });

const sendBatchOutput = z.object({
  emails: z.array(sentEmail).describe('One entry per email Resend accepted, in request order'),
  errors: z
    .array(z.object({ index: z.number().int(), message: z.string() }))
    .describe('With validation "permissive": the emails Resend refused, by index in the request'),
});

const listDomainsOutput = z.object({
  domains: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      status: z.string().describe('e.g. "verified", "pending", "not_started"'),
      region: z.string(),
      createdAt: z.string().describe('ISO 8601'),
      capabilities: z.object({ sending: z.string().optional(), receiving: z.string().optional() }),
    }),
  ),
  nextCursor: z.string().nullable().describe('Pass as cursor for the next page; null on the last page'),
});

function toWire(e: EmailBody): Record<string, unknown> {
  return {
    from: e.from,
    to: e.to,
    subject: e.subject,
    html: e.html,
    text: e.text,
    cc: e.cc,
    bcc: e.bcc,
    reply_to: e.replyTo,
    headers: e.headers,
    tags: e.tags,
    template: e.template,
    scheduled_at: e.scheduledAt,
    attachments: e.attachments?.map((a) => ({
      filename: a.filename,
      content: a.content,
      path: a.path,
      content_type: a.contentType,
      content_id: a.contentId,
    })),
  };
}

interface ResendDomain {
  id: string;
  name: string;
  status: string;
  created_at: string;
  region: string;
  capabilities?: { sending?: string; receiving?: string };
}

/** Resend returns Postgres text timestamps ("2023-04-07 23:13:52.669661+00"); we promise ISO 8601. */
function isoTimestamp(value: string): string {
  const date = new Date(value.replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}

export const sendEmail = defineAction({
  id: 'sendEmail',
  displayName: 'Send email',
  description: 'Send one transactional email.',
  sideEffects: 'write',
  upstreamDedupes: true,
  input: sendEmailInput,
  output: sentEmail,
  examples: [
    {
      summary: 'A plain-text email',
      input: { from: 'Acme <orders@mail.example.com>', to: 'ada@example.com', subject: 'Your order', text: 'Thanks!' },
    },
  ],
  async run(ctx, input) {
    const res = await ctx.http.request<{ id: string }>({
      method: 'POST',
      path: '/emails',
      json: toWire(input),
      headers: { 'idempotency-key': ctx.idempotencyKey },
    });
    return { id: res.body.id };
  },
});

export const sendBatch = defineAction({
  id: 'sendBatch',
  displayName: 'Send a batch of emails',
  description: 'Send up to 100 emails in one request.',
  sideEffects: 'write',
  upstreamDedupes: true,
  input: sendBatchInput,
  output: sendBatchOutput,
  examples: [
    {
      summary: 'Two emails in one request',
      input: {
        emails: [
          { from: 'orders@mail.example.com', to: 'ada@example.com', subject: 'Shipped', text: 'On its way' },
          { from: 'orders@mail.example.com', to: 'grace@example.com', subject: 'Shipped', html: '<p>On its way</p>' },
        ],
      },
    },
  ],
  async run(ctx, input) {
    const res = await ctx.http.request<{ data: { id: string }[]; errors?: { index: number; message: string }[] }>({
      method: 'POST',
      path: '/emails/batch',
      json: input.emails.map(toWire),
      headers: { 'idempotency-key': ctx.idempotencyKey, 'x-batch-validation': input.validation },
    });
    return { emails: res.body.data.map((d) => ({ id: d.id })), errors: res.body.errors ?? [] };
  },
});

export const listDomains = defineAction({
  id: 'listDomains',
  displayName: 'List domains',
  description: 'List the sending domains of the Resend account (needs a full-access key).',
  sideEffects: 'read',
  input: listDomainsInput,
  output: listDomainsOutput,
  examples: [{ summary: 'The first ten domains', input: { limit: 10 } }],
  async run(ctx, input) {
    const res = await ctx.http.request<{ has_more: boolean; data: ResendDomain[] }>({
      method: 'GET',
      path: '/domains',
      query: { limit: input.limit, after: input.cursor },
    });
    const domains = res.body.data.map((d) => ({
      id: d.id,
      name: d.name,
      status: d.status,
      region: d.region,
      createdAt: isoTimestamp(d.created_at),
      capabilities: d.capabilities ?? {},
    }));
    return { domains, nextCursor: res.body.has_more && domains.length > 0 ? domains[domains.length - 1]!.id : null };
  },
});
