import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectors } from '../../connectors/registry.ts';
import { settingsOf } from '../../connectors/toolkit/settings.ts';
import { loadDotEnv } from '../../scripts/lib/dotenv.ts';
import { START_VARIABLES } from '../../scripts/lib/start-settings.ts';
import { CONFIG_VARIABLES } from '../../shared/config.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** Every `NAME=` line of .env.example, commented out or not. */
const exampleNames = () =>
  [...fs.readFileSync(path.join(root, '.env.example'), 'utf8').matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map(
    (m) => m[1]!,
  );

describe('.env.example', () => {
  it('names only settings that exist (the engine’s, npm start’s own, or a connector’s)', () => {
    const known = new Set([...CONFIG_VARIABLES, ...START_VARIABLES, ...settingsOf(connectors).map((s) => s.name)]);
    const names = exampleNames();
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((n) => !known.has(n))).toEqual([]);
  });

  it('lists the main settings', () => {
    for (const name of ['PORT', 'DATABASE_URL', 'REDIS_URL', 'CONNECTORS_ENCRYPTION_KEYS', 'LOG_LEVEL', 'LOG_FORMAT'])
      expect(exampleNames()).toContain(name);
  });

  it('is committed, while .env is ignored by git', () => {
    const ignored = (file: string) => {
      try {
        execFileSync('git', ['check-ignore', '-q', file], { cwd: root });
        return true;
      } catch {
        return false;
      }
    };
    expect(ignored('.env')).toBe(true);
    expect(ignored('.env.example')).toBe(false);
  });
});

describe('loading .env', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ce-dotenv-'));
  const names = ['CE_DOTENV_TEST_SET', 'CE_DOTENV_TEST_NEW', 'CE_DOTENV_TEST_QUOTED'];
  afterEach(() => {
    for (const n of names) delete process.env[n];
  });

  it('adds what the environment lacks, and a variable already set wins over the file', () => {
    const file = path.join(dir, '.env');
    fs.writeFileSync(
      file,
      '# a comment\nCE_DOTENV_TEST_SET=from-file\nCE_DOTENV_TEST_NEW=from-file\nCE_DOTENV_TEST_QUOTED="two words"\n',
    );
    process.env.CE_DOTENV_TEST_SET = 'from-env';
    expect(loadDotEnv(file)).toBe(true);
    expect(process.env.CE_DOTENV_TEST_SET).toBe('from-env');
    expect(process.env.CE_DOTENV_TEST_NEW).toBe('from-file');
    expect(process.env.CE_DOTENV_TEST_QUOTED).toBe('two words');
  });

  it('is optional: no file, nothing loaded', () => {
    expect(loadDotEnv(path.join(dir, 'absent.env'))).toBe(false);
  });
});
