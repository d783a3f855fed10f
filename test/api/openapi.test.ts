import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_DOC, openApiText } from '../../scripts/generate-docs.ts';
import { statusByCode } from '../../shared/errors.ts';
import { declaredRoutes, routeKey } from '../fuzz/route-table.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { apiClient } from '../support/http.ts';
import { responseProblem } from '../support/openapi-conformance.ts';

/**
 * The OpenAPI document (GET /openapi.json) and its browsable page (/docs). Every response the e2e
 * suite sees through apiClient is also checked against the document (test/support/openapi-conformance.ts).
 */
describe('OpenAPI document', () => {
  let engine: Engine;
  let doc: { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> } & Record<string, unknown>;

  beforeAll(async () => {
    engine = await startEngine();
    const res = await fetch(`${engine.baseUrl}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = (await res.json()) as typeof doc;
  });
  afterAll(async () => {
    await engine?.stop();
  });

  it('is a valid OpenAPI 3.1 document (swagger-parser)', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const validated = await SwaggerParser.validate(structuredClone(doc) as never);
    expect(Object.keys(validated.paths ?? {}).length).toBeGreaterThan(30);
  });

  it('docs/openapi.json, the reference in the repository, is the served document (npm run docs:settings)', () => {
    expect(readFileSync(OPENAPI_DOC, 'utf8')).toBe(openApiText());
    expect(JSON.parse(readFileSync(OPENAPI_DOC, 'utf8'))).toEqual(doc);
  });

  it('documents every route the api declares, and no route it does not serve', () => {
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      ),
    );
    const declared = declaredRoutes().map(routeKey);
    expect(declared.filter((r) => !documented.has(r))).toEqual([]);
    // Served by api/web/ and api/openapi/, which route-table.ts does not read.
    const servedElsewhere = ['GET /console', 'GET /connect/:token', 'GET /openapi.json', 'GET /docs'];
    expect([...documented].filter((r) => !declared.includes(r) && !servedElsewhere.includes(r))).toEqual([]);
  });

  it('names every error code, and the Idempotency-Key, Prefer, Retry-After and X-Request-Id headers', () => {
    const text = JSON.stringify(doc);
    for (const code of Object.keys(statusByCode)) expect(text, code).toContain(`"${code}"`);
    for (const header of ['Idempotency-Key', 'Prefer', 'Retry-After', 'X-Request-Id'])
      expect(text, header).toContain(`"${header}"`);
    const execute = doc.paths['/v1/executions']!.post!.responses;
    expect(Object.keys(execute)).toEqual(
      expect.arrayContaining(['200', '202', '400', '401', '404', '409', '422', '429', '502', '503', '504']),
    );
    expect(JSON.stringify(execute['429'])).toContain('Retry-After');
  });

  it('rejects a response with a field the document does not have, or an undocumented status', async () => {
    const admin = apiClient(engine.baseUrl, engine.workspaceKey);
    const created = await admin.post('/v1/projects', { displayName: 'OpenAPI' });
    expect(created.status).toBe(201);
    const headers = created.headers;
    expect(responseProblem('POST', '/v1/projects', 201, headers, created.body)).toBeUndefined();
    expect(responseProblem('POST', '/v1/projects', 201, headers, { ...created.body, internalNote: 'x' })).toMatch(
      /internalNote/,
    );
    expect(responseProblem('POST', '/v1/projects', 201, headers, { ...created.body, createdAt: 'yesterday' })).toMatch(
      /date-time/,
    );
    expect(responseProblem('POST', '/v1/projects', 418, headers, {})).toMatch(/not documented/);
    expect(responseProblem('POST', '/v1/projects', 400, headers, { error: { code: 'timeout', message: 'x' } })).toMatch(
      /enum|allowed/,
    );
    // The catch-all 404 of an unknown route is fine; a 200 from one is not.
    expect(
      responseProblem('GET', '/v1/nothing', 404, headers, { error: { code: 'not_found', message: 'No route.' } }),
    ).toBeUndefined();
    expect(responseProblem('GET', '/v1/nothing', 200, headers, {})).toMatch(/not in the OpenAPI document/);
  });

  it('serves /docs from the swagger-ui-dist package under a CSP without inline scripts', async () => {
    const page = await fetch(`${engine.baseUrl}/docs`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    // Every script is a file of this origin: no inline code, no CDN.
    const scripts = [...html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(body!.trim()).toBe('');
      expect(attrs).toMatch(/src="\/docs\//);
    }
    expect(html).not.toMatch(/https?:\/\//);
    const init = await fetch(`${engine.baseUrl}/docs/init.js`);
    expect(init.status).toBe(200);
    expect(await init.text()).toContain("'/openapi.json'");
    for (const asset of ['/docs/assets/swagger-ui-bundle.js', '/docs/assets/swagger-ui.css']) {
      const res = await fetch(`${engine.baseUrl}${asset}`);
      expect(res.status, asset).toBe(200);
      expect((await res.arrayBuffer()).byteLength, asset).toBeGreaterThan(1000);
    }
  });
});
