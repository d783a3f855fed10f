// The Google Sheets API v4 part of the Google fake: spreadsheets.values.append and .get
// (docs/upstreams/google.md §4). The fake keeps a sparse grid per sheet and does not evaluate
// formulas or parse dates: a formula's value is its text, and "2024-05-01" stays a string
// (UNCONFIRMED simplifications; real Sheets computes and formats them).
import type { FakeResponse, RecordedRequest } from '../support/fake-server.ts';
import {
  googleError,
  insufficientScope,
  invalidArgument,
  notFound,
  permissionDenied,
  unknownPath,
} from './google-errors-wire.ts';

export const SHEETS_SCOPES = {
  spreadsheets: 'https://www.googleapis.com/auth/spreadsheets',
  readonly: 'https://www.googleapis.com/auth/spreadsheets.readonly',
  drive: 'https://www.googleapis.com/auth/drive',
  driveReadonly: 'https://www.googleapis.com/auth/drive.readonly',
  driveFile: 'https://www.googleapis.com/auth/drive.file',
} as const;

const S = SHEETS_SCOPES;
// From the discovery document (G-DISC).
const METHOD_SCOPES = {
  get: [S.drive, S.driveFile, S.driveReadonly, S.spreadsheets, S.readonly],
  append: [S.drive, S.driveFile, S.spreadsheets],
} as const;

/** The sample spreadsheet of Google's Sheets quickstart, readable by any signed-in user. */
export const SHEETS_QUICKSTART_ID = '1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms';
/** The default user's spreadsheet: sheets "Orders", "Notes" and "Summary Q2". */
export const SHEETS_FAKE_ORDERS_ID = '1FakeSheetOrders000000000000000000000000000';

export type CellValue = string | number | boolean;
/** A stored cell: a value, or a formula (kept as text). */
export type Cell = { value: CellValue } | { formula: string };

export interface FakeSheet {
  title: string;
  sheetId: number;
  rowCount: number;
  columnCount: number;
  /** Sparse rows of cells (0-based). */
  rows: (Cell | undefined)[][];
}

export interface FakeSpreadsheet {
  id: string;
  owner: string;
  /** Readable (not writable) by any signed-in user. */
  publicRead: boolean;
  sheets: FakeSheet[];
}

/** One values.append the fake accepted. */
export interface SheetsAppendCall {
  spreadsheetId: string;
  range: string;
  query: URLSearchParams;
  body: unknown;
  accessToken: string;
  updatedRange: string;
}

export interface SheetsAuth {
  email: string;
  scopes: readonly string[];
  token: string;
}

const cellsOf = (rows: (CellValue | null)[][]): (Cell | undefined)[][] =>
  rows.map((r) => r.map((v) => (v === null ? undefined : { value: v })));

function seed(owner: string): FakeSpreadsheet[] {
  const sheet = (title: string, sheetId: number, rows: (CellValue | null)[][]): FakeSheet => ({
    title,
    sheetId,
    rowCount: 1000,
    columnCount: 26,
    rows: cellsOf(rows),
  });
  return [
    {
      id: SHEETS_FAKE_ORDERS_ID,
      owner,
      publicRead: false,
      sheets: [
        sheet('Orders', 0, [
          ['Date', 'Order', 'Quantity', 'Amount'],
          ['2024-04-28', 'A-0998', 3, 42.5],
          ['2024-04-29', 'A-0999', 1, 9.99],
          ['2024-04-30', 'A-1000', 2, 20],
        ]),
        // Ragged on purpose: trailing empty cells and rows are not answered, interior ones are "".
        sheet('Notes', 1, [
          ['Topic', 'Owner', null, null],
          ['Launch', null, 'draft', null],
          [],
          ['Retro', 'Grace', null, null],
          [null, null, null, null],
        ]),
        sheet('Summary Q2', 2, [
          ['Month', 'Total'],
          ['April', 72.49],
        ]),
      ],
    },
    {
      id: SHEETS_QUICKSTART_ID,
      owner: 'sheets-samples@example.com',
      publicRead: true,
      sheets: [
        sheet('Class Data', 0, [
          ['Student Name', 'Gender', 'Class Level', 'Home State', 'Major', 'Extracurricular Activity'],
          ['Alexandra', 'Female', '4. Senior', 'CA', 'English', 'Drama Club'],
          ['Andrew', 'Male', '1. Freshman', 'SD', 'Math', 'Lacrosse'],
        ]),
      ],
    },
  ];
}

// ---- A1 notation -------------------------------------------------------------------------------

interface GridRange {
  sheet: FakeSheet;
  r0: number;
  c0: number;
  /** Inclusive; Infinity = to the end of the grid. */
  r1: number;
  c1: number;
}

export function columnName(index: number): string {
  let n = index + 1;
  let name = '';
  while (n > 0) {
    const rem = (n - 1) % 26;
    name = String.fromCharCode(65 + rem) + name;
    n = Math.floor((n - 1) / 26);
  }
  return name;
}

function columnIndex(letters: string): number {
  let n = 0;
  for (const ch of letters.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n - 1;
}

/** A sheet title as Google writes it in a range: quoted unless it is plain letters, digits and _ (UNCONFIRMED rule). */
export const sheetRef = (title: string) =>
  /^[A-Za-z_][A-Za-z0-9_]*$/.test(title) ? title : `'${title.replace(/'/g, "''")}'`;

/** Parses A1 notation against a spreadsheet; a string is the error message. */
function parseRange(text: string, ss: FakeSpreadsheet): GridRange | string {
  const fail = `Unable to parse range: ${text}`; // OBSERVED message
  let sheetName: string | undefined;
  let cells: string | undefined;
  if (text.startsWith("'")) {
    const m = /^'((?:[^']|'')*)'(?:!(.*))?$/.exec(text);
    if (!m) return fail;
    sheetName = m[1]!.replace(/''/g, "'");
    cells = m[2];
  } else if (text.includes('!')) {
    const at = text.indexOf('!');
    sheetName = text.slice(0, at);
    cells = text.slice(at + 1);
  } else if (ss.sheets.some((s) => s.title === text)) {
    sheetName = text;
  } else {
    cells = text;
  }
  const sheet = sheetName === undefined ? ss.sheets[0] : ss.sheets.find((s) => s.title === sheetName);
  if (!sheet) return fail;
  if (cells === undefined || cells === '') return { sheet, r0: 0, c0: 0, r1: Infinity, c1: Infinity };
  const m = /^\$?([A-Za-z]{0,3})\$?(\d*)(?:(:)\$?([A-Za-z]{0,3})\$?(\d*))?$/.exec(cells);
  if (!m) return fail;
  const [, sc, sr, colon, ec, er] = m;
  if (sr === '0' || er === '0') return fail;
  // A1, A1:B2, A:B (whole columns), 2:5 (whole rows), A5:B (from row 5 down).
  const valid = colon
    ? (sc && sr && ec && er) || (sc && !sr && ec && !er) || (!sc && sr && !ec && er) || (sc && sr && ec && !er)
    : sc && sr;
  if (!valid) return fail;
  const r0 = sr ? Number(sr) - 1 : 0;
  const c0 = sc ? columnIndex(sc) : 0;
  if (!colon) return { sheet, r0, c0, r1: r0, c1: c0 };
  const r1 = er ? Number(er) - 1 : Infinity;
  const c1 = ec ? columnIndex(ec) : Infinity;
  return { sheet, r0: Math.min(r0, r1), c0: Math.min(c0, c1), r1: Math.max(r0, r1), c1: Math.max(c0, c1) };
}

/** A grid range as Google names it: `Sheet1!A1:D5`, `'Summary Q2'!A1`. */
function rangeName(sheet: FakeSheet, r0: number, c0: number, r1: number, c1: number): string {
  const a = `${columnName(c0)}${r0 + 1}`;
  const b = `${columnName(c1)}${r1 + 1}`;
  return `${sheetRef(sheet.title)}!${a === b ? a : `${a}:${b}`}`;
}

// ---- values ------------------------------------------------------------------------------------

const isEmpty = (c: Cell | undefined) => c === undefined || ('value' in c && c.value === '');

function render(c: Cell | undefined, option: string): CellValue {
  if (c === undefined) return '';
  if ('formula' in c) return c.formula; // not evaluated (UNCONFIRMED simplification)
  if (option !== 'FORMATTED_VALUE') return c.value;
  if (typeof c.value === 'boolean') return c.value ? 'TRUE' : 'FALSE';
  return String(c.value); // Sheets' automatic number format, roughly (UNCONFIRMED)
}

/** A value as typed by a user (USER_ENTERED) or stored as given (RAW); undefined clears the cell. */
function parseInput(v: CellValue, option: 'RAW' | 'USER_ENTERED'): Cell | undefined {
  if (v === '') return undefined;
  if (option === 'RAW' || typeof v !== 'string') return { value: v };
  if (v.startsWith("'")) return { value: v.slice(1) };
  if (v.startsWith('=')) return { formula: v };
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v.trim())) return { value: Number(v) };
  if (/^(true|false)$/i.test(v.trim())) return { value: v.trim().toLowerCase() === 'true' };
  return { value: v };
}

const transpose = <T>(rows: T[][]): T[][] => {
  const width = Math.max(0, ...rows.map((r) => r.length));
  return Array.from({ length: width }, (_, c) => rows.map((r) => r[c] as T));
};

/** Drops trailing empty cells of each line and trailing empty lines, as Sheets does. */
function trimmed(lines: (Cell | undefined)[][], option: string): CellValue[][] {
  const out = lines.map((line) => {
    let end = line.length;
    while (end > 0 && isEmpty(line[end - 1])) end--;
    return line.slice(0, end).map((c) => render(c, option));
  });
  while (out.length && out[out.length - 1]!.length === 0) out.pop();
  return out;
}

export class SheetsBackend {
  readonly spreadsheets = new Map<string, FakeSpreadsheet>();
  readonly appends: SheetsAppendCall[] = [];

  constructor(private readonly seedOwner: string) {
    this.reset();
  }

  reset(): void {
    this.spreadsheets.clear();
    for (const ss of seed(this.seedOwner)) this.spreadsheets.set(ss.id, ss);
    this.appends.length = 0;
  }

  /** The rendered values of a whole sheet, for assertions (FORMATTED_VALUE unless told). */
  sheetValues(spreadsheetId: string, title: string, option = 'UNFORMATTED_VALUE'): CellValue[][] {
    const sheet = this.spreadsheets.get(spreadsheetId)?.sheets.find((s) => s.title === title);
    if (!sheet) throw new Error(`no sheet ${title} in ${spreadsheetId}`);
    return trimmed(sheet.rows, option);
  }

  /** Handles `/v4/spreadsheets/{id}/values/{range}[:append]`; undefined for a path that is not Sheets'. */
  handle(req: RecordedRequest, auth: SheetsAuth): FakeResponse | undefined {
    if (!req.path.startsWith('/v4/')) return undefined;
    const m = /^\/v4\/spreadsheets\/([^/]+)\/values\/([^/]+?)(:append)?$/.exec(req.path);
    if (!m) return unknownPath(req.path);
    const method = m[3] && req.method === 'POST' ? 'append' : !m[3] && req.method === 'GET' ? 'get' : undefined;
    if (!method) return unknownPath(req.path);
    const accepted = METHOD_SCOPES[method];
    const granted = auth.scopes.filter((s) => (accepted as readonly string[]).includes(s));
    if (granted.length === 0) return insufficientScope('sheets', accepted);

    const ss = this.spreadsheets.get(decodeURIComponent(m[1]!));
    if (!ss) return notFound('sheets');
    const owner = ss.owner.toLowerCase() === auth.email.toLowerCase();
    // drive.file covers only files this app created or was given: none of the seeded ones (UNCONFIRMED).
    const fileScopeOnly = granted.every((s) => s === S.driveFile);
    const mayRead = !fileScopeOnly && (owner || ss.publicRead);
    const mayWrite = !fileScopeOnly && owner;
    if (method === 'get' ? !mayRead : !mayWrite)
      return permissionDenied('sheets', 'The caller does not have permission'); // OBSERVED message

    const rangeText = decodeURIComponent(m[2]!);
    const range = parseRange(rangeText, ss);
    if (typeof range === 'string') return invalidArgument('sheets', range);
    return method === 'get' ? this.get(req, range) : this.append(req, auth, ss, rangeText, range);
  }

  private get(req: RecordedRequest, range: GridRange): FakeResponse {
    const major = req.query.majorDimension ?? 'ROWS';
    if (!['ROWS', 'COLUMNS', 'DIMENSION_UNSPECIFIED'].includes(major))
      return enumError('major_dimension', 'Dimension', major);
    const option = req.query.valueRenderOption ?? 'FORMATTED_VALUE';
    if (!['FORMATTED_VALUE', 'UNFORMATTED_VALUE', 'FORMULA'].includes(option))
      return enumError('value_render_option', 'ValueRenderOption', option);
    const dateOption = req.query.dateTimeRenderOption;
    if (dateOption !== undefined && !['SERIAL_NUMBER', 'FORMATTED_STRING'].includes(dateOption))
      return enumError('date_time_render_option', 'DateTimeRenderOption', dateOption);
    const { sheet } = range;
    if (range.r0 >= sheet.rowCount || range.c0 >= sheet.columnCount) return gridLimits(sheet, range);
    // An end past the grid is cut to it (UNCONFIRMED: Sheets may answer 400 instead).
    const r1 = Math.min(range.r1, sheet.rowCount - 1);
    const c1 = Math.min(range.c1, sheet.columnCount - 1);
    const lines: (Cell | undefined)[][] = [];
    for (let r = range.r0; r <= r1; r++)
      lines.push(Array.from({ length: c1 - range.c0 + 1 }, (_, i) => sheet.rows[r]?.[range.c0 + i]));
    const dimension = major === 'COLUMNS' ? 'COLUMNS' : 'ROWS';
    const values = trimmed(dimension === 'COLUMNS' ? transpose(lines) : lines, option);
    const body: Record<string, unknown> = {
      range: rangeName(sheet, range.r0, range.c0, r1, c1),
      majorDimension: dimension,
    };
    // A range without values has no `values` (UNCONFIRMED; proto3 JSON leaves empty lists out).
    if (values.length) body.values = values;
    return { status: 200, body };
  }

  private append(
    req: RecordedRequest,
    auth: SheetsAuth,
    ss: FakeSpreadsheet,
    rangeText: string,
    range: GridRange,
  ): FakeResponse {
    const q = new URLSearchParams(req.rawQuery);
    const input = q.get('valueInputOption');
    // Not marked required in the discovery document, but Sheets answers 400 without it (OBSERVED).
    if (input === null || input === 'INPUT_VALUE_OPTION_UNSPECIFIED')
      return invalidArgument('sheets', "'valueInputOption' is required but not specified");
    if (input !== 'RAW' && input !== 'USER_ENTERED') return enumError('value_input_option', 'ValueInputOption', input);
    const insert = q.get('insertDataOption') ?? 'OVERWRITE';
    if (insert !== 'OVERWRITE' && insert !== 'INSERT_ROWS')
      return enumError('insert_data_option', 'InsertDataOption', insert);
    if (
      !(req.headers['content-type'] ?? '').includes('json') ||
      req.json === undefined ||
      typeof req.json !== 'object' ||
      req.json === null
    ) {
      return invalidArgument('sheets', 'Invalid JSON payload received. Expected an object.');
    }
    const body = req.json as { range?: unknown; majorDimension?: unknown; values?: unknown };
    if (body.range !== undefined && body.range !== rangeText) {
      return invalidArgument(
        'sheets',
        `Requested writing within range [${rangeText}], but tried writing to [${String(body.range)}]`,
      ); // UNCONFIRMED message
    }
    const major = body.majorDimension ?? 'ROWS';
    if (major !== 'ROWS' && major !== 'COLUMNS' && major !== 'DIMENSION_UNSPECIFIED')
      return enumError('major_dimension', 'Dimension', String(major));
    if (!Array.isArray(body.values) || !body.values.every((r) => Array.isArray(r))) {
      return invalidArgument(
        'sheets',
        "Invalid JSON payload received. Invalid value at 'data.values' (type.googleapis.com/google.protobuf.ListValue).",
      );
    }
    const given = body.values as unknown[][];
    for (const [i, row] of given.entries()) {
      for (const [j, v] of row.entries()) {
        if (v !== null && !['string', 'number', 'boolean'].includes(typeof v))
          return invalidArgument('sheets', `Invalid values[${i}][${j}]: ${JSON.stringify(v)}`);
      }
    }
    const rows = (
      major === 'COLUMNS' ? transpose(given as (CellValue | null)[][]) : (given as (CellValue | null)[][])
    ).map((r) => r.map((v) => (v === undefined ? null : v)));

    // The "table": the rows with data within the range's columns, from the range's first row on.
    // Sheets' own detection looks for a contiguous table; the fake takes the last row with data (UNCONFIRMED).
    const { sheet } = range;
    let first = -1;
    let last = -1;
    let minCol = Infinity;
    let maxCol = -1;
    for (let r = range.r0; r < sheet.rows.length; r++) {
      const line = sheet.rows[r] ?? [];
      for (let c = range.c0; c < line.length && c <= range.c1; c++) {
        if (isEmpty(line[c])) continue;
        if (first < 0) first = r;
        last = r;
        minCol = Math.min(minCol, c);
        maxCol = Math.max(maxCol, c);
      }
    }
    const startRow = last >= 0 ? last + 1 : range.r0;
    const startCol = last >= 0 ? minCol : range.c0;
    const width = Math.max(0, ...rows.map((r) => r.length));
    if (insert === 'INSERT_ROWS' && startRow < sheet.rows.length)
      sheet.rows.splice(startRow, 0, ...rows.map(() => [] as (Cell | undefined)[]));
    let cells = 0;
    rows.forEach((row, i) => {
      sheet.rows[startRow + i] ??= [];
      const line = sheet.rows[startRow + i]!;
      row.forEach((v, j) => {
        if (v === null) return; // null leaves the cell as it is
        line[startCol + j] = parseInput(v, input);
        cells++;
      });
    });
    for (let r = 0; r < sheet.rows.length; r++) sheet.rows[r] ??= [];
    sheet.rowCount = Math.max(sheet.rowCount + (insert === 'INSERT_ROWS' ? rows.length : 0), startRow + rows.length);
    sheet.columnCount = Math.max(sheet.columnCount, startCol + width);

    const updatedRange = rangeName(
      sheet,
      startRow,
      startCol,
      startRow + Math.max(rows.length, 1) - 1,
      startCol + Math.max(width, 1) - 1,
    );
    this.appends.push({
      spreadsheetId: ss.id,
      range: rangeText,
      query: q,
      body: req.json,
      accessToken: auth.token,
      updatedRange,
    });
    const updates: Record<string, unknown> = {
      spreadsheetId: ss.id,
      updatedRange,
      updatedRows: rows.length,
      updatedColumns: width,
      updatedCells: cells,
    };
    if (q.get('includeValuesInResponse') === 'true') {
      const lines = rows.map((row, i) => row.map((_, j) => sheet.rows[startRow + i]?.[startCol + j]));
      updates.updatedData = {
        range: updatedRange,
        majorDimension: 'ROWS',
        values: trimmed(lines, q.get('responseValueRenderOption') ?? 'FORMATTED_VALUE'),
      };
    }
    const response: Record<string, unknown> = { spreadsheetId: ss.id };
    // Without a table the answer has no tableRange (CONFIRMED: "empty when no table was found").
    if (last >= 0) response.tableRange = rangeName(sheet, first, minCol, last, maxCol);
    response.updates = updates;
    return { status: 200, body: response };
  }
}

/** An enum parameter with an unknown value (message shape OBSERVED for other Google APIs, UNCONFIRMED here). */
function enumError(field: string, type: string, value: string): FakeResponse {
  return invalidArgument(
    'sheets',
    `Invalid value at '${field}' (type.googleapis.com/google.apps.sheets.v4.${type}), "${value}"`,
  );
}

function gridLimits(sheet: FakeSheet, range: GridRange): FakeResponse {
  return googleError('sheets', {
    status: 400,
    googleStatus: 'INVALID_ARGUMENT',
    message: `Range (${sheetRef(sheet.title)}!${columnName(range.c0)}${range.r0 + 1}) exceeds grid limits. Max rows: ${sheet.rowCount}, max columns: ${sheet.columnCount}`,
  });
}
