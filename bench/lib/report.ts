import fs from 'node:fs';
import path from 'node:path';
import { printTable } from '../../src/cli/table.js';

export type Unit = 'x' | 'KB' | 'MiB' | 's' | 'ms' | '%' | 'jobs/s' | 'count';

/** One reported figure. It passes when `value <= target` and/or `value >= min`, whichever are given. */
export interface Figure {
  metric: string;
  value: number;
  unit: Unit;
  /** Upper bound: lower is better. */
  target?: number;
  /** Lower bound: higher is better (throughput). */
  min?: number;
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

/** A whole-number bench setting from the environment, checked against its range. */
export function wholeNumberFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return n;
}

export interface BenchPart {
  name: string;
  description: string;
  run: (ctx: BenchContext) => Promise<PartResult>;
}

export function verdict(f: Figure): 'PASS' | 'MISS' | 'FAIL' | '-' {
  if (f.error !== undefined) return 'FAIL';
  if (f.check) return 'PASS';
  if (f.target === undefined && f.min === undefined) return '-';
  const ok = (f.target === undefined || f.value <= f.target) && (f.min === undefined || f.value >= f.min);
  return ok ? 'PASS' : 'MISS';
}

function formatValue(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return 'n/a';
  switch (unit) {
    case 'x':
      return `${value.toFixed(2)}x`;
    case 's':
      return `${value.toFixed(2)} s`;
    case '%':
      return `${value.toFixed(1)}%`;
    case 'jobs/s':
      return `${value.toFixed(0)} jobs/s`;
    case 'count':
      return value.toFixed(0);
    default:
      return `${value.toFixed(1)} ${unit}`;
  }
}

function formatTarget(f: Figure): string {
  const bounds = [f.target !== undefined ? `<= ${formatValue(f.target, f.unit)}` : '', f.min !== undefined ? `>= ${formatValue(f.min, f.unit)}` : ''].filter(
    Boolean,
  );
  if (bounds.length > 0) return bounds.join(', ');
  return f.check ? 'works' : '-';
}

export function printFigures(results: PartResult[]): void {
  const rows = results.flatMap((r) =>
    r.figures.map((f) => [
      r.part,
      f.metric,
      f.error === undefined ? formatValue(f.value, f.unit) : 'failed',
      formatTarget(f),
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
