/**
 * Builds the web pages (web/console, web/connect) with Vite into dist/web/<page>/, for the api to
 * serve at /console and /connect/{token} (api/web/web-pages.ts). scripts/build.mjs runs it, so
 * `npm run build`, `npm start` and the test setup all do. Skipped when nothing under web/ changed
 * since the last build (a hash of the sources is kept in dist/web/.sources): an api start stays fast.
 * Without Vite (a production-only install) and with a prebuilt dist/web, it does nothing.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export const PAGES = ['console', 'connect'];

function sourcesHash(webDir) {
  const hash = createHash('sha256');
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else hash.update(path.relative(webDir, file)).update('\0').update(fs.readFileSync(file));
    }
  };
  walk(webDir);
  return hash.digest('hex');
}

/** JavaScript one load of each page fetches, gzipped, in bytes (the budget is 200 KB: test/browser/console.test.ts). */
export function pageScriptSizes(outDir) {
  const sizes = {};
  for (const page of PAGES) {
    const html = fs.readFileSync(path.join(outDir, page, 'index.html'), 'utf8');
    const scripts = [...html.matchAll(/<(?:script|link)[^>]+(?:src|href)="\/[a-z]+\/(assets\/[^"]+\.js)"/g)].map(
      (m) => m[1],
    );
    sizes[page] = scripts.reduce((sum, rel) => sum + gzipSync(fs.readFileSync(path.join(outDir, page, rel))).length, 0);
  }
  return sizes;
}

/** @returns {Promise<{ built: boolean; prebuilt?: boolean; sizes?: Record<string, number> }>} */
export async function buildWeb(root, { quiet = false } = {}) {
  const webDir = path.join(root, 'web');
  const outDir = path.join(root, 'dist', 'web');
  const stamp = path.join(outDir, '.sources');
  if (!fs.existsSync(webDir)) return { built: false, prebuilt: true };
  const hash = sourcesHash(webDir);
  if (
    fs.existsSync(stamp) &&
    fs.readFileSync(stamp, 'utf8') === hash &&
    PAGES.every((p) => fs.existsSync(path.join(outDir, p, 'index.html')))
  ) {
    return { built: false };
  }
  let vite, preact;
  try {
    vite = await import('vite');
    preact = (await import('@preact/preset-vite')).default;
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    throw new Error(
      'vite is not installed (a production-only install?): run `npm ci` with dev dependencies to build dist/web',
    );
  }
  // A production build whoever runs it: Vite keeps a NODE_ENV it finds (vitest sets `test`), and
  // then Preact's development code and devtools hook go in, twice the size.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    for (const page of PAGES) await buildPage(vite, preact, webDir, outDir, page, quiet);
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  fs.writeFileSync(stamp, hash);
  return { built: true, sizes: pageScriptSizes(outDir) };
}

async function buildPage(vite, preact, webDir, outDir, page, quiet) {
  await vite.build({
    configFile: false,
    root: path.join(webDir, page),
    base: `/${page}/`,
    mode: 'production',
    logLevel: quiet ? 'error' : 'warn',
    plugins: [preact({ devToolsInProd: false, prefreshEnabled: false })],
    build: {
      outDir: path.join(outDir, page),
      emptyOutDir: true,
      // No polyfill snippet, nothing inlined into the HTML: the CSP allows scripts from files only.
      modulePreload: { polyfill: false },
      assetsInlineLimit: 0,
      target: 'es2022',
      sourcemap: false,
      reportCompressedSize: false,
    },
  });
}
