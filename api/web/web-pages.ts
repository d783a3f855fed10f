import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Response, Router } from 'express';
import { ApiError } from '../../shared/errors.ts';

/**
 * The built front end (web/, built by `npm run build` into dist/web/, docs/decisions/0012): the
 * operator console at /console and the hosted connect page at /connect/{token}. Static files only;
 * both talk to the public API from the browser.
 */

/** Every page: scripts and styles from this origin only (no inline script), never framed, no referrer (a connect URL holds its token). */
export const PAGE_SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; " +
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
};

/** dist/web of this checkout: found from this module's place, in the sources (api/web/) or bundled (dist/api/). */
export function webDistDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, 'dist', 'web');
}

export function webPageRoutes(distDir = webDistDir()): Router {
  const router = Router();
  const secure = (res: Response) => res.set(PAGE_SECURITY_HEADERS);

  const page = (app: 'console' | 'connect') => (_req: unknown, res: Response) => {
    const file = path.join(distDir, app, 'index.html');
    if (!fs.existsSync(file))
      throw new ApiError('unavailable', 'The web pages are not built on this server; run `npm run build`.');
    secure(res).set('Cache-Control', 'no-store').type('html').sendFile(file);
  };
  const assets = (app: 'console' | 'connect') =>
    express.static(path.join(distDir, app, 'assets'), {
      index: false,
      fallthrough: true,
      immutable: true,
      maxAge: '365d', // file names carry their content hash
      setHeaders: (res) => res.set(PAGE_SECURITY_HEADERS),
    });

  router.use('/console/assets', assets('console'));
  router.use('/connect/assets', assets('connect'));
  router.get(['/console', '/console/'], page('console'));
  // `done` is the OAuth result page; anything else is a token, which the page itself checks with the API.
  router.get('/connect/:token', page('connect'));
  return router;
}
