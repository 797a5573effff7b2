import fs from 'node:fs';
import path from 'node:path';
import { printTable } from '../../src/cli/table.js';

/** One reported figure. With a `target`, the figure passes when `value <= target`. */
export interface Figure {
  metric: string;
  value: number;
  unit: 'x' | 'MiB' | 's';
  target?: number;
  /** The raw measurements behind a ratio, e.g. "lazyaf 1.21s / http-backend 1.10s". */
  raw?: string;
  /** A figure that checks that something works: PASS when it ran, FAIL with `error` when not. */
  check?: boolean;
  error?: string;
}

export interface PartResult {
  part: string;
  figures: Figure[];
  /** Everything measured, written as JSON to .bench/results-<part>.json. */
  details: Record<string, unknown>;
}

export interface BenchContext {
  /** The project root. */
  root: string;
  /** .bench/ under the root: generated fixtures and results. */
  cacheDir: string;
  /** Repetitions per measurement (BENCH_RUNS, default 3); medians are reported. */
  runs: number;
  log: (message: string) => void;
}

export interface BenchPart {
  name: string;
  description: string;
  run: (ctx: BenchContext) => Promise<PartResult>;
}

export function verdict(f: Figure): 'PASS' | 'MISS' | 'FAIL' | '-' {
  if (f.error !== undefined) return 'FAIL';
  if (f.check) return 'PASS';
  if (f.target === undefined) return '-';
  return f.value <= f.target ? 'PASS' : 'MISS';
}

function formatValue(value: number, unit: Figure['unit']): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (unit === 'x') return `${value.toFixed(2)}x`;
  if (unit === 'MiB') return `${value.toFixed(1)} MiB`;
  return `${value.toFixed(2)} s`;
}

export function printFigures(results: PartResult[]): void {
  const rows = results.flatMap((r) =>
    r.figures.map((f) => [
      r.part,
      f.metric,
      f.error === undefined ? formatValue(f.value, f.unit) : 'failed',
      f.target !== undefined ? `<= ${formatValue(f.target, f.unit)}` : f.check ? 'works' : '-',
      verdict(f),
      f.error ?? f.raw ?? '',
    ]),
  );
  printTable(['part', 'figure', 'value', 'target', 'result', 'raw'], rows);
}

export function writeResults(ctx: BenchContext, result: PartResult): string {
  const file = path.join(ctx.cacheDir, `results-${result.part}.json`);
  fs.mkdirSync(ctx.cacheDir, { recursive: true });
  const figures = result.figures.map((f) => ({ ...f, result: verdict(f) }));
  fs.writeFileSync(file, JSON.stringify({ part: result.part, date: new Date().toISOString(), runs: ctx.runs, figures, ...result.details }, null, 2) + '\n');
  return file;
}
