/**
 * `npm run build`: bundles the production entry points with esbuild into dist/ (gitignored), one
 * ESM file per entry plus its source map; packages stay external (node_modules is loaded as is).
 * Plain JavaScript so that it runs without tsx; its types are in build.d.mts.
 *
 * `npm run api|worker|migrate|cli` and `npm start` run this first, so a stale dist never runs. It
 * takes a fraction of a second and rewrites only the files whose content changed, each atomically
 * (write + rename), so two processes started at once (api and worker) never load a half-written file.
 *
 * Without esbuild (`npm ci --omit=dev`, as in the Docker image) it cannot build. That is fine only
 * where there are no sources to be stale against, i.e. in the image, which holds dist/ from its
 * build stage but no .ts files: then it does nothing. Anywhere else it fails.
 *
 *   node scripts/build.mjs [--quiet]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const distDir = path.join(root, 'dist');

/** Every process that production runs (scripts/start.ts spawns the first two). */
export const ENTRIES = ['api/main.ts', 'worker/main.ts', 'scripts/migrate.ts', 'scripts/cli.ts'];

/** `api/main.ts` → `<root>/dist/api/main.js`. */
export function distFile(entry) {
  return path.join(distDir, entry.replace(/\.ts$/, '.js'));
}

/** @returns {Promise<{ ms: number; written: string[]; prebuilt: boolean }>} */
export async function build() {
  const started = Date.now();
  // The web pages (web/ → dist/web/, Vite), rebuilt only when their sources changed. The Docker
  // image has no web/ (its build stage built dist/web): nothing to do there.
  const webBuild = path.join(root, 'web', 'build.mjs');
  const web = fs.existsSync(webBuild)
    ? await (await import(pathToFileURL(webBuild).href)).buildWeb(root, { quiet: true })
    : { built: false, prebuilt: true };
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    const haveSources = ENTRIES.some((e) => fs.existsSync(path.join(root, e)));
    const missing = ENTRIES.filter((e) => !fs.existsSync(distFile(e)));
    if (!haveSources && missing.length === 0) return { ms: Date.now() - started, written: [], prebuilt: true, web };
    throw new Error(
      haveSources
        ? 'esbuild is not installed (a production-only install?): run `npm ci` with dev dependencies to build dist/'
        : `no sources and no prebuilt ${missing.map((e) => path.relative(root, distFile(e))).join(', ')}`,
    );
  }
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: ENTRIES,
    outbase: root,
    outdir: distDir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    target: 'node20',
    sourcemap: true, // run with --enable-source-maps: stack traces name the .ts files and lines
    write: false,
    logLevel: 'error', // errors and their source excerpts go to stderr; the promise then rejects
  });
  const written = [];
  for (const out of result.outputFiles) {
    let current;
    try {
      current = fs.readFileSync(out.path);
    } catch {
      // new file
    }
    if (current && Buffer.compare(current, out.contents) === 0) continue;
    fs.mkdirSync(path.dirname(out.path), { recursive: true });
    const tmp = `${out.path}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, out.contents);
    fs.renameSync(tmp, out.path);
    written.push(path.relative(root, out.path));
  }
  if (web.built)
    written.push(
      `dist/web (JavaScript per page load, gzipped: ${Object.entries(web.sizes)
        .map(([p, b]) => `${p} ${(b / 1024).toFixed(1)} KB`)
        .join(', ')})`,
    );
  return { ms: Date.now() - started, written, prebuilt: false, web };
}

/**
 * How the npm scripts run a built entry: the node flags of the package.json script whose command is
 * `exec node <flags> dist/<entry>.js`. scripts/start.ts, test/support/engine.ts and the bench use it
 * to start api and worker exactly as `npm run api|worker` does.
 * @returns {{ nodeArgs: string[]; file: string }}
 */
export function nodeCommand(entry) {
  const file = distFile(entry);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  for (const body of Object.values(pkg.scripts ?? {})) {
    const tokens = String(body).split('&&').at(-1).trim().split(/\s+/);
    if (tokens[0] === 'exec') tokens.shift();
    if (tokens[0] !== 'node') continue;
    const at = tokens.findIndex((t, i) => i > 0 && !t.startsWith('-'));
    if (at > 0 && path.resolve(root, tokens[at]) === file) return { nodeArgs: tokens.slice(1, at), file };
  }
  throw new Error(`no package.json script runs ${path.relative(root, file)}`);
}

if (process.argv[1] && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url) {
  const quiet = process.argv.includes('--quiet');
  try {
    const { ms, written, prebuilt } = await build();
    if (!quiet) {
      const what = prebuilt
        ? 'prebuilt dist/ (no sources here)'
        : written.length
          ? `wrote ${written.join(', ')}`
          : 'dist/ up to date';
      process.stderr.write(`[build] ${what} (${ms} ms)\n`);
    }
  } catch (err) {
    // esbuild has already printed the compile errors themselves.
    process.stderr.write(`[build] failed: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\n`);
    process.exit(1);
  }
}
