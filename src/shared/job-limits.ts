import os from 'node:os';

/**
 * The limits every job runs under. A runner reads them from its environment (LAZYAF_JOB_*, which
 * the server's process pool passes on); the server reads the same settings to size the containers
 * of its docker pool, whose container is then the job's wall. 0 turns a limit off.
 */
export interface JobLimits {
  /** Processes and threads at once. */
  pids: number;
  /** Bytes of memory, what the job keeps in its tmpfs mounts included. */
  memoryBytes: number;
  /** Bytes each tmpfs mount of a sandboxed job may hold (/tmp, /var/tmp, /dev/shm). */
  tmpfsBytes: number;
  /** Bytes the job's workspace may hold on disk; also the largest file a job may write anywhere. */
  diskBytes: number;
}

/** The variable that sets each limit. */
export const JOB_LIMIT_VARS: Record<keyof JobLimits, string> = {
  pids: 'LAZYAF_JOB_PIDS',
  memoryBytes: 'LAZYAF_JOB_MEMORY',
  tmpfsBytes: 'LAZYAF_JOB_TMPFS',
  diskBytes: 'LAZYAF_JOB_DISK',
};

const GiB = 1024 ** 3;

/**
 * Enough for a parallel build or an agent with its tools (a node process is about 12 threads);
 * a fork bomb stops there. Memory: 4 GiB, or half the machine when that is less, so one job
 * cannot take what the host and the other runners need.
 */
export function defaultJobLimits(totalMemory = os.totalmem()): JobLimits {
  return { pids: 1024, memoryBytes: Math.min(4 * GiB, roundMiB(totalMemory / 2)), tmpfsBytes: GiB, diskBytes: 10 * GiB };
}

function roundMiB(bytes: number): number {
  return Math.floor(bytes / 1024 ** 2) * 1024 ** 2;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: GiB, t: 1024 * GiB };

/** `512m`, `2g`, `1.5g`, `1073741824` (bytes): the size in bytes, or undefined when it is none of these. */
export function parseSize(raw: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)$/i.exec(raw.trim());
  if (!m) return undefined;
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
  return bytes <= 2 ** 50 ? bytes : undefined;
}

/** The limits set in `env` over the defaults, or why a setting is refused. */
export function resolveJobLimits(env: NodeJS.ProcessEnv, defaults = defaultJobLimits()): JobLimits | { error: string } {
  const limits = { ...defaults };
  const pids = env[JOB_LIMIT_VARS.pids];
  if (pids) {
    if (!/^\d{1,7}$/.test(pids) || (Number(pids) > 0 && Number(pids) < 8))
      return { error: `${JOB_LIMIT_VARS.pids} must be a number of processes, at least 8 (0: no limit), got "${pids}"` };
    limits.pids = Number(pids);
  }
  for (const key of ['memoryBytes', 'tmpfsBytes', 'diskBytes'] as const) {
    const raw = env[JOB_LIMIT_VARS[key]];
    if (!raw) continue;
    const bytes = parseSize(raw);
    // Below a MiB no job could even start (bubblewrap, git and a shell need more).
    if (bytes === undefined || (bytes > 0 && bytes < 1024 ** 2))
      return { error: `${JOB_LIMIT_VARS[key]} must be a size such as 512m or 2g, at least 1m (0: no limit), got "${raw}"` };
    limits[key] = bytes;
  }
  return limits;
}

/** `512 MiB`, `4 GiB`, `1.5 GiB`, `900 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}
