import type { ApiClient } from '../../support/http.ts';

/** A definition of the items fake, as a workspace would write it (docs/custom-connectors.md). */
export function itemsDefinition(baseUrl: string, overrides: Record<string, unknown> = {}) {
  return {
    id: 'custom-items',
    displayName: 'Items',
    description: 'A small items service.',
    baseUrl: `${baseUrl}/v1`,
    auth: { type: 'api_key', in: 'header', name: 'X-Api-Key' },
    credentialTest: { method: 'GET', path: '/me' },
    rateLimit: { requestsPerMinute: 600 },
    errors: {
      codePointer: '/error/code',
      messagePointer: '/error/message',
      rules: [
        { status: 401, means: 'invalid_credentials' },
        { status: 503, means: 'transient' },
      ],
      retryAfter: { header: 'Retry-After', unit: 'seconds' },
    },
    actions: [
      {
        id: 'getItem',
        displayName: 'Get an item',
        description: 'One item by id.',
        sideEffects: 'read',
        method: 'GET',
        path: '/items/{input.id}',
        inputSchema: {
          type: 'object',
          properties: { id: { type: 'string', minLength: 1 } },
          required: ['id'],
          additionalProperties: false,
        },
        output: { pointer: '/item' },
        outputSchema: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } },
      },
      {
        id: 'listItems',
        displayName: 'List items',
        description: 'Items, a page at a time.',
        sideEffects: 'read',
        method: 'GET',
        path: '/items',
        query: { limit: '{input.limit}', cursor: '{input.cursor}' },
        inputSchema: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 100 }, cursor: { type: 'string' } },
        },
        output: { pointer: '/items' },
        pagination: { nextCursor: '/next' },
      },
      {
        id: 'createItem',
        displayName: 'Create an item',
        description: 'Adds an item.',
        sideEffects: 'write',
        method: 'POST',
        path: '/items',
        body: { encoding: 'json' },
        idempotencyHeader: 'Idempotency-Key',
        inputSchema: {
          type: 'object',
          properties: { name: { type: 'string', minLength: 1 } },
          required: ['name'],
          additionalProperties: false,
        },
        output: { fields: { id: '/item/id', name: '/item/name' } },
      },
    ],
    ...overrides,
  };
}

export async function waitForTerminal(client: ApiClient, id: string) {
  for (let i = 0; i < 300; i++) {
    const inv = await client.get(`/v1/invocations/${id}`);
    if (inv.body.status === 'succeeded' || inv.body.status === 'failed') return inv.body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('invocation did not finish');
}
