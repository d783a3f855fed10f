import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  GOOGLE_FAKE_ACCESS_TOKEN,
  GOOGLE_FAKE_READONLY_TOKEN,
  type GoogleFake,
  SHEETS_FAKE_ORDERS_ID,
  SHEETS_QUICKSTART_ID,
  startGoogleFake,
} from '../fakes/google/google-fake.ts';
import { expectPublishedShape, type Mode, publishedOutputSchemas, runAction } from '../support/actions.ts';
import { type Engine, startEngine } from '../support/engine.ts';
import { type ApiClient, apiClient, setUpProject } from '../support/http.ts';

/**
 * Both Google Sheets actions through HTTP → queue → worker → the Google fake, sync and async: the
 * spreadsheet id and A1 range percent-encoded in the path, valueInputOption always sent (Sheets
 * answers 400 without it), the JSON body, and what the fake's grid holds afterwards. Appending is
 * not idempotent, so an append that may have run is never repeated.
 */
describe('Google Sheets connector end to end (access token)', () => {
  let fake: GoogleFake;
  let engine: Engine;
  let admin: ApiClient;
  let client: ApiClient;
  let connectionId: string;
  let outputSchemas: Map<string, z.ZodType>;

  beforeAll(async () => {
    fake = await startGoogleFake();
    engine = await startEngine({ env: { GOOGLESHEETS_API_URL: fake.url } });
    admin = apiClient(engine.baseUrl, engine.workspaceKey);
    const setup = await setUpProject(admin, {
      connectorId: 'googlesheets',
      credentials: { accessToken: GOOGLE_FAKE_ACCESS_TOKEN },
    });
    expect(setup.connectionStatus).toBe('active');
    connectionId = setup.connectionId;
    client = apiClient(engine.baseUrl, setup.projectKey);
    // The credential test read one cell of Google's public quickstart sheet.
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /v4/spreadsheets/${SHEETS_QUICKSTART_ID}/values/Class%20Data!A1%3AA1`,
    ]);
    const catalog = await apiClient(engine.baseUrl).get('/v1/connectors/googlesheets');
    expect(catalog.body).toMatchObject({
      authType: 'oauth2',
      authFields: [
        { key: 'accessToken', secret: true, required: true },
        { key: 'refreshToken', secret: true, required: false },
      ],
    });
    outputSchemas = await publishedOutputSchemas(engine.baseUrl, 'googlesheets');
  }, 90_000);
  afterAll(async () => {
    await engine?.stop();
    await fake?.close();
  });
  beforeEach(() => fake.reset());

  async function run(mode: Mode, actionId: string, input: unknown): Promise<any> {
    const { output } = await runAction(client, mode, { connectorId: 'googlesheets', actionId, input });
    expectPublishedShape(outputSchemas, actionId, output);
    return output;
  }
  const ordersPath = (encodedRange: string) => `/v4/spreadsheets/${SHEETS_FAKE_ORDERS_ID}/values/${encodedRange}`;
  const orders = () => fake.sheets.sheetValues(SHEETS_FAKE_ORDERS_ID, 'Orders');

  describe.each(['sync', 'async'] as const)('%s', (mode) => {
    it('appendRows POSTs the rows as JSON to …/values/{range}:append with valueInputOption=USER_ENTERED by default', async () => {
      const output = await run(mode, 'appendRows', {
        spreadsheetId: SHEETS_FAKE_ORDERS_ID,
        range: 'Orders!A:D',
        values: [
          ['2024-05-01', 'A-1001', '2', 19.9],
          ['2024-05-02', 'A-1002', 1, null],
        ],
      });
      const [request] = fake.requests;
      expect(fake.requests).toHaveLength(1);
      expect(request!.method).toBe('POST');
      expect(request!.path).toBe(ordersPath('Orders!A%3AD:append'));
      expect(request!.rawQuery).toBe('valueInputOption=USER_ENTERED');
      expect(request!.headers.authorization).toBe(`Bearer ${GOOGLE_FAKE_ACCESS_TOKEN}`);
      expect(request!.headers['content-type']).toMatch(/^application\/json/);
      expect(request!.json).toEqual({
        majorDimension: 'ROWS',
        values: [
          ['2024-05-01', 'A-1001', '2', 19.9],
          ['2024-05-02', 'A-1002', 1, null],
        ],
      });
      expect(output).toEqual({
        spreadsheetId: SHEETS_FAKE_ORDERS_ID,
        tableRange: 'Orders!A1:D4',
        updatedRange: 'Orders!A5:D6',
        updatedRows: 2,
        updatedColumns: 4,
        updatedCells: 7,
      });
      // USER_ENTERED: "2" became a number; the null cell was left alone.
      expect(orders().slice(4)).toEqual([
        ['2024-05-01', 'A-1001', 2, 19.9],
        ['2024-05-02', 'A-1002', 1],
      ]);
    });

    it('appendRows sends RAW, insertDataOption and COLUMNS when asked, to a sheet whose name needs quoting', async () => {
      const output = await run(mode, 'appendRows', {
        spreadsheetId: SHEETS_FAKE_ORDERS_ID,
        range: "'Summary Q2'!A:B",
        values: [
          ['May', 'June'],
          ['=SUM(B2:B3)', '0012'],
        ],
        valueInputOption: 'RAW',
        insertDataOption: 'INSERT_ROWS',
        majorDimension: 'COLUMNS',
      });
      const [request] = fake.requests;
      expect(request!.path).toBe(ordersPath("'Summary%20Q2'!A%3AB:append"));
      expect(request!.rawQuery).toBe('valueInputOption=RAW&insertDataOption=INSERT_ROWS');
      expect(request!.json).toEqual({
        majorDimension: 'COLUMNS',
        values: [
          ['May', 'June'],
          ['=SUM(B2:B3)', '0012'],
        ],
      });
      expect(output).toEqual({
        spreadsheetId: SHEETS_FAKE_ORDERS_ID,
        tableRange: "'Summary Q2'!A1:B2",
        updatedRange: "'Summary Q2'!A3:B4",
        updatedRows: 2,
        updatedColumns: 2,
        updatedCells: 4,
      });
      // RAW: the formula and the leading zeros stay text.
      expect(fake.sheets.sheetValues(SHEETS_FAKE_ORDERS_ID, 'Summary Q2').slice(2)).toEqual([
        ['May', '=SUM(B2:B3)'],
        ['June', '0012'],
      ]);
    });

    it('getValues GETs …/values/{range} and answers the values as Google does, trailing empties dropped', async () => {
      const output = await run(mode, 'getValues', { spreadsheetId: SHEETS_FAKE_ORDERS_ID, range: 'Notes!A1:D10' });
      const [request] = fake.requests;
      expect(request!.method).toBe('GET');
      expect(request!.path).toBe(ordersPath('Notes!A1%3AD10'));
      expect(request!.rawQuery).toBe('');
      expect(request!.headers.authorization).toBe(`Bearer ${GOOGLE_FAKE_ACCESS_TOKEN}`);
      expect(output).toEqual({
        range: 'Notes!A1:D10',
        majorDimension: 'ROWS',
        values: [['Topic', 'Owner'], ['Launch', '', 'draft'], [], ['Retro', 'Grace']],
      });
    });

    it('getValues passes majorDimension and the render options, and answers [] for an empty range', async () => {
      const columns = await run(mode, 'getValues', {
        spreadsheetId: SHEETS_FAKE_ORDERS_ID,
        range: 'Orders!C1:D3',
        majorDimension: 'COLUMNS',
        valueRenderOption: 'UNFORMATTED_VALUE',
        dateTimeRenderOption: 'FORMATTED_STRING',
      });
      expect(fake.requests[0]!.rawQuery).toBe(
        'majorDimension=COLUMNS&valueRenderOption=UNFORMATTED_VALUE&dateTimeRenderOption=FORMATTED_STRING',
      );
      expect(columns).toEqual({
        range: 'Orders!C1:D3',
        majorDimension: 'COLUMNS',
        values: [
          ['Quantity', 3, 1],
          ['Amount', 42.5, 9.99],
        ],
      });
      const formatted = await run(mode, 'getValues', { spreadsheetId: SHEETS_FAKE_ORDERS_ID, range: 'Orders!D2' });
      expect(formatted.values).toEqual([['42.5']]);
      expect(await run(mode, 'getValues', { spreadsheetId: SHEETS_FAKE_ORDERS_ID, range: 'Orders!H1:H5' })).toEqual({
        range: 'Orders!H1:H5',
        majorDimension: 'ROWS',
        values: [],
      });
    });
  });

  it('never repeats an append after a 5xx (Sheets does not dedupe), and retries a read after one', async () => {
    fake.failNext(1, 500);
    const append = await client.post('/v1/executions', {
      connectorId: 'googlesheets',
      actionId: 'appendRows',
      input: { spreadsheetId: SHEETS_FAKE_ORDERS_ID, range: 'Orders!A:D', values: [['x']] },
    });
    expect(append.status).toBe(502);
    expect(append.body.error).toMatchObject({ code: 'upstream_error', details: { status: 500, code: 'INTERNAL' } });
    expect(fake.requests).toHaveLength(1);
    expect((await client.get(`/v1/invocations/${append.body.invocationId}`)).body).toMatchObject({
      status: 'failed',
      attempts: 1,
    });
    expect(orders()).toHaveLength(4);

    fake.failNext(1, 503);
    const read = await client.post('/v1/executions', {
      connectorId: 'googlesheets',
      actionId: 'getValues',
      input: { spreadsheetId: SHEETS_FAKE_ORDERS_ID, range: 'Orders!A1:A2' },
    });
    expect(read.status).toBe(200);
    expect((await client.get(`/v1/invocations/${read.body.invocationId}`)).body.attempts).toBe(2);
  });

  it("reports Sheets' refusals as upstream errors without breaking the connection", async () => {
    const execute = (actionId: string, input: unknown) =>
      client.post('/v1/executions', { connectorId: 'googlesheets', actionId, input });
    const badRange = await execute('getValues', { spreadsheetId: SHEETS_FAKE_ORDERS_ID, range: 'Nope!A1' });
    expect(badRange.status).toBe(502);
    expect(badRange.body.error.details).toEqual({
      status: 400,
      code: 'INVALID_ARGUMENT',
      message: 'Unable to parse range: Nope!A1',
    });
    const unknown = await execute('getValues', { spreadsheetId: '1NoSuchSpreadsheet00', range: 'A1' });
    expect(unknown.body.error.details).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    const notOurs = await execute('appendRows', {
      spreadsheetId: SHEETS_QUICKSTART_ID,
      range: 'Class Data',
      values: [['x']],
    });
    expect(notOurs.body.error.details).toEqual({
      status: 403,
      code: 'PERMISSION_DENIED',
      message: 'The caller does not have permission',
    });
    expect((await admin.get(`/v1/connections/${connectionId}`)).body.status).toBe('active');

    const readonly = await setUpProject(admin, {
      connectorId: 'googlesheets',
      credentials: { accessToken: GOOGLE_FAKE_READONLY_TOKEN },
    });
    expect(readonly.connectionStatus).toBe('active');
    const denied = await apiClient(engine.baseUrl, readonly.projectKey).post('/v1/executions', {
      connectorId: 'googlesheets',
      actionId: 'appendRows',
      input: { spreadsheetId: SHEETS_FAKE_ORDERS_ID, range: 'Orders', values: [['x']] },
    });
    expect(denied.body.error.details).toMatchObject({ status: 403, code: 'ACCESS_TOKEN_SCOPE_INSUFFICIENT' });
    expect((await admin.get(`/v1/connections/${readonly.connectionId}`)).body.status).toBe('active');
  });

  it('answers 400 invalid_input, before calling Sheets, for a bad id, range, option or row', async () => {
    const bad = async (actionId: string, input: Record<string, unknown>, path: string) => {
      const res = await client.post('/v1/executions', { connectorId: 'googlesheets', actionId, input });
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.code).toBe('invalid_input');
      expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(`input.${path}`);
    };
    const base = { spreadsheetId: SHEETS_FAKE_ORDERS_ID, range: 'Orders!A:D', values: [['x']] };
    await bad('appendRows', { ...base, spreadsheetId: '../other/values' }, 'spreadsheetId');
    await bad('appendRows', { ...base, range: '' }, 'range');
    await bad('appendRows', { ...base, values: [] }, 'values');
    await bad('appendRows', { ...base, values: [[{ nested: true }]] }, 'values[0][0]');
    await bad('appendRows', { ...base, valueInputOption: 'FORMULA' }, 'valueInputOption');
    await bad(
      'getValues',
      { spreadsheetId: SHEETS_FAKE_ORDERS_ID, range: 'A1', majorDimension: 'DIAGONAL' },
      'majorDimension',
    );
    expect(fake.requests).toHaveLength(0);
  });
});
