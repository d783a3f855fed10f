import { z } from 'zod';
import { customConnectorDefinition } from './definition-schema.ts';

/**
 * The published JSON Schema of a custom connector definition (docs/custom-connector.schema.json),
 * generated from the zod schema that validates POST /v1/connectors, so the two cannot drift
 * (test/unit/custom-connector-definition.test.ts compares the file with this). Cross-field rules
 * (placeholders naming required input, unique action ids, ...) are checked by the api only.
 */
export function customConnectorJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(customConnectorDefinition, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://github.com/connector-engine/connector-engine/docs/custom-connector.schema.json',
    title: 'Custom connector definition',
    description:
      'The body field `definition` of POST /v1/connectors and PUT /v1/connectors/{id}. docs/custom-connectors.md explains every field.',
  };
}
