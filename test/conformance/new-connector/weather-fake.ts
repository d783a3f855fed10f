// The fake of the worked example (see weather-connector.ts beside it): copied to
// test/fakes/weather/weather-fake.ts by test/conformance/new-connector.test.ts.
import type { StartConformanceFake } from '../../conformance/fake-contract.ts';
import { type FakeResponse, startFakeServer } from '../support/fake-server.ts';

export const WEATHER_FAKE_KEY = 'wk_fake0123456789abcdef';

const error = (status: number, code: string, message: string, headers?: Record<string, string>): FakeResponse => ({
  status,
  headers,
  body: { error: { code, message } },
});

export const startConformanceFake: StartConformanceFake = async () => {
  const server = await startFakeServer((req, ctx) => {
    if (req.headers['x-api-key'] !== WEATHER_FAKE_KEY) return error(401, 'invalid_key', 'The API key is not valid.');
    const injected = ctx.takeInjectedResponse();
    if (injected) return injected;
    if (req.method === 'GET' && req.path === '/v1/account') return { status: 200, body: { plan: 'free' } };
    if (req.method === 'GET' && req.path === '/v1/forecast') {
      const days = Number(req.query.days ?? 3);
      return {
        status: 200,
        body: {
          city: req.query.city,
          days: Array.from({ length: days }, (_, i) => ({
            date: `2026-12-0${i + 1}`,
            high_c: 16 + i,
            low_c: 9 + i,
            summary: 'Sunny',
          })),
        },
      };
    }
    return error(404, 'not_found', `No route ${req.method} ${req.path}.`);
  });
  return {
    apiUrl: server.url,
    credentials: { apiKey: WEATHER_FAKE_KEY },
    rejectedCredentials: { apiKey: 'wk_revoked0000000000' },
    failNext(kind) {
      if (kind === 'rate_limited') server.failNext(1, error(429, 'rate_limited', 'Slow down.', { 'retry-after': '1' }));
      else if (kind === 'server_error') server.failNext(1, error(500, 'internal', 'Something broke.'));
      else server.failNext(1, error(403, 'plan_forbids', 'Your plan does not include forecasts.'));
    },
    close: () => server.close(),
  };
};
