import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The SDK's compile-time guarantees (test/sdk/types/sdk-types.ts): typos in actionId or input
 * fields do not compile, outputs are typed, and the SDK's types equal the engine's.
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const tsconfig = fileURLToPath(new URL('./types/tsconfig.json', import.meta.url));
const typesFile = fileURLToPath(new URL('./types/sdk-types.ts', import.meta.url));

describe('SDK types', () => {
  it('compile: correct usages pass and every @ts-expect-error meets an error', () => {
    const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit', '-p', tsconfig], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  }, 180_000);

  it('each expected error is the announced one, and there are no others', () => {
    // Compile the file once more with the directives turned into plain comments, and match each
    // line's errors with the text the directive announced.
    const original = readFileSync(typesFile, 'utf8');
    const expected = new Map<number, string>();
    const edited = original
      .split('\n')
      .map((line, i) => {
        const m = /\/\/ @ts-expect-error (.+)$/.exec(line);
        if (!m) return line;
        expected.set(i + 1, m[1]!.trim());
        return line.replace('@ts-expect-error', 'expect-error');
      })
      .join('\n');
    expect(expected.size).toBeGreaterThanOrEqual(10);

    const config = ts.getParsedCommandLineOfConfigFile(
      tsconfig,
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(String(d.messageText));
        },
      },
    )!;
    const host = ts.createCompilerHost(config.options);
    const getSourceFile = host.getSourceFile;
    host.getSourceFile = (name, language, ...rest) =>
      ts.sys.resolvePath(name) === ts.sys.resolvePath(typesFile)
        ? ts.createSourceFile(name, edited, language)
        : getSourceFile.call(host, name, language, ...rest);
    const program = ts.createProgram(config.fileNames, config.options, host);
    const errors = new Map<number, string[]>();
    for (const d of ts.getPreEmitDiagnostics(program)) {
      const file = d.file ? ts.sys.resolvePath(d.file.fileName) : '';
      if (file !== ts.sys.resolvePath(typesFile))
        throw new Error(`unexpected error in ${file}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
      const line = d.file!.getLineAndCharacterOfPosition(d.start!).line; // 0-based: the line after the directive
      errors.set(line, [...(errors.get(line) ?? []), ts.flattenDiagnosticMessageText(d.messageText, '\n')]);
    }
    for (const [line, text] of expected) {
      expect(errors.get(line)?.join('\n') ?? '(no error)', `line ${line + 1}`).toContain(text);
      errors.delete(line);
    }
    expect([...errors]).toEqual([]);
  }, 180_000);
});
