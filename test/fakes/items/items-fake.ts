// A small HTTP service written for the custom connector tests, not modelled on a real one: a key in
// `X-Api-Key`, items to read, list (cursor pagination) and create. It is what a workspace would
// describe with a custom connector definition (test/e2e/custom-connectors.test.ts).
import { type FakeResponse, type FakeServer, type RecordedRequest, startFakeServer } from '../support/fake-server.ts';

export const ITEMS_FAKE_KEY = 'items_key_valid_0123456789';

export interface ItemsFake extends FakeServer {
  items: { id: string; name: string }[];
  /** Keys the service accepts; remove one to "revoke" it. */
  keys: Set<string>;
}

const error = (status: number, code: string, message: string, headers?: Record<string, string>): FakeResponse => ({
  status,
  headers,
  body: { error: { code, message } },
});

export async function startItemsFake(): Promise<ItemsFake> {
  const state = { items: [] as { id: string; name: string }[], keys: new Set([ITEMS_FAKE_KEY]) };
  const reset = () => {
    state.items = [
      { id: 'it_1', name: 'First' },
      { id: 'it_2', name: 'Second' },
      { id: 'it_3', name: 'Third' },
    ];
    state.keys = new Set([ITEMS_FAKE_KEY]);
  };
  reset();
  const server = await startFakeServer(async (req: RecordedRequest, ctx) => {
    if (!state.keys.has(req.headers['x-api-key'] ?? '')) return error(401, 'invalid_key', 'The API key is invalid.');
    const injected = ctx.takeInjectedResponse();
    if (injected) return injected;
    await ctx.simulateLatency();
    const one = /^\/v1\/items\/([^/]+)$/.exec(req.path);
    if (req.method === 'GET' && req.path === '/v1/me') return { status: 200, body: { account: 'acct_1' } };
    if (req.method === 'GET' && one) {
      const item = state.items.find((i) => i.id === decodeURIComponent(one[1]!));
      return item ? { status: 200, body: { item } } : error(404, 'not_found', 'No such item.');
    }
    if (req.method === 'GET' && req.path === '/v1/items') {
      const limit = Number(req.query.limit ?? 2);
      const start = req.query.cursor ? Number(req.query.cursor) : 0;
      const page = state.items.slice(start, start + limit);
      return {
        status: 200,
        body: { items: page, next: start + limit < state.items.length ? String(start + limit) : null },
      };
    }
    if (req.method === 'POST' && req.path === '/v1/items') {
      const name = (req.json as { name?: unknown } | undefined)?.name;
      if (typeof name !== 'string') return error(422, 'invalid_name', 'name is required');
      const item = { id: `it_${state.items.length + 1}`, name };
      state.items.push(item);
      return { status: 201, body: { item } };
    }
    return error(404, 'not_found', 'No such route.');
  });
  const baseReset = server.reset.bind(server);
  Object.defineProperties(server, {
    items: { get: () => state.items },
    keys: { get: () => state.keys },
    reset: {
      value: () => {
        baseReset();
        reset();
      },
    },
  });
  return server as ItemsFake;
}
