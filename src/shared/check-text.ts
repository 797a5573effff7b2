import type { CheckResult } from './environment.js';

/**
 * A job's checks in a few characters, for a list (the CLI's and the web UI's): `3/3 ✓` when all
 * passed, else the ones that did not (`test✗`, `test✗ lint✗ +1`); `-` without any.
 */
export function checksMark(checks: readonly Pick<CheckResult, 'name' | 'status'>[] | undefined): string {
  if (!checks || checks.length === 0) return '-';
  const notPassed = checks.filter((c) => c.status !== 'passed').map((c) => `${c.name}✗`);
  if (notPassed.length === 0) return `${checks.length}/${checks.length} ✓`;
  return notPassed.length > 2 ? `${notPassed.slice(0, 2).join(' ')} +${notPassed.length - 2}` : notPassed.join(' ');
}

/** A duration as a person reads it in a check's or setup's line: `1.2 s`, `42 s`. */
export function checkSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}
