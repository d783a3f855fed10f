import { createRequire } from 'node:module';
import path from 'node:path';
import express, { Router } from 'express';
import { PAGE_SECURITY_HEADERS } from '../web/web-pages.ts';
import { openApiDocument } from './document.ts';

/**
 * GET /openapi.json (the document) and /docs (Swagger UI, its assets served from the
 * `swagger-ui-dist` package: no CDN). The page keeps the site's CSP: no inline script (its
 * initializer is the separate /docs/init.js); only inline styles are allowed, which Swagger UI sets
 * on its elements.
 */
const DOCS_SECURITY_HEADERS = {
  ...PAGE_SECURITY_HEADERS,
  'Content-Security-Policy': PAGE_SECURITY_HEADERS['Content-Security-Policy']!.replace(
    "style-src 'self'",
    "style-src 'self' 'unsafe-inline'",
  ),
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Connector engine API reference</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>
`;

const INIT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });\n`;

const swaggerUiDir = () => path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

export function openApiRoutes(): Router {
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.set('Cache-Control', 'no-cache').json(openApiDocument());
  });
  router.get(['/docs', '/docs/'], (_req, res) => {
    res.set(DOCS_SECURITY_HEADERS).set('Cache-Control', 'no-cache').type('html').send(PAGE);
  });
  router.get('/docs/init.js', (_req, res) => {
    res.set(DOCS_SECURITY_HEADERS).set('Cache-Control', 'no-cache').type('text/javascript').send(INIT);
  });
  router.use(
    '/docs/assets',
    express.static(swaggerUiDir(), {
      index: false,
      fallthrough: true,
      maxAge: '1h',
      setHeaders: (res) => res.set(DOCS_SECURITY_HEADERS),
    }),
  );
  return router;
}
