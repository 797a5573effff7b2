import type { Command } from 'commander';
import type { UsageReport, UsageSum } from '../../shared/api.js';
import { ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import { clientOptions } from '../options.js';
import { printJson, printTable } from '../table.js';
import { formatCost } from '../../shared/usage-text.js';

const HEADERS = ['JOBS', 'INPUT', 'OUTPUT', 'CACHE READ', 'COST'];

/** A sum's columns; a cost that leaves out jobs whose agent reported none says how many. */
function columns(sum: UsageSum): string[] {
  const n = (x: number) => x.toLocaleString('en-US');
  const without = sum.jobs_without_cost > 0 ? ` (${sum.jobs_without_cost} without)` : '';
  return [n(sum.jobs), n(sum.input_tokens), n(sum.output_tokens), n(sum.cache_read_tokens), formatCost(sum.cost_usd) + without];
}

export function registerUsage(program: Command): void {
  program
    .command('usage')
    .option('--since <day>', 'only what attempts that ended on or after this day (YYYY-MM-DD, UTC) used')
    .option('--repo <repo>', 'only this repo (id or name)')
    .option('--json', 'print JSON')
    .action(async (opts: { since?: string; repo?: string; json?: boolean }, cmd: Command) => {
      if (opts.since !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(opts.since)) throw new CliError(`--since takes a day as YYYY-MM-DD, got "${opts.since}"`);
      const query = new URLSearchParams({ ...(opts.since ? { since: opts.since } : {}), ...(opts.repo ? { repo: opts.repo } : {}) });
      const report = await new ApiClient(clientOptions(cmd)).request<UsageReport>('GET', `/api/usage?${query}`);
      if (opts.json) return printJson(report);
      if (report.total.jobs === 0) return void process.stdout.write('No agent usage recorded.\n');
      printTable(['REPO', ...HEADERS], [...report.by_repo.map((r) => [r.repo_name, ...columns(r)]), ['total', ...columns(report.total)]]);
      process.stdout.write('\n');
      printTable(
        ['DAY', ...HEADERS],
        report.by_day.map((d) => [d.day, ...columns(d)]),
      );
    });
}
