import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../sdk/src/index.ts';
import { SLACK_FAKE_BOT_TOKEN, type SlackFake, startSlackFake } from '../fakes/slack/slack-fake.ts';
import { type Engine, startEngine } from '../support/engine.ts';

/**
 * The SDK as a user gets it: `npm pack`, the tarball installed into an empty project with no network,
 * and the README's examples (ESM and CommonJS) copied out of sdk/README.md and run by plain Node
 * against the engine (and the Slack fake).
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = (name: string) => join(root, 'node_modules/.bin', name);

/** The README's fenced blocks of a language, in order. */
function readmeBlocks(lang: string): string[] {
  const readme = readFileSync(join(root, 'sdk/README.md'), 'utf8');
  const fence = '```';
  return [...readme.matchAll(new RegExp(`${fence}${lang}\\n([\\s\\S]*?)${fence}`, 'g'))].map((m) => m[1]!);
}

describe('SDK package: npm pack, install, run the README', () => {
  let dir: string;
  let stage: string;
  let tarball: string;
  let app: string;
  let fake: SlackFake;
  let engine: Engine;
  let projectKey: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sdk-pack-'));
    // The package folder as it is, built into a copy so the working tree's sdk/dist is left alone.
    stage = join(dir, 'sdk');
    cpSync(join(root, 'sdk'), stage, { recursive: true, filter: (src) => !/[/\\](dist|node_modules)$/.test(src) });
    execFileSync(process.execPath, [join(root, 'sdk/scripts/build.mjs'), '--outDir', join(stage, 'dist')], {
      cwd: root,
    });
    const packed = JSON.parse(
      execFileSync('npm', ['pack', stage, '--json', '--ignore-scripts', '--pack-destination', dir], {
        cwd: dir,
        encoding: 'utf8',
      }),
    );
    tarball = join(dir, packed[0].filename);

    app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
    // The tarball alone: the SDK has no runtime dependencies, so nothing is fetched.
    execFileSync(
      'npm',
      ['install', tarball, '--offline', '--no-package-lock', '--ignore-scripts', '--no-audit', '--no-fund'],
      { cwd: app, encoding: 'utf8' },
    );

    fake = await startSlackFake();
    engine = await startEngine({ env: { SLACK_API_URL: `${fake.url}/api` } });
    const admin = new Client({ apiKey: engine.workspaceKey, baseUrl: engine.baseUrl });
    const project = await admin.projects.create({ displayName: 'Packed' });
    projectKey = (await admin.projects.apiKeys.create(project.id)).key;
    await admin.connections.create({
      connectorId: 'slack',
      displayName: 'Slack',
      credentials: { botToken: SLACK_FAKE_BOT_TOKEN },
      projectIds: [project.id],
    });
  }, 120_000);
  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('packs the built code, types, README and LICENSE, and no sources', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n').sort();
    for (const file of [
      'package.json',
      'README.md',
      'LICENSE',
      'dist/esm/index.js',
      'dist/esm/index.d.ts',
      'dist/cjs/index.js',
      'dist/cjs/index.d.ts',
      'dist/cjs/package.json',
      'dist/esm/webhooks.js',
    ]) {
      expect(files, file).toContain(`package/${file}`);
    }
    expect(files.filter((f) => f.includes('/src/') || f.includes('scripts/') || f.endsWith('tsconfig.json'))).toEqual(
      [],
    );
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules/@connector-engine/sdk/package.json'), 'utf8'));
    expect(manifest).toMatchObject({
      license: 'MIT',
      exports: { '.': { import: expect.any(Object), require: expect.any(Object) } },
    });
  });

  it('is clean under publint and @arethetypeswrong/cli', () => {
    const publint = spawnSync(bin('publint'), [stage, '--strict'], { encoding: 'utf8' });
    expect(publint.stdout + publint.stderr).toContain('All good!');
    expect(publint.status).toBe(0);
    const attw = spawnSync(bin('attw'), [tarball, '--format', 'json'], { encoding: 'utf8' });
    expect(attw.status, attw.stdout + attw.stderr).toBe(0);
    expect(JSON.parse(attw.stdout).analysis.problems).toEqual([]);
  }, 60_000);

  it.each([
    ['import', 'mjs', 'ts', "from '@connector-engine/sdk'"],
    ['require', 'cjs', 'js', "require('@connector-engine/sdk')"],
  ])(
    'runs the README example with %s against the engine',
    async (_how, ext, lang, marker) => {
      const example = readmeBlocks(lang).find(
        (block) => block.includes(marker) && block.includes("actionId: 'postMessage'"),
      );
      expect(example, `a ${lang} block with ${marker} in sdk/README.md`).toBeDefined();
      writeFileSync(join(app, `example.${ext}`), example!);
      const before = fake.postedMessages.length;
      // Not spawnSync: the engine answers from this process's event loop.
      const run = await promisify(execFile)(process.execPath, [`example.${ext}`], {
        cwd: app,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, CONNECTORS_API_KEY: projectKey, CONNECTORS_API_URL: engine.baseUrl },
      });
      expect(run.stderr).toBe('');
      // It printed the ts of the message the fake Slack received.
      expect(fake.postedMessages).toHaveLength(before + 1);
      expect(run.stdout.trim()).toBe(fake.postedMessages.at(-1)!.ts);
    },
    30_000,
  );
});
