// The one way the CLI lays out a table: columns padded to a width, joined by a gap, long cells left
// whole (never cut). A tiny helper rather than cli-table3: scripts and tests read these lines, and
// they must stay byte for byte what they were (cli-table3 pads both sides of each cell, truncates
// to colWidths with an ellipsis and always pads the last column), and a wide cell must push its row
// instead of being cut.

export interface TableLayout {
  /**
   * Width of each padded column, in order. Cells past the last width are written as they are, so a
   * table usually names one width fewer than it has columns; 0 leaves a column unpadded.
   */
  widths: readonly number[];
  /** Written before each row; '' by default. */
  indent?: string;
  /** Between two cells; one space by default. */
  gap?: string;
  /** Columns (by index) padded on the left, numbers and durations that line up on their last digit. */
  alignRight?: readonly number[];
  /** Drop the spaces a padded or empty last cell leaves at the end of the line. */
  trimEnd?: boolean;
}

/** One row of a table: each cell padded to its column's width, then joined. */
export function tableRow(layout: TableLayout, cells: readonly string[]): string {
  const padded = cells.map((cell, i) => {
    const width = layout.widths[i] ?? 0;
    return layout.alignRight?.includes(i) ? cell.padStart(width) : cell.padEnd(width);
  });
  const line = (layout.indent ?? '') + padded.join(layout.gap ?? ' ');
  return layout.trimEnd ? line.trimEnd() : line;
}

/** Rows of a table, one string each. */
export function tableRows(layout: TableLayout, rows: readonly (readonly string[])[]): string[] {
  return rows.map((cells) => tableRow(layout, cells));
}

/** Widths that fit every cell of the rows given (header included), for tables sized to their content. */
export function fitWidths(rows: readonly (readonly string[])[]): number[] {
  const widths: number[] = [];
  for (const cells of rows) for (const [i, cell] of cells.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  return widths;
}
