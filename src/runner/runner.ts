/**
 * The runner: registers with the server, heartbeats on its own timer, long-polls for work and
 * runs one job at a time. Every module of src/runner, by what it is for (the runner never imports
 * src/server/; test/runner-module-map.test.ts keeps this list whole):
 *
 * The loop and the server
 *   runner.ts            this loop: registration (and re-registration when the server forgets the
 *                        runner), the heartbeat loop, the poll loop, drain and stop.
 *   options.ts           flags and environment → RunnerConfig, and the defaults of what a config leaves out.
 *   client.ts            the protocol (src/shared/protocol.ts) over node:http, with retries, backoff and jitter;
 *                        typed errors: RunnerGoneError (register again), LeaseLostError (stop the job).
 *   answer-checks.ts     whether the server's answers match the protocol: typebox here, code generated
 *                        from the same schemas in the runner's bundle (scripts/answer-checks.js).
 *   backoff.ts           exponential backoff with full jitter, and a sleep an AbortSignal ends.
 *
 * One job
 *   job.ts               one attempt end to end: workspace → command → commit/push → log flush → complete.
 *   workspace.ts         fetch into the cache (clone once), then a fresh checkout per job borrowing its objects.
 *   cache.ts             the per-repo bare cache that only the runner writes, inspected before each job.
 *   setup.ts             the repo's setup (.lazyaf.yml) before the command, behind the job's wall, or its cache restored.
 *   env-cache.ts         what setup left, kept per repo and key: copied in and out by the runner only, paths checked.
 *   git-retry.ts         a git step against the server, tried again while the server is unreachable.
 *   execute.ts           the command in its own process group: output, timeout, kill.
 *   env.ts               what a job's command and the runner's git see in their environment.
 *   log-stream.ts        output → numbered log chunks, with backpressure and bounded memory.
 *   publish.ts           commit what the command left, push the job branch.
 *   checks.ts            the repo's checks, after the push: each a log section, its status, duration and output's tail.
 *   push-scan.ts         what the job adds, searched for the secrets it was given before anything is pushed.
 *
 * An agent job
 *   agents.ts            which named agents the jobs can run: executables on their PATH, behind their wall.
 *   agent-run.ts         an agent through its adapter: its HOME, command line, stdout parsed into transcript entries.
 *   agent-fit.ts         entries, usage and session id made to fit the server's schemas after redaction.
 *   transcript-stream.ts the transcript entries → numbered batches sent to the server.
 *   agent-session.ts     the parent's conversation restored for a follow-up, and this one's sent after the run.
 *   session-files.ts     an agent's session files as a tar, packed and unpacked distrustfully.
 *   tar-stream.d.ts      the types of the tar-stream package, which ships none.
 *   login-files.ts       the logins an agent refreshed during the job, written back to the runner's HOME.
 *   credential-files.ts  an agent's settings that name a file, left out where this runner has no such file.
 *   home-files.ts        reading and writing under a job's HOME without following its links.
 *   files.ts             lstat without throwing.
 *
 * The job's wall and limits
 *   wall.ts              which wall the jobs get, chosen once at start: bubblewrap (sandbox.ts) with their own
 *                        network (job-network.ts), another user in the runner image (job-user.ts), or none.
 *   sandbox.ts           the bubblewrap wall around a job's command and around git reading its repository
 *                        (none inside the runner image, whose container is the wall).
 *   job-network.ts       the job command's own network (pasta): the world, not the host.
 *   job-user.ts          inside the runner image, run by root: the job's commands as another user, and
 *                        its processes killed after it.
 *   container-network.ts inside the runner image: firewall rules that keep the job user's traffic off the
 *                        Docker host, and the relays to the ports it may still reach.
 *   limits.ts            what a job may use and how it holds: processes and memory (cgroups.ts), disk (disk-watch.ts).
 *   cgroups.ts           a cgroup per job, v1 or v2, through their file systems.
 *   disk-watch.ts        the workspace's disk, measured while the job runs.
 *
 * Drive it with `startRunner(config)`: `drain()` is the first SIGTERM (finish the job, take no
 * new one, deregister), `stop()` the second (kill the job, give it back, deregister).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Assignment, HeartbeatResponse, RunnerSandbox } from '../shared/protocol.js';
import { PROTOCOL_VERSION } from '../shared/protocol-routes.js';
import { printable } from '../shared/terminal.js';
import { VERSION } from '../shared/version.js';
import { formatBytes } from '../shared/job-limits.js';
import { removeDiscarded, removeTree } from '../shared/remove-tree.js';
import { lockWorkdir } from '../shared/workdir-lock.js';
import { searchAgents } from './agents.js';
import { backoffDelay, isAbortError, sleep } from './backoff.js';
import { RunnerClient, RunnerGoneError } from './client.js';
import type { ContainerNetwork } from './container-network.js';
import { envCacheSettled, envCacheTrash } from './env-cache.js';
import type { JobRun } from './job.js';
import { setUpLimits, type JobLimiter } from './limits.js';
import { runnerDefaults, type RunnerConfig, type RunnerDefaults } from './options.js';
import type { Wall } from './sandbox.js';
import { chooseWall } from './wall.js';

/** A RunnerConfig whose defaults (options.ts) may be left out: they are applied once, here, before anything reads them. */
export interface RunnerOptions extends Omit<RunnerConfig, keyof RunnerDefaults>, Partial<RunnerDefaults> {
  /** One line of the runner's own progress; default: stderr. Tokens never reach it. */
  log?: (line: string) => void;
  /** Between SIGTERM and SIGKILL when a job is killed. */
  killGraceMs?: number;
  /** After `stop()`, how long the runner keeps trying to report the given-back job and to deregister. */
  shutdownReportMs?: number;
}

export interface RunnerHandle {
  /** Settles when the runner has stopped: resolves after deregistering, rejects on a fatal error (registration refused). */
  readonly done: Promise<void>;
  /** Resolves with the runner id once registered. */
  readonly registered: Promise<string>;
  readonly runnerId: string | undefined;
  /** Finish the current job, take no new one, deregister. */
  drain(): void;
  /** Kill the current job, give it back to the queue, deregister. Resolves like `done`. */
  stop(): Promise<void>;
}

/** What the server answered this runner's registration; replaced when the runner registers again. */
interface Registration {
  runnerId: string;
  token: string;
  heartbeatMs: number;
  pollWaitMs: number;
}

type Mode = 'running' | 'draining' | 'stopping';

/** How long a draining runner waits for the server to end its open poll before it cuts it. */
const DRAIN_POLL_GRACE_MS = 5_000;

/** How long a runner waits for another one to leave its work dir (a leaving runner gives its job back well within this). */
const WORKDIR_WAIT_MS = 30_000;

export function startRunner(options: RunnerOptions): RunnerHandle {
  const runner = new Runner(options);
  return {
    done: runner.done,
    registered: runner.registered,
    get runnerId() {
      return runner.registration?.runnerId;
    },
    drain: () => runner.drain(),
    stop: () => runner.stop(),
  };
}

class Runner {
  registration: Registration | undefined;
  readonly done: Promise<void>;
  readonly registered: Promise<string>;
  private resolveRegistered!: (id: string) => void;
  private mode: Mode = 'running';
  private finished = false;
  private job: JobRun | undefined;
  private sandbox: Wall | undefined;
  /** In a runner container: its jobs' network wall and the relays to the host (container-network.ts). */
  private network: ContainerNetwork | undefined;
  private limiter: JobLimiter | undefined;
  /** What the runner tells the server about its jobs' wall. */
  private isolation: RunnerSandbox = 'none';
  /** The named agents its jobs can run, told to the server at registration. */
  private agents: string[] = [];
  private fatal: Error | undefined;
  private registering: Promise<void> | undefined;
  /** Aborted when the runner winds down (see windDown). */
  private readonly life = new AbortController();
  private pollCtl = new AbortController();
  private heartbeatWake = new AbortController();
  private readonly config: RunnerOptions & RunnerDefaults;
  private readonly client: RunnerClient;
  private readonly log: (line: string) => void;

  constructor(opts: RunnerOptions) {
    this.config = { ...runnerDefaults(opts.workdir), ...opts };
    // Lines can carry text from the server and from jobs (titles, refusals): escaped before they reach a terminal.
    this.log = opts.log ?? ((line) => process.stderr.write(`lazyaf runner ${opts.name}: ${printable(line)}\n`));
    this.client = new RunnerClient({
      server: opts.server,
      onConnectivity: (up, detail) => this.log(up ? 'server reachable again' : `server unreachable (${detail}); retrying with backoff`),
    });
    let rejectRegistered!: (err: Error) => void;
    this.registered = new Promise((resolve, reject) => {
      this.resolveRegistered = resolve;
      rejectRegistered = reject;
    });
    this.registered.catch(() => {});
    this.done = this.main().finally(() => (this.finished = true));
    // Settling an already resolved promise does nothing: this only reaches those still waiting.
    this.done.then(
      () => rejectRegistered(new Error('the runner stopped before it registered')),
      (err: Error) => rejectRegistered(err),
    );
  }

  /** Ends retries, the poll and the heartbeat loop. Each loop makes a fresh controller per call, so nothing piles up on a long-lived signal. */
  private windDown(): void {
    this.life.abort();
    this.pollCtl.abort();
    this.heartbeatWake.abort();
  }

  drain(): void {
    if (this.mode !== 'running' || this.finished) return;
    this.mode = 'draining';
    this.log(this.job ? `draining: finishing job ${this.job.shortId}, taking no new one (signal again to give it back)` : 'draining: no job running');
    // The heartbeat says "draining" now, and the server ends the open poll: cut here, its answer
    // could be a job just claimed for this runner, which would go back to the queue unrun. A
    // server that does not end it gets DRAIN_POLL_GRACE_MS.
    this.heartbeatWake.abort();
    const poll = this.pollCtl;
    setTimeout(() => poll.abort(), DRAIN_POLL_GRACE_MS).unref();
    if (!this.registration) this.windDown(); // Still trying to register: nothing to finish.
  }

  stop(): Promise<void> {
    if (this.mode !== 'stopping' && !this.finished) {
      this.mode = 'stopping';
      this.log(this.job ? `stopping: giving job ${this.job.shortId} back` : 'stopping');
      this.pollCtl.abort();
      this.heartbeatWake.abort();
      const job = this.job;
      if (job) {
        job.stop('returned');
        setTimeout(() => job.abandonReport(), this.shutdownReportMs).unref();
      }
      if (!this.registration) this.windDown(); // Still trying to register: give up.
    }
    return this.done;
  }

  private get shutdownReportMs(): number {
    return this.config.shutdownReportMs ?? 10_000;
  }

  private async main(): Promise<void> {
    fs.mkdirSync(this.config.workdir, { recursive: true, mode: 0o700 });
    let unlock: () => void;
    try {
      unlock = await lockWorkdir(this.config.workdir, { waitMs: WORKDIR_WAIT_MS, log: this.log, signal: this.life.signal });
    } catch (err) {
      if (isAbortError(err)) return; // Stopped while another runner still held the work dir.
      throw err;
    }
    try {
      await this.work();
    } finally {
      // A spare of the environment cache being made is the work dir's too.
      await envCacheSettled(this.config.workdir);
      unlock();
    }
  }

  private async work(): Promise<void> {
    // Checkouts a killed runner left behind.
    fs.rmSync(path.join(this.config.workdir, 'jobs'), { recursive: true, force: true });
    // Checkouts and caches moved aside because they could not be cleaned (see remove-tree.ts): removed as far as they can be now.
    for (const dir of ['work', 'cache']) await removeDiscarded(path.join(this.config.workdir, dir));
    await removeTree(envCacheTrash(this.config.workdir)).catch((err: Error) => this.log(`could not empty the environment cache's trash: ${err.message}`));
    try {
      const chosen = await chooseWall(this.config, this.log);
      this.sandbox = chosen.wall;
      this.isolation = chosen.isolation;
      this.network = chosen.network;
      const limiter = (this.limiter = await setUpLimits(this.config.limits, { inContainer: this.isolation === 'container' }));
      const tmpfs =
        this.isolation === 'bubblewrap' && this.config.limits.tmpfsBytes > 0
          ? `; ${formatBytes(this.config.limits.tmpfsBytes)} per tmpfs (/tmp, /var/tmp, /dev/shm)`
          : '';
      this.log(`jobs' limits: ${limiter.summary}${tmpfs}`);
      try {
        await this.serve();
      } finally {
        await limiter.close().catch((err: Error) => this.log(`could not remove the jobs' cgroups: ${err.message}`));
      }
    } finally {
      await this.network?.close();
    }
  }

  private async serve(): Promise<void> {
    const declared = this.config.agents !== undefined;
    const search = declared ? undefined : searchAgents(this.sandbox);
    this.agents = this.config.agents ?? search?.found ?? [];
    if (this.agents.length > 0) this.log(`agents: ${this.agents.join(', ')}${declared ? ' (declared)' : ''}`);
    else if (declared) this.log('agents: none declared: this runner takes shell jobs only');
    else this.log('no agent CLI its jobs can run: this runner takes shell jobs only (declare others with --agents)');
    for (const { name, reason } of search?.skipped ?? []) this.log(`agent ${name} skipped: ${reason}`);
    try {
      await this.register();
    } catch (err) {
      if (isAbortError(err)) return; // Stopped before the server ever answered.
      throw err;
    }
    const heartbeats = this.heartbeatLoop().catch((err: Error) => this.failFatally(err));
    await this.pollLoop().catch((err: Error) => this.failFatally(err));
    this.windDown();
    await heartbeats;
    await this.deregister();
    if (this.fatal) throw this.fatal;
  }

  private async register(): Promise<void> {
    const res = await this.client.register(
      this.config.registrationToken,
      {
        name: this.config.name,
        labels: this.config.labels,
        hostname: os.hostname().slice(0, 255),
        version: VERSION,
        protocol_version: PROTOCOL_VERSION,
        ...(this.config.poolId ? { pool_id: this.config.poolId } : {}),
        sandbox: this.isolation,
        agents: this.agents,
      },
      { signal: this.life.signal },
    );
    if (res.protocol_version !== PROTOCOL_VERSION) this.log(`warning: the server speaks protocol ${res.protocol_version}, this runner ${PROTOCOL_VERSION}`);
    this.registration = {
      runnerId: res.runner_id,
      token: res.token,
      heartbeatMs: clamp(res.heartbeat_interval_ms, 100, 60_000),
      pollWaitMs: clamp(res.poll_wait_ms, 0, 60_000),
    };
    this.log(
      `registered as ${this.config.name} (${res.runner_id}) with ${this.config.server}${this.config.labels.length ? `, labels ${this.config.labels.join(',')}` : ''}`,
    );
    this.resolveRegistered(res.runner_id);
  }

  /** The server no longer knows this runner (revoked, or it lost its data): register again, once for both loops. */
  private async reRegister(stale: Registration): Promise<void> {
    if (this.registration !== stale) return;
    this.registering ??= (async () => {
      this.log('the server does not know this runner any more; registering again');
      try {
        await this.register();
      } catch (err) {
        // Refused, or an answer this runner cannot use: retrying would not help.
        if (!isAbortError(err)) this.failFatally(err as Error);
      } finally {
        this.registering = undefined;
      }
    })();
    await this.registering;
  }

  private failFatally(err: Error): void {
    this.fatal ??= err;
    this.log(`fatal: ${err.message}`);
    void this.stop();
    this.windDown();
  }

  private async pollLoop(): Promise<void> {
    for (let failures = 0; this.mode === 'running';) {
      const registration = this.registration as Registration;
      const started = Date.now();
      let assignment: Assignment | null;
      try {
        this.pollCtl = new AbortController();
        assignment = await this.client.poll(registration.token, registration.pollWaitMs, { signal: this.pollCtl.signal });
        failures = 0;
      } catch (err) {
        if (isAbortError(err)) continue;
        if (err instanceof RunnerGoneError) await this.reRegister(registration);
        else {
          this.log(`poll failed: ${(err as Error).message}`);
          await sleep(backoffDelay(failures++, 1000, 30_000), this.pollCtl.signal).catch(() => {});
        }
        continue;
      }
      if (!assignment) {
        // A server that does not hold the poll open must not make this loop spin.
        if (Date.now() - started < 100) await sleep(200, this.pollCtl.signal).catch(() => {});
        continue;
      }
      // Claimed for this runner before the server heard it drain: finishing it is what a drain does.
      if (this.modeNow() === 'stopping') {
        await this.giveBack(assignment);
        break;
      }
      await this.runJob(assignment);
      if (this.modeNow() !== 'running') break;
      if (this.config.ephemeral) {
        this.log('ephemeral: one job done, leaving');
        break;
      }
    }
  }

  private async runJob(assignment: Assignment): Promise<void> {
    // Loaded at the first job, not at start: an idle runner holds none of the job machinery (job.ts
    // and what it imports, typebox among them), about 3 MiB of its memory (ARCHITECTURE.md, "A lean runner").
    const { JobRun } = await import('./job.js');
    // Stopped while the module loaded: as in the loop, the job goes straight back.
    if (this.modeNow() === 'stopping') return this.giveBack(assignment);
    const job = new JobRun(assignment, {
      client: this.client,
      workdir: this.config.workdir,
      log: this.log,
      killGraceMs: this.config.killGraceMs,
      sandbox: this.sandbox,
      inContainer: this.isolation === 'container',
      limiter: this.limiter,
    });
    this.job = job;
    this.heartbeatWake.abort(); // Say "busy" and renew the new lease at once.
    try {
      await job.done;
    } finally {
      this.job = undefined;
      this.heartbeatWake.abort();
    }
  }

  /** The mode as it is now: a signal may have changed it while the loop awaited. */
  private modeNow(): Mode {
    return this.mode;
  }

  /** An assignment that arrived as the runner was stopped goes straight back to the queue. */
  private async giveBack(a: Assignment): Promise<void> {
    this.log(`job ${a.job_id.slice(0, 8)}: received while shutting down; giving it back`);
    try {
      await this.client.complete(a.attempt_id, a.job_token, { outcome: 'returned', exit_code: null }, { signal: AbortSignal.timeout(this.shutdownReportMs) });
    } catch (err) {
      this.log(`job ${a.job_id.slice(0, 8)}: could not give it back (${(err as Error).message}); its lease will expire`);
    }
  }

  private async heartbeatLoop(): Promise<void> {
    while (!this.life.signal.aborted) {
      const registration = this.registration as Registration;
      this.heartbeatWake = new AbortController();
      const signal = this.heartbeatWake.signal;
      const started = Date.now();
      try {
        const job = this.job;
        const res = await this.client.heartbeat(
          registration.token,
          { status: this.mode !== 'running' ? 'draining' : job ? 'busy' : 'idle', attempts: job ? [job.attemptId] : [], wait_ms: registration.heartbeatMs },
          { signal },
        );
        if (job) this.applyNews(job, res);
        await sleep(registration.heartbeatMs - (Date.now() - started), signal);
      } catch (err) {
        if (isAbortError(err)) continue; // Woken (news to tell) or winding down.
        if (err instanceof RunnerGoneError) await this.reRegister(registration);
        else {
          this.log(`heartbeat failed: ${(err as Error).message}`);
          await sleep(registration.heartbeatMs, signal).catch(() => {});
        }
      }
    }
  }

  private applyNews(job: JobRun, res: HeartbeatResponse): void {
    if (res.lost.includes(job.attemptId)) job.stop('lost');
    else if (res.cancel.includes(job.attemptId)) job.stop('cancelled');
  }

  private async deregister(): Promise<void> {
    const registration = this.registration;
    if (!registration) return;
    try {
      await this.client.deregister(registration.token, { signal: AbortSignal.timeout(this.shutdownReportMs) });
      this.log('deregistered');
    } catch (err) {
      this.log(`could not deregister (${(err as Error).message}); the server will mark this runner offline`);
    }
  }
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}
