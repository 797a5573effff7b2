import type { Command } from 'commander';
import type { Job, PickResult, Task, TaskCandidate, TaskList } from '../../shared/api.js';
import { checksMark } from '../../shared/check-text.js';
import { isFinished } from '../../shared/job-status.js';
import { printable } from '../../shared/terminal.js';
import { formatCost, formatTokens } from '../../shared/usage-text.js';
import { ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import { clientOptions, JOB_ARGUMENT_HELP, wholeNumber } from '../options.js';
import { printJson, printTable } from '../table.js';

const TASK_ARGUMENT_HELP = 'task id, or a unique prefix of it (4 characters or more)';

const short = (id: string): string => id.slice(0, 8);

/** Seconds with one decimal, or `-` before the job has ended. */
function duration(ms: number | null): string {
  return ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`;
}

/** Tokens in and out, and the cost where the agent said it; `-` for a job with no usage (a shell command). */
function usage(job: Job): string {
  if (!job.usage) return '-';
  const tokens = `${formatTokens(job.usage.input_tokens + job.usage.output_tokens)} tok`;
  return job.usage.cost_usd !== undefined ? `${tokens} ${formatCost(job.usage.cost_usd)}` : tokens;
}

function changes(c: TaskCandidate): [string, string, string] {
  if (!c.diff_stat) return ['-', '-', '-'];
  return [String(c.diff_stat.files), `+${c.diff_stat.added}`, `-${c.diff_stat.removed}`];
}

function choice(c: TaskCandidate): string {
  if (!c.choice) return '-';
  if (c.choice === 'picked') return 'picked';
  if (c.branch_deleted_at) return 'discarded (branch deleted)';
  return c.branch_expires_at ? `discarded (branch until ${c.branch_expires_at.slice(0, 16).replace('T', ' ')})` : 'discarded';
}

/** A task's heading and its candidates side by side, one row each. */
export function printTask(task: Task): void {
  const picked = task.picked_job_id ? `, picked ${short(task.picked_job_id)}` : '';
  process.stdout.write(printable(`task ${short(task.id)} ${task.status}${picked}: ${task.title} (${task.repo_name ?? task.repo_id})`) + '\n');
  printTable(
    ['JOB', 'AGENT', 'STATUS', 'CHECKS', 'FILES', '+', '-', 'USAGE', 'DURATION', 'CHOICE'],
    task.jobs.map((c) => [
      short(c.job.id),
      c.job.agent,
      c.job.status,
      checksMark(c.job.checks),
      ...changes(c),
      usage(c.job),
      duration(c.duration_ms),
      choice(c),
    ]),
  );
}

/** Waits until every job of the task has finished (each log followed to its end, none printed), then the task. */
export async function waitForTask(client: ApiClient, taskId: string, jobs: readonly Job[]): Promise<Task> {
  await Promise.all(
    jobs.map(async (job) => {
      const doing = `waiting for job ${short(job.id)}`;
      // The log's stream ends when the job does: a wait without polling.
      for await (const text of client.stream(`/api/jobs/${encodeURIComponent(job.id)}/logs?follow=true`, doing)) void text;
      const now = await client.request<Job>('GET', `/api/jobs/${encodeURIComponent(job.id)}`, undefined, doing);
      if (!isFinished(now.status)) throw client.lost(doing, `the server ended the log while the job was ${now.status}; is it stopping?`);
    }),
  );
  return client.request<Task>('GET', `/api/tasks/${encodeURIComponent(taskId)}`);
}

export function registerTasks(program: Command): void {
  const tasks = program.command('tasks');

  tasks
    .command('show')
    .description("a task's candidates side by side: status, checks, changes, usage, duration, choice")
    .argument('<task>', TASK_ARGUMENT_HELP)
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const task = await new ApiClient(clientOptions(cmd)).request<Task>('GET', `/api/tasks/${encodeURIComponent(id)}`);
      if (opts.json) printJson(task);
      else printTask(task);
    });

  tasks
    .command('list')
    .description('list tasks, newest first')
    .option('--repo <repo>', 'only this repo (id or name)')
    .option('--limit <n>', 'at most this many (1 to 200)', wholeNumber(1, 200), 50)
    .option('--json', 'print JSON')
    .action(async (opts: { repo?: string; limit: number; json?: boolean }, cmd: Command) => {
      const q = new URLSearchParams({ limit: String(opts.limit) });
      if (opts.repo) q.set('repo_id', opts.repo);
      const { tasks: list } = await new ApiClient(clientOptions(cmd)).request<TaskList>('GET', `/api/tasks?${q}`);
      if (opts.json) return printJson(list);
      if (list.length === 0) return void process.stdout.write('No tasks.\n');
      printTable(
        ['ID', 'STATUS', 'JOBS', 'PICKED', 'REPO', 'TITLE'],
        list.map((t) => [
          short(t.id),
          t.status,
          `${t.jobs.filter((c) => isFinished(c.job.status)).length}/${t.jobs.length} finished`,
          t.picked_job_id ? short(t.picked_job_id) : '-',
          t.repo_name ?? t.repo_id,
          t.title,
        ]),
      );
    });

  tasks
    .command('pick')
    .description("pick a task's candidate (the others are discarded: their branches go after LAZYAF_DISCARD_DAYS), and land it with --land")
    .argument('<task>', TASK_ARGUMENT_HELP)
    .argument('<job>', JOB_ARGUMENT_HELP)
    .option('--land', "land it too: push its branch to the repo's remote from the server")
    .option('--pr', 'with --land, open a pull request too')
    .option('--json', 'print JSON')
    .action(async (taskRef: string, jobRef: string, opts: { land?: boolean; pr?: boolean; json?: boolean }, cmd: Command) => {
      if (opts.pr && !opts.land) throw new CliError('--pr opens a pull request when landing: pass --land too');
      const result = await new ApiClient(clientOptions(cmd)).request<PickResult>('POST', `/api/tasks/${encodeURIComponent(taskRef)}/pick`, {
        job_id: jobRef,
        land: Boolean(opts.land),
        ...(opts.pr ? { land_options: { pr: true } } : {}),
      });
      if (opts.json) return printJson(result);
      printTask(result.task);
      const land = result.land;
      if (land) {
        process.stdout.write(printable(`landed ${short(land.job_id)} on ${land.landing.remote_branch} (${land.landing.commit.slice(0, 12)})`) + '\n');
        if (land.landing.pr_url) process.stdout.write(printable(`pull request: ${land.landing.pr_url}`) + '\n');
        if (land.pr_error) process.stderr.write(printable(`pushed, but no pull request: ${land.pr_error}`) + '\n');
      }
    });
}
