import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { connectors as registered } from '../connectors/registry.ts';
import type { ConnectorDefinition } from '../connectors/toolkit/connector-definition.ts';

/**
 * Writes sdk/src/generated/actions.ts: one TypeScript type per action input, per action output and per connector's
 * credentials, converted from the same zod schemas the engine validates with (via JSON Schema, the
 * form the catalog publishes). `--check` only compares and exits 1 on drift (for CI).
 *
 * The converter covers what zod 4 emits for our schemas and throws on anything else, so a new
 * construct fails loudly here instead of turning into a silently wrong type.
 */
export const GENERATED_FILE = fileURLToPath(new URL('../sdk/src/generated/actions.ts', import.meta.url));

type JsonSchema = { [key: string]: unknown } | boolean;

/** Constraints TypeScript cannot express, kept as JSDoc tags so editors still show them. */
const DOC_TAGS = [
  'default',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minItems',
  'maxItems',
  'multipleOf',
];

/** Keys we read or deliberately ignore; any other key means the converter needs teaching. */
const KNOWN_KEYS = new Set([
  '$schema',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'enum',
  'const',
  'anyOf',
  'oneOf',
  'allOf',
  'description',
  ...DOC_TAGS,
]);

const pascal = (s: string) =>
  s
    .replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())
    .replace(/^./, (c) => c.toUpperCase());
const propertyKey = (key: string) => (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? key : JSON.stringify(key));

function jsDoc(lines: string[], indent: string): string {
  const clean = lines.flatMap((l) => l.split('\n')).map((l) => l.replace(/\*\//g, '*\\/'));
  if (clean.length === 0) return '';
  if (clean.length === 1) return `${indent}/** ${clean[0]} */\n`;
  return `${indent}/**\n${clean.map((l) => `${indent} * ${l}`).join('\n')}\n${indent} */\n`;
}

function docLines(schema: JsonSchema): string[] {
  if (typeof schema === 'boolean') return [];
  const lines = typeof schema.description === 'string' ? [schema.description] : [];
  for (const tag of DOC_TAGS)
    if (schema[tag] !== undefined)
      lines.push(
        `@${tag} ${typeof schema[tag] === 'string' && tag !== 'default' ? schema[tag] : JSON.stringify(schema[tag])}`,
      );
  return lines;
}

/** An array element or intersection member needs parentheses when it is a union at its top level. */
function wrap(type: string): string {
  let depth = 0;
  for (let i = 0; i < type.length; i++) {
    const c = type[i];
    if (c === '{' || c === '(' || c === '[' || c === '<') depth++;
    else if (c === '}' || c === ')' || c === ']' || c === '>') depth--;
    else if (depth === 0 && (c === '|' || c === '&')) return `(${type})`;
  }
  return type;
}

export function toTsType(schema: JsonSchema, indent = ''): string {
  if (schema === true) return 'unknown';
  if (schema === false) return 'never';
  for (const key of Object.keys(schema))
    if (!KNOWN_KEYS.has(key)) throw new Error(`generate-sdk-types: unsupported JSON Schema keyword "${key}"`);
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  for (const key of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(schema[key])) return (schema[key] as JsonSchema[]).map((s) => toTsType(s, indent)).join(' | ');
  }
  if (Array.isArray(schema.allOf))
    return (schema.allOf as JsonSchema[]).map((s) => wrap(toTsType(s, indent))).join(' & ');
  if (Array.isArray(schema.type)) return schema.type.map((type) => toTsType({ ...schema, type }, indent)).join(' | ');
  switch (schema.type) {
    case undefined:
      return 'unknown';
    case 'string':
      return 'string';
    case 'number':
    case 'integer':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'array':
      return schema.items === undefined ? 'unknown[]' : `${wrap(toTsType(schema.items as JsonSchema, indent))}[]`;
    case 'object':
      return objectType(schema, indent);
    default:
      throw new Error(`generate-sdk-types: unsupported JSON Schema type ${JSON.stringify(schema.type)}`);
  }
}

function objectType(schema: { [key: string]: unknown }, indent: string): string {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  const extra = schema.additionalProperties as JsonSchema | undefined;
  // No additionalProperties keyword: zod strips unknown keys, so the type lists only the known ones.
  const indexType = extra === undefined || extra === false ? undefined : toTsType(extra, `${indent}  `);
  if (Object.keys(properties).length === 0)
    return indexType === undefined ? 'Record<string, never>' : `Record<string, ${indexType}>`;
  const inner = `${indent}  `;
  let body = '';
  for (const [key, prop] of Object.entries(properties)) {
    body += jsDoc(docLines(prop), inner);
    body += `${inner}${propertyKey(key)}${required.has(key) ? '' : '?'}: ${toTsType(prop, inner)};\n`;
  }
  if (indexType !== undefined) body += `${inner}[key: string]: ${indexType};\n`;
  return `{\n${body}${indent}}`;
}

const SECTION = (id: string) => `// ---- connector: ${id} ----\n`;

function connectorSection(connector: ConnectorDefinition): string {
  const prefix = pascal(connector.displayName);
  const auth =
    connector.auth.type === 'oauth2'
      ? 'given directly; OAuth creates them for you'
      : connector.auth.type === 'basic'
        ? 'HTTP Basic'
        : 'an API key';
  let out = SECTION(connector.id);
  out += jsDoc([`The \`credentials\` of ${connector.displayName} connections (${auth}).`], '');
  out += `export interface ${prefix}Credentials ${toTsType(z.toJSONSchema(connector.credentials, { io: 'input' }) as JsonSchema)}\n\n`;
  for (const action of connector.actions) {
    const name = `${prefix}${pascal(action.id)}`;
    const input = z.toJSONSchema(action.input, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
    if (typeof input === 'boolean' || input.type !== 'object')
      throw new Error(`generate-sdk-types: ${connector.id}.${action.id} input is not an object`);
    out += jsDoc(
      [
        `Input of \`${connector.id}.${action.id}\` (${action.displayName}; side effects: ${action.sideEffects}).`,
        action.description,
      ],
      '',
    );
    out += `export interface ${name}Input ${toTsType(input)}\n\n`;
    const output = z.toJSONSchema(action.output, { io: 'output', unrepresentable: 'any' }) as JsonSchema;
    if (typeof output === 'boolean' || output.type !== 'object')
      throw new Error(`generate-sdk-types: ${connector.id}.${action.id} output is not an object`);
    out += jsDoc([`Output of \`${connector.id}.${action.id}\` (the execution's \`output\`).`], '');
    out += `export interface ${name}Output ${toTsType(output)}\n\n`;
  }
  return out;
}

function typeMap(connectors: readonly ConnectorDefinition[], suffix: 'Input' | 'Output'): string {
  return connectors
    .map((c) => {
      const prefix = pascal(c.displayName);
      const actions = c.actions.map((a) => `    ${propertyKey(a.id)}: ${prefix}${pascal(a.id)}${suffix};`).join('\n');
      return `  ${propertyKey(c.id)}: {\n${actions}\n  };`;
    })
    .join('\n');
}

/**
 * The whole generated file for the given connectors (default: every registered one), as a string:
 * deterministic, so a re-run can be compared byte for byte.
 */
export function generateSdkTypes(only: readonly ConnectorDefinition[] = registered): string {
  let out =
    "// Generated by scripts/generate-sdk-types.ts from the engine's zod schemas (connectors/registry.ts).\n" +
    '// Do not edit by hand: run `npm run sdk:types`. test/sdk/generator.test.ts fails when this file drifts.\n\n';
  for (const connector of only) out += connectorSection(connector);
  out += `// ---- maps ----\n`;
  out += `/** Every action's input type, by connector id and action id. */\nexport interface ActionInputs {\n${typeMap(only, 'Input')}\n}\n\n`;
  out += `/** Every action's output type, by connector id and action id. */\nexport interface ActionOutputs {\n${typeMap(only, 'Output')}\n}\n\n`;
  const credentials = only.map((c) => `  ${propertyKey(c.id)}: ${pascal(c.displayName)}Credentials;`).join('\n');
  out += `/** The \`credentials\` object of a connection, by connector id. */\nexport interface ConnectorCredentials {\n${credentials}\n}\n`;
  return out;
}

/** The connector ids a generated file covers. */
export function connectorsIn(generated: string): string[] {
  return [...generated.matchAll(/^\/\/ ---- connector: (\S+) ----$/gm)].map((m) => m[1]!);
}

/**
 * Drift of a committed file: it must be exactly what the generator writes for the connectors it
 * covers. A connector added since is reported as missing, not as drift: the SDK is released on its
 * own cadence, and `npm run sdk:types` brings it in (a new connector needs no edit outside its folder,
 * its fake and its registry line).
 */
export function checkGenerated(current: string): { drifted: boolean; missing: string[] } {
  const covered = new Set(connectorsIn(current));
  const known = registered.filter((c) => covered.has(c.id));
  const unknown = [...covered].filter((id) => !registered.some((c) => c.id === id));
  return {
    drifted: unknown.length > 0 || current !== generateSdkTypes(known),
    missing: registered.filter((c) => !covered.has(c.id)).map((c) => c.id),
  };
}

function main(): void {
  const generated = generateSdkTypes();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(GENERATED_FILE, 'utf8');
    } catch {
      // missing counts as drift
    }
    const { drifted, missing } = checkGenerated(current);
    if (drifted) {
      console.error('sdk/src/generated/actions.ts is out of date: run `npm run sdk:types`.');
      process.exit(1);
    }
    console.log(
      `sdk/src/generated/actions.ts is up to date${missing.length ? ` (not yet in the SDK: ${missing.join(', ')})` : ''}.`,
    );
    return;
  }
  writeFileSync(GENERATED_FILE, generated);
  console.log(`wrote ${GENERATED_FILE}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
