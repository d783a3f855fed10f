import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
// No database and no `npm start` state: help must need neither.
const env = {
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  START_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'ce-cli-help-')),
};

async function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(file, args, { cwd: root, env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'scripts/cli.ts', ...args]);
const bin = (...args: string[]) => run(process.execPath, ['scripts/bin.mjs', ...args]);
/** The command names of a help listing: its `  name:verb …` lines. */
const listed = (help: string) => [...help.matchAll(/^ {2}([a-z]+:[a-z]+)\b/gm)].map((m) => m[1]!);

describe('CLI help', () => {
  it('--help lists every command, without a database', async () => {
    const { code, stdout } = await cli('--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^usage: npm run cli -- <command>/);
    expect(listed(stdout)).toEqual(['workspace:create', 'keys:reencrypt', 'retention:run']);
  }, 70_000);

  it('every command has its own --help (also as -h, and `help <command>`)', async () => {
    const calls = listed((await cli('--help')).stdout).map((command) => [command, '--help']);
    calls.push(['keys:reencrypt', '-h'], ['help', 'keys:reencrypt']);
    for (const args of calls) {
      const { code, stdout } = await cli(...args);
      expect(code, args.join(' ')).toBe(0);
      expect(stdout).toMatch(new RegExp(`^usage: npm run cli -- ${args.find((a) => a.includes(':'))}`));
      expect(stdout).toContain('Exit codes:');
    }
  }, 120_000);

  it('answers an unknown command with the usage, as a usage error', async () => {
    const { code, stderr } = await cli('nope:nope', '--help');
    expect(code).toBe(64);
    expect(listed(stderr)).toContain('keys:reencrypt');
  }, 70_000);

  it('works through npm (`npm run cli -- --help`)', async () => {
    const { code, stdout } = await run('npm', ['run', '--silent', 'cli', '--', '--help']);
    expect(code).toBe(0);
    expect(listed(stdout)).toContain('retention:run');
  }, 70_000);
});

describe('the connector-engine bin', () => {
  it('--help lists start and every CLI command', async () => {
    const { code, stdout } = await bin('--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^usage: connector-engine <command>/);
    expect(stdout).toMatch(/^ {2}start\b/m);
    expect(listed(stdout)).toEqual(['workspace:create', 'keys:reencrypt', 'retention:run']);
  }, 70_000);

  it('runs start and the CLI commands (their --help here)', async () => {
    const start = await bin('start', '--help');
    expect(start.code).toBe(0);
    expect(start.stdout).toMatch(/^usage: npm start/);
    const reencrypt = await bin('keys:reencrypt', '--help');
    expect(reencrypt.code).toBe(0);
    expect(reencrypt.stdout).toMatch(/^usage: npm run cli -- keys:reencrypt/);
  }, 70_000);

  it('is the package.json bin that `npx connector-engine` runs inside the clone', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(pkg.bin['connector-engine']).toBe('scripts/bin.mjs');
    expect(fs.statSync(path.join(root, pkg.bin['connector-engine']!)).mode & 0o111).not.toBe(0);
    // --no-install: never the registry, only this checkout's bin.
    const { code, stdout } = await run('npx', ['--no-install', 'connector-engine', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^usage: connector-engine <command>/);
  }, 70_000);
});
