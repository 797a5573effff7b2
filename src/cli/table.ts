import { jsonForTerminal, printable } from '../shared/terminal.js';

/** Prints rows as left-aligned columns, the way `docker ps` does; server data is shown with its control characters escaped. */
export function printTable(headers: string[], rows: string[][]): void {
  const safe = rows.map((r) => r.map(printable));
  const widths = headers.map((h, i) => Math.max(h.length, ...safe.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  process.stdout.write([line(headers), ...safe.map(line)].join('\n') + '\n');
}

/** Prints a value as indented JSON, safe for a terminal. */
export function printJson(value: unknown): void {
  process.stdout.write(jsonForTerminal(value) + '\n');
}
