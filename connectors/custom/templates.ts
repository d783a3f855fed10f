/**
 * The two small languages of a custom connector definition: JSON Pointers (RFC 6901) that pick
 * values out of an upstream's answer, and `{input.<path>}` placeholders that put the caller's input
 * into a request. Both are data, evaluated here, never code.
 */

/** `{input.a.b}` (also `{input.items.0}`): a placeholder naming a value of the caller's input. */
export const PLACEHOLDER = /\{input((?:\.[A-Za-z0-9_$-]+)+)\}/g;
const WHOLE_PLACEHOLDER = /^\{input((?:\.[A-Za-z0-9_$-]+)+)\}$/;
/** Anything between braces, to find placeholders that are not of the `{input.<path>}` form. */
const ANY_BRACES = /\{([^{}]*)\}/g;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A JSON Pointer is "" (the whole document) or a sequence of `/token`s. */
export function isJsonPointer(pointer: string): boolean {
  return pointer === '' || (pointer.startsWith('/') && !/~[^01]/.test(pointer) && !pointer.endsWith('~'));
}

/** The value at `pointer` in `doc`, or undefined when any step is missing. */
export function valueAtPointer(doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc;
  let node: unknown = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) node = /^(0|[1-9]\d*)$/.test(token) ? node[Number(token)] : undefined;
    else if (isObject(node)) node = Object.hasOwn(node, token) ? node[token] : undefined;
    else return undefined;
  }
  return node;
}

/** The input path of every placeholder in a template string, e.g. `['id']` for `/items/{input.id}`. */
export function placeholdersOf(template: string): string[][] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!.slice(1).split('.'));
}

/** Brace expressions of a template that are not `{input.<path>}` placeholders (mistakes in a definition). */
export function strayBraces(template: string): string[] {
  return [...template.matchAll(ANY_BRACES)].map((m) => m[0]).filter((t) => !WHOLE_PLACEHOLDER.test(t));
}

function inputAt(input: unknown, path: readonly string[]): unknown {
  let node = input;
  for (const key of path) {
    if (Array.isArray(node) && /^\d+$/.test(key)) node = node[Number(key)];
    else if (isObject(node) && Object.hasOwn(node, key)) node = node[key];
    else return undefined;
  }
  return node;
}

const asText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * A template string filled from the input. A template that is one placeholder alone gives undefined
 * when the input lacks the value, so an optional field is left out rather than sent empty; as a
 * `value` (a JSON body) it also keeps its type (a number stays a number). Inside text, values are
 * inserted as text, URL-encoded in a `path`.
 */
export function renderString(template: string, input: unknown, mode: 'value' | 'text' | 'path'): unknown {
  const whole = WHOLE_PLACEHOLDER.exec(template);
  if (whole && mode !== 'path') {
    const value = inputAt(input, whole[1]!.slice(1).split('.'));
    return mode === 'value' || value === undefined || value === null ? (value ?? undefined) : asText(value);
  }
  return template.replace(PLACEHOLDER, (_m, path: string) => {
    const value = inputAt(input, path.slice(1).split('.'));
    if (value === undefined || value === null) return '';
    return mode === 'path' ? encodeURIComponent(asText(value)) : asText(value);
  });
}

/** A JSON template (the request body) filled from the input; keys whose value is missing are left out. */
export function renderJson(template: unknown, input: unknown): unknown {
  if (typeof template === 'string') return renderString(template, input, 'value');
  if (Array.isArray(template)) return template.map((t) => renderJson(t, input)).filter((v) => v !== undefined);
  if (isObject(template)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(template)) {
      const value = renderJson(v, input);
      if (value !== undefined) out[k] = value;
    }
    return out;
  }
  return template;
}

/** Every template string inside a JSON template, for checking a definition. */
export function templateStrings(template: unknown): string[] {
  if (typeof template === 'string') return [template];
  if (Array.isArray(template)) return template.flatMap(templateStrings);
  if (isObject(template)) return Object.values(template).flatMap(templateStrings);
  return [];
}
