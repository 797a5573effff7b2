import type { Job } from '../../shared/api.js';
import { checkSeconds as seconds } from '../../shared/check-text.js';
import { printable } from '../../shared/terminal.js';

/** How many lines of a failed check's output `jobs show` prints: where a test runner says what failed. */
const FAILED_OUTPUT_LINES = 15;

/** `jobs show`'s setup and checks: each with its status and duration, and the end of a failed check's output. */
export function printSetupAndChecks(job: Job, write: (line: string) => void): void {
  const label = (k: string) => (k + ': ').padEnd(11);
  if (job.setup && job.setup.status !== 'none') {
    const how = job.setup.status === 'cached' ? 'cached (restored, not run)' : `${job.setup.status} in ${seconds(job.setup.duration_ms)}`;
    write(`${label('setup')}${how}`);
  }
  const checks = job.checks ?? [];
  if (checks.length === 0) {
    if (job.require_checks) write(`${label('checks')}required (none reported yet)`);
    return;
  }
  const passed = checks.filter((c) => c.status === 'passed').length;
  write(`${label('checks')}${passed}/${checks.length} passed${job.require_checks ? ' (required: one that does not pass fails the job)' : ''}`);
  for (const c of checks) {
    write(printable(`  ${c.name}: ${c.status} in ${seconds(c.duration_ms)}`));
    if (c.status === 'passed') continue;
    const lines = c.output_tail.replace(/\n+$/, '').split('\n').slice(-FAILED_OUTPUT_LINES);
    for (const line of lines) if (line) write(`    ${printable(line)}`);
  }
}
