#!/usr/bin/env node
// Builds the package: ESM (dist/esm) and CommonJS (dist/cjs), each with its own .d.ts, so `import`
// and `require` both resolve to code and types of their own format (what attw checks). The version
// comes from package.json alone: it is written to src/version.ts before compiling.
//
//   node scripts/build.mjs [--outDir <dir>]   (default: <sdk>/dist)
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const sdk = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const at = process.argv.indexOf('--outDir');
const outDir = at > 0 ? resolve(process.argv[at + 1]) : join(sdk, 'dist');
const tsc = createRequire(join(sdk, 'package.json')).resolve('typescript/bin/tsc');

const { version } = JSON.parse(readFileSync(join(sdk, 'package.json'), 'utf8'));
const versionFile = join(sdk, 'src/version.ts');
// Single quotes, as Biome formats the file (biome.jsonc): `npm run lint` stays clean after a build.
const versionSource = `// Written by scripts/build.mjs from package.json: do not edit.\n/** This package's version (package.json), sent in the User-Agent. */\nexport const SDK_VERSION = '${version}';\n`;
if (readFileSync(versionFile, 'utf8') !== versionSource) writeFileSync(versionFile, versionSource);

rmSync(outDir, { recursive: true, force: true });
const passes = [
  { dir: 'esm', args: ['-p', join(sdk, 'tsconfig.json')], type: 'module' },
  { dir: 'cjs', args: ['-p', join(sdk, 'tsconfig.cjs.json')], type: 'commonjs' },
];
for (const pass of passes) {
  const run = spawnSync(process.execPath, [tsc, ...pass.args, '--outDir', join(outDir, pass.dir)], {
    cwd: sdk,
    stdio: 'inherit',
  });
  if (run.status !== 0) process.exit(run.status ?? 1);
  // Node and TypeScript read each folder's format from its nearest package.json.
  mkdirSync(join(outDir, pass.dir), { recursive: true });
  writeFileSync(join(outDir, pass.dir, 'package.json'), `${JSON.stringify({ type: pass.type })}\n`);
}
