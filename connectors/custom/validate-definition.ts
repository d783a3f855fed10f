import { findConnector } from '../registry.ts';
import { type CustomConnectorDefinition, customConnectorDefinition } from './definition-schema.ts';
import { newSchemaCompiler } from './json-schema-input.ts';

export interface DefinitionIssue {
  /** Dotted path inside the definition, e.g. `actions[0].inputSchema`. */
  path: (string | number)[];
  message: string;
}

/**
 * Everything that can be checked of a definition without the network or the database: its shape
 * and cross-field rules (definition-schema.ts), that its id is no built-in's, and that every JSON
 * Schema it carries compiles. The api adds the egress check of its URLs.
 */
export function validateDefinition(
  value: unknown,
): { ok: true; definition: CustomConnectorDefinition } | { ok: false; issues: DefinitionIssue[] } {
  const parsed = customConnectorDefinition.safeParse(value);
  if (!parsed.success)
    return {
      ok: false,
      issues: parsed.error.issues
        .slice(0, 100)
        .map((i) => ({ path: i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)), message: i.message })),
    };
  const def = parsed.data;
  const issues: DefinitionIssue[] = [];
  if (findConnector(def.id)) issues.push({ path: ['id'], message: `${def.id} is a built-in connector's id` });
  // One compiler for the connector, as when it is compiled to run: ids that clash across actions show here too.
  const schemas = newSchemaCompiler();
  def.actions.forEach((a, i) => {
    const inputProblem = schemas.problemOf(a.inputSchema);
    if (inputProblem)
      issues.push({ path: ['actions', i, 'inputSchema'], message: `is not a valid JSON Schema: ${inputProblem}` });
    const outputProblem = a.outputSchema && newSchemaCompiler().problemOf(a.outputSchema);
    if (outputProblem)
      issues.push({ path: ['actions', i, 'outputSchema'], message: `is not a valid JSON Schema: ${outputProblem}` });
    for (const [n, example] of (a.examples ?? []).entries()) {
      if (inputProblem) break;
      const check = schemas.zodFor(a.inputSchema).safeParse(example.input);
      if (!check.success)
        issues.push({
          path: ['actions', i, 'examples', n, 'input'],
          message: `does not fit inputSchema: ${check.error.issues[0]?.message}`,
        });
    }
  });
  return issues.length ? { ok: false, issues } : { ok: true, definition: def };
}
