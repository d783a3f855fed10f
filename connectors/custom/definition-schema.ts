import { z } from 'zod';
import { isJsonPointer, placeholdersOf, strayBraces, templateStrings } from './templates.ts';

/**
 * The declarative format of a custom connector (docs/custom-connectors.md explains every field;
 * docs/custom-connector.schema.json is generated from this schema and kept in sync by a test).
 * Structural rules are zod's; the rules between fields (placeholders that name required input,
 * unique action ids, ...) are checked in `superRefine` below, so every refusal names a path.
 */

/** Custom ids have a form of their own, so they can never shadow a built-in id (lowercase letters and digits). */
export const CUSTOM_ID = /^custom-[a-z0-9]+(?:-[a-z0-9]+)*$/;
const ACTION_ID = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/;
/** Headers the engine sets itself: a definition may not send them. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'authorization',
  'user-agent',
  'cookie',
]);

const text = (max: number) => z.string().trim().min(1).max(max);
const httpUrl = z
  .string()
  .max(2000)
  .refine((v) => {
    try {
      return /^https?:$/.test(new URL(v).protocol);
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL');
const pointer = z.string().max(500).refine(isJsonPointer, 'must be a JSON Pointer ("" or starting with "/")');
const template = z.string().max(2000);
const headerName = z
  .string()
  .regex(HEADER_NAME, 'must be an HTTP header name')
  .refine((h) => !RESERVED_HEADERS.has(h.toLowerCase()), 'is set by the engine and cannot be set by a definition');
/** A JSON Schema, as an object; ajv checks it compiles (custom-connector-compiler.ts). */
const jsonSchema = z
  .record(z.string(), z.unknown())
  .refine((s) => JSON.stringify(s).length <= 100_000, 'is over 100 KB');

export const failureKinds = [
  'invalid_credentials',
  'permission',
  'quota',
  'rate_limited',
  'transient',
  'invalid_request',
] as const;

const apiKeyAuth = z
  .object({
    type: z.literal('api_key'),
    in: z.enum(['header', 'query']),
    /** The header or query parameter that carries the key. */
    name: z.string().min(1).max(100),
    /** Written before the key in a header, e.g. "Token " (default none). */
    prefix: z.string().max(50).optional(),
  })
  .strict();
const bearerAuth = z.object({ type: z.literal('bearer') }).strict();
const basicAuth = z.object({ type: z.literal('basic') }).strict();
const scopes = z.array(z.string().min(1).max(200)).max(50).optional();
const scopeSeparator = z.string().max(5).optional();
const clientAuthentication = z.enum(['basic', 'body']).optional();
/** OAuth 2 authorization code (RFC 6749 §4.1): a person signs in at the provider with the workspace's own app. */
const oauth2AuthorizationCode = z
  .object({
    type: z.literal('oauth2'),
    grant: z.literal('authorization_code'),
    authorizeUrl: httpUrl,
    tokenUrl: httpUrl,
    /** The workspace's own OAuth app. */
    clientId: z.string().min(1).max(500),
    /** Stored sealed, never returned; on PUT it may be left out to keep the current one. */
    clientSecret: z.string().min(1).max(2000).optional(),
    scopes,
    scopeSeparator,
    pkce: z.boolean().optional(),
    clientAuthentication,
  })
  .strict();
/**
 * OAuth 2 client credentials (RFC 6749 §4.4): no person signs in; each connection is its own client
 * (its credentials are the client id and secret) and the engine gets tokens at `tokenUrl` itself.
 */
const oauth2ClientCredentials = z
  .object({
    type: z.literal('oauth2'),
    grant: z.literal('client_credentials'),
    tokenUrl: httpUrl,
    scopes,
    scopeSeparator,
    clientAuthentication,
  })
  .strict();
const oauth2Auth = z.discriminatedUnion('grant', [oauth2AuthorizationCode, oauth2ClientCredentials]);

const errorRule = z
  .object({
    status: z.number().int().min(400).max(599).optional(),
    code: z.string().min(1).max(200).optional(),
    means: z.enum(failureKinds),
  })
  .strict()
  .refine((r) => (r.status === undefined) !== (r.code === undefined), 'give either status or code');

const errors = z
  .object({
    codePointer: pointer.optional(),
    messagePointer: pointer.optional(),
    rules: z.array(errorRule).max(100).optional(),
    retryAfter: z
      .object({ header: headerName, unit: z.enum(['seconds', 'milliseconds', 'epoch_seconds']).optional() })
      .strict()
      .optional(),
  })
  .strict();

const action = z
  .object({
    id: z.string().regex(ACTION_ID, 'must be a letter then letters, digits or _ (at most 64)'),
    displayName: text(200),
    description: text(2000),
    sideEffects: z.enum(['read', 'write']),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
    /** Relative to baseUrl; `{input.x}` placeholders are URL-encoded. */
    path: z.string().min(1).max(2000).startsWith('/', 'must start with /'),
    query: z.record(z.string().min(1).max(200), template).optional(),
    headers: z.record(headerName, template).optional(),
    body: z
      .object({ encoding: z.enum(['json', 'form']), value: z.unknown().optional() })
      .strict()
      .optional(),
    inputSchema: jsonSchema,
    output: z
      .object({ pointer: pointer.optional(), fields: z.record(z.string().min(1).max(100), pointer).optional() })
      .strict()
      .refine((o) => !(o.pointer !== undefined && o.fields !== undefined), 'give pointer or fields, not both')
      .optional(),
    outputSchema: jsonSchema.optional(),
    pagination: z.object({ nextCursor: pointer }).strict().optional(),
    /** The upstream dedupes writes by this header: the engine sends one key per invocation, the same on every attempt. */
    idempotencyHeader: headerName.optional(),
    examples: z
      .array(z.object({ summary: text(200), input: z.record(z.string(), z.unknown()) }).strict())
      .max(10)
      .optional(),
  })
  .strict();

export const customConnectorDefinition = z
  .object({
    id: z
      .string()
      .max(64)
      .regex(
        CUSTOM_ID,
        'must be "custom-" then lowercase letters, digits and single hyphens (at most 64), e.g. custom-acme',
      ),
    displayName: text(200),
    description: text(2000),
    category: text(50).optional(),
    baseUrl: httpUrl,
    auth: z.discriminatedUnion('type', [apiKeyAuth, bearerAuth, basicAuth, oauth2Auth]),
    credentialTest: z
      .object({
        method: z.enum(['GET', 'POST']),
        path: z.string().min(1).max(2000).startsWith('/', 'must start with /'),
        query: z.record(z.string().min(1).max(200), z.string().max(2000)).optional(),
      })
      .strict(),
    rateLimit: z.object({ requestsPerMinute: z.number().int().min(1).max(100_000) }).strict(),
    errors: errors.optional(),
    actions: z.array(action).min(1).max(100),
  })
  .strict()
  .superRefine((def, ctx) => {
    const seen = new Set<string>();
    def.actions.forEach((a, i) => {
      const at = (...path: (string | number)[]) => ['actions', i, ...path];
      if (seen.has(a.id))
        ctx.addIssue({ code: 'custom', path: at('id'), message: `another action already has the id ${a.id}` });
      seen.add(a.id);
      if (a.inputSchema.type !== 'object')
        ctx.addIssue({
          code: 'custom',
          path: at('inputSchema', 'type'),
          message: 'must be "object": an action takes an object of named fields',
        });
      const properties = (typeof a.inputSchema.properties === 'object' && a.inputSchema.properties) || {};
      const required = new Set(Array.isArray(a.inputSchema.required) ? a.inputSchema.required.map(String) : []);
      const checkTemplates = (strings: string[], path: (string | number)[], mustBeRequired: boolean) => {
        for (const s of strings) {
          for (const stray of strayBraces(s))
            ctx.addIssue({ code: 'custom', path, message: `${stray} is not a placeholder; write {input.<field>}` });
          for (const [field] of placeholdersOf(s)) {
            if (!Object.hasOwn(properties, field!))
              ctx.addIssue({ code: 'custom', path, message: `{input.${field}} names no property of inputSchema` });
            else if (mustBeRequired && !required.has(field!))
              ctx.addIssue({
                code: 'custom',
                path,
                message: `{input.${field}} is in the path, so inputSchema must list "${field}" as required`,
              });
          }
        }
      };
      checkTemplates([a.path], at('path'), true);
      for (const [k, v] of Object.entries(a.query ?? {})) checkTemplates([v], at('query', k), false);
      for (const [k, v] of Object.entries(a.headers ?? {})) checkTemplates([v], at('headers', k), false);
      if (a.body?.value !== undefined) checkTemplates(templateStrings(a.body.value), at('body', 'value'), false);
      if (a.body && a.method === 'GET')
        ctx.addIssue({ code: 'custom', path: at('body'), message: 'a GET request has no body' });
      if (
        a.body?.encoding === 'form' &&
        a.body.value !== undefined &&
        (typeof a.body.value !== 'object' || a.body.value === null || Array.isArray(a.body.value))
      ) {
        ctx.addIssue({ code: 'custom', path: at('body', 'value'), message: 'a form body is an object of fields' });
      }
      if (a.idempotencyHeader && a.sideEffects !== 'write')
        ctx.addIssue({ code: 'custom', path: at('idempotencyHeader'), message: 'only writes are deduped' });
    });
    for (const stray of strayBraces(def.credentialTest.path).filter(
      (b) => !(b === '{username}' && def.auth.type === 'basic'),
    )) {
      ctx.addIssue({
        code: 'custom',
        path: ['credentialTest', 'path'],
        message: `${stray}: the credential test path takes no input (only {username} with basic auth)`,
      });
    }
  });

export type CustomConnectorDefinition = z.infer<typeof customConnectorDefinition>;
export type CustomAction = CustomConnectorDefinition['actions'][number];
export type CustomAuth = CustomConnectorDefinition['auth'];
export type OAuth2Auth = Extract<CustomAuth, { type: 'oauth2' }>;
export type WorkspaceClientAuth = Extract<OAuth2Auth, { grant: 'authorization_code' }>;

/** Auth that brings the workspace's own OAuth app, whose client secret is stored sealed with the definition. */
export const hasWorkspaceClient = (auth: CustomAuth): auth is WorkspaceClientAuth =>
  auth.type === 'oauth2' && auth.grant === 'authorization_code';
export type FailureMeaning = (typeof failureKinds)[number];
