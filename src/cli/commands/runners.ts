import { Option, type Command } from 'commander';
import type { RunnerInfo, RunnerList, RunnersStatus } from '../../shared/api.js';
import { SHELL_AGENT } from '../../shared/job-status.js';
import { ApiClient } from '../client.js';
import { clientOptions, wholeNumber } from '../options.js';
import { printJson, printTable } from '../table.js';

interface RunnersOptions {
  json?: boolean;
  limit: number;
  cursor?: string;
  status?: string;
  all?: boolean;
}

export function registerRunners(program: Command): void {
  program
    .command('runners')
    .option('--limit <n>', 'runners per page, newest first (1 to 1000)', wholeNumber(1, 1000), 100)
    .option('--cursor <cursor>', 'the page after the one that printed this cursor')
    .addOption(new Option('--status <status>', 'only the runners in this state').choices(['idle', 'busy', 'draining', 'offline']))
    .option('--all', 'every page, not only the first')
    .option('--json', 'print JSON')
    .action(async (opts: RunnersOptions, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      const pageOf = (cursor: string | undefined) => {
        const query = new URLSearchParams({ limit: String(opts.limit) });
        if (cursor) query.set('cursor', cursor);
        if (opts.status) query.set('status', opts.status);
        return client.request<RunnerList>('GET', `/api/runners?${query}`);
      };
      const [first, status] = await Promise.all([pageOf(opts.cursor), client.request<RunnersStatus>('GET', '/api/runners/status')]);
      const runners: RunnerInfo[] = [...first.runners];
      let next = first.next;
      // Pages follow on from one another: runners that register meanwhile are newer, never on a later page.
      while (opts.all && next) {
        const page = await pageOf(next);
        runners.push(...page.runners);
        next = page.next;
      }
      if (opts.json) return printJson({ runners, next, total: first.total, status });
      if (runners.length > 0) {
        printTable(
          ['NAME', 'STATUS', 'JOB', 'SANDBOX', 'AGENTS', 'LABELS', 'LAST SEEN', 'ID'],
          runners.map((r) => [
            r.name,
            r.status,
            r.current_job_id?.slice(0, 8) ?? '-',
            r.sandbox === 'none' ? 'NONE' : (r.sandbox ?? '-'),
            // Every runner runs shell jobs, then the agents it offers: as the web UI lists them.
            [SHELL_AGENT, ...r.agents].join(','),
            r.labels.join(',') || '-',
            r.last_seen_at,
            r.id,
          ]),
        );
        if (next) {
          const same = `${opts.status ? ` --status ${opts.status}` : ''}${opts.limit !== 100 ? ` --limit ${opts.limit}` : ''}`;
          const which = opts.status ? `${opts.status} runners` : 'runners';
          process.stdout.write(`(${runners.length} of ${first.total} ${which} shown; the next page: lazyaf runners${same} --cursor ${next}, or --all)\n`);
        }
      } else if (opts.cursor || opts.status) {
        process.stdout.write('No runners on this page.\n');
      } else {
        process.stdout.write('No runners. Start one with: lazyaf runner --token <registration token>\n');
      }
      process.stdout.write(
        `\n${status.total_runners} runners: ${status.idle_runners} idle, ${status.busy_runners} busy, ${status.draining_runners} draining, ${status.offline_runners} offline; jobs: ${status.queued_jobs} queued, ${status.running_jobs} running\n`,
      );
    });
}
