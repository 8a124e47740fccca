/**
 * Aligned plain-text tables for the CLI's human output.
 */

/** Column alignment: numbers read best right-aligned. */
export type Align = "left" | "right";

export interface Column {
  header: string;
  align?: Align;
}

/** Renders rows under headers, columns separated by two spaces, no trailing blanks. */
export function formatTable(columns: ReadonlyArray<Column | string>, rows: ReadonlyArray<ReadonlyArray<string>>): string {
  const cols = columns.map((c) => (typeof c === "string" ? { header: c } : c));
  const widths = cols.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: ReadonlyArray<string>): string =>
    cols
      .map((c, i) => {
        const cell = cells[i] ?? "";
        return c.align === "right" ? cell.padStart(widths[i]) : cell.padEnd(widths[i]);
      })
      .join("  ")
      .trimEnd();
  return [line(cols.map((c) => c.header)), ...rows.map(line)].join("\n") + "\n";
}

/** Renders `key: value` lines with the values aligned. */
export function formatFields(fields: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(0, ...fields.map(([k]) => k.length + 1));
  return fields.map(([k, v]) => `${`${k}:`.padEnd(width)}  ${v}`.trimEnd()).join("\n") + "\n";
}
