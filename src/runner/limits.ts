import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { formatBytes, type JobLimits } from '../shared/job-limits.js';
import { breachCount, heldLimit, JobGroups, ownGroups, type Controller, type OwnGroup } from './cgroups.js';
import type { Wall } from './sandbox.js';

/**
 * The limits a job runs under, and how they hold on this machine. Processes and memory are a
 * control group's: RLIMIT_NPROC counts every process of a user (and binds no root), RLIMIT_AS
 * breaks runtimes that reserve address space (node, the JVM). In order of preference:
 *
 *   1. a cgroup of the job's own below the runner's (root, or a delegated cgroup v2 subtree);
 *   2. a systemd scope (`systemd-run --scope -p TasksMax= -p MemoryMax=`, `--user` when not root);
 *   3. in a container whose cgroups are read-only: the container's own limits, which hold one
 *      runner and its one job (the docker pool sizes them from the same settings);
 *   4. else, for a runner that is not root, RLIMIT_NPROC over its whole user, and memory not limited.
 *
 * The job's first process joins its group before anything else runs (a tiny shell, below), so no
 * fork escapes it. The same shell sets RLIMIT_FSIZE (no file larger than the workspace's cap) and
 * makes the job the first process the kernel's OOM killer takes, before its runner.
 */

const run = promisify(execFile);

export interface JobJail {
  /** The argument vector that runs `argv` inside the job's limits. */
  wrap(argv: string[]): string[];
  /** Kills what the job left running (before its work is committed). */
  killAll(): Promise<void>;
  /** The limit the job hit, in words ("the job exceeded its memory limit (512 MiB)"), else undefined. */
  breach(): string | undefined;
  /** After the job: kills what is left and removes its group. */
  close(): Promise<void>;
}

export interface JobLimiter {
  readonly limits: JobLimits;
  /** What a job runs under and how it holds, for the runner's first lines. */
  readonly summary: string;
  open(): Promise<JobJail>;
  close(): Promise<void>;
}

/**
 * The job's wall with its limits around everything the wall wraps: its command, and the git
 * commands that read its repository (a filter or hook planted there runs under them too).
 */
export function wallWithin(jail: JobJail, wall: Wall | undefined): Wall {
  return {
    jobEnv: wall?.jobEnv ?? {},
    running: wall?.running ?? '',
    wrap: (argv, layout) => jail.wrap(wall ? wall.wrap(argv, layout) : argv),
  };
}

/** How processes and memory are held for one job. */
interface Held {
  /** Words before the join shell (systemd-run, prlimit). */
  prefix: string[];
  /** Files the job's first process writes its pid to. */
  procsFiles: string[];
  breached(): Controller[];
  killAll(): Promise<void>;
  close(): Promise<void>;
}

interface Mechanism {
  /** "1024 processes and threads, 4 GiB of memory (cgroup v1)". */
  describe: string;
  /** The limits that hold, for the words of a breach (a container's, not the settings). */
  held: Record<Controller, number>;
  open(): Promise<Held>;
  close?(): Promise<void>;
}

export async function setUpLimits(limits: JobLimits, opts: { inContainer?: boolean } = {}): Promise<JobLimiter> {
  const wanted: Record<Controller, number> = { pids: limits.pids, memory: limits.memoryBytes };
  const why: string[] = [];
  let mechanism: Mechanism | undefined;
  if (wanted.pids > 0 || wanted.memory > 0) {
    mechanism = (await cgroupMechanism(wanted, why)) ?? (await systemdMechanism(wanted, why));
    if (!mechanism && opts.inContainer) mechanism = containerMechanism(why);
    mechanism ??= await rlimitMechanism(wanted, why);
  }
  const parts = [mechanism?.describe ?? 'processes and memory not limited (set to 0)'];
  if (limits.diskBytes > 0) parts.push(`${formatBytes(limits.diskBytes)} of workspace on disk (measured while the job runs) and per file`);
  else parts.push('workspace disk not limited');
  return new Limiter(limits, parts.join('; '), mechanism);
}

class Limiter implements JobLimiter {
  constructor(
    readonly limits: JobLimits,
    readonly summary: string,
    private readonly mechanism: Mechanism | undefined,
  ) {}

  async open(): Promise<JobJail> {
    const held = await this.mechanism?.open();
    const fileBlocks = this.limits.diskBytes > 0 ? Math.ceil(this.limits.diskBytes / 512) : 0;
    const words = this.mechanism?.held;
    return {
      wrap: (argv) => [...(held?.prefix ?? []), ...joinShell(fileBlocks, held?.procsFiles ?? []), ...argv],
      killAll: async () => held?.killAll(),
      breach: () => {
        const hit = held?.breached() ?? [];
        if (hit.includes('memory') && words) return `the job exceeded its memory limit (${formatBytes(words.memory)})`;
        if (hit.includes('pids') && words) return `the job reached its process limit (${words.pids} processes and threads)`;
        return undefined;
      },
      close: async () => held?.close(),
    };
  }

  async close(): Promise<void> {
    await this.mechanism?.close?.();
  }
}

/**
 * `sh -c SCRIPT lazyaf-limits <procs files> -- argv`: joins the job's groups, lowers its file size
 * limit and raises its OOM score, then becomes the command. POSIX `ulimit -f` counts 512-byte
 * blocks; a lower limit already set stays (setting it fails then, which is fine).
 */
function joinShell(fileBlocks: number, procsFiles: string[]): string[] {
  const script = [
    '{ echo 1000 > /proc/self/oom_score_adj; } 2>/dev/null',
    ...(fileBlocks > 0 ? [`ulimit -f ${fileBlocks} 2>/dev/null`] : []),
    `for f; do shift; [ "$f" = -- ] && break; echo $$ > "$f" || { echo "lazyaf: cannot put the job into its cgroup ($f)" >&2; exit 125; }; done`,
    'exec "$@"',
  ].join('\n');
  return ['sh', '-c', script, 'lazyaf-limits', ...procsFiles, '--'];
}

function amount(held: Record<Controller, number>): string {
  const parts = [];
  if (held.pids > 0) parts.push(`${held.pids} processes and threads`);
  if (held.memory > 0) parts.push(`${formatBytes(held.memory)} of memory`);
  return parts.join(', ');
}

/** A group per job below the runner's own, where this process may make them; a job must run in one. */
async function cgroupMechanism(wanted: Record<Controller, number>, why: string[]): Promise<Mechanism | undefined> {
  const groups = ownGroups().filter((g) => wanted[g.controller] > 0);
  const missing = (['pids', 'memory'] as const).filter((c) => wanted[c] > 0 && !groups.some((g) => g.controller === c));
  if (missing.length > 0) {
    why.push(`no cgroup controller for ${missing.join(' and ')}`);
    return undefined;
  }
  const jobGroups = new JobGroups(groups, wanted);
  try {
    await jobGroups.prepare();
    const probe = jobGroups.open();
    try {
      await mustRun([...joinShell(0, probe.procsFiles), 'true']);
    } finally {
      await probe.close();
    }
  } catch (err) {
    await jobGroups.close().catch(() => {});
    why.push(`cannot make cgroups (${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
  const versions = [...new Set(groups.map((g) => g.version))].join(' and ');
  return {
    describe: `${amount(wanted)} (cgroup v${versions})`,
    held: wanted,
    open: async () => {
      const group = jobGroups.open();
      return { prefix: [], procsFiles: group.procsFiles, breached: () => group.breached(), killAll: () => group.killAll(), close: () => group.close() };
    },
    close: () => jobGroups.close(),
  };
}

/** A transient systemd scope per job, on machines whose cgroups systemd manages. */
async function systemdMechanism(wanted: Record<Controller, number>, why: string[]): Promise<Mechanism | undefined> {
  const user = process.getuid?.() !== 0 ? ['--user'] : [];
  const properties = [
    ...(wanted.pids > 0 ? ['-p', `TasksMax=${wanted.pids}`] : []),
    ...(wanted.memory > 0 ? ['-p', `MemoryMax=${wanted.memory}`, '-p', 'MemorySwapMax=0'] : []),
  ];
  let serial = 0;
  const scope = (unit: string) => ['systemd-run', ...user, '--scope', '--quiet', `--unit=${unit}`, ...properties, '--'];
  try {
    await mustRun([...scope(`lazyaf-probe-${process.pid}`), 'true']);
  } catch (err) {
    why.push(`no systemd scope (${(err as Error).message.split('\n')[0]})`);
    return undefined;
  }
  const systemctl = (...args: string[]) => run('systemctl', [...user, ...args], { timeout: 10_000 });
  return {
    describe: `${amount(wanted)} (a systemd scope per job)`,
    held: wanted,
    open: async () => {
      const unit = `lazyaf-job-${process.pid}-${++serial}.scope`;
      const killAll = async () => void (await systemctl('kill', '--signal=SIGKILL', unit).catch(() => {}));
      // A scope the OOM killer hit stays behind as failed with that result, until reset-failed.
      let result = '';
      return {
        prefix: scope(unit),
        procsFiles: [],
        breached: () => (result === 'oom-kill' ? ['memory'] : []),
        killAll: async () => {
          result = (await systemctl('show', '--property=Result', '--value', unit).catch(() => ({ stdout: '' }))).stdout.trim();
          await killAll();
        },
        close: async () => {
          await killAll();
          await systemctl('reset-failed', unit).catch(() => {});
        },
      };
    },
  };
}

/**
 * In a container whose cgroups are read-only: its own limits are the job's wall (one runner, one
 * job at a time), and its counters, read before and after, tell what the job hit. RLIMIT_NPROC is
 * no help there: the job user's uid is shared with every other container of the same image.
 */
function containerMechanism(why: string[]): Mechanism | undefined {
  const groups = ownGroups();
  const held: Record<Controller, number> = { pids: 0, memory: 0 };
  for (const g of groups) held[g.controller] = heldLimit(g) ?? 0;
  const reason = `no cgroup of the job's own in this container: ${why.join('; ')}`;
  if (held.pids === 0 && held.memory === 0) {
    why.push('the container has no limits of its own');
    return {
      describe: `processes and memory NOT limited (the container has none: run it with --pids-limit and --memory; ${reason})`,
      held,
      open: async () => nothingHeld(),
    };
  }
  const counts = (): [OwnGroup, number][] => groups.map((g) => [g, breachCount(g, g.dir)]);
  return {
    describe: `the container's limits: ${amount(held)} (${reason})`,
    held,
    open: async () => {
      const before = counts();
      return {
        ...nothingHeld(),
        breached: () => counts().flatMap(([g, n], i) => (n > before[i]![1] ? [g.controller] : [])),
      };
    },
  };
}

/** RLIMIT_NPROC, for a runner that is not root and has no cgroup: it counts the user's every process, not the job's. */
async function rlimitMechanism(wanted: Record<Controller, number>, why: string[]): Promise<Mechanism> {
  const uid = process.getuid?.();
  const causes = why.join('; ');
  const noMemory = wanted.memory > 0 ? '; memory NOT limited' : '';
  if (uid === 0 || wanted.pids === 0 || !fs.existsSync('/usr/bin/prlimit')) {
    const whyNot = uid === 0 ? 'RLIMIT_NPROC does not bind root' : wanted.pids === 0 ? 'set to 0' : 'no prlimit';
    return {
      describe: `processes${wanted.memory > 0 ? ' and memory' : ''} NOT limited (${causes}; ${whyNot})`,
      held: { pids: 0, memory: 0 },
      open: async () => nothingHeld(),
    };
  }
  return {
    describe: `${wanted.pids} processes for the runner's whole user (uid ${uid}), the job's and every other (RLIMIT_NPROC: ${causes})${noMemory}`,
    held: { pids: wanted.pids, memory: 0 },
    open: async () => ({ ...nothingHeld(), prefix: ['/usr/bin/prlimit', `--nproc=${wanted.pids}:${wanted.pids}`, '--'] }),
  };
}

function nothingHeld(): Held {
  return { prefix: [], procsFiles: [], breached: () => [], killAll: async () => {}, close: async () => {} };
}

/** Runs `argv` (10 s at most); rejects with its last line of output unless it exits 0. */
function mustRun(argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-2000)));
    child.on('error', (err) => reject(err));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(stderr.trim().split('\n').at(-1) || `${argv[0]} exited with ${code}`))));
  });
}
