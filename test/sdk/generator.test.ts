import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { connectors } from '../../connectors/registry.ts';
import {
  checkGenerated,
  connectorsIn,
  GENERATED_FILE,
  generateSdkTypes,
  toTsType,
} from '../../scripts/generate-sdk-types.ts';

/** sdk/src/generated/actions.ts is source for the build: it must be exactly what the generator writes. */
describe('scripts/generate-sdk-types.ts', () => {
  it('re-running it produces the committed file, byte for byte, for the connectors the file covers', () => {
    const committed = readFileSync(GENERATED_FILE, 'utf8');
    const covered = connectorsIn(committed);
    expect(covered.length).toBeGreaterThan(0);
    expect(generateSdkTypes(connectors.filter((c) => covered.includes(c.id)))).toBe(committed);
    expect(checkGenerated(committed).drifted).toBe(false);
  });

  it('fails on drift: a type that no longer matches its schema, or a connector the engine no longer has', () => {
    const committed = readFileSync(GENERATED_FILE, 'utf8');
    expect(checkGenerated(committed.replace('nextCursor: string | null;', 'nextCursor: string;')).drifted).toBe(true);
    expect(
      checkGenerated(committed.replace('// ---- maps ----', '// ---- connector: gone ----\n// ---- maps ----')).drifted,
    ).toBe(true);
  });

  it('reports a connector added since as missing from the SDK, not as drift (`npm run sdk:types` brings it in)', () => {
    const withoutSlack = generateSdkTypes(connectors.filter((c) => c.id !== 'slack'));
    expect(checkGenerated(withoutSlack)).toEqual({ drifted: false, missing: ['slack'] });
  });

  it('--check passes from the command line', () => {
    const tsx = createRequire(import.meta.url).resolve('tsx/cli');
    const run = spawnSync(process.execPath, [tsx, 'scripts/generate-sdk-types.ts', '--check'], {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  }, 30_000);

  it('converts the JSON Schema constructs zod emits', () => {
    expect(toTsType({ type: 'string', enum: ['a', 'b'] })).toBe('"a" | "b"');
    expect(toTsType({ type: ['string', 'number'] })).toBe('string | number');
    expect(toTsType({ type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'null' }] } })).toBe(
      '(string | null)[]',
    );
    expect(toTsType({ type: 'integer' })).toBe('number');
    expect(toTsType({ type: 'object', additionalProperties: {} })).toBe('Record<string, unknown>');
    expect(
      toTsType({ type: 'object', propertyNames: { type: 'string' }, additionalProperties: { type: 'boolean' } }),
    ).toBe('Record<string, boolean>');
    expect(toTsType({ const: 'x' })).toBe('"x"');
    expect(toTsType({})).toBe('unknown');
    expect(
      toTsType({
        type: 'object',
        properties: { 'a-b': { type: 'string', description: 'Dash */ key', minLength: 1 }, c: { type: 'boolean' } },
        required: ['a-b'],
        additionalProperties: { type: 'number' },
      }),
    ).toBe(
      '{\n  /**\n   * Dash *\\/ key\n   * @minLength 1\n   */\n  "a-b": string;\n  c?: boolean;\n  [key: string]: number;\n}',
    );
  });

  it('refuses constructs it does not know rather than guessing', () => {
    expect(() => toTsType({ $ref: '#/$defs/x' })).toThrow(/\$ref/);
    expect(() =>
      toTsType({ type: 'object', properties: { x: { type: 'string', contentEncoding: 'base64' } } }),
    ).toThrow(/contentEncoding/);
  });
});
