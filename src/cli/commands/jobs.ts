import { Option, type Command } from 'commander';
import type { FollowupJob, Job, JobList, JobLogs, SubmitTask, TaskCreated } from '../../shared/api.js';
import { attemptEnd, isFinished, JOB_STATUSES, SHELL_AGENT, succeededWithoutChanges } from '../../shared/job-status.js';
import { printable, TerminalLogFilter } from '../../shared/terminal.js';
import { ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import { HOW_TO_LINK, linkedCheckout } from '../linked-checkout.js';
import { repoRoot } from '../local-git.js';
import { clientOptions, wholeNumber, JOB_ARGUMENT_HELP } from '../options.js';
import { printJson, printTable } from '../table.js';
import { formatCost, formatTokens, usageLine } from '../../shared/usage-text.js';
import { checksMark } from '../../shared/check-text.js';
import { printSetupAndChecks } from './job-checks.js';
import { followTranscript, printTranscript } from './job-transcript.js';
import { reportWaiting, warnNoRunner } from './job-waiting.js';
import { printTask, waitForTask } from './tasks.js';

interface SubmitOptions {
  repo?: string;
  title: string;
  description?: string;
  command?: string;
  agent?: string;
  base?: string;
  labels?: string;
  timeout?: string;
  model?: string;
  requireChecks?: boolean;
  wait?: boolean;
  json?: boolean;
  agents?: string;
  count?: number;
}

/**
 * The candidates a submit asks for, when it makes a task: `--agent a,b` (a list), `--agents a:2,b`
 * (with repeats) or `--count N`; undefined for one job.
 */
export function candidatesOf(opts: Pick<SubmitOptions, 'agent' | 'agents' | 'count' | 'command'>): { agents: string[] } | { count: number } | undefined {
  const listed = opts.agent?.includes(',') ? opts.agent : undefined;
  if ([listed, opts.agents, opts.count].filter((x) => x !== undefined).length > 1) {
    throw new CliError('pass one of --agent a,b, --agents a:2,b or --count N');
  }
  if (opts.count !== undefined) return { count: opts.count };
  const spec = listed ?? opts.agents;
  if (spec === undefined) return undefined;
  if (opts.command !== undefined) throw new CliError('each agent runs its own command: pass --command with --count N instead of a list of agents');
  const agents: string[] = [];
  for (const item of spec.split(',').map((a) => a.trim())) {
    const m = /^([^:\s]+)(?::(\d{1,2}))?$/.exec(item);
    if (!m || (m[2] !== undefined && Number(m[2]) < 1)) throw new CliError(`--agents takes names with an optional count, like claude:2,codex; got "${item}"`);
    for (let i = 0; i < Number(m[2] ?? 1); i++) agents.push(m[1]!);
  }
  return { agents };
}

/** A job's or a runner's id as people read it: its first 8 characters (the branch's suffix), which every command takes for the job. */
const short = (id: string): string => id.slice(0, 8);

/** A runner by the name it had on the job, else by its short id (an attempt recorded before names were kept). */
const runnerOf = (name: string | null | undefined, id: string): string => name ?? short(id);

function printJob(job: Job): void {
  const rows: [string, string | number | null | undefined][] = [
    ['id', short(job.id)],
    ['title', job.title],
    ['status', job.status + (job.cancel_requested && job.status === 'running' ? ' (cancelling)' : '')],
    ['waiting', job.no_runner],
    ['repo', job.repo_name ?? job.repo_id],
    ['agent', job.agent],
    ['model', job.model],
    ['command', job.command],
    ['base', job.base_branch],
    ['branch', job.branch],
    ['commit', job.commit],
    ['exit code', job.exit_code],
    ['error', job.error],
    [
      'attempts',
      // max_attempts caps only the attempts a run loses with its runner: a command that fails is not tried again by itself.
      `${job.attempt_count}${job.attempt_count > job.run_attempt_count ? ` in all, ${job.run_attempt_count} since the last retry` : ''} (up to ${job.max_attempts} in a run when runners are lost)`,
    ],
    ['usage', job.usage ? usageLine(job.usage) : null],
    ['duration', job.usage?.duration_ms !== undefined ? `${(job.usage.duration_ms / 1000).toFixed(1)} s` : null],
    ['transcript', job.transcript_entries ? `${job.transcript_entries} entries (lazyaf jobs logs ${short(job.id)})` : null],
    ['runner', job.runner_id && runnerOf(job.runner_name, job.runner_id)],
    ['created', job.created_at],
    ['finished', job.finished_at],
    [
      'landed',
      job.landed
        ? `${job.landed.remote_branch} (${short(job.landed.commit)}) on ${job.landed.remote_url} by ${job.landed.landed_by} at ${job.landed.landed_at}`
        : null,
    ],
    ['pr', job.landed?.pr_url],
  ];
  for (const [k, v] of rows) if (v !== null && v !== undefined && v !== '') process.stdout.write(`${(k + ': ').padEnd(11)}${printable(v)}\n`);
  printSetupAndChecks(job, (line) => process.stdout.write(`${line}\n`));
  // The jobs it follows up, oldest first: the chain that landing this job's branch lands.
  for (const link of job.chain ?? []) process.stdout.write(printable(`follows:   ${short(link.id)} ${link.status} ${link.title}`) + '\n');
  for (const a of job.attempts ?? []) {
    const line = `attempt ${a.number}: runner ${runnerOf(a.runner_name, a.runner_id)} ${a.started_at} → ${a.ended_at ?? 'in progress'} ${attemptEnd(job, a) ?? ''}${a.exit_code !== null ? ` (exit ${a.exit_code})` : ''}${a.error ? `: ${a.error}` : ''}`;
    process.stdout.write(`  ${printable(line)}\n`);
  }
}

/** Writes a job's log so far; colours pass, other escapes do not. False when it has none. */
async function printLog(client: ApiClient, jobId: string): Promise<boolean> {
  const filter = new TerminalLogFilter();
  let offset = 0;
  for (;;) {
    const page = await client.request<JobLogs>('GET', `/api/jobs/${encodeURIComponent(jobId)}/logs?offset=${offset}`);
    process.stdout.write(filter.write(page.content));
    if (page.next_offset === offset) return offset > 0;
    offset = page.next_offset;
  }
}

/**
 * The stderr line of `jobs logs` for a job with nothing to print, so that no output is not taken
 * for a failure to read it: not started yet, or finished without ever running (cancelled while queued).
 */
function sayNothing(job: Job, what: 'log' | 'transcript'): void {
  const id = short(job.id);
  let line = `job ${id} ${job.status} with no ${what}`;
  if (job.log_pruned_at) line = `job ${id} ${job.status}; its log and transcript were pruned on ${job.log_pruned_at.slice(0, 10)} (LAZYAF_RETENTION_DAYS)`;
  else if (!isFinished(job.status)) line = `job ${id} is ${job.status}: no ${what} yet`;
  else if (job.attempt_count === 0) line = `job ${id} ${job.status} before it ran: it has no ${what}`;
  process.stderr.write(`${line}\n`);
}

/**
 * Writes a job's log live until the job has finished, and returns the finished job. The server
 * also ends the stream when it stops: a job not finished by then is a lost connection, said so.
 */
async function followLog(client: ApiClient, jobId: string): Promise<Job> {
  const filter = new TerminalLogFilter();
  const path = `/api/jobs/${encodeURIComponent(jobId)}`;
  const doing = `following job ${jobId}`;
  for await (const text of client.stream(`${path}/logs?follow=true`, doing)) process.stdout.write(filter.write(text));
  const job = await client.request<Job>('GET', path, undefined, doing);
  if (!isFinished(job.status)) throw client.lost(doing, `the server ended the log while the job was ${job.status}; is it stopping?`);
  return job;
}

/** `--wait`: follows a job's log to its end, says how it ended (the job as JSON with `json`), and fails unless it succeeded. */
async function waitForEnd(client: ApiClient, jobId: string, json?: boolean): Promise<void> {
  const final = await followLog(client, jobId);
  if (json) printJson(final);
  const on = final.commit ? ` on ${final.branch} (${final.commit.slice(0, 12)})` : '';
  // One line says how it ended: a failure is the error line (and the exit code), not a second line.
  if (final.status !== 'succeeded') throw new CliError(`job ${final.id} ${final.status}${final.error ? `: ${final.error}` : ''}${on}`);
  if (!json) process.stderr.write(printable(`Job ${final.id} ${final.status}${on}`) + '\n');
}

/** After a submit, a rerun or a follow-up: the new job's id, or with `--wait` its log until it ends (non-zero exit unless it succeeded). */
async function followSubmitted(client: ApiClient, job: Job, opts: { wait?: boolean; json?: boolean }): Promise<void> {
  if (!opts.wait) {
    warnNoRunner(job);
    if (opts.json) printJson(job);
    else process.stdout.write(`${job.id}\n`);
    return;
  }
  process.stderr.write(`Submitted job ${job.id}; following its log\n`);
  const stopReporting = reportWaiting(client, job);
  try {
    await waitForEnd(client, job.id, opts.json);
  } finally {
    stopReporting();
  }
}

/** A task's submit: its id and each job's, or with `--wait` the candidates side by side once all have finished. */
async function submitTask(client: ApiClient, body: SubmitTask, opts: { wait?: boolean; json?: boolean }): Promise<void> {
  const created = await client.request<TaskCreated>('POST', '/api/tasks', body);
  if (!opts.wait) {
    for (const job of created.jobs) warnNoRunner(job);
    if (opts.json) return printJson(created);
    process.stdout.write(`task ${created.id}\n`);
    for (const job of created.jobs) process.stdout.write(printable(`job ${job.id} ${job.agent}`) + '\n');
    return;
  }
  process.stderr.write(`Submitted task ${created.id} of ${created.jobs.length} jobs; waiting for them all\n`);
  const task = await waitForTask(client, created.id, created.jobs);
  if (opts.json) printJson(task);
  else printTask(task);
  const failed = task.jobs.filter((c) => c.job.status !== 'succeeded');
  if (failed.length) throw new CliError(`task ${created.id}: ${failed.map((c) => `job ${short(c.job.id)} ${c.job.status}`).join(', ')}`);
}

/** What a job's agent spent: its cost where the agent said, else its tokens, else `-`. */
function spent(job: Job): string {
  if (!job.usage) return '-';
  if (job.usage.cost_usd !== undefined) return formatCost(job.usage.cost_usd);
  return `${formatTokens(job.usage.input_tokens + job.usage.output_tokens)} tok`;
}

/** `--labels a,b` as a list. */
function labelList(raw: string | undefined): string[] | undefined {
  return raw
    ?.split(',')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** `--timeout N` as whole seconds. */
function timeoutSeconds(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const timeout = Number(raw);
  if (!Number.isInteger(timeout) || timeout < 1) throw new CliError(`--timeout must be a whole number of seconds, got "${raw}"`);
  return timeout;
}

/** Without --repo: the repo the checkout in the current folder is linked to, as `lazyaf push` finds it. */
async function repoOfCheckout(cmd: Command): Promise<{ client: ApiClient; repoId: string }> {
  const root = await repoRoot(process.cwd()).catch(() => undefined);
  const linked = root === undefined ? undefined : await linkedCheckout(root, clientOptions(cmd));
  if (!linked) {
    const why = root === undefined ? `${process.cwd()} is not in a git checkout` : `${root} has no "lazyaf" remote`;
    throw new CliError(`pass --repo REPO, or run inside a checkout linked to a lazyaf repo (${why}; to link one: ${HOW_TO_LINK})`);
  }
  return { client: linked.client, repoId: linked.repo.id };
}

export function registerJobs(program: Command): void {
  const jobs = program.command('jobs');

  jobs
    .command('submit')
    .description('queue a job on a repo')
    .option('--repo <repo>', 'repo id or name (default: the repo the checkout in the current folder is linked to)')
    .requiredOption('--title <title>', 'what the job is about (also the commit message)')
    .option('--description <text>', 'details for the agent')
    .option('--command <cmd>', 'shell command to run in the workspace')
    .option('--agent <name>', 'agent to run instead: claude, gemini, codex, aider')
    .option('--base <branch>', "branch to start from (default: the repo's default branch)")
    .option('--labels <a,b>', 'labels a runner must have')
    .option('--timeout <seconds>', 'timeout in seconds')
    .option('--model <model>', "the model the agent uses (default: the agent's own)")
    .option('--require-checks', "fail the job when one of the repo's checks (.lazyaf.yml) does not pass")
    .option('--agents <a:n,b>', 'a task: one job per agent, a name with :N for N jobs of it (claude:2,codex); so does --agent a,b')
    .option('--count <n>', 'a task: N jobs of the same command or agent, side by side', wholeNumber(1, 1000))
    .option('--wait', 'follow the log and wait for the job (every job of a task) to finish; exit non-zero if one did not succeed')
    .option('--json', 'print JSON')
    .action(async (opts: SubmitOptions, cmd: Command) => {
      if (!opts.command && !opts.agent && !opts.agents) throw new CliError('pass --command CMD or --agent NAME');
      const timeout = timeoutSeconds(opts.timeout);
      const candidates = candidatesOf(opts);
      const { client, repoId } = opts.repo ? { client: new ApiClient(clientOptions(cmd)), repoId: opts.repo } : await repoOfCheckout(cmd);
      const body = {
        repo_id: repoId,
        title: opts.title,
        description: opts.description,
        command: opts.command,
        agent: candidates && 'agents' in candidates ? undefined : opts.agent,
        base_branch: opts.base,
        labels: labelList(opts.labels),
        timeout_s: timeout,
        model: opts.model,
        require_checks: opts.requireChecks,
      };
      if (candidates) return submitTask(client, { ...body, ...candidates }, opts);
      const job = await client.request<Job>('POST', '/api/jobs', body);
      await followSubmitted(client, job, opts);
    });

  jobs
    .command('list')
    .description('list jobs, newest first')
    .option('--repo <repo>', 'only this repo (id or name)')
    .addOption(new Option('--status <status>', 'only jobs in this status').choices(JOB_STATUSES))
    .option('--limit <n>', 'at most this many (1 to 1000)', wholeNumber(1, 1000), 50)
    .option('--json', 'print JSON')
    .action(async (opts: { repo?: string; status?: string; limit: number; json?: boolean }, cmd: Command) => {
      const q = new URLSearchParams({ limit: String(opts.limit) });
      if (opts.repo) q.set('repo_id', opts.repo);
      if (opts.status) q.set('status', opts.status);
      const { jobs: list } = await new ApiClient(clientOptions(cmd)).request<JobList>('GET', `/api/jobs?${q}`);
      if (opts.json) return printJson(list);
      if (list.length === 0) return void process.stdout.write('No jobs.\n');
      printTable(
        ['ID', 'STATUS', 'BRANCH', 'CHECKS', 'COST', 'TITLE'],
        list.map((j) => [
          j.id.slice(0, 8),
          (succeededWithoutChanges(j) ? 'succeeded, no changes' : j.status) + (j.landed ? ', landed' : ''),
          j.branch ?? '-',
          checksMark(j.checks),
          spent(j),
          j.title,
        ]),
      );
    });

  jobs
    .command('show')
    .description('show a job and its attempts')
    .argument('<job>', JOB_ARGUMENT_HELP)
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const job = await new ApiClient(clientOptions(cmd)).request<Job>('GET', `/api/jobs/${encodeURIComponent(id)}`);
      if (opts.json) printJson(job);
      else printJob(job);
    });

  jobs
    .command('logs')
    .description("print a job's log: an agent job's transcript, a shell job's output")
    .argument('<job>', JOB_ARGUMENT_HELP)
    .option('-f, --follow', 'keep printing until the job has finished')
    .option('--raw', "the raw log (the agent's own output stream) instead of its transcript")
    .option('--json', "the transcript's entries, one JSON object per line")
    .action(async (id: string, opts: { follow?: boolean; raw?: boolean; json?: boolean }, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      if (opts.raw && opts.json) throw new CliError('--raw prints the log as it is; --json prints the transcript: pass one');
      const jobPath = `/api/jobs/${encodeURIComponent(id)}`;
      const job = opts.raw ? undefined : await client.request<Job>('GET', jobPath);
      if (job && job.agent !== SHELL_AGENT) {
        const out = { json: Boolean(opts.json) };
        if (opts.follow) {
          const final = await followTranscript(client, job.id, out);
          if (final.attempt_count === 0) sayNothing(final, 'transcript');
          return;
        }
        if (await printTranscript(client, job, out)) return;
        if (opts.json) return sayNothing(job, 'transcript');
        // An agent run without a transcript (a template from agents.json, an older runner): its log is all there is.
      } else if (job && opts.json) throw new CliError(`job ${job.id} runs a shell command: it has a log and no transcript (drop --json)`);
      if (opts.follow) {
        const final = await followLog(client, id);
        if (final.log_bytes === 0 || final.log_pruned_at) sayNothing(final, 'log');
      } else if (!(await printLog(client, id))) {
        // Its status now: the job read before the log may have started since.
        sayNothing(await client.request<Job>('GET', jobPath), 'log');
      }
    });

  for (const [name, verb] of [
    ['cancel', 'cancel a queued or running job'],
    ['retry', 'run a failed or cancelled job again on its branch (a succeeded one: rerun)'],
  ] as const) {
    jobs
      .command(name)
      .description(verb)
      .argument('<job>', JOB_ARGUMENT_HELP)
      .action(async (id: string, _opts: unknown, cmd: Command) => {
        const job = await new ApiClient(clientOptions(cmd)).request<Job>('POST', `/api/jobs/${encodeURIComponent(id)}/${name}`);
        process.stdout.write(printable(`${job.id} ${job.status}${job.cancel_requested && job.status === 'running' ? ' (cancelling)' : ''}`) + '\n');
      });
  }

  jobs
    .command('rerun')
    .description('submit a finished job again as a new job with its own branch')
    .argument('<job>', JOB_ARGUMENT_HELP)
    .option('--wait', 'follow the log and wait for the new job to finish; exit non-zero if it did not succeed')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { wait?: boolean; json?: boolean }, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      await followSubmitted(client, await client.request<Job>('POST', `/api/jobs/${encodeURIComponent(id)}/rerun`), opts);
    });

  jobs
    .command('followup')
    .description("start a job on top of a finished job's branch")
    .argument('<job>', JOB_ARGUMENT_HELP)
    .requiredOption('--title <title>', 'what the job is about (also the commit message)')
    .option('--description <text>', 'details for the agent')
    .option('--command <cmd>', 'shell command to run in the workspace')
    .option('--agent <name>', 'agent to run instead: claude, gemini, codex, aider')
    .option('--labels <a,b>', "labels a runner must have (default: the job's)")
    .option('--timeout <seconds>', "timeout in seconds (default: the job's)")
    .option('--model <model>', "the model the agent uses (default: the job's, for the same agent)")
    .option('--fresh', "start a new conversation instead of continuing the job's (same agent)")
    .option('--wait', 'follow the log and wait for the job to finish; exit non-zero if it did not succeed')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: Omit<SubmitOptions, 'repo' | 'base'> & { fresh?: boolean }, cmd: Command) => {
      const client = new ApiClient(clientOptions(cmd));
      if (!opts.command && !opts.agent) throw new CliError('pass --command CMD or --agent NAME');
      const body: FollowupJob = {
        title: opts.title,
        description: opts.description,
        command: opts.command,
        agent: opts.agent,
        labels: labelList(opts.labels),
        timeout_s: timeoutSeconds(opts.timeout),
        model: opts.model,
        fresh: opts.fresh,
      };
      await followSubmitted(client, await client.request<Job>('POST', `/api/jobs/${encodeURIComponent(id)}/followup`, body), opts);
    });
}
