import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { openApiDocument } from '../../api/openapi/document.ts';
import { addFormats } from '../../connectors/custom/json-schema-input.ts';

/**
 * Checks a response against the OpenAPI document (GET /openapi.json) with Ajv, a validator
 * independent of the zod schemas the document is generated from: the route and status must be
 * documented, and a JSON body must fit the documented schema (objects are closed, so an
 * undocumented field fails). Used by apiClient (test/support/http.ts) on every response.
 */

interface Operation {
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
type Doc = { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };

interface Compiled {
  matchers: { template: string; regex: RegExp; params: number }[];
  validator(template: string, method: string, status: string): ValidateFunction | undefined;
  doc: Doc;
}

let compiled: Compiled | undefined;

function compile(doc: Doc): Compiled {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const rewrite = (schema: unknown) =>
    JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"openapi-components#/$defs/'));
  ajv.addSchema({ $id: 'openapi-components', $defs: rewrite(doc.components.schemas) });
  const cache = new Map<string, ValidateFunction | undefined>();
  const matchers = Object.keys(doc.paths)
    .map((template) => ({
      template,
      regex: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{\w+\\?\}/g, '[^/]+')}/?$`),
      params: (template.match(/\{/g) ?? []).length,
    }))
    .sort((a, b) => a.params - b.params);
  return {
    doc,
    matchers,
    validator(template, method, status) {
      const key = `${method} ${template} ${status}`;
      if (!cache.has(key)) {
        const schema = doc.paths[template]?.[method]?.responses[status]?.content?.['application/json']?.schema;
        cache.set(key, schema === undefined ? undefined : ajv.compile(rewrite(schema)));
      }
      return cache.get(key);
    },
  };
}

/** Why the response does not conform to the document, or undefined when it does. */
export function responseProblem(
  method: string,
  url: string,
  status: number,
  headers: Headers,
  body: unknown,
): string | undefined {
  compiled ??= compile(openApiDocument() as unknown as Doc);
  const path = new URL(url, 'http://x').pathname;
  const m = method.toLowerCase();
  const where = `${method} ${path} → ${status}`;
  if (!headers.get('x-request-id')) return `${where}: no X-Request-Id header`;
  const template = compiled.matchers.find((t) => t.regex.test(path) && compiled!.doc.paths[t.template]![m])?.template;
  if (!template) {
    // An undeclared route is the catch-all 404 (or an HTTP-level refusal before routing).
    const code = (body as { error?: { code?: string } } | undefined)?.error?.code;
    if (status === 404 && code === 'not_found') return undefined;
    if (status >= 400 && code !== undefined) return undefined;
    return `${where}: the route is not in the OpenAPI document`;
  }
  const operation = compiled.doc.paths[template]![m]!;
  const documented = operation.responses[String(status)];
  if (!documented) return `${where}: status ${status} is not documented for ${method.toUpperCase()} ${template}`;
  const contentType = headers.get('content-type') ?? '';
  if (!contentType.includes('json')) return undefined;
  const validate = compiled.validator(template, m, String(status));
  if (!validate) return documented.content ? undefined : `${where}: a body where the document says none`;
  if (validate(body)) return undefined;
  return `${where}: the body does not fit the document: ${JSON.stringify(validate.errors?.slice(0, 5))}`;
}
