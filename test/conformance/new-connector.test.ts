import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The promise of connectors/README.md, kept: adding a service is its folder, its fake and one
 * registry line. A scratch copy of the repository gets the worked example of new-connector/ (a
 * one-action read connector and its fake) and one line in connectors/builtins.ts; `git diff --stat`
 * shows nothing else, and the checks that look at every connector pass there with no other edit:
 * the typecheck, the conformance suite (definition, fake, and through the engine), configuration,
 * docker-compose and docs, and the SDK generator.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const EXAMPLE = path.join(ROOT, 'test/conformance/new-connector');
const REGISTRY_LINE = "  (await import('./weather/weather-connector.ts')).weatherConnector,\n";

function run(cwd: string, command: string, args: string[], timeout = 240_000) {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? os.tmpdir(),
    CI: 'true',
    TEST_SERVICES: 'local',
    NO_COLOR: '1',
  };
  return spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
}

describe('adding a connector', () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-new-connector-'));
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

  it('touches its folder, its fake and one registry line, and every check passes with no other edit', () => {
    // The repository as it stands (tracked and new files, nothing ignored), as a git repository of its own.
    const listed = run(ROOT, 'git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard']);
    expect(listed.status, listed.stderr).toBe(0);
    for (const file of listed.stdout.split('\0').filter(Boolean)) {
      if (!fs.existsSync(path.join(ROOT, file))) continue; // deleted in the working tree
      fs.mkdirSync(path.dirname(path.join(scratch, file)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, file), path.join(scratch, file));
    }
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(scratch, 'node_modules'), 'dir');
    for (const args of [
      ['init', '-q'],
      ['add', '-A'],
      ['-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'base'],
    ]) {
      const git = run(scratch, 'git', args);
      expect(git.status, git.stderr).toBe(0);
    }

    // The three edits.
    fs.mkdirSync(path.join(scratch, 'connectors/weather'));
    fs.copyFileSync(
      path.join(EXAMPLE, 'weather-connector.ts'),
      path.join(scratch, 'connectors/weather/weather-connector.ts'),
    );
    fs.mkdirSync(path.join(scratch, 'test/fakes/weather'));
    fs.copyFileSync(path.join(EXAMPLE, 'weather-fake.ts'), path.join(scratch, 'test/fakes/weather/weather-fake.ts'));
    const builtins = path.join(scratch, 'connectors/builtins.ts');
    const source = fs.readFileSync(builtins, 'utf8');
    expect(source).toContain('\n];\n');
    fs.writeFileSync(builtins, source.replace('\n];\n', `\n${REGISTRY_LINE}];\n`));

    run(scratch, 'git', ['add', '-A']);
    const stat = run(scratch, 'git', ['diff', '--cached', '--numstat']);
    const changed = stat.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    expect(changed.map((c) => c[2]).sort()).toEqual([
      'connectors/builtins.ts',
      'connectors/weather/weather-connector.ts',
      'test/fakes/weather/weather-fake.ts',
    ]);
    expect(changed.find((c) => c[2] === 'connectors/builtins.ts')!.slice(0, 2)).toEqual(['1', '0']);

    const tsc = run(scratch, process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit']);
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);

    const vitest = run(scratch, process.execPath, [
      path.join(ROOT, 'node_modules/vitest/vitest.mjs'),
      'run',
      '--reporter=verbose',
      'test/conformance/connectors.test.ts',
      'test/conformance/engine.test.ts',
      'test/unit/config.test.ts',
      'test/unit/docker-compose.test.ts',
      'test/sdk/generator.test.ts',
    ]);
    const output = stripVTControlCharacters(vitest.stdout + vitest.stderr);
    expect(vitest.status, output.slice(-4000)).toBe(0);
    // The new connector was checked, not skipped.
    expect(output).toMatch(/connector weather conforms/);
    expect(output).toMatch(/every connector through the engine > weather/);
  }, 300_000);
});
