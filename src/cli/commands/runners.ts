import type { Command } from 'commander';
import type { RunnerList, RunnersStatus } from '../../shared/api.js';
import { SHELL_AGENT } from '../../shared/job-status.js';
import { ApiClient } from '../client.js';
import { clientOptions } from '../options.js';
import { printJson, printTable } from '../table.js';

export function registerRunners(program: Command): void {
  program
    .command('runners')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      const [{ runners, total }, status] = await Promise.all([
        client.request<RunnerList>('GET', '/api/runners?limit=1000'),
        client.request<RunnersStatus>('GET', '/api/runners/status'),
      ]);
      if (opts.json) return printJson({ runners, status });
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
        if (total > runners.length) process.stdout.write(`(the newest ${runners.length} of ${total})\n`);
      } else {
        process.stdout.write('No runners. Start one with: lazyaf runner --token <registration token>\n');
      }
      process.stdout.write(
        `\n${status.total_runners} runners: ${status.idle_runners} idle, ${status.busy_runners} busy, ${status.draining_runners} draining, ${status.offline_runners} offline; jobs: ${status.queued_jobs} queued, ${status.running_jobs} running\n`,
      );
    });
}
