/** A plain-text table with aligned columns: the first column left-aligned, `rightCols` right-aligned. */
export type Row = string[] | 'rule' | { section: string };

export function renderTable(header: string[], rows: Row[], rightCols: number[]): string {
  const widths = header.map((h) => h.length);
  for (const r of rows) {
    if (!Array.isArray(r)) continue;
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  const line = (cells: string[]) =>
    header
      .map((_, i) => {
        const c = cells[i] ?? '';
        return rightCols.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
  const total = widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1);
  const out = [line(header), '='.repeat(total)];
  for (const r of rows) {
    if (r === 'rule') out.push('-'.repeat(total));
    else if (Array.isArray(r)) out.push(line(r));
    else out.push(r.section);
  }
  return out.join('\n');
}
