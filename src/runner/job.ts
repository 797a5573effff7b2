import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { formatBytes } from '../shared/job-limits.js';
import type { Assignment, CompleteRequest } from '../shared/protocol.js';
import type { Usage } from '../shared/transcript.js';
import { AGENT_ADAPTERS } from '../shared/agents/index.js';
import type { AgentAdapter } from '../shared/agents/adapter.js';
import { AgentOutput, agentLaunch, prepareAgentHome, prepareJobHome, TEMPLATE_HOME_ENTRIES, type AgentLaunch } from './agent-run.js';
import { OutputTail, saveSession, sessionNotFound, startingPoint, type SessionDeps, type StartingPoint } from './agent-session.js';
import { loginSnapshot, writeBackLogins, type LoginSnapshot } from './login-files.js';
import { withoutMissingFiles } from './credential-files.js';
import { isAbortError } from './backoff.js';
import { LeaseLostError, type RunnerClient } from './client.js';
import { jobEnv } from './env.js';
import { runCommand, type CommandResult } from './execute.js';
import { runChecks } from './checks.js';
import { watchDisk } from './disk-watch.js';
import { wallWithin, type JobJail, type JobLimiter } from './limits.js';
import { Redactor } from '../shared/redact.js';
import { secretsOf } from '../shared/agents/credentials.js';
import { LogStream } from './log-stream.js';
import { publishChanges } from './publish.js';
import type { SandboxLayout, Wall } from './sandbox.js';
import { prepareWorkspace, removeJobFiles, WorkspaceError, type Workspace } from './workspace.js';
import { returnCopies } from './env-cache.js';
import { environmentErrorLine, environmentSecrets, jobVariables, planSetup, runSetup, setupVariables, type SetupPlace, type SetupPlan } from './setup.js';
import type { SetupReport } from '../shared/environment.js';

export interface JobDeps {
  client: RunnerClient;
  workdir: string;
  /** The runner's own progress log (one line each). */
  log: (line: string) => void;
  killGraceMs?: number;
  /** The wall around the job's command and around every git command that reads its repository; none: unsandboxed. */
  sandbox?: Wall;
  /** Without a wall, whether the job runs in the runner's own container, as the runner's own user. */
  inContainer?: boolean;
  /** What the job may use (processes, memory, its workspace's disk); none: no limits. */
  limiter?: JobLimiter;
}

/** Why a job is stopped from outside: the server cancelled it, its lease is gone, or the runner gives it back. */
export type StopReason = 'cancelled' | 'lost' | 'returned';

/**
 * How long keeping the work of a job that did not succeed (commit and push) may take. A cancelled
 * or timed-out job's attempt stays live only for the server's grace (30 s by default, after the
 * runner's kill grace of 3 s): the report must land inside it.
 */
export const KEEP_WORK_MS = 20_000;

/** How long sending an agent's session files may take (up to 32 MiB), inside the lease. */
const SAVE_SESSION_MS = 30_000;

/**
 * One attempt, from assignment to completion: workspace, command, commit and push, then the
 * report. Whatever the command's outcome (succeeded, failed, timed out, cancelled), what it left
 * is committed and pushed to the job branch, so no work is lost. Output goes to the server as it
 * comes; the completion is sent after the last log chunk and retried until the server answers. A
 * lost lease stops everything and reports nothing (the server has ended the attempt already); a
 * job given back keeps nothing either, since its next attempt starts over.
 */
export class JobRun {
  readonly attemptId: string;
  readonly done: Promise<void>;
  private stopReason: StopReason | undefined;
  private readonly stopCtl = new AbortController();
  /** Aborted when the work is not to be kept: the lease is gone, or the job is given back. */
  private readonly keepCtl = new AbortController();
  private readonly reportCtl = new AbortController();
  /** Aborted when the job's workspace holds more than its disk cap: the command is stopped, its work not kept. */
  private readonly diskCtl = new AbortController();
  private readonly logs: LogStream;
  /** The credentials the server sent with the job: never in what the runner sends back. */
  private readonly redactor: Redactor;
  private workspace: Workspace | undefined;
  private jail: JobJail | undefined;
  /** An agent run through its adapter: its stdout becomes the transcript. */
  private agent: AgentOutput | undefined;
  /** Its adapter, HOME, how it began, and the login files it got (for the ones it refreshes). */
  private agentRun: { adapter: AgentAdapter; home: string; start: StartingPoint; logins: LoginSnapshot } | undefined;
  /** How the repo's setup went, for the completion (none: the repo has no environment). */
  private setup: SetupReport | undefined;
  readonly shortId: string;
  /**
   * When the runner was handed the job: the server ends an attempt still running its timeout (plus
   * a grace) after the claim, so the checks, which come after the command, are held to it from here.
   */
  private readonly receivedAt = Date.now();

  constructor(
    private readonly a: Assignment,
    private readonly deps: JobDeps,
  ) {
    this.attemptId = a.attempt_id;
    this.shortId = a.job_id.slice(0, 8);
    // The job's secrets, not its settings (a gateway URL, NO_PROXY): see secretsOf.
    // The repo's secrets are secrets by declaration, whatever their names.
    this.redactor = new Redactor([
      ...secretsOf(Object.entries(a.agent_run?.env ?? a.agent_env ?? {})).map(([, value]) => value),
      ...environmentSecrets(a.environment),
    ]);
    this.logs = new LogStream({
      redact: this.redactor,
      send: (chunk, call) => deps.client.logs(a.attempt_id, a.job_token, chunk, call),
      onLeaseLost: () => this.stop('lost'),
      onRejected: (err) => deps.log(`job ${this.shortId}: the server refused a log chunk: ${err.message}`),
    });
    this.done = this.run();
  }

  /** Stops the job; a lost lease wins over giving it back, which wins over a cancel. */
  stop(reason: StopReason): void {
    const rank: Record<StopReason, number> = { cancelled: 1, returned: 2, lost: 3 };
    if (this.stopReason && rank[this.stopReason] >= rank[reason]) return;
    this.stopReason = reason;
    this.stopCtl.abort();
    if (reason !== 'cancelled') this.keepCtl.abort();
    // The server ended a lost attempt itself: nothing sent for it would count. A cancelled one
    // stays live for the server's cancel grace, so its report (and its work) still lands.
    if (reason === 'lost') this.abandonReport();
  }

  /** Gives up sending what is left to report (the runner is going away and the server does not answer). */
  abandonReport(): void {
    this.logs.abort();
    this.agent?.transcript.abort();
    this.reportCtl.abort();
  }

  private say(line: string): void {
    this.deps.log(`job ${this.shortId}: ${line}`);
    if (this.logs.writable) this.logs.write(`[lazyaf] ${line}\n`);
  }

  private async run(): Promise<void> {
    this.say(`received attempt ${this.a.attempt} (${this.a.agent}) on ${this.a.base_branch}`);
    let report: CompleteRequest;
    try {
      report = await this.execute();
    } catch (err) {
      report = { outcome: 'failed', exit_code: null, error: `runner error: ${(err as Error).message}`.slice(0, 1000) };
    }
    // What the job's diff is taken against; the same for every attempt that starts from this base.
    if (this.workspace) report = { ...report, base_commit: this.workspace.baseCommit };
    if (this.setup) report = { ...report, setup: this.setup };
    if (this.agent) report = this.agent.report(report);
    if (this.stopReason !== 'lost') {
      this.say(summary(report, this.a.branch));
      if (report.checks?.length) this.say(`checks: ${report.checks.map((c) => `${c.name} ${c.status}`).join(', ')}`);
      if (report.usage) this.say(usageLine(report.usage));
      // The last chunk and batch before the completion: after it the attempt takes no more.
      await Promise.all([this.logs.finish(), this.agent?.transcript.finish()]);
    }
    // The lease can also go while the last chunks are sent.
    if (this.stopReason === 'lost') this.deps.log(`job ${this.shortId}: lease lost; stopped, nothing more reported`);
    else await this.complete(report);
    // A group that cannot be removed is left for the runner's next start (and logged): the job is over.
    await this.jail?.close().catch((err: Error) => this.deps.log(`job ${this.shortId}: could not remove its cgroup: ${err.message}`));
    if (this.workspace) {
      // A wall that cannot take the job's files back or end its processes stops the runner (the error reaches its loop).
      await this.deps.sandbox?.dismiss?.(this.workspace);
      removeJobFiles(this.workspace);
      const cache = this.a.environment?.cache;
      if (cache) returnCopies(this.deps.workdir, this.workspace.dir, cache.paths);
    }
  }

  private async execute(): Promise<CompleteRequest> {
    const signal = this.stopCtl.signal;
    // A repo environment the server could not read: nothing runs, and the job's last line says why.
    if (this.a.environment_error !== undefined) return { outcome: 'failed', exit_code: null, error: environmentErrorLine(this.a.environment_error) };
    let ws: Workspace;
    try {
      ws = this.workspace = await prepareWorkspace(this.a, { workdir: this.deps.workdir, log: (l) => this.say(l), signal });
    } catch (err) {
      if (isAbortError(err) || this.stopReason) return this.stoppedReport();
      if (err instanceof WorkspaceError) return { outcome: 'failed', exit_code: null, error: err.message };
      throw err;
    }

    const { sandbox } = this.deps;
    const place: SetupPlace = { workdir: this.deps.workdir, repoId: this.a.repo_id, checkout: ws.dir, say: (l) => this.say(l), signal };
    // Before the wall admits the job: a restored cache is among the job's files it hands over.
    let plan: SetupPlan | undefined;
    try {
      plan = this.a.environment && (await planSetup(this.a.environment, place));
    } catch (err) {
      if (this.stopReason) return this.stoppedReport();
      throw err;
    }
    if (plan?.done) this.setup = plan.done;
    if (this.stopReason) return this.stoppedReport();
    if (plan?.error) return { outcome: 'failed', exit_code: null, error: plan.error };
    // Before the wall admits the job: the agent's HOME is among the job's files it hands over.
    const launch = await this.launch(ws);
    if (this.stopReason) return this.stoppedReport();
    await sandbox?.admit?.(ws);
    this.say(
      sandbox
        ? sandbox.running
        : this.deps.inContainer
          ? "running in the runner's container as the runner's own user: the command can read the runner's environment, its registration token included"
          : 'running WITHOUT a sandbox: the command can read everything this runner can',
    );
    const jail = (this.jail = await this.deps.limiter?.open());
    const wall = jail ? wallWithin(jail, sandbox) : sandbox;
    const layout = { workspace: ws.dir, readOnly: [path.join(ws.cacheDir, 'objects'), ws.promptFile], network: true, home: launch.home };
    const disk = this.deps.limiter?.limits.diskBytes ?? 0;
    const unwatch = disk > 0 ? watchDisk([ws.dir, launch.home], disk, () => this.diskCtl.abort()) : undefined;
    let started = Date.now();
    /** `agent`: its output goes to the agent's parser too (not setup's). */
    const run = (argv: string[], timeoutMs: number, extra: Pick<AgentLaunch, 'env' | 'stdin'> | undefined, output: Writable, agent = true) =>
      runCommand({
        command: wall ? wall.wrap(argv, layout) : argv,
        cwd: ws.dir,
        env: { ...jobEnv(this.a, ws.promptFile), ...sandbox?.jobEnv, ...extra?.env },
        timeoutMs,
        output,
        signal: AbortSignal.any([signal, this.diskCtl.signal]),
        killGraceMs: this.deps.killGraceMs,
        stdin: extra?.stdin,
        onStdout: agent ? this.agent?.write : undefined,
        onStderr: agent ? this.agent?.writeStderr : undefined,
      });
    let timeoutMs = this.a.timeout_ms;
    if (plan && !plan.done) {
      const setup = await runSetup(plan, place, {
        run: (command, ms) => run(['sh', '-c', command], ms, { env: { HOME: launch.home, ...setupVariables(plan.env) }, stdin: undefined }, this.logs, false),
        settle: async () => {
          await sandbox?.sweep?.();
          await jail?.killAll();
        },
        breach: () => jail?.breach(),
        stopped: () => (this.stopReason === 'cancelled' ? 'cancelled' : this.stopReason || this.diskCtl.signal.aborted ? 'other' : undefined),
        timeoutMs,
      });
      this.setup = setup.report;
      if (setup.ended) {
        unwatch?.();
        this.agent?.end();
        await this.afterAgent(ws);
        if (this.keepCtl.signal.aborted) return this.stoppedReport();
        if (this.diskCtl.signal.aborted && this.stopReason !== 'cancelled')
          return { outcome: 'failed', exit_code: null, error: `the job exceeded its disk limit (more than ${formatBytes(disk)} in its workspace)` };
        if (setup.ended.outcome === 'returned') return this.stoppedReport();
        return this.keepWork(ws, setup.ended, wall);
      }
      // Setup's time counts in the job's timeout.
      if (timeoutMs > 0) timeoutMs = Math.max(1, timeoutMs - (Date.now() - started));
      started = Date.now();
    }
    // A resumed agent's output is watched for its "session not found".
    const tail = this.agentRun?.start.fallback !== undefined ? new OutputTail(this.logs) : undefined;
    // The repo's variables and the secrets for the job, not those for setup only.
    const commandLaunch = { ...launch, env: { ...jobVariables(this.a.environment), ...launch.env } };
    let result = await run(launch.argv, timeoutMs, commandLaunch, tail ?? this.logs);
    if (tail && this.startsAfresh(result, tail)) {
      const remaining = timeoutMs > 0 ? Math.max(1, timeoutMs - (Date.now() - started)) : 0;
      const again = this.relaunch(ws);
      result = await run(again.argv, remaining, { ...again, env: { ...jobVariables(this.a.environment), ...again.env } }, this.logs);
    }
    unwatch?.();
    this.agent?.end();
    // What escaped the command's process group (setsid) must not watch or change the commit and push.
    await sandbox?.sweep?.();
    await jail?.killAll();
    await this.afterAgent(ws);
    if (this.keepCtl.signal.aborted) return this.stoppedReport();
    if (result.spawnError) return { outcome: 'failed', exit_code: null, error: `cannot start the command: ${result.spawnError}` };
    // Committing what filled the disk would fill it twice: its work is not kept.
    if (this.diskCtl.signal.aborted && this.stopReason !== 'cancelled')
      return { outcome: 'failed', exit_code: null, error: `the job exceeded its disk limit (more than ${formatBytes(disk)} in its workspace)` };
    const kept = await this.keepWork(ws, this.outcomeOf(result, jail?.breach()), wall);
    return this.withChecks(kept, ws, { wall, layout, deadlineMs: this.a.timeout_ms > 0 ? this.receivedAt + this.a.timeout_ms : 0, home: launch.home });
  }

  /**
   * Runs the repo's checks after the job's work was committed and pushed, and adds what they did
   * to the report. After, not before: the branch then holds exactly what the command or agent
   * left, and a check (a test run writing coverage, a formatter, a hostile one) cannot change
   * the commit it is checking. They run on that committed tree (the ignored files setup left,
   * like node_modules, included), in the same wall and limits as the command, with the job's
   * environment plus the repo's `env` and `job_secrets` (never the setup-only secrets, never the
   * agent's credentials). Not for a job that was stopped, timed out, or whose work was not kept
   * (a command that could not start, a full disk): there is nothing meaningful to check then.
   */
  private async withChecks(
    kept: CompleteRequest,
    ws: Workspace,
    how: { wall: Wall | undefined; layout: SandboxLayout; deadlineMs: number; home: string },
  ): Promise<CompleteRequest> {
    const checks = this.a.environment?.checks ?? [];
    if (checks.length === 0 || (kept.outcome !== 'succeeded' && kept.outcome !== 'failed') || this.stopReason) return kept;
    const environment = this.a.environment!;
    const env = { ...jobEnv(this.a, ws.promptFile), ...this.deps.sandbox?.jobEnv, HOME: how.home, ...environment.env, ...environment.job_secrets };
    const disk = this.deps.limiter?.limits.diskBytes ?? 0;
    const unwatch = disk > 0 ? watchDisk([ws.dir, how.home], disk, () => this.diskCtl.abort()) : undefined;
    const signal = AbortSignal.any([this.stopCtl.signal, this.diskCtl.signal]);
    const results = await runChecks(checks, {
      run: (command, timeoutMs, output) =>
        runCommand({
          command: how.wall ? how.wall.wrap(['sh', '-c', command], how.layout) : ['sh', '-c', command],
          cwd: ws.dir,
          env,
          timeoutMs,
          output,
          signal,
          killGraceMs: this.deps.killGraceMs,
        }),
      log: this.logs,
      say: (l) => this.say(l),
      redactor: this.redactor,
      deadlineMs: how.deadlineMs,
      signal,
    });
    unwatch?.();
    // What a check left running ends here, as the command's leftovers did.
    await this.deps.sandbox?.sweep?.();
    await this.jail?.killAll();
    if (this.keepCtl.signal.aborted) return this.stoppedReport();
    if (this.stopReason === 'cancelled') return { outcome: 'cancelled', exit_code: null, commit: kept.commit ?? null, checks: results };
    return { ...kept, checks: results };
  }

  /**
   * For an agent the runner knows (`agent_run` with an adapter): its HOME (with the parent's
   * session restored for a follow-up), command line and environment, and the parser its stdout
   * goes through. Else undefined: `command` runs under `sh -c` (a shell job, an agents.json
   * template, an agent this runner has no adapter for).
   */
  /** The job's command line, environment and HOME: its agent's through the adapter, else its command under `sh -c`. */
  private async launch(ws: Workspace): Promise<AgentLaunch> {
    const run = this.a.agent_run;
    const adapter = run && AGENT_ADAPTERS.get(run.name);
    const say = (l: string) => this.say(l);
    if (!run || !adapter) {
      // A HOME of its own too: what it changes there (a hook in ~/.claude) no later job finds.
      const home = prepareJobHome(TEMPLATE_HOME_ENTRIES, ws, say, this.configHome());
      return { argv: ['sh', '-c', this.a.command], env: { ...withoutMissingFiles(this.a.agent_env ?? {}, say), HOME: home }, stdin: undefined, home };
    }
    // A file setting (a CA bundle's path) that names no file here is left out, and the log says so.
    const a = { ...this.a, agent_run: { ...run, env: withoutMissingFiles(run.env, say) } };
    const home = prepareAgentHome(adapter, ws, say, this.configHome());
    const logins = loginSnapshot(adapter, home);
    const start = await startingPoint(adapter, a, ws, home, this.sessionDeps(this.stopCtl.signal));
    this.agentRun = { adapter, home, start, logins };
    const launch = agentLaunch(adapter, a, ws, home, start);
    // For `npm run bench -- agents` only: the same path with the agent's stdout to the log alone
    // (no parser, no transcript batches), to measure what they cost before the first model request.
    if (process.env.LAZYAF_BENCH_NO_TRANSCRIPT === '1') return launch;
    this.agent = new AgentOutput(adapter, this.a, ws.dir, {
      client: this.deps.client,
      say,
      onLeaseLost: () => this.stop('lost'),
      redact: (entries) => this.redactor.redactEntry(entries),
      prompt: start.prompt,
    });
    return launch;
  }

  /** Where the agents' config and login come from and go back to: the job user's HOME in the runner image, else the runner's. */
  private configHome(): string {
    return this.deps.sandbox?.agentConfigHome ?? os.homedir();
  }

  /**
   * Whether a resumed agent exited because it did not find its session (its own words, which it
   * says at once): then it runs again, in a new conversation with the parent's summary.
   */
  private startsAfresh(result: CommandResult, tail: OutputTail): boolean {
    if (this.stopReason || result.timedOut || result.aborted || result.spawnError || result.exitCode === 0 || result.exitCode === null) return false;
    return sessionNotFound(this.agentRun!.adapter, tail.text(), this.agent?.failure());
  }

  private relaunch(ws: Workspace): AgentLaunch {
    const { adapter, home, start } = this.agentRun!;
    this.say(
      `${adapter.name} did not find session ${start.resumeSessionId} to resume; it starts a new conversation with a summary of the parent job's in its prompt`,
    );
    const afresh = { resumeSessionId: null, prompt: start.fallback ?? this.a.prompt };
    this.agent!.end();
    this.agent!.restart(afresh.prompt);
    return agentLaunch(adapter, { ...this.a, agent_run: this.a.agent_run! }, ws, home, afresh);
  }

  /**
   * The agent ended and nothing of the job runs any more: the login files it refreshed go back to
   * the runner's HOME, and its session files go to the server for a follow-up (bounded: a job
   * whose session cannot be sent still completes).
   */
  private async afterAgent(ws: Workspace): Promise<void> {
    if (!this.agentRun || !this.agent) return;
    const { adapter, home, logins } = this.agentRun;
    writeBackLogins(adapter, home, this.configHome(), logins, (l) => this.say(l));
    const sessionId = this.agent.sessionId();
    if (!sessionId || this.keepCtl.signal.aborted) return;
    await saveSession(adapter, this.a, ws, home, sessionId, this.sessionDeps(AbortSignal.any([this.keepCtl.signal, AbortSignal.timeout(SAVE_SESSION_MS)])));
  }

  private sessionDeps(signal: AbortSignal): SessionDeps {
    return { client: this.deps.client, say: (l) => this.say(l), signal };
  }

  /**
   * How the command ended, before its work is kept. Timeout and cancel have no exit code of their
   * own. A limit the job hit fails it, whatever its exit code: a process refused or killed may
   * have left its work unfinished.
   */
  private outcomeOf(result: CommandResult, breach: string | undefined): CompleteRequest {
    if (this.stopReason === 'cancelled') return { outcome: 'cancelled', exit_code: null };
    if (result.timedOut) return { outcome: 'timeout', exit_code: null, error: `timed out after ${Math.round(this.a.timeout_ms / 1000)} s` };
    if (breach) return { outcome: 'failed', exit_code: result.exitCode, error: breach };
    if (result.exitCode !== 0) return { outcome: 'failed', exit_code: result.exitCode, error: result.signal ? `killed by ${result.signal}` : null };
    return { outcome: 'succeeded', exit_code: 0 };
  }

  /**
   * Commits and pushes what the command left, and reports `ended` with that commit. Work kept
   * after a failure is bounded (KEEP_WORK_MS) and cannot change the outcome: a push that fails
   * then only adds its reason to the error. A successful command whose work cannot be pushed failed.
   */
  private async keepWork(ws: Workspace, ended: CompleteRequest, wall: Wall | undefined): Promise<CompleteRequest> {
    const succeeded = ended.outcome === 'succeeded';
    const deadline = succeeded ? undefined : AbortSignal.timeout(KEEP_WORK_MS);
    const signal = deadline ? AbortSignal.any([this.keepCtl.signal, deadline]) : this.keepCtl.signal;
    const note = succeeded ? undefined : `lazyaf: what the job left when it ${ending(ended).replace(/^cancelled/, 'was cancelled')}.`;
    let commit: string | null;
    try {
      commit = await publishChanges(this.a, ws, { sandbox: wall, signal, note, log: (l) => this.say(l) });
    } catch (err) {
      if (this.keepCtl.signal.aborted) return this.stoppedReport();
      if (!(err instanceof WorkspaceError) && !isAbortError(err)) throw err;
      const why = err instanceof WorkspaceError ? err.message : `it took longer than ${KEEP_WORK_MS / 1000} s`;
      if (succeeded) return { outcome: 'failed', exit_code: 0, error: why };
      return { ...ended, error: `${ended.error ? `${ended.error}; ` : ''}its work could not be pushed: ${why}`.slice(0, 1000) };
    }
    if (this.keepCtl.signal.aborted) return this.stoppedReport();
    // Cancelled while its work was being pushed: the job is cancelled on the server, with what it did.
    if (this.stopReason === 'cancelled') return { outcome: 'cancelled', exit_code: null, commit };
    return { ...ended, commit };
  }

  private stoppedReport(): CompleteRequest {
    return { outcome: this.stopReason === 'returned' ? 'returned' : 'cancelled', exit_code: null };
  }

  /** Sends the completion until the server answers; 409 means the lease ended first. */
  private async complete(report: CompleteRequest): Promise<void> {
    try {
      await this.deps.client.complete(this.a.attempt_id, this.a.job_token, this.redactor.redactEntry(report), { signal: this.reportCtl.signal });
    } catch (err) {
      if (err instanceof LeaseLostError) return this.deps.log(`job ${this.shortId}: completion not accepted: ${err.message}`);
      if (isAbortError(err)) return this.deps.log(`job ${this.shortId}: gave up reporting the result (server unreachable)`);
      return this.deps.log(`job ${this.shortId}: completion refused: ${(err as Error).message}`);
    }
  }
}

/** How the command ended, in a few words: "failed (exit code 2)", "timed out after 5 s", "cancelled". */
function ending(r: CompleteRequest): string {
  switch (r.outcome) {
    case 'succeeded':
      return 'succeeded';
    case 'failed':
      return typeof r.exit_code === 'number' && r.exit_code !== 0 ? `failed (exit code ${r.exit_code})` : 'failed';
    case 'timeout':
      return r.error?.split('; ')[0] ?? 'timed out';
    case 'cancelled':
      return 'cancelled';
    case 'returned':
      return 'given back to the queue';
  }
}

/** The job's last line: how it ended, why, and where its work went ("failed (exit code 2); its work was pushed to lazyaf/ab12cd34 (commit ...)"). */
function summary(r: CompleteRequest, branch: string): string {
  if (r.outcome === 'succeeded' && !r.error) return r.commit ? `succeeded (commit ${r.commit.slice(0, 12)})` : 'succeeded, no changes';
  const how = ending(r);
  const error = r.outcome === 'timeout' ? r.error?.split('; ').slice(1).join('; ') : r.error;
  const kept = r.commit ? `; its work was pushed to ${branch} (commit ${r.commit.slice(0, 12)})` : '';
  return `${how}${error ? `: ${error}` : ''}${kept}`;
}

/** What an agent run used, for its log: "usage: claude-sonnet-4-5, 600 tokens in (300 from cache), 120 out, 6 turns, $0.0052". */
function usageLine(u: Usage): string {
  const parts = [
    u.model,
    `${u.input_tokens} tokens in${u.cache_read_tokens ? ` (${u.cache_read_tokens} more from cache)` : ''}`,
    `${u.output_tokens} out`,
    u.turns === undefined ? undefined : `${u.turns} turns`,
    u.cost_usd === undefined ? undefined : `$${u.cost_usd.toFixed(4)}`,
  ];
  return `usage: ${parts.filter(Boolean).join(', ')}`;
}
