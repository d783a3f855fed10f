import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptedServer, type ScriptedServer } from './support/scripted-server.ts';

/**
 * The package as an app would install it: built with sdk/tsconfig.json (to a temp dir, so the
 * working tree's sdk/dist is left alone), loaded by plain Node, and compiled against by a strict
 * TypeScript app that has never heard of `.ts` imports.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const tsc = join(root, 'node_modules/typescript/bin/tsc');

describe('SDK package build', () => {
  let dir: string;
  let pkg: string;
  let server: ScriptedServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sdk-build-'));
    pkg = join(dir, 'node_modules/@connector-engine/sdk');
    mkdirSync(pkg, { recursive: true });
    const build = spawnSync(process.execPath, [tsc, '-p', join(root, 'sdk/tsconfig.json'), '--outDir', join(pkg, 'dist')], { cwd: root, encoding: 'utf8' });
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
    for (const file of [manifest.exports['.'].types, manifest.exports['.'].import]) expect(existsSync(join(pkg, file)), file).toBe(true);
    // Emitted JavaScript imports .js files (Node cannot load .ts).
    expect(readFileSync(join(pkg, 'dist/client.js'), 'utf8')).toContain('from "./http.js"');
  });

  it('runs under plain Node', async () => {
    const sdk = await import(pathToFileURL(join(pkg, 'dist/index.js')).href);
    server.script({ status: 429, headers: { 'retry-after': '0' }, body: { error: { code: 'rate_limited', message: 'slow down' } } }, { status: 200, body: { data: [], nextCursor: null } });
    const client = new sdk.Client({ apiKey: 'ck_pr_x', baseUrl: server.url });
    expect((await client.invocations.list()).data).toEqual([]);
    expect(server.requests).toHaveLength(2);
    server.script({ status: 409, body: { error: { code: 'connection_broken', message: 'broken' }, invocationId: 'inv_1' } });
    await expect(client.invocations.get('inv_1')).rejects.toBeInstanceOf(sdk.ConnectionBrokenError);
  });

  it('type-checks an app that imports the built package (strict, no skipLibCheck)', () => {
    const app = join(dir, 'app');
    mkdirSync(app);
    symlinkSync(join(dir, 'node_modules'), join(app, 'node_modules'), 'dir');
    writeFileSync(join(app, 'package.json'), '{"type":"module"}');
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], typeRoots: [join(root, 'node_modules/@types')] },
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
