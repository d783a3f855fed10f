import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScriptedServer, startScriptedServer } from './support/scripted-server.ts';

/**
 * The package as an app would install it: built with sdk/tsconfig.json (to a temp dir, so the
 * working tree's sdk/dist is left alone), loaded by plain Node, and compiled against by a strict
 * TypeScript app that has never heard of `.ts` imports.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const tsc = join(root, 'node_modules/typescript/bin/tsc');
const buildScript = join(root, 'sdk/scripts/build.mjs');

describe('SDK package build', () => {
  let dir: string;
  let pkg: string;
  let server: ScriptedServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sdk-build-'));
    pkg = join(dir, 'node_modules/@connector-engine/sdk');
    mkdirSync(pkg, { recursive: true });
    const build = spawnSync(process.execPath, [buildScript, '--outDir', join(pkg, 'dist')], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(build.stdout + build.stderr).toBe('');
    expect(build.status).toBe(0);
    cpSync(join(root, 'sdk/package.json'), join(pkg, 'package.json'));
    server = await startScriptedServer();
  }, 180_000);
  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has what package.json exports, and no runtime dependencies', () => {
    const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8'));
    expect(manifest).toMatchObject({ name: '@connector-engine/sdk', type: 'module' });
    expect(manifest.dependencies).toBeUndefined();
    const { import: esm, require: cjs } = manifest.exports['.'];
    for (const file of [esm.types, esm.default, cjs.types, cjs.default])
      expect(existsSync(join(pkg, file)), file).toBe(true);
    // Emitted JavaScript imports .js files (Node cannot load .ts), each folder in its own format.
    expect(readFileSync(join(pkg, 'dist/esm/client.js'), 'utf8')).toContain('from "./http.js"');
    expect(readFileSync(join(pkg, 'dist/cjs/client.js'), 'utf8')).toContain('require("./http.js")');
    expect(JSON.parse(readFileSync(join(pkg, 'dist/cjs/package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
  });

  it('runs under plain Node', async () => {
    const sdk = await import(pathToFileURL(join(pkg, 'dist/esm/index.js')).href);
    server.script(
      { status: 429, headers: { 'retry-after': '0' }, body: { error: { code: 'rate_limited', message: 'slow down' } } },
      { status: 200, body: { data: [], nextCursor: null } },
    );
    const client = new sdk.Client({ apiKey: 'ck_pr_x', baseUrl: server.url });
    expect((await client.invocations.list()).data).toEqual([]);
    expect(server.requests).toHaveLength(2);
    server.script({
      status: 409,
      body: { error: { code: 'connection_broken', message: 'broken' }, invocationId: 'inv_1' },
    });
    await expect(client.invocations.get('inv_1')).rejects.toBeInstanceOf(sdk.ConnectionBrokenError);
  });

  it('takes its version from package.json alone, in ESM, CommonJS and the User-Agent', async () => {
    const { version } = JSON.parse(readFileSync(join(root, 'sdk/package.json'), 'utf8'));
    const esm = await import(pathToFileURL(join(pkg, 'dist/esm/index.js')).href);
    const cjs = createRequire(import.meta.url)(join(pkg, 'dist/cjs/index.js'));
    expect([esm.SDK_VERSION, cjs.SDK_VERSION]).toEqual([version, version]);
    server.script({ status: 200, body: { id: 'inv_1' } });
    await new cjs.Client({ apiKey: 'ck_pr_x', baseUrl: server.url }).invocations.get('inv_1');
    expect(server.requests[0]!.headers['user-agent']).toMatch(
      new RegExp(`^connector-engine-sdk/${version.replace(/\./g, '\\.')} `),
    );
    // No source file states it by hand: only the file the build writes from package.json.
    const sources = readdirSync(join(root, 'sdk/src'), { recursive: true, encoding: 'utf8' }).filter(
      (f) => f.endsWith('.ts') && f !== 'version.ts',
    );
    for (const file of sources)
      expect(readFileSync(join(root, 'sdk/src', file), 'utf8'), file).not.toContain(`'${version}'`);
  });

  it('type-checks an app that imports the built package (strict, no skipLibCheck)', () => {
    const app = join(dir, 'app');
    mkdirSync(app);
    symlinkSync(join(dir, 'node_modules'), join(app, 'node_modules'), 'dir');
    writeFileSync(join(app, 'package.json'), '{"type":"module"}');
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          types: ['node'],
          typeRoots: [join(root, 'node_modules/@types')],
        },
        files: ['app.ts'],
      }),
    );
    writeFileSync(
      join(app, 'app.ts'),
      [
        "import { Client, RateLimitedError } from '@connector-engine/sdk';",
        'const client = new Client({ apiKey: process.env.CONNECTORS_API_KEY });',
        'const result = await client.connectors.execute({',
        "  connectorId: 'slack', actionId: 'postMessage',",
        "  input: { channel: '#general', text: 'New order' },",
        '});',
        'const ts: string = result.output.ts;',
        'console.log(ts, result.durationMs, result.invocationId, RateLimitedError);',
        '// @ts-expect-error a typo in the action id',
        "await client.connectors.execute({ connectorId: 'slack', actionId: 'postMesage', input: { channel: 'C1' } });",
        '',
      ].join('\n'),
    );
    const check = spawnSync(process.execPath, [tsc, '-p', app], { cwd: app, encoding: 'utf8' });
    expect(check.stdout + check.stderr).toBe('');
    expect(check.status).toBe(0);
  }, 180_000);
});
