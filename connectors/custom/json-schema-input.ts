import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import * as addFormatsModule from 'ajv-formats';
import { z } from 'zod';

// ajv-formats is CommonJS: its default export arrives as the module object under some loaders.
type AddFormats = (ajv: Ajv2020) => unknown;
export const addFormats: AddFormats =
  (addFormatsModule as unknown as { default: { default?: AddFormats } & AddFormats }).default.default ??
  (addFormatsModule as unknown as { default: AddFormats }).default;

/** Keywords that name documents rather than describe values: dropped, so a schema stands alone. */
const DOCUMENT_KEYWORDS = ['$schema', '$id', 'id'];

/** A JSON Schema as ajv and the catalog take it: top-level document keywords removed. */
export function standaloneSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const copy = { ...schema };
  for (const k of DOCUMENT_KEYWORDS) delete copy[k];
  return copy;
}

/**
 * One JSON Schema validator per custom connector version: ajv caches every schema it compiles for
 * the life of its instance, so an instance per version is dropped with it from the compiled cache.
 */
export function newSchemaCompiler() {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true, logger: false });
  addFormats(ajv);
  const made = new WeakMap<object, z.ZodType<Record<string, unknown>>>();
  return {
    /**
     * A zod schema that validates with ajv (each ajv error becomes an issue with its path) and
     * carries the JSON Schema as its metadata, so the catalog, tools and MCP publish it unchanged.
     * Throws when the JSON Schema itself is invalid.
     */
    zodFor(schema: Record<string, unknown>): z.ZodType<Record<string, unknown>> {
      const known = made.get(schema);
      if (known) return known;
      const standalone = standaloneSchema(schema);
      const validate = ajv.compile(standalone);
      const zod = z
        .custom<Record<string, unknown>>(() => true)
        .superRefine((value, ctx) => {
          if (validate(value)) return;
          for (const e of (validate.errors ?? []).slice(0, 50))
            ctx.addIssue({ code: 'custom', path: issuePath(e), message: e.message ?? 'is invalid' });
        })
        .meta(standalone);
      made.set(schema, zod);
      return zod;
    },
    /** Why a JSON Schema does not compile, or null when it does. */
    problemOf(schema: Record<string, unknown>): string | null {
      try {
        this.zodFor(schema);
        return null;
      } catch (err) {
        return (err as Error).message.slice(0, 300);
      }
    },
  };
}

/** The input path an ajv error is about: its instance path, plus the missing or extra property it names. */
function issuePath(e: ErrorObject): (string | number)[] {
  const path: (string | number)[] = e.instancePath
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((t) => (/^\d+$/.test(t) ? Number(t) : t));
  const params = e.params as { missingProperty?: string; additionalProperty?: string };
  if (params.missingProperty !== undefined) path.push(params.missingProperty);
  if (params.additionalProperty !== undefined) path.push(params.additionalProperty);
  return path;
}
