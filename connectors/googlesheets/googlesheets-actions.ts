import { z } from 'zod';
import { defineAction } from '../toolkit/connector-definition.ts';

/**
 * Google Sheets API v4 values actions (docs/upstreams/google.md §4). The spreadsheet id and the
 * A1 range go in the URL path, percent-encoded (`Sheet1!A1:C` → `Sheet1!A1%3AC`). Appending is
 * not idempotent (a retry after a timeout can add the rows twice), so a write that may have run
 * is never repeated.
 */

const WRITE_SCOPE = 'https://www.googleapis.com/auth/spreadsheets';
const READ_SCOPE = 'https://www.googleapis.com/auth/spreadsheets.readonly';

const spreadsheetId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,200}$/, 'a spreadsheet id, the part of its URL after /spreadsheets/d/')
  .describe('From the spreadsheet URL: https://docs.google.com/spreadsheets/d/<spreadsheetId>/edit');
const a1Range = z
  .string()
  .min(1)
  .max(1000)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what a range must not hold.
  .refine((r) => !/[\x00-\x1f\x7f]/.test(r), { message: 'must not contain control characters' })
  .describe('A1 notation, e.g. "Sheet1!A1:D", "\'My sheet\'!A:C" or "Sheet1"');
const cell = z.union([z.string().max(50_000), z.number().finite(), z.boolean(), z.null()]);
const readCell = z.union([z.string(), z.number(), z.boolean()]);
const dimension = z.enum(['ROWS', 'COLUMNS']);

/** `{spreadsheetId}/values/{range}` with both parts percent-encoded. */
const valuesPath = (id: string, range: string) =>
  `/v4/spreadsheets/${encodeURIComponent(id)}/values/${encodeURIComponent(range)}`;

interface WireAppend {
  spreadsheetId?: string;
  tableRange?: string;
  updates?: {
    spreadsheetId?: string;
    updatedRange?: string;
    updatedRows?: number;
    updatedColumns?: number;
    updatedCells?: number;
  };
}

/** Adds rows at the end of a table: the usual way to log records to a sheet without knowing where it ends. */
export const appendRows = defineAction({
  id: 'appendRows',
  displayName: 'Append rows',
  description:
    'Add rows after the last row of the table found in a range (spreadsheets.values.append). ' +
    'USER_ENTERED values are parsed as if typed (numbers, dates, =formulas); RAW values are stored as given.',
  sideEffects: 'write',
  scopes: [WRITE_SCOPE],
  input: z
    .object({
      spreadsheetId,
      range: a1Range.describe('Where to look for the table, e.g. "Sheet1!A:D"; the rows go after its last row'),
      values: z
        .array(z.array(cell).max(18_278))
        .min(1)
        .max(10_000)
        .describe('Rows of cells; a null cell is left as it is'),
      valueInputOption: z.enum(['RAW', 'USER_ENTERED']).default('USER_ENTERED'),
      insertDataOption: z
        .enum(['OVERWRITE', 'INSERT_ROWS'])
        .optional()
        .describe("OVERWRITE (Google's default) writes over the rows below the table; INSERT_ROWS inserts new rows"),
      majorDimension: dimension.optional().describe('Default ROWS: each inner array is a row'),
    })
    .strict(),
  output: z.object({
    spreadsheetId: z.string(),
    tableRange: z.string().nullable().describe('The table the rows were added to; null when the range held none'),
    updatedRange: z.string().nullable().describe('e.g. "Sheet1!A11:C12"'),
    updatedRows: z.number().int(),
    updatedColumns: z.number().int(),
    updatedCells: z.number().int(),
  }),
  examples: [
    {
      summary: 'Two order rows at the end of a sheet',
      input: {
        spreadsheetId: '1FakeSheetOrders000000000000000000000000000',
        range: 'Orders!A:D',
        values: [
          ['2024-05-01', 'A-1001', 2, 19.9],
          ['2024-05-01', 'A-1002', 1, 5],
        ],
      },
    },
  ],
  async run(ctx, input) {
    const res = await ctx.http.request<WireAppend>({
      method: 'POST',
      path: `${valuesPath(input.spreadsheetId, input.range)}:append`,
      // valueInputOption is required in practice: without it Sheets answers 400.
      query: { valueInputOption: input.valueInputOption, insertDataOption: input.insertDataOption },
      json: { majorDimension: input.majorDimension ?? 'ROWS', values: input.values },
    });
    const u = res.body.updates ?? {};
    // Google's JSON leaves out zero numbers and empty strings (proto3): read them as 0 and null.
    return {
      spreadsheetId: res.body.spreadsheetId ?? input.spreadsheetId,
      tableRange: res.body.tableRange || null,
      updatedRange: u.updatedRange || null,
      updatedRows: u.updatedRows ?? 0,
      updatedColumns: u.updatedColumns ?? 0,
      updatedCells: u.updatedCells ?? 0,
    };
  },
});

/** Reads a range as a grid of values, as Sheets answers it (ragged rows, no trailing empties). */
export const getValues = defineAction({
  id: 'getValues',
  displayName: 'Get values',
  description:
    'The values of a range (spreadsheets.values.get). As Google answers: empty trailing rows and cells are left out, ' +
    'so rows can be shorter than the range; an empty range has no values.',
  sideEffects: 'read',
  scopes: [READ_SCOPE],
  input: z
    .object({
      spreadsheetId,
      range: a1Range,
      majorDimension: dimension.optional().describe('Default ROWS; COLUMNS returns one inner array per column'),
      valueRenderOption: z
        .enum(['FORMATTED_VALUE', 'UNFORMATTED_VALUE', 'FORMULA'])
        .optional()
        .describe('Default FORMATTED_VALUE: values as shown in the sheet (strings)'),
      dateTimeRenderOption: z
        .enum(['SERIAL_NUMBER', 'FORMATTED_STRING'])
        .optional()
        .describe('Only with UNFORMATTED_VALUE or FORMULA'),
    })
    .strict(),
  output: z.object({
    range: z.string().describe('The range read, as Google names it, e.g. "Sheet1!A1:D1000"'),
    majorDimension: dimension,
    values: z.array(z.array(readCell)),
  }),
  examples: [
    {
      summary: 'The orders table',
      input: { spreadsheetId: '1FakeSheetOrders000000000000000000000000000', range: 'Orders!A1:D10' },
    },
  ],
  async run(ctx, input) {
    const res = await ctx.http.request<{
      range?: string;
      majorDimension?: 'ROWS' | 'COLUMNS';
      values?: (string | number | boolean)[][];
    }>({
      method: 'GET',
      path: valuesPath(input.spreadsheetId, input.range),
      query: {
        majorDimension: input.majorDimension,
        valueRenderOption: input.valueRenderOption,
        dateTimeRenderOption: input.dateTimeRenderOption,
      },
    });
    return {
      range: res.body.range ?? input.range,
      majorDimension: res.body.majorDimension ?? input.majorDimension ?? 'ROWS',
      values: res.body.values ?? [],
    };
  },
});
