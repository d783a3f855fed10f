import { createRequire } from 'node:module';
import type { CustomAction, CustomAuth, CustomConnectorDefinition } from './definition-schema.ts';

/**
 * An OpenAPI 3.0/3.1 document → a draft custom connector definition and the warnings of what could
 * not be mapped. The draft is for a person to review (POST /v1/connectors validates it); every
 * choice made on the reader's behalf is a warning, never a silent guess.
 */
export interface ImportResult {
  definition: CustomConnectorDefinition;
  warnings: string[];
}

export class OpenApiImportError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'OpenApiImportError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const MAX_ACTIONS = 100;
/** How deep $refs are inlined; a recursive schema is cut there (and said so). */
const MAX_REF_DEPTH = 8;

/**
 * The yaml package, required on the first document given as text rather than imported: only this
 * import reads YAML, and the api should not hold the package from start-up (72 modules, about 0.5 MB
 * of heap; issue 21). For node the package is CommonJS, so this is the module an `import` would
 * give. test/unit/api-lazy-packages.test.ts checks that the built api does not import it.
 */
let yamlModule: typeof import('yaml') | undefined;
const yaml = () => (yamlModule ??= createRequire(import.meta.url)('yaml') as typeof import('yaml'));

/** The document, from JSON or YAML text or an already parsed object. */
export function parseOpenApi(source: unknown): Obj {
  let doc: unknown = source;
  if (typeof source === 'string') {
    const { parse } = yaml();
    try {
      doc = parse(source, { maxAliasCount: 100 });
    } catch (err) {
      throw new OpenApiImportError('openapi', `is neither JSON nor YAML: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  if (!isObj(doc)) throw new OpenApiImportError('openapi', 'must be an OpenAPI document (an object)');
  if (typeof doc.openapi !== 'string' || !/^3\.[01]\./.test(doc.openapi))
    throw new OpenApiImportError('openapi.openapi', 'must be an OpenAPI 3.0 or 3.1 version, e.g. "3.1.0"');
  if (!isObj(doc.paths)) throw new OpenApiImportError('openapi.paths', 'must be an object of paths');
  return doc;
}

export function importOpenApi(source: unknown, operationIds?: readonly string[]): ImportResult {
  const doc = parseOpenApi(source);
  const warnings: string[] = [];
  const resolve = refResolver(doc, warnings);
  const info = isObj(doc.info) ? doc.info : {};
  const title = typeof info.title === 'string' && info.title.trim() ? info.title.trim().slice(0, 200) : 'Imported API';

  const operations: { method: (typeof METHODS)[number]; path: string; op: Obj; pathItem: Obj }[] = [];
  for (const [path, item] of Object.entries(doc.paths as Obj)) {
    if (!isObj(item)) continue;
    for (const method of METHODS)
      if (isObj(item[method])) operations.push({ method, path, op: item[method] as Obj, pathItem: item });
  }
  let chosen = operations;
  if (operationIds?.length) {
    chosen = operationIds.map((id, i) => {
      const found = operations.find((o) => o.op.operationId === id);
      if (!found) throw new OpenApiImportError(`operations[${i}]`, `no operation has the operationId "${id}"`);
      return found;
    });
  } else if (operations.length > MAX_ACTIONS) {
    warnings.push(
      `The document has ${operations.length} operations; the first ${MAX_ACTIONS} were imported. Name the ones you want in "operations".`,
    );
    chosen = operations.slice(0, MAX_ACTIONS);
  }
  if (chosen.length === 0) throw new OpenApiImportError('openapi.paths', 'has no operations to import');

  const usedIds = new Set<string>();
  const actions = chosen.map((o) => toAction(o, resolve, warnings, usedIds));
  const readable = chosen.find((o, i) => o.method === 'get' && !actions[i]!.path.includes('{'));
  if (!readable)
    warnings.push(
      'No GET operation without path parameters was imported: credentialTest is "GET /"; set it to a cheap authenticated read.',
    );

  const definition: CustomConnectorDefinition = {
    id: `custom-${slug(title)}`,
    displayName: title,
    description: (typeof info.description === 'string' && info.description.trim()
      ? info.description.trim()
      : `${title} API (imported from OpenAPI).`
    ).slice(0, 2000),
    baseUrl: baseUrlOf(doc, warnings),
    auth: authOf(doc, warnings),
    credentialTest: { method: 'GET', path: readable ? readable.path : '/' },
    rateLimit: { requestsPerMinute: 60 },
    errors: {
      rules: [
        { status: 401, means: 'invalid_credentials' },
        { status: 403, means: 'permission' },
        { status: 429, means: 'rate_limited' },
      ],
      retryAfter: { header: 'Retry-After', unit: 'seconds' },
    },
    actions,
  };
  warnings.push("rateLimit is a placeholder (60 calls per minute): set the service's real limit.");
  warnings.push(
    "Error rules are the HTTP defaults (401 invalid credentials, 403 permission, 429 rate limited with Retry-After); add the service's own error codes (errors.codePointer, errors.rules).",
  );
  return { definition, warnings };
}

function slug(title: string): string {
  const s = title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50)
    .replace(/-+$/, '');
  return s || 'api';
}

function baseUrlOf(doc: Obj, warnings: string[]): string {
  const server = Array.isArray(doc.servers) && isObj(doc.servers[0]) ? doc.servers[0] : undefined;
  let url = typeof server?.url === 'string' ? server.url : undefined;
  if (url && isObj(server?.variables)) {
    for (const [name, v] of Object.entries(server.variables))
      if (isObj(v) && typeof v.default === 'string') url = url.replaceAll(`{${name}}`, v.default);
  }
  try {
    if (url && /^https?:$/.test(new URL(url).protocol)) return url.replace(/\/+$/, '');
  } catch {
    // reported below
  }
  warnings.push('The document names no absolute server URL: baseUrl is a placeholder (https://api.example.com).');
  return 'https://api.example.com';
}

function authOf(doc: Obj, warnings: string[]): CustomAuth {
  const schemes = isObj(doc.components) && isObj(doc.components.securitySchemes) ? doc.components.securitySchemes : {};
  const wanted = Array.isArray(doc.security)
    ? doc.security.flatMap((r) => (isObj(r) ? Object.keys(r) : []))
    : Object.keys(schemes);
  for (const name of [...wanted, ...Object.keys(schemes)]) {
    const s = schemes[name];
    if (!isObj(s)) continue;
    if (s.type === 'http' && typeof s.scheme === 'string' && s.scheme.toLowerCase() === 'bearer')
      return { type: 'bearer' };
    if (s.type === 'http' && typeof s.scheme === 'string' && s.scheme.toLowerCase() === 'basic')
      return { type: 'basic' };
    if (s.type === 'apiKey' && typeof s.name === 'string' && (s.in === 'header' || s.in === 'query')) {
      if (s.in === 'header' && s.name.toLowerCase() === 'authorization') return { type: 'bearer' };
      return { type: 'api_key', in: s.in, name: s.name };
    }
    const clientCredentials =
      s.type === 'oauth2' && isObj(s.flows) && isObj(s.flows.clientCredentials) ? s.flows.clientCredentials : undefined;
    if (
      clientCredentials &&
      typeof clientCredentials.tokenUrl === 'string' &&
      /^https?:\/\//.test(clientCredentials.tokenUrl)
    ) {
      // Each connection brings its own client id and secret: nothing of the workspace's to fill in.
      const scopes = isObj(clientCredentials.scopes) ? Object.keys(clientCredentials.scopes).slice(0, 50) : [];
      return {
        type: 'oauth2',
        grant: 'client_credentials',
        tokenUrl: clientCredentials.tokenUrl,
        ...(scopes.length ? { scopes } : {}),
      };
    }
    if (s.type === 'oauth2')
      warnings.push(
        `The security scheme "${name}" is OAuth 2: set auth to oauth2 with your app's clientId and clientSecret (the draft uses a bearer token).`,
      );
  }
  if (Object.keys(schemes).length === 0)
    warnings.push(
      'The document declares no security scheme: auth is a bearer token; change it if the service authenticates otherwise.',
    );
  return { type: 'bearer' };
}

/** Inlines local `$ref`s (`#/components/...`) and turns OpenAPI 3.0's `nullable` into JSON Schema. */
function refResolver(doc: Obj, warnings: string[]) {
  const warned = new Set<string>();
  const lookup = (ref: string): unknown => {
    if (!ref.startsWith('#/')) return undefined;
    let node: unknown = doc;
    for (const raw of ref.slice(2).split('/')) {
      const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
      node = isObj(node) ? node[key] : undefined;
    }
    return node;
  };
  const inline = (node: unknown, depth: number): unknown => {
    if (Array.isArray(node)) return node.map((n) => inline(n, depth));
    if (!isObj(node)) return node;
    if (typeof node.$ref === 'string') {
      const target = lookup(node.$ref);
      if (target === undefined || depth >= MAX_REF_DEPTH) {
        if (!warned.has(node.$ref))
          warnings.push(
            `${node.$ref} ${target === undefined ? 'could not be resolved' : 'is recursive'}: accepted as any value there.`,
          );
        warned.add(node.$ref);
        return {};
      }
      return inline(target, depth + 1);
    }
    const out: Obj = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === 'nullable' || k === 'discriminator' || k === 'xml' || k === 'externalDocs' || k === 'example') continue;
      out[k] =
        k === 'properties' && isObj(v)
          ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, inline(s, depth)]))
          : inline(v, depth);
    }
    if (node.nullable === true && typeof out.type === 'string') out.type = [out.type, 'null'];
    // OpenAPI 3.0's boolean exclusive bounds are numbers in JSON Schema 2020-12.
    for (const [flag, bound] of [
      ['exclusiveMinimum', 'minimum'],
      ['exclusiveMaximum', 'maximum'],
    ] as const) {
      if (typeof out[flag] !== 'boolean') continue;
      if (out[flag] === true && typeof out[bound] === 'number') {
        out[flag] = out[bound];
        delete out[bound];
      } else delete out[flag];
    }
    return out;
  };
  return (node: unknown) => inline(node, 0);
}

const ACTION_ID_CHARS = /[^A-Za-z0-9]+(.)?/g;

function actionIdOf(op: Obj, method: string, path: string, used: Set<string>): string {
  const raw = typeof op.operationId === 'string' && op.operationId ? op.operationId : `${method} ${path}`;
  let id = raw
    .replace(ACTION_ID_CHARS, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))
    .replace(/^[^A-Za-z]+/, '');
  id = (id || 'action').slice(0, 60);
  let unique = id;
  for (let n = 2; used.has(unique); n++) unique = `${id}${n}`;
  used.add(unique);
  return unique;
}

function toAction(
  o: { method: (typeof METHODS)[number]; path: string; op: Obj; pathItem: Obj },
  resolve: (n: unknown) => unknown,
  warnings: string[],
  used: Set<string>,
): CustomAction {
  const { method, op } = o;
  const id = actionIdOf(op, method, o.path, used);
  const properties: Obj = {};
  const required = new Set<string>();
  const query: Record<string, string> = {};
  const headers: Record<string, string> = {};
  let idempotencyHeader: string | undefined;
  const params = [
    ...(Array.isArray(o.pathItem.parameters) ? o.pathItem.parameters : []),
    ...(Array.isArray(op.parameters) ? op.parameters : []),
  ]
    .map(resolve)
    .filter(isObj);
  let path = o.path;
  for (const p of params) {
    if (typeof p.name !== 'string' || !/^[A-Za-z0-9_$-]+$/.test(p.name)) continue;
    const schema = isObj(p.schema) ? (p.schema as Obj) : { type: 'string' };
    const withDescription =
      typeof p.description === 'string' ? { ...schema, description: p.description.slice(0, 500) } : schema;
    if (p.in === 'path') {
      path = path.replaceAll(`{${p.name}}`, `{input.${p.name}}`);
      properties[p.name] = withDescription;
      required.add(p.name);
    } else if (p.in === 'query') {
      properties[p.name] = withDescription;
      if (p.required === true) required.add(p.name);
      query[p.name] = `{input.${p.name}}`;
    } else if (p.in === 'header') {
      if (p.name.toLowerCase() === 'idempotency-key' && method !== 'get') {
        idempotencyHeader = p.name;
        continue;
      }
      if (
        ['authorization', 'content-type', 'accept', 'user-agent', 'cookie', 'host', 'content-length'].includes(
          p.name.toLowerCase(),
        )
      )
        continue;
      properties[p.name] = withDescription;
      if (p.required === true) required.add(p.name);
      headers[p.name] = `{input.${p.name}}`;
    } else {
      warnings.push(`${id}: the ${String(p.in)} parameter "${p.name}" is not mapped.`);
    }
  }
  // Path parameters the operation forgot to declare still need an input field.
  for (const m of o.path.matchAll(/\{([^{}]+)\}/g)) {
    const name = m[1]!;
    if (properties[name] !== undefined || !/^[A-Za-z0-9_$-]+$/.test(name)) continue;
    path = path.replaceAll(`{${name}}`, `{input.${name}}`);
    properties[name] = { type: 'string' };
    required.add(name);
    warnings.push(`${id}: the path parameter "${name}" is not declared; it is taken as a string.`);
  }

  let body: CustomAction['body'];
  const requestBody = resolve(op.requestBody);
  const content = isObj(requestBody) && isObj(requestBody.content) ? requestBody.content : undefined;
  if (content && method !== 'get') {
    const jsonType = Object.keys(content).find((t) => /json/i.test(t));
    const formType = Object.keys(content).find((t) => /x-www-form-urlencoded/i.test(t));
    const type = jsonType ?? formType;
    if (!type)
      warnings.push(
        `${id}: the request body (${Object.keys(content).join(', ')}) is not JSON or a form; it is not mapped.`,
      );
    else {
      const media = content[type];
      const schema = isObj(media) && isObj(media.schema) ? (media.schema as Obj) : {};
      const encoding = type === jsonType ? 'json' : 'form';
      const clash = isObj(schema.properties)
        ? Object.keys(schema.properties).filter((k) => properties[k] !== undefined)
        : [];
      if (isObj(schema.properties) && clash.length === 0 && (schema.type === 'object' || schema.type === undefined)) {
        Object.assign(properties, schema.properties);
        if (Array.isArray(schema.required)) for (const r of schema.required) if (typeof r === 'string') required.add(r);
        body = { encoding };
      } else {
        properties.body = schema;
        if (isObj(requestBody) && requestBody.required === true) required.add('body');
        body = { encoding, value: '{input.body}' };
        if (clash.length)
          warnings.push(
            `${id}: body fields ${clash.join(', ')} clash with parameters; the body is the input field "body".`,
          );
      }
    }
  }

  const responses = isObj(op.responses) ? op.responses : {};
  const okKey = Object.keys(responses).find((k) => /^2\d\d$/.test(k));
  const ok = okKey ? resolve(responses[okKey]) : undefined;
  const okContent = isObj(ok) && isObj(ok.content) ? ok.content : undefined;
  const okJson = okContent ? Object.entries(okContent).find(([t]) => /json/i.test(t))?.[1] : undefined;
  const outputSchema = isObj(okJson) && isObj(okJson.schema) ? (okJson.schema as Obj) : undefined;

  const summary =
    typeof op.summary === 'string' && op.summary.trim() ? op.summary.trim() : `${method.toUpperCase()} ${o.path}`;
  const description = typeof op.description === 'string' && op.description.trim() ? op.description.trim() : summary;
  const action: CustomAction = {
    id,
    displayName: summary.slice(0, 200),
    description: description.slice(0, 2000),
    sideEffects: method === 'get' ? 'read' : 'write',
    method: method.toUpperCase() as CustomAction['method'],
    path,
    inputSchema: { type: 'object', properties, ...(required.size ? { required: [...required] } : {}) },
  };
  if (Object.keys(query).length) action.query = query;
  if (Object.keys(headers).length) action.headers = headers;
  if (body) action.body = body;
  if (outputSchema) action.outputSchema = outputSchema;
  if (idempotencyHeader) action.idempotencyHeader = idempotencyHeader;
  return action;
}
