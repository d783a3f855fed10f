// A worked example of a new connector (connectors/README.md), used by
// test/conformance/new-connector.test.ts, which copies it to connectors/weather/ in a scratch copy of
// the repository. Excluded from the repository's own typecheck: its imports resolve from there.
import { z } from 'zod';
import { apiKeyAuth } from '../toolkit/auth.ts';
import { defineAction, defineConnector } from '../toolkit/connector-definition.ts';
import { type ErrorTable, stringAt } from '../toolkit/error-table.ts';

/** The service's errors: `{"error":{"code":"…","message":"…"}}` on every 4xx and 5xx. */
const weatherErrors: ErrorTable = {
  codeOf: (body) => stringAt(body, 'error', 'code'),
  messageOf: (body) => stringAt(body, 'error', 'message'),
  byCode: {
    invalid_key: 'auth_invalid',
    key_revoked: 'auth_invalid',
    plan_forbids: 'permission',
    rate_limited: 'rate_limited',
  },
  byStatus: { 401: 'auth_invalid', 403: 'permission' },
};

const getForecast = defineAction({
  id: 'getForecast',
  displayName: 'Get a forecast',
  description: 'The daily forecast of a city, for up to 7 days.',
  sideEffects: 'read',
  input: z
    .object({ city: z.string().min(1).max(100), days: z.number().int().min(1).max(7).optional().describe('Default 3') })
    .strict(),
  output: z.object({
    city: z.string(),
    days: z.array(
      z.object({ date: z.string().describe('YYYY-MM-DD'), highC: z.number(), lowC: z.number(), summary: z.string() }),
    ),
  }),
  examples: [{ summary: 'Three days in Lisbon', input: { city: 'Lisbon', days: 3 } }],
  async run(ctx, input) {
    const res = await ctx.http.request<{
      city: string;
      days: { date: string; high_c: number; low_c: number; summary: string }[];
    }>({
      method: 'GET',
      path: '/v1/forecast',
      query: { city: input.city, days: input.days ?? 3 },
    });
    return {
      city: res.body.city,
      days: res.body.days.map((d) => ({ date: d.date, highC: d.high_c, lowC: d.low_c, summary: d.summary })),
    };
  },
});

export const weatherConnector = defineConnector({
  id: 'weather',
  displayName: 'Weather',
  category: 'data',
  description: 'Daily forecasts by city.',
  baseUrl: 'https://api.weather.example.com',
  auth: apiKeyAuth({ header: 'x-api-key' }),
  credentials: z
    .object({ apiKey: z.string().regex(/^wk_[A-Za-z0-9]{16,}$/, 'must be a Weather API key (wk_…)') })
    .strict(),
  rateLimit: { requestsPerMinute: 60 },
  credentialTest: { method: 'GET', path: '/v1/account' },
  errors: weatherErrors,
  actions: [getForecast],
});
